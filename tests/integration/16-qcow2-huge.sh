#!/bin/bash
# SPDX-License-Identifier: MIT
# A 2 TiB monolithicSparse VMDK with 1 GiB written: disk.qcow2 passes qemu-img check,
# compares identical with the VMDK, copies whole, and the daemon's peak memory (VmHWM)
# stays under the cache size + 64 MiB.  The mount time is printed, not asserted
# (timings belong to tools/bench).  Memory is asserted only for the plain build: ASan's
# shadow memory and quarantine are not the program's.
. "$(dirname "$0")/../lib/common.sh"

src=$TEST_TMP/huge.vmdk
qemu-img create -q -f vmdk -o subformat=monolithicSparse "$src" 2T
args=()
for i in $(seq 0 7); do
	args+=(-c "write -P $((i + 1)) $((i * 64))M 64M")
	args+=(-c "write -P $((i + 101)) $((1024 * 1024 + i * 128))M 64M")
done
qemu-io -f vmdk "${args[@]}" "$src" >/dev/null
record_src huge "$src"

mnt=$TEST_TMP/mnt
start=$(date +%s%N)
vmfs_mount "$src" "$mnt" -o cache_size=64M
echo "mount took $((($(date +%s%N) - start) / 1000000)) ms (polling granularity 50 ms)"
q=$mnt/disk.qcow2
qemu-img check -f qcow2 "$q" | tee "$TEST_TMP/check.out"
grep -q 'No errors were found' "$TEST_TMP/check.out" || fail "qemu-img check"
qemu-img compare -q -f vmdk "$src" -F qcow2 "$q" || fail "compare"
ok "check and compare pass on a 2 TiB disk.qcow2 of $(fsize "$q") bytes"
cp "$q" "$TEST_TMP/copy.qcow2"
qemu-img compare -q -f vmdk "$src" -F qcow2 "$TEST_TMP/copy.qcow2" || fail "copy differs"
rm -f "$TEST_TMP/copy.qcow2"
ok "cp of disk.qcow2 compares identical"
pid=$(vmfs_pid "$mnt")
hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status")
echo "daemon VmHWM: $((hwm / 1024)) MiB (cache 64 MiB)"
if ldd "$VMFS_MOUNT" | grep -q libasan; then
	echo "ASan build: memory bound not asserted"
else
	[ "$hwm" -lt $(((64 + 64) * 1024)) ] || fail "VmHWM $hwm KiB >= cache + 64 MiB"
	ok "peak memory $((hwm / 1024)) MiB < 128 MiB"
fi
vmfs_umount "$mnt"
assert_src_unchanged huge
