#!/bin/bash
# SPDX-License-Identifier: MIT
# Holes survive: for every variant and size,
#   * the SEEK_DATA/SEEK_HOLE map of MNT/disk.raw (preader --seek) has the same data
#     ranges as qemu-img map --output=json of the source (entries with data true and zero
#     false), compared range by range after merging neighbours, and so the same total;
#     for files qemu cannot read, the map must at least cover every non-zero byte (the
#     copy below is compared) and claim no more data than the content holds, rounded up
#     to grains;
#   * cp --sparse=always MNT/disk.raw OUT gives a file with the right bytes that uses (du
#     -B1) no more than the content's data (4 KiB blocks holding non-zero bytes) + 1 MiB.
# VMFS_SIZES / VMFS_VARIANTS narrow the run.
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=../lib/fixtures.sh
. "$(dirname "$0")/../lib/fixtures.sh"

read -r -a sizes <<<"${VMFS_SIZES:-${FX_SIZES[*]}}"
if [ -n "${VMFS_VARIANTS:-}" ]; then
	read -r -a variants <<<"$VMFS_VARIANTS"
else
	mapfile -t variants < <(fx_variants)
fi

check_variant() {
	local size=$1 variant=$2 src ref mnt manifest limit used fdata out copy grain
	src=$(fx_vmdk "$size" "$variant")
	ref=$(fx_ref "$size" "$variant")
	manifest=$(fx_manifest "$size")
	mapfile -t files < <(fx_files "$size" "$variant")
	record_src src "${files[@]}"
	mnt=$TEST_TMP/mnt
	vmfs_mount "$src" "$mnt"

	"$PREADER" --seek "$mnt/disk.raw" >"$TEST_TMP/fuse.map" ||
		fail "preader --seek $mnt/disk.raw failed"
	fdata=$(awk '$1 == "total" { print $3 }' "$TEST_TMP/fuse.map")
	if fx_qemu_readable "$variant"; then
		qemu-img map --output=json -f vmdk "$src" >"$TEST_TMP/qemu.json"
		out=$(compare_maps "$TEST_TMP/qemu.json" "$TEST_TMP/fuse.map") ||
			fail "SEEK_DATA/SEEK_HOLE map of disk.raw vs qemu-img map of $src: $out"
		ok "map: $out"
	else
		# No independent map: data claimed must not exceed the content's grains.
		grain=65536
		[ "$variant" = vmware-stream-g256 ] && grain=131072
		limit=$(jq --argjson g "$grain" '.segments
			| map(select(.kind != "hole" and .kind != "zeros"))
			| map([(.offset / $g | floor), ((.offset + .length - 1) / $g | floor)])
			| map(range(.[0]; .[1] + 1)) | unique | length * $g' "$manifest")
		[ "$fdata" -le "$limit" ] ||
			fail "disk.raw claims $fdata bytes of data, more than the content's grains ($limit)"
		ok "map: $fdata bytes of data (content's grains: $limit)"
	fi

	copy=$TEST_TMP/copy.raw
	cp --sparse=always "$mnt/disk.raw" "$copy"
	used=$(du -B1 "$copy" | cut -f1)
	limit=$(($(jq .data_blocks_4k "$manifest") * 4096 + 1024 * 1024))
	[ "$used" -le "$limit" ] ||
		fail "cp --sparse=always copy uses $used bytes, more than data + 1 MiB ($limit)"
	if [ "$(fsize "$copy")" -le $((256 * 1024 * 1024)) ]; then
		cmp "$copy" "$ref" || fail "the sparse copy differs from $ref"
	else
		"$PREADER" --cmp "$copy" "$ref" >/dev/null || fail "the sparse copy differs from $ref"
	fi
	ok "cp --sparse=always: $used bytes on disk (limit $limit), bytes equal the reference"
	rm -f "$copy"

	vmfs_umount "$mnt"
	assert_src_unchanged src
}

for size in "${sizes[@]}"; do
	for variant in "${variants[@]}"; do
		# Holes in a copy come from the decoder's status, which 1 MiB and 100 MiB
		# exercise for every variant; at 6 GiB (offsets past 4 GiB) four variants
		# cover every decoder, and the 6 GiB reads of all of them are in 10-.
		if [ "$size" = 6g ]; then
			case $variant in
			monolithicSparse | twoGbMaxExtentFlat | vmware-stream | mixed) ;;
			*) continue ;;
			esac
		fi
		subtest "$size $variant" check_variant "$size" "$variant"
	done
done
