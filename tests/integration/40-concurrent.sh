#!/bin/bash
# SPDX-License-Identifier: MIT
# Concurrent readers get the right bytes while the grain cache is far too small to hold
# what they read (-o cache_size=1M), so grains are evicted and decoded again all the time:
#   * preader -t 8: 8 threads of random preads (offsets straddling grain boundaries, past
#     the end, unaligned), each compared with the reference; the page cache is dropped
#     every few reads so the reads reach the daemon;
#   * 4 whole-file sequential readers at once (cmp), racing for the same grains.
# On streamOptimized disks in qemu's and VMware's layouts and on a monolithicSparse disk
# (100 MiB), and on a 6 GiB streamOptimized disk (offsets past 4 GiB).
# VMFS_PREADER_OPS (default 600) sets the reads per thread.
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=../lib/fixtures.sh
. "$(dirname "$0")/../lib/fixtures.sh"

ops=${VMFS_PREADER_OPS:-600}

check() {
	local size=$1 variant=$2 seq=$3 src ref mnt pids=() p i rc start
	src=$(fx_vmdk "$size" "$variant")
	ref=$(fx_ref "$size" "$variant")
	mnt=$TEST_TMP/mnt
	vmfs_mount "$src" "$mnt" -o cache_size=1M

	start=$SECONDS
	"$PREADER" -t 8 -n "$ops" -s 1 --max-len 262144 --drop 16 "$mnt/disk.raw" "$ref" ||
		fail "preader -t 8 on $size $variant: wrong bytes or a failed read (see above)"
	ok "8 threads x $ops random reads equal the reference ($((SECONDS - start))s)"
	"$PREADER" -t 8 -n "$ops" -s 2 --max-len 4096 --drop 64 "$mnt/disk.raw" "$ref" ||
		fail "preader -t 8 (small reads) on $size $variant: wrong bytes or a failed read"
	ok "8 threads x $ops small random reads equal the reference"

	if [ "$seq" = seq ]; then
		start=$SECONDS
		for i in 1 2 3 4; do
			cmp "$mnt/disk.raw" "$ref" >"$TEST_TMP/cmp.$i" 2>&1 &
			pids+=($!)
		done
		rc=0
		for i in "${!pids[@]}"; do
			p=${pids[i]}
			wait "$p" || {
				rc=1
				cat "$TEST_TMP/cmp.$((i + 1))" >&2
			}
		done
		[ $rc -eq 0 ] || fail "a concurrent sequential reader saw different bytes"
		ok "4 concurrent sequential readers: identical ($((SECONDS - start))s)"
	fi
	vmfs_umount "$mnt"
}

subtest "100m streamOptimized" check 100m streamOptimized seq
subtest "100m vmware-stream" check 100m vmware-stream seq
subtest "100m vmware-stream-g256" check 100m vmware-stream-g256 noseq
subtest "100m monolithicSparse" check 100m monolithicSparse seq
subtest "6g streamOptimized" check 6g streamOptimized noseq
