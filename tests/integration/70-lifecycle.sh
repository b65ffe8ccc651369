#!/bin/bash
# SPDX-License-Identifier: MIT
# The daemon's life: options, mount-time errors, and ends.
#   * --help and --version exit 0 and print on stdout;
#   * a source that does not exist, a mount point that does not exist, is a file, is not
#     empty, or is already a mount point, a bad -o cache_size and missing arguments: exit
#     1 with one clear stderr line, nothing mounted;
#   * SIGTERM, and SIGINT, while a reader streams disk.raw (cat of a 6 GiB disk): the
#     daemon exits 0, the mount is gone, the reader ends, the mount point can be mounted
#     again; SIGTERM on an idle mount likewise;
#   * fusermount3 -u after the reader is done: exit 0 (as in every other test); with a
#     reader holding a file open: refused as busy, and -z lets the reader finish;
#   * the source truncated, rewritten in place or replaced under a live mount: EIO from
#     then on, one log line, the daemon stays up.
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=../lib/fixtures.sh
. "$(dirname "$0")/../lib/fixtures.sh"

options() {
	local out rc=0
	out=$("$VMFS_MOUNT" --help 2>&1) || rc=$?
	[ $rc -eq 0 ] || fail "--help: exit status $rc: $out"
	grep -qi 'usage' <<<"$out" || fail "--help does not print a usage line: $out"
	ok "--help: exit 0, $(wc -l <<<"$out") lines"
	out=$("$VMFS_MOUNT" -h 2>&1) || fail "-h: exit status $?"
	ok "-h: exit 0"
	out=$("$VMFS_MOUNT" --version 2>&1) || rc=$?
	[ $rc -eq 0 ] || fail "--version: exit status $rc: $out"
	grep -Eq '^vmfs-mount [0-9]+\.[0-9]+' <<<"$out" || fail "--version: unexpected output: $out"
	ok "--version: $out"
	out=$("$VMFS_MOUNT" -V 2>&1) || fail "-V: exit status $?"
	ok "-V: exit 0"
}

bad_invocations() {
	local src mnt file busy
	src=$(fx_vmdk 1m monolithicSparse)
	mnt=$TEST_TMP/mnt
	mkdir -p "$mnt"

	step "source does not exist"
	expect_mount_fail "$TEST_TMP/no-such-disk.vmdk" \
		'no-such-disk\.vmdk.*(No such file|does not exist|not found)'
	step "source is a directory"
	expect_mount_fail "$TEST_TMP" "$(basename "$TEST_TMP").*"
	step "mount point does not exist"
	expect_cmd_fail 'no-such-dir.*(No such file|does not exist|not found)' \
		"$src" "$TEST_TMP/no-such-dir"
	step "mount point is a file"
	file=$TEST_TMP/a-file
	: >"$file"
	expect_cmd_fail 'a-file.*(not a directory|Not a directory)' "$src" "$file"
	step "mount point is not empty"
	mkdir -p "$TEST_TMP/full"
	: >"$TEST_TMP/full/x"
	expect_cmd_fail 'full.*(not empty|Directory not empty)' "$src" "$TEST_TMP/full"
	step "mount point is already a mount point"
	busy=$TEST_TMP/busy
	vmfs_mount "$src" "$busy"
	expect_cmd_fail 'busy.*(already|mount ?point|busy)' "$src" "$busy"
	vmfs_umount "$busy"
	step "bad -o cache_size"
	expect_cmd_fail 'cache_size' -o cache_size=lots "$src" "$mnt"
	step "missing MOUNTPOINT"
	expect_cmd_fail '(MOUNTPOINT|mount ?point|usage|--help)' "$src"
}

# kill_while_reading SIGNAL: a 6 GiB disk, a cat streaming it, then SIGNAL to the daemon.
kill_while_reading() {
	local sig=$1 src mnt pid catpid start
	src=$(fx_vmdk 6g monolithicSparse)
	mnt=$TEST_TMP/mnt-$sig
	vmfs_mount "$src" "$mnt"
	pid=$(vmfs_pid "$mnt")
	cat "$mnt/disk.raw" >/dev/null 2>"$TEST_TMP/cat.err" &
	catpid=$!
	cleanup_fn kill_quiet "$catpid"
	sleep 0.5
	kill -0 "$catpid" 2>/dev/null ||
		echo "note: cat finished before the signal; the test is weaker" >&2
	start=$SECONDS
	kill "-$sig" "$pid"
	vmfs_wait_exit "$mnt" 20
	[ "$VMFS_EXIT_STATUS" -eq 0 ] || {
		_dump_log "$(vmfs_log "$mnt")"
		fail "SIG$sig during a read: daemon exited with status $VMFS_EXIT_STATUS, want 0"
	}
	_check_log_clean "$(vmfs_log "$mnt")"
	! is_mounted "$mnt" || fail "SIG$sig: daemon exited but $mnt is still mounted"
	ok "SIG$sig during a read: exit 0 after $((SECONDS - start))s, mount gone"
	# The reader must not hang on a dead mount.
	if ! _wait_gone "$catpid" 10; then
		fail "cat of disk.raw still running 10 s after the daemon exited"
	fi
	wait "$catpid" 2>/dev/null || true
	ok "the reader ended ($(head -c 200 "$TEST_TMP/cat.err" | tr '\n' ' '))"
	# The mount point is clean: it can be used again at once.
	src=$(fx_vmdk 1m monolithicSparse)
	vmfs_mount "$src" "$mnt"
	cmp "$mnt/disk.raw" "$(fx_ref 1m monolithicSparse)" ||
		fail "remount after SIG$sig: wrong bytes"
	vmfs_umount "$mnt"
	ok "mount point reusable after SIG$sig"
}

kill_idle() {
	local src mnt
	src=$(fx_vmdk 1m streamOptimized)
	mnt=$TEST_TMP/mnt-idle
	vmfs_mount "$src" "$mnt"
	kill -TERM "$(vmfs_pid "$mnt")"
	vmfs_wait_exit "$mnt" 20
	[ "$VMFS_EXIT_STATUS" -eq 0 ] ||
		fail "SIGTERM when idle: daemon exited with status $VMFS_EXIT_STATUS, want 0"
	! is_mounted "$mnt" || fail "SIGTERM when idle: $mnt still mounted"
	ok "SIGTERM when idle: exit 0, mount gone"
}

unmount_after_read() {
	local src mnt
	src=$(fx_vmdk 100m streamOptimized)
	mnt=$TEST_TMP/mnt-u
	vmfs_mount "$src" "$mnt"
	cat "$mnt/disk.raw" >/dev/null
	vmfs_umount "$mnt"
	ok "fusermount3 -u after a full read: exit 0"
}

# busy_unmount: fusermount3 -u while a reader holds disk.raw open is refused (busy) and
# the mount keeps working; a lazy unmount (-z) lets the reader finish with the right
# bytes, and the daemon exits 0 once the reader closes.
busy_unmount() {
	local src ref mnt pid out
	src=$(fx_vmdk 100m streamOptimized)
	ref=$(fx_ref 100m streamOptimized)
	mnt=$TEST_TMP/mnt-busy
	vmfs_mount "$src" "$mnt"
	pid=$(vmfs_pid "$mnt")
	exec 7<"$mnt/disk.raw"
	if out=$(fusermount3 -u "$mnt" 2>&1); then
		fail "fusermount3 -u with an open file succeeded"
	fi
	grep -qi 'busy' <<<"$out" || fail "fusermount3 -u refused, but not as busy: $out"
	is_mounted "$mnt" || fail "the refused unmount took the mount away"
	cmp -n 4194304 "$mnt/disk.raw" "$ref" || fail "reads after the refused unmount differ"
	ok "fusermount3 -u with a reader: refused ($out), mount intact"
	fusermount3 -u -z "$mnt" || fail "lazy unmount failed"
	! is_mounted "$mnt" || fail "lazy unmount left $mnt mounted"
	cmp - "$ref" <&7 || fail "the reader's bytes after a lazy unmount differ"
	exec 7<&-
	vmfs_wait_exit "$mnt" 20
	[ "$VMFS_EXIT_STATUS" -eq 0 ] || fail "daemon exit status $VMFS_EXIT_STATUS after lazy unmount"
	_check_log_clean "$(vmfs_log "$mnt")"
	ok "lazy unmount: the reader finished with the right bytes, daemon $pid exit 0"
}

# source_changed HOW: the source is truncated, rewritten in place or replaced by a rename
# under a live mount.  Reads that reach the daemon fail with EIO from then on (after the
# once-a-second check), the daemon logs one line saying so however often it is read,
# stays up, and unmounts cleanly.
source_changed() {
	local how=$1 dir mnt log n off offs
	dir=$TEST_TMP/src-$how
	mkdir -p "$dir"
	cp --sparse=always "$(fx_vmdk 100m monolithicSparse)" "$dir/disk.vmdk"
	# Three stored grains past the first MiB: reading them needs the source file.
	mapfile -t offs < <(qemu-img map --output=json "$dir/disk.vmdk" |
		jq -r '[.[] | select(.data and .start >= 2097152) | .start] | .[0, 10, 20]')
	[ ${#offs[@]} -eq 3 ] || fail "the fixture has too few stored grains"
	mnt=$TEST_TMP/mnt-$how
	vmfs_mount "$dir/disk.vmdk" "$mnt" -o cache_size=1M
	log=$(vmfs_log "$mnt")
	cmp -n 1048576 "$mnt/disk.raw" "$(fx_ref 100m monolithicSparse)" || fail "before: bytes differ"
	case $how in
	truncated) truncate -s 65536 "$dir/disk.vmdk" ;;
	rewritten) touch -d '2001-01-01' "$dir/disk.vmdk" ;;
	replaced)
		cp --sparse=always "$dir/disk.vmdk" "$dir/new.vmdk"
		mv "$dir/new.vmdk" "$dir/disk.vmdk"
		;;
	esac
	sleep 1.2
	# Ranges never read before, so the kernel's page cache cannot answer them.
	for off in "${offs[@]}"; do
		if out=$(dd if="$mnt/disk.raw" of=/dev/null bs=4096 skip="$off" count=4096 \
			iflag=skip_bytes,count_bytes 2>&1); then
			fail "reading at $off after the source was $how succeeded; want EIO"
		fi
		grep -q 'Input/output error' <<<"$out" || fail "at $off: not EIO: $out"
	done
	_alive "$(vmfs_pid "$mnt")" || fail "the daemon died"
	n=$(grep -c 'changed under the mount' "$log" || true)
	[ "$n" -eq 1 ] || {
		_dump_log "$log"
		fail "want one log line about the change, got $n"
	}
	ok "source $how: EIO at 3 offsets, one line: $(grep 'changed under the mount' "$log")"
	vmfs_umount "$mnt"
}

subtest "options" options
subtest "bad invocations" bad_invocations
subtest "SIGTERM while reading" kill_while_reading TERM
subtest "SIGINT while reading" kill_while_reading INT
subtest "SIGTERM when idle" kill_idle
subtest "unmount after read" unmount_after_read
subtest "unmount while a reader holds a file open" busy_unmount
subtest "source truncated under the mount" source_changed truncated
subtest "source rewritten in place under the mount" source_changed rewritten
subtest "source replaced by a rename under the mount" source_changed replaced
