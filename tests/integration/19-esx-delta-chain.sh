#!/bin/bash
# SPDX-License-Identifier: MIT
# ESXi snapshot deltas over a parent: a vmfs (flat) base disk made from content.py, and
# on it a vmfsSparse (COWD, 512-byte grains) child and a seSparse child written by
# tests/gen/esx-sparse.py --parent (parentCID = the base's CID, parentFileNameHint).
# Grains the child never wrote read as the base's bytes; its written zeros, and its
# seSparse zero and unmapped grains, read as zeros, not as the base.  For each child:
#   * qemu-img reads the chain as the generator meant (convert -O raw equals --expect);
#   * mounted, qemu-img compare finds disk.raw and disk.qcow2 identical to qemu's reading
#     of the chain, qemu-img check passes on disk.qcow2, and SEEK_DATA on disk.raw finds
#     the data qemu-img map finds in the chain;
#   * the source files (child and base) are unchanged.
# The decoders come from this branch; reading a parent is the chain code's (issue 6):
# until that is in, the mount refuses a parentCID and this test fails.
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

GEN=$VMFS_ROOT/tests/gen/esx-sparse.py
SIZE=$((12 * 1024 * 1024 + 1536))

make_base() {
	local dir=$1
	mkdir -p "$dir"
	python3 "$VMFS_ROOT/tests/gen/content.py" --size "$SIZE" --seed 21 "$dir/base-flat.vmdk"
	cat >"$dir/base.vmdk" <<EOF
# Disk DescriptorFile
version=1
encoding="UTF-8"
CID=3e5d7a11
parentCID=ffffffff
isNativeSnapshot="no"
createType="vmfs"

# Extent description
RW $((SIZE / 512)) VMFS "base-flat.vmdk"

# The Disk Data Base
#DDB

ddb.adapterType = "lsilogic"
ddb.thinProvisioned = "1"
EOF
}

check_child() {
	local fmt=$1 seed=$2 dir img data ref mnt out
	dir=$TEST_TMP/$fmt
	make_base "$dir"
	img=$dir/$fmt-000001.vmdk
	ref=$dir/expect.raw
	python3 "$GEN" --format "$fmt" --size "$SIZE" --seed "$seed" --parent "$dir/base.vmdk" \
		--expect "$ref" "$img"
	grep -q '^parentCID=3e5d7a11$' "$img" || fail "the child does not name the base's CID"
	data=$dir/$fmt-000001-delta.vmdk
	[ "$fmt" = sesparse ] && data=$dir/$fmt-000001-sesparse.vmdk
	record_src src "$img" "$data" "$dir/base.vmdk" "$dir/base-flat.vmdk"

	qemu-img convert -f vmdk -O raw "$img" "$dir/qemu.raw"
	cmp "$dir/qemu.raw" "$ref" || fail "qemu-img does not read the chain as the generator meant"
	cmp -s "$ref" "$dir/base-flat.vmdk" && fail "fixture: the child changes nothing"
	ok "qemu-img reads the $fmt child over its base as the generator meant"

	mnt=$TEST_TMP/mnt
	vmfs_mount "$img" "$mnt"
	views_match_vmdk "$img" "$mnt"
	vmfs_umount "$mnt"
	assert_src_unchanged src
}

subtest "vmfsSparse child of a vmfs disk" check_child cowd 31
subtest "seSparse child of a vmfs disk" check_child sesparse 32
