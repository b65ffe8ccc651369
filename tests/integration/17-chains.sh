#!/bin/bash
# SPDX-License-Identifier: MIT
# Snapshot chains made by qemu-img (tests/gen/make-chain.sh): a monolithicSparse base
# under one delta, a monolithicFlat base under two (the second naming its parent by an
# absolute path), a streamOptimized base under five with zeroed-grain entries.  Mounted by
# the leaf:
#   * disk.raw and disk.qcow2 are identical to qemu-img's reading of the leaf (compare);
#   * qemu-img check passes on disk.qcow2;
#   * allocation follows the union of the chain: per 64 KiB cluster, qemu-img map of
#     disk.qcow2 says data and present where qemu-img map of the leaf (every level) does,
#     and SEEK_DATA on disk.raw finds the leaf's data ranges;
#   * the chain's files are unchanged.
# Then the refusals: a parent written after its child was made (CID mismatch, and
# -o ignore_cid mounting it as qemu reads it), a loop made by editing a descriptor, a
# missing parent, a parentFileNameHint with "..": each one clear line, fast, no mount
# (the loop with -o ignore_cid too: the guard does not rely on CIDs).  Last, a chain in
# an .ova whose OVF names the leaf, the parents being members beside it.
. "$(dirname "$0")/../lib/common.sh"

GEN=$VMFS_ROOT/tests/gen/make-chain.sh

# Per-cluster allocation of two qemu-img map --output=json outputs must agree: a cluster
# is "data" when any byte of it is data and not known zero, "present" when any byte is
# allocated at some level.
compare_alloc() {
	python3 - "$1" "$2" <<'EOF'
import json, sys
C = 65536
def clusters(path):
    data, present = set(), set()
    for e in json.load(open(path)):
        first, last = e["start"] // C, (e["start"] + e["length"] - 1) // C
        for c in range(first, last + 1):
            if e["data"] and not e["zero"]:
                data.add(c)
            if e["present"]:
                present.add(c)
    return data, present
(qd, qp), (vd, vp) = clusters(sys.argv[1]), clusters(sys.argv[2])
bad = False
for what, a, b in (("data", qd, vd), ("present", qp, vp)):
    if a != b:
        bad = True
        print("%s clusters differ: only the leaf's map has %s; only disk.qcow2's has %s"
              % (what, sorted(a - b)[:8], sorted(b - a)[:8]))
if bad:
    sys.exit(1)
print("%d data and %d present clusters, as in the chain" % (len(vd), len(vp)))
EOF
}

check_chain() {
	local label=$1 base=$2 depth=$3 dir leaf mnt out
	shift 3
	dir=$TEST_TMP/$label
	mnt=$TEST_TMP/mnt-$label
	mkdir -p "$dir"
	leaf=$(bash "$GEN" "$@" "$dir" disk "$base" "$depth")
	step "$label: $base under $depth delta(s), leaf $leaf"
	record_src "$label" "$dir"/*
	vmfs_mount "$dir/$leaf" "$mnt"
	views_match_vmdk "$dir/$leaf" "$mnt"
	qemu-img map --output=json -f qcow2 "$mnt/disk.qcow2" >"$TEST_TMP/qcow2.json"
	compare_alloc "$TEST_TMP/views-src.json" "$TEST_TMP/qcow2.json" || fail "qcow2 allocation"
	vmfs_umount "$mnt"
	assert_src_unchanged "$label"
}

# edit_desc FILE EXPR [MEMBER]: rewrite the descriptor embedded in a hosted sparse file
# in place (python expression on the text t), keeping it NUL-padded in its sectors; with
# MEMBER, FILE is a tar and the sparse file is that member of it.
edit_desc() {
	python3 - "$@" <<'EOF'
import struct, sys, tarfile
path, expr = sys.argv[1], sys.argv[2]
base = 0
if len(sys.argv) > 3:
    with tarfile.open(path) as t:
        base = t.getmember(sys.argv[3]).offset_data
with open(path, "r+b") as f:
    f.seek(base)
    h = f.read(512)
    off, size = struct.unpack_from("<QQ", h, 28)
    f.seek(base + off * 512)
    area = f.read(size * 512)
    t = area.split(b"\0", 1)[0].decode()
    t = eval(expr)
    b = t.encode()
    assert len(b) <= len(area), "descriptor grew past its sectors"
    f.seek(base + off * 512)
    f.write(b + b"\0" * (len(area) - len(b)))
EOF
}

# Each case works on a copy of $TEST_TMP/pristine: b.vmdk under b-000001 and b-000002.
pristine() {
	mkdir -p "$(dirname "$1")"
	cp -a --sparse=always "$TEST_TMP/pristine" "$1"
}

refusals() {
	local dir=$TEST_TMP/bad mnt=$TEST_TMP/mnt-bad out cid

	step "CID mismatch"
	pristine "$dir/cid"
	# Writing the base after its delta was made gives it a new CID.
	qemu-io -f vmdk -c 'write -P 0x99 0 64k' "$dir/cid/b.vmdk" >/dev/null
	record_src cid "$dir"/cid/*
	expect_mount_fail "$dir/cid/b-000001.vmdk" \
		'b-000001\.vmdk: parentCID=[0-9a-f]{8} does not match the CID=[0-9a-f]{8} of its parent .*b\.vmdk.*-o ignore_cid'
	# qemu refuses the chain too; it reads a copy whose parentCID was set to the new CID.
	mkdir -p "$dir/cid-fixed"
	cp "$dir"/cid/* "$dir/cid-fixed/"
	cid=$(grep -ao '^CID=[0-9a-f]*' "$dir/cid/b.vmdk" | head -1)
	edit_desc "$dir/cid-fixed/b-000001.vmdk" \
		"__import__('re').sub('parentCID=[0-9a-f]+', 'parent${cid}', t)"
	vmfs_mount "$dir/cid/b-000002.vmdk" "$mnt" -o ignore_cid
	out=$(qemu-img compare -f vmdk "$dir/cid-fixed/b-000002.vmdk" -F raw "$mnt/disk.raw" 2>&1) ||
		fail "-o ignore_cid: $out"
	ok "-o ignore_cid mounts it: the deltas over the base as it is now"
	vmfs_umount "$mnt"
	assert_src_unchanged cid

	step "a loop: b2 -> b1 -> b2"
	pristine "$dir/loop"
	edit_desc "$dir/loop/b-000001.vmdk" 't.replace("parentFileNameHint=\"b.vmdk\"", "parentFileNameHint=\"b-000002.vmdk\"")'
	grep -aq 'parentFileNameHint="b-000002.vmdk"' "$dir/loop/b-000001.vmdk" || fail "edit failed"
	expect_mount_fail "$dir/loop/b-000002.vmdk" 'b-000002\.vmdk: snapshot chain loops: .*b-000001\.vmdk names .*b-000002\.vmdk as its parent'
	# From b1, b2's CID does not match; past that check the loop is still found.
	expect_mount_fail "$dir/loop/b-000001.vmdk" 'b-000001\.vmdk: parentCID=.*does not match'
	expect_mount_fail "$dir/loop/b-000001.vmdk" 'b-000001\.vmdk: snapshot chain loops' \
		-o ignore_cid

	step "a missing parent"
	pristine "$dir/missing"
	rm "$dir/missing/b.vmdk"
	expect_mount_fail "$dir/missing/b-000002.vmdk" \
		'b-000001\.vmdk: cannot open its parent \(parentFileNameHint "b\.vmdk"\).*No such file'

	step "a parent outside the child's directory"
	pristine "$dir/up/vm"
	mv "$dir/up/vm/b.vmdk" "$dir/up/b.vmdk"
	edit_desc "$dir/up/vm/b-000001.vmdk" 't.replace("parentFileNameHint=\"b.vmdk\"", "parentFileNameHint=\"../b.vmdk\"")'
	expect_mount_fail "$dir/up/vm/b-000002.vmdk" \
		'b-000001\.vmdk: parentFileNameHint "\.\./b\.vmdk" leaves the child.s directory.*refused'
}

# A chain inside an .ova: the OVF names the leaf (as guest-disk1.vmdk, make-ova.py's
# name); its parents are members beside it under their own names, found through the
# package's resolver.  A hint naming a subdirectory is not a member name and is refused.
in_ova() {
	local dir=$TEST_TMP/ova mnt=$TEST_TMP/mnt-ova out
	pristine "$dir"
	python3 "$VMFS_ROOT/tests/gen/make-ova.py" --manifest none -o "$dir/guest.ova" \
		"$dir/b-000002.vmdk"
	tar -C "$dir" -rf "$dir/guest.ova" b.vmdk b-000001.vmdk
	record_src ova "$dir/guest.ova"
	vmfs_mount "$dir/guest.ova" "$mnt"
	out=$(qemu-img compare -f vmdk "$dir/b-000002.vmdk" -F qcow2 "$mnt/disk.qcow2" 2>&1) ||
		fail "disk.qcow2 of the .ova: $out"
	ok "the chain in the .ova reads as qemu-img reads the files"
	vmfs_umount "$mnt"
	assert_src_unchanged ova
	cp "$dir/guest.ova" "$dir/sub.ova"
	edit_desc "$dir/sub.ova" \
		"__import__('re').sub('parentFileNameHint=\"[^\"]*\"', 'parentFileNameHint=\"sub/b-000001.vmdk\"', t)" \
		guest-disk1.vmdk
	expect_mount_fail "$dir/sub.ova" \
		'guest-disk1\.vmdk: cannot open its parent .*"sub/b-000001\.vmdk" named by a descriptor is not a plain member name; refused'
}

mkdir "$TEST_TMP/pristine"
bash "$GEN" "$TEST_TMP/pristine" b monolithicSparse 2 >/dev/null
subtest "depth 1, monolithicSparse base" check_chain depth1 monolithicSparse 1
subtest "depth 2, monolithicFlat base, absolute hints" check_chain depth2 monolithicFlat 2 --absolute
subtest "depth 5, streamOptimized base, zeroed grains" check_chain depth5 streamOptimized 5 --zeroed-grain
subtest "refusals" refusals
subtest "a chain inside an .ova" in_ova
