#!/bin/bash
# SPDX-License-Identifier: MIT
# A 2 TiB monolithicSparse VMDK with 1 GiB written: disk.qcow2 passes qemu-img check,
# compares identical with the VMDK, copies whole, and the daemon's peak memory (VmHWM)
# stays under the cache size + 64 MiB.  Then the largest disk a qcow2 image can describe,
# 2 PiB (a descriptor: 1 MiB of a flat file, a ZERO extent, 1 MiB more): qemu reads its
# disk.qcow2 right at both ends and in the middle, and the same memory bound holds: the
# qcow2 map costs what the allocation's shape costs, not what the capacity claims.  The
# mount time is printed, not asserted (timings belong to tools/bench).  Memory is asserted only for the plain build: ASan's
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

step "2 PiB"
dir=$TEST_TMP/pib
mkdir -p "$dir"
head -c 1048576 /dev/zero | tr '\0' '\253' >"$dir/data.raw"
head -c 1048576 /dev/zero | tr '\0' '\315' >"$dir/tail.raw"
sectors=$(((1 << 51) / 512))
printf '%s\n' '# Disk DescriptorFile' 'version=1' 'CID=12345678' 'parentCID=ffffffff' \
	'createType="monolithicFlat"' '' 'RW 2048 FLAT "data.raw" 0' \
	"RW $((sectors - 4096)) ZERO" 'RW 2048 FLAT "tail.raw" 0' '' \
	'ddb.adapterType = "lsilogic"' >"$dir/pib.vmdk"
record_src pib "$dir/pib.vmdk" "$dir/data.raw" "$dir/tail.raw"
start=$(date +%s%N)
vmfs_mount "$dir/pib.vmdk" "$mnt" -o cache_size=64M
echo "mount took $((($(date +%s%N) - start) / 1000000)) ms (polling granularity 50 ms)"
q=$mnt/disk.qcow2
[ "$(fsize "$mnt/disk.raw")" = $((1 << 51)) ] || fail "disk.raw is $(fsize "$mnt/disk.raw") bytes"
qemu-img info --output=json -f qcow2 "$q" >"$TEST_TMP/info.json"
python3 -c 'import json,sys; i=json.load(open(sys.argv[1])); assert i["virtual-size"] == 1 << 51, i' \
	"$TEST_TMP/info.json" || fail "qemu-img info: $(cat "$TEST_TMP/info.json")"
end=$(((1 << 51) - 1048576))
# 0xab at the start, 0xcd at the end, zeros between
qemu-io -r -f qcow2 -c "read -P 0xab 0 1M" -c "read -P 0xcd $end 1M" -c "read -P 0 1P 1M" \
	-c "read -P 0 1048576 1M" -c "read -P 0 $((end - 65536)) 64k" "$q" >"$TEST_TMP/io.out" ||
	fail "qemu-io cannot read disk.qcow2"
! grep -q 'Pattern verification failed' "$TEST_TMP/io.out" ||
	fail "qemu reads other bytes: $(grep -m1 -B1 'Pattern' "$TEST_TMP/io.out")"
ok "qemu reads a 2 PiB disk.qcow2 ($(fsize "$q") bytes) right at both ends and in the middle"
pid=$(vmfs_pid "$mnt")
hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status")
echo "daemon VmHWM: $((hwm / 1024)) MiB (cache 64 MiB)"
if ! ldd "$VMFS_MOUNT" | grep -q libasan; then
	[ "$hwm" -lt $(((64 + 64) * 1024)) ] || fail "VmHWM $hwm KiB >= cache + 64 MiB"
	ok "peak memory $((hwm / 1024)) MiB < 128 MiB"
fi
vmfs_umount "$mnt"
assert_src_unchanged pib
