#!/bin/bash
# SPDX-License-Identifier: MIT
# Zeroed grains (grain table entry 1, made by qemu-img create -o zeroed_grain=on and
# qemu-io write -z; see fx_zeroed in lib/fixtures.sh) read as zeros and are holes:
#   * qemu-img map of the source says zero there (the fixture is what we think it is);
#   * qemu-img map --output=json -f raw MNT/disk.raw (which asks SEEK_DATA/SEEK_HOLE)
#     reports no data in those ranges, and its data ranges equal the source's;
#   * the bytes there are zeros (cmp against /dev/zero), and the whole disk equals
#     qemu-img convert -O raw of the source and passes qemu-img compare.
# Both a monolithicSparse and a twoGbMaxExtentSparse disk are checked.
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=../lib/fixtures.sh
. "$(dirname "$0")/../lib/fixtures.sh"

# no_data_in MAP.json OFF LEN: fail unless every map entry overlapping [OFF, OFF+LEN) has
# data false and zero true.
no_data_in() {
	python3 - "$@" <<'EOF'
import json, sys
m, off, n = json.load(open(sys.argv[1])), int(sys.argv[2]), int(sys.argv[3])
bad = [e for e in m if e["start"] < off + n and e["start"] + e["length"] > off
       and (e["data"] or not e["zero"])]
for e in bad[:5]:
    print("[%d, %d) data=%s zero=%s" % (e["start"], e["start"] + e["length"],
                                        e["data"], e["zero"]))
sys.exit(1 if bad else 0)
EOF
}

check() {
	local sub=$1 src ref mnt out range off len
	src=$(fx_zeroed "$sub")
	ref=$(fx_zeroed_ref "$sub")
	mapfile -t files < <(find "$(dirname "$src")" -maxdepth 1 -type f ! -name '.*')
	record_src src "${files[@]}"

	qemu-img map --output=json -f vmdk "$src" >"$TEST_TMP/src.json"
	for range in "${FX_ZEROED_RANGES[@]}"; do
		read -r off len <<<"$range"
		out=$(no_data_in "$TEST_TMP/src.json" "$off" "$len") ||
			fail "fixture: qemu-img map of $src shows data in [$off, +$len): $out"
	done

	mnt=$TEST_TMP/mnt
	vmfs_mount "$src" "$mnt"
	qemu-img map --output=json -f raw "$mnt/disk.raw" >"$TEST_TMP/fuse.json"
	"$PREADER" --seek "$mnt/disk.raw" >"$TEST_TMP/fuse.map"
	for range in "${FX_ZEROED_RANGES[@]}"; do
		read -r off len <<<"$range"
		out=$(no_data_in "$TEST_TMP/fuse.json" "$off" "$len") ||
			fail "qemu-img map -f raw disk.raw: zeroed grains [$off, +$len) not a hole: $out"
		cmp -n "$len" -i "$off:0" "$mnt/disk.raw" /dev/zero ||
			fail "zeroed grains [$off, +$len) do not read as zeros"
		ok "[$off, +$len): zeros, and a hole for SEEK_HOLE"
	done
	out=$(compare_maps "$TEST_TMP/src.json" "$TEST_TMP/fuse.map") ||
		fail "SEEK_DATA map of disk.raw vs qemu-img map of the source: $out"
	ok "map: $out"

	out=$(qemu-img compare -f vmdk "$src" -F raw "$mnt/disk.raw" 2>&1) ||
		fail "qemu-img compare: $out"
	cmp "$mnt/disk.raw" "$ref" || fail "disk.raw differs from qemu-img convert's output"
	ok "qemu-img compare and cmp with qemu-img convert: identical"

	vmfs_umount "$mnt"
	assert_src_unchanged src
}

subtest "zeroed monolithicSparse" check monolithicSparse
subtest "zeroed twoGbMaxExtentSparse" check twoGbMaxExtentSparse
