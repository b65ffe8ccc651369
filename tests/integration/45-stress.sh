#!/bin/bash
# SPDX-License-Identifier: MIT
# Stress: 16 reader threads at random offsets and sizes, at once, across every file of a
# two-disk OVA: disk.raw and disk2.raw (compared with qemu-img convert -O raw of each
# source disk), disk.qcow2 and disk2.qcow2 (compared with a copy read before, which
# qemu-img check passes and qemu-img compare finds equal to the raw one), and the
# source/ members (compared with the tar's members as Python's tarfile extracts them).
# The second disk is gzip-compressed inside the OVA, so the random-access gzip index is
# under fire too.  Twice: with a 1 MiB cache (every read evicts) and a 256 MiB one.
# Readers drop the page cache every few reads so their reads reach the daemon.
# VMFS_STRESS_SECONDS (default 6) bounds each round; tools/stress SECONDS runs it longer.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/fixtures.sh"

SECS=${VMFS_STRESS_SECONDS:-6}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ref=$TEST_TMP/ref

make_export() {
	local d1 d2
	mkdir -p "$ref/source"
	d1=$(fx_vmdk 100m vmware-stream)
	d2=$(fx_vmdk 100m monolithicSparse)
	cp "$d1" "$TEST_TMP/a.vmdk"
	cp --sparse=always "$d2" "$TEST_TMP/b.vmdk"
	python3 "$ROOT/tests/gen/make-ova.py" --name two -o "$TEST_TMP/two.ova" --gzip 2 \
		"$TEST_TMP/a.vmdk" "$TEST_TMP/b.vmdk"
	qemu-img convert -O raw "$d1" "$ref/disk.raw"
	qemu-img convert -O raw "$d2" "$ref/disk2.raw"
	python3 - "$TEST_TMP/two.ova" "$ref/source" <<'PY'
import os, sys, tarfile
with tarfile.open(sys.argv[1]) as t:
    for m in t.getmembers():
        with open(os.path.join(sys.argv[2], m.name), "wb") as f:
            f.write(t.extractfile(m).read())
PY
}

# Copies of the qcow2 views, checked by qemu-img, as the references for random reads.
qcow2_refs() {
	local mnt=$TEST_TMP/mnt-ref d out
	vmfs_mount "$TEST_TMP/two.ova" "$mnt"
	for d in disk disk2; do
		cp "$mnt/$d.qcow2" "$ref/$d.qcow2"
		qemu-img check -q "$ref/$d.qcow2" || fail "qemu-img check $d.qcow2"
		out=$(qemu-img compare -f qcow2 "$ref/$d.qcow2" -F raw "$ref/$d.raw" 2>&1) ||
			fail "$d.qcow2 is not $d.raw: $out"
	done
	vmfs_umount "$mnt"
	ok "references: raw by qemu-img convert, qcow2 copies checked and compared"
}

round() {
	local cache=$1 mnt=$TEST_TMP/mnt-$1 pids=() p f rc=0 member
	vmfs_mount "$TEST_TMP/two.ova" "$mnt" -o cache_size="$cache"
	# 4 + 4 + 3 + 3 threads on the disk views, 1 + 1 on two source members: 16.
	for f in disk.raw:4 disk2.raw:4 disk.qcow2:3 disk2.qcow2:3; do
		"$PREADER" -t "${f#*:}" --seconds "$SECS" --drop 8 -s $RANDOM \
			"$mnt/${f%%:*}" "$ref/${f%%:*}" >"$TEST_TMP/${f%%:*}.out" 2>&1 &
		pids+=($!)
	done
	for member in two-disk1.vmdk two-disk2.vmdk.gz; do
		"$PREADER" -t 1 --seconds "$SECS" --drop 8 -s $RANDOM \
			"$mnt/source/$member" "$ref/source/$member" >"$TEST_TMP/$member.out" 2>&1 &
		pids+=($!)
	done
	for p in "${pids[@]}"; do
		wait "$p" || rc=1
	done
	for f in "$TEST_TMP"/*.out; do
		echo "  $(basename "$f" .out): $(cat "$f")"
	done
	[ $rc -eq 0 ] || fail "a reader found a difference or an error (cache $cache)"
	_alive "$(vmfs_pid "$mnt")" || fail "the daemon died"
	vmfs_umount "$mnt"
	ok "16 readers for ${SECS}s, cache $cache: every byte equal"
}

make_export
record_src ova "$TEST_TMP/two.ova"
subtest "qcow2 references" qcow2_refs
subtest "cache 1M" round 1M
subtest "cache 256M" round 256M
assert_src_unchanged ova
