#!/bin/bash
# SPDX-License-Identifier: MIT
# Every VMDK variant at every size mounts, and MNT/disk.raw is the guest disk:
#   * its size is the virtual size qemu-img info reports (or the reference's size);
#   * qemu-img compare -f vmdk SRC -F raw MNT/disk.raw says identical (qemu decodes the
#     source independently);
#   * its bytes equal qemu-img convert -O raw SRC (cmp; for 6 GiB a chunked, sparse-aware
#     compare, see tests/tools/preader.c --cmp, because cmp takes too long there);
#   * files qemu cannot read (VMware-layout streams without tables or footer, ZERO
#     extents) are compared with the content they were made from instead;
#   * the source files keep their bytes, size and mtime.
# VMFS_SIZES / VMFS_VARIANTS (space-separated) narrow the run when debugging.
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

# Bytes of a and b equal: cmp for small files, preader --cmp for big ones.
same_bytes() {
	local a=$1 b=$2 size
	size=$(fsize "$b")
	if [ "$size" -le $((256 * 1024 * 1024)) ]; then
		cmp "$a" "$b" || fail "cmp: $a differs from $b"
		ok "cmp $(basename "$a") = $(basename "$b") ($size bytes)"
	else
		"$PREADER" --cmp "$a" "$b" >/dev/null || fail "preader --cmp: $a differs from $b"
		ok "preader --cmp $(basename "$a") = $(basename "$b") ($size bytes)"
	fi
}

check_variant() {
	local size=$1 variant=$2 src ref mnt want got out conv
	src=$(fx_vmdk "$size" "$variant")
	ref=$(fx_ref "$size" "$variant")
	mapfile -t files < <(fx_files "$size" "$variant")
	record_src src "${files[@]}"
	mnt=$TEST_TMP/mnt
	vmfs_mount "$src" "$mnt"
	[ -f "$mnt/disk.raw" ] || fail "no disk.raw in $mnt: $(ls -la "$mnt")"

	got=$(stat -c %s "$mnt/disk.raw")
	if fx_qemu_readable "$variant"; then
		want=$(virtual_size -f vmdk "$src")
	else
		want=$(fsize "$ref")
	fi
	[ "$got" = "$want" ] || fail "size of disk.raw: got $got, want $want"
	[ "$want" = "$(fsize "$ref")" ] ||
		fail "fixture problem: virtual size $want but reference is $(fsize "$ref") bytes"
	ok "size $got"

	if fx_qemu_readable "$variant"; then
		out=$(qemu-img compare -f vmdk "$src" -F raw "$mnt/disk.raw" 2>&1) ||
			fail "qemu-img compare -f vmdk $src -F raw disk.raw: $out"
		ok "qemu-img compare (vmdk vs disk.raw): $out"
		conv=$TEST_TMP/converted.raw
		qemu-img convert -q -f vmdk -O raw "$src" "$conv"
		same_bytes "$mnt/disk.raw" "$conv"
		rm -f "$conv"
	else
		out=$(qemu-img compare -f raw "$ref" -F raw "$mnt/disk.raw" 2>&1) ||
			fail "qemu-img compare -f raw $ref -F raw disk.raw: $out"
		ok "qemu-img compare (reference raw vs disk.raw): $out"
		same_bytes "$mnt/disk.raw" "$ref"
	fi

	vmfs_umount "$mnt"
	assert_src_unchanged src
}

for size in "${sizes[@]}"; do
	for variant in "${variants[@]}"; do
		fx_big_skip "$size" "$variant" && continue
		subtest "$size $variant" check_variant "$size" "$variant"
	done
done
