#!/bin/bash
# SPDX-License-Identifier: MIT
# ESXi snapshot deltas that stand alone (parentCID ffffffff), written by
# tests/gen/esx-sparse.py from a seed: vmfsSparse (COWD) with 512-byte grains over four
# grain tables, COWD with 4 KiB grains and a short last grain, and seSparse over three
# tables (the middle one empty) with a short last grain and grain slots past 4096.  For
# each image:
#   * qemu-img reads it as the generator meant (convert -O raw equals the generator's
#     --expect, and qemu-img compare agrees): the fixture is what we think it is;
#   * mounted, qemu-img compare finds disk.raw and disk.qcow2 identical to qemu's
#     reading of the image (so to the generator's), qemu-img check passes on disk.qcow2;
#   * SEEK_DATA on disk.raw finds exactly the data qemu-img map finds in the image, and
#     qemu-img map of disk.qcow2 shows each 64 KiB cluster as the generator's manifest
#     says: data where a grain is stored, a zero cluster where the only grains are
#     seSparse zero or unmapped ones, absent where nothing was written;
#   * the source files are unchanged.
# And a vmfsThin descriptor over a -flat.vmdk (qemu-img refuses that createType, so the
# reference is the flat file itself).  Deltas over a parent are in 19-esx-delta-chain.sh.
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

GEN=$VMFS_ROOT/tests/gen/esx-sparse.py

# check_qcow2_map MANIFEST.json QCOW2-MAP.json SIZE: every cluster as the manifest says.
check_qcow2_map() {
	python3 - "$@" <<'EOF'
import json, sys
runs, qmap, size = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), int(sys.argv[3])
C = 65536
want = {}
for r in runs:
    for c in range(r["start"] // C, (r["start"] + r["length"] - 1) // C + 1):
        want.setdefault(c, set()).add(r["kind"])
got = {}
for e in qmap:
    for c in range(e["start"] // C, (e["start"] + e["length"] - 1) // C + 1):
        got[c] = "data" if e["data"] else "zero" if e["present"] else "absent"
bad, count = [], {"data": 0, "zero": 0, "absent": 0}
for c in range((size + C - 1) // C):
    k = want[c]
    w = ("data" if k & {"data", "data-zeros"} else
         "zero" if k & {"zero", "unmapped"} else "absent")
    count[w] += 1
    if got.get(c) != w:
        bad.append("cluster %d (%s): qemu-img map says %s, want %s" %
                   (c, ",".join(sorted(k)), got.get(c), w))
for b in bad[:8]:
    print(b)
if bad:
    sys.exit(1)
print("%d data, %d zero and %d absent clusters as the manifest says" %
      (count["data"], count["zero"], count["absent"]))
EOF
}

check_delta() {
	local fmt=$1 size=$2 seed=$3 grain=$4 dir img data ref mnt out
	dir=$TEST_TMP/$fmt-$size-$grain
	mkdir -p "$dir"
	img=$dir/disk.vmdk
	ref=$dir/expect.raw
	python3 "$GEN" --format "$fmt" --size "$size" --seed "$seed" --grain-sectors "$grain" \
		--expect "$ref" --manifest "$dir/manifest.json" "$img"
	data=$dir/disk-delta.vmdk
	[ "$fmt" = sesparse ] && data=$dir/disk-sesparse.vmdk
	record_src src "$img" "$data"

	qemu-img convert -f vmdk -O raw "$img" "$dir/qemu.raw"
	cmp "$dir/qemu.raw" "$ref" || fail "qemu-img does not read $img as the generator meant"
	out=$(qemu-img compare -f vmdk "$img" -F raw "$ref" 2>&1) || fail "fixture: $out"
	ok "qemu-img reads the $fmt image as the generator meant"

	mnt=$TEST_TMP/mnt
	vmfs_mount "$img" "$mnt"
	views_match_vmdk "$img" "$mnt"
	qemu-img map --output=json -f qcow2 "$mnt/disk.qcow2" >"$dir/qcow2-map.json"
	out=$(check_qcow2_map "$dir/manifest.json" "$dir/qcow2-map.json" "$size") ||
		fail "qemu-img map of disk.qcow2: $out"
	ok "disk.qcow2 map: $out"
	vmfs_umount "$mnt"
	assert_src_unchanged src
}

check_vmfs_thin() {
	local dir=$TEST_TMP/thin mnt=$TEST_TMP/mnt size=1049088
	mkdir -p "$dir"
	# Data and holes: the flat file of a thin disk.
	python3 "$VMFS_ROOT/tests/gen/content.py" --size "$size" --seed 5 "$dir/disk-flat.vmdk"
	cat >"$dir/disk.vmdk" <<EOF
# Disk DescriptorFile
version=1
encoding="UTF-8"
CID=4c7e9a01
parentCID=ffffffff
createType="vmfsThin"

# Extent description
RW $((size / 512)) VMFS "disk-flat.vmdk"

# The Disk Data Base
#DDB

ddb.adapterType = "lsilogic"
ddb.thinProvisioned = "1"
EOF
	record_src thin "$dir/disk.vmdk" "$dir/disk-flat.vmdk"
	vmfs_mount "$dir/disk.vmdk" "$mnt"
	cmp "$mnt/disk.raw" "$dir/disk-flat.vmdk" || fail "vmfsThin: disk.raw differs"
	out=$(qemu-img compare -f raw "$dir/disk-flat.vmdk" -F qcow2 "$mnt/disk.qcow2" 2>&1) ||
		fail "vmfsThin: qemu-img compare, disk.qcow2: $out"
	"$PREADER" --seek "$mnt/disk.raw" >"$dir/fuse.map"
	qemu-img map --output=json -f raw "$dir/disk-flat.vmdk" >"$dir/flat.json"
	out=$(compare_maps "$dir/flat.json" "$dir/fuse.map") || fail "vmfsThin map: $out"
	ok "vmfsThin: equals its flat file, holes kept ($out)"
	vmfs_umount "$mnt"
	assert_src_unchanged thin
}

subtest "vmfsSparse, 512-byte grains" check_delta cowd $((6 * 1024 * 1024 + 512)) 11 1
subtest "vmfsSparse, 4 KiB grains" check_delta cowd 1049088 12 8
subtest "seSparse" check_delta sesparse $((33 * 1024 * 1024 + 1536)) 13 8
subtest "vmfsThin" check_vmfs_thin
