# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# Sourced by every integration test (tests/integration/NN-name.sh).  It provides:
#
#   cleanup_fn CMD [ARGS...]   run CMD at exit, in reverse order of registration, whether
#                              the test passed or failed (an EXIT trap); a cleanup that
#                              fails makes the test fail
#   vmfs_mount SRC MNT [ARGS...]
#                              start "$VMFS_MOUNT -f ARGS SRC MNT" in the background with its
#                              output in a log, wait (30 s deadline) until MNT shows in
#                              /proc/self/mountinfo while checking that the daemon lives,
#                              and register "cleanup_fn vmfs_umount MNT"
#   vmfs_umount MNT            fusermount3 -u MNT (if still mounted), wait for the daemon to
#                              exit (deadline), fail unless its status is 0 and its log is
#                              free of sanitizer reports; the log is shown on failure
#   vmfs_pid MNT / vmfs_log MNT
#                              the daemon's pid and log file for the mount at MNT
#   vmfs_wait_exit MNT [SECS]  wait for the daemon of MNT to exit by itself; sets
#                              VMFS_EXIT_STATUS; fails on timeout
#   expect_mount_fail SRC REGEX [ARGS...]
#                              "$VMFS_MOUNT ARGS SRC MNT" must exit 1 within 20 s, print
#                              exactly one line on stderr ("vmfs-mount: ..." matching
#                              REGEX, extended regex) and mount nothing; the line is left
#                              in LAST_ERR
#   expect_cmd_fail REGEX ARGS...
#                              the same for "$VMFS_MOUNT ARGS" (bad options, mount points)
#   compare_maps QEMU.json SEEK.map
#                              compare the data ranges of qemu-img map --output=json with
#                              those of preader --seek; prints a summary or the differences
#   record_src KEY FILE...     remember sha256, size, mtime and ctime of FILEs
#   assert_src_unchanged KEY   prove the FILEs recorded under KEY are unchanged
#   is_mounted MNT             status 0 when MNT is a mount point now
#   subtest NAME CMD [ARGS...] run CMD in a subshell with its own cleanups (mounts made
#                              there are unmounted when it ends); a failure is noted and
#                              the test goes on with the next subtest, then fails at exit
#   fail MSG / skip MSG / step MSG / ok MSG
#
# Variables: VMFS_ROOT (the repository), VMFS_BUILD (meson build dir, default build/),
# VMFS_MOUNT (the binary, default $VMFS_BUILD/vmfs-mount), FIXTURES (cache of generated
# fixtures, default $VMFS_FIXTURES or $VMFS_BUILD/fixtures), TEST_TMP (this test's own
# temporary directory under ${VMFS_TEST_TMP:-/tmp}, removed at exit), PREADER (the
# tests/tools/preader helper).
#
# Helpers that can fail call `fail`, which exits the test: do not call them inside $(...)
# or a pipeline, where the exit would only leave a subshell.

set -euo pipefail

VMFS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VMFS_BUILD=${VMFS_BUILD:-$VMFS_ROOT/build}
case $VMFS_BUILD in /*) ;; *) VMFS_BUILD=$VMFS_ROOT/$VMFS_BUILD ;; esac
VMFS_MOUNT=${VMFS_MOUNT:-$VMFS_BUILD/vmfs-mount}
case $VMFS_MOUNT in /*) ;; *) VMFS_MOUNT=$PWD/$VMFS_MOUNT ;; esac
FIXTURES=${FIXTURES:-${VMFS_FIXTURES:-$VMFS_BUILD/fixtures}}
case $FIXTURES in /*) ;; *) FIXTURES=$PWD/$FIXTURES ;; esac
TEST_NAME=$(basename "$0" .sh)
export VMFS_ROOT VMFS_BUILD VMFS_MOUNT FIXTURES

# Deadlines, in seconds (ASan builds start and stop more slowly).
VMFS_MOUNT_TIMEOUT=${VMFS_MOUNT_TIMEOUT:-30}
VMFS_EXIT_TIMEOUT=${VMFS_EXIT_TIMEOUT:-30}
VMFS_FAIL_TIMEOUT=${VMFS_FAIL_TIMEOUT:-20}

_CLEANUPS=()
_FAILURES=()
_SUBTEST=
_IN_CLEANUP=0
_CLEANUP_FAILED=0
declare -A _VMFS_PID=() _VMFS_LOG=() _SRC_FILES=()
_VMFS_N=0
LAST_ERR=
VMFS_EXIT_STATUS=

# ---------------------------------------------------------------------------------------
# Reporting

fail() {
	echo "FAIL: $TEST_NAME: $*" >&2
	if [ "$_IN_CLEANUP" = 1 ]; then
		_CLEANUP_FAILED=1
		return 1
	fi
	exit 1
}

skip() {
	echo "SKIP: $TEST_NAME: $*"
	exit 77
}

step() { echo "--- $*"; }
ok() { echo "ok: $*"; }

# ---------------------------------------------------------------------------------------
# Cleanups

cleanup_fn() {
	local q
	q=$(printf '%q ' "$@")
	_CLEANUPS+=("$q")
}

_run_cleanups() {
	local rc=$? i
	_IN_CLEANUP=1
	set +e
	trap - EXIT INT TERM
	for ((i = ${#_CLEANUPS[@]} - 1; i >= 0; i--)); do
		eval "${_CLEANUPS[i]}" || _CLEANUP_FAILED=1
	done
	if [ "$rc" -eq 0 ] && [ "$_CLEANUP_FAILED" = 1 ]; then
		rc=1
	fi
	if [ -n "$_SUBTEST" ]; then
		[ "$rc" -eq 0 ] && echo "ok: [$_SUBTEST]"
		exit "$rc"
	fi
	if [ "$rc" -eq 0 ] && [ ${#_FAILURES[@]} -gt 0 ]; then
		rc=1
	fi
	case $rc in
	0) echo "PASS: $TEST_NAME" ;;
	77) ;;
	*)
		[ ${#_FAILURES[@]} -gt 0 ] && echo "failed subtests: ${_FAILURES[*]}" >&2
		echo "FAILED: $TEST_NAME (exit $rc)" >&2
		;;
	esac
	exit "$rc"
}

subtest() {
	local name=$1 rc start=$SECONDS
	shift
	echo "=== [$name]"
	set +e
	trap - ERR
	(
		set -e
		_set_err_trap
		_CLEANUPS=()
		_SUBTEST=$name
		# shellcheck disable=SC2030 # on purpose: the subtest's own name
		TEST_NAME="$TEST_NAME [$name]"
		trap _run_cleanups EXIT
		"$@"
	)
	rc=$?
	set -e
	_set_err_trap
	if [ $rc -ne 0 ]; then
		echo "FAIL: [$name] (exit $rc)" >&2
		_FAILURES+=("$name")
	fi
	echo "=== [$name] $((SECONDS - start))s"
	return 0
}
trap _run_cleanups EXIT
# Say which command failed when set -e stops a test (functions and subshells too).
set -E
_set_err_trap() {
	trap '_on_err $? "${BASH_SOURCE[0]##*/}:$LINENO" "$BASH_COMMAND"' ERR
}
_set_err_trap
_on_err() {
	[ "$_IN_CLEANUP" = 1 ] && return 0
	echo "error: status $1 at $2: $3" >&2
}
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------------------
# Environment: skip (77) only when FUSE or root is missing; a missing tool is a failure.

[ "$(id -u)" -eq 0 ] || skip "needs root (FUSE mounts and fusermount3 -u of them)"
[ -c /dev/fuse ] || skip "no /dev/fuse"
for _t in fusermount3 qemu-img qemu-io jq python3 cmp sha256sum timeout stat du cp dd; do
	command -v "$_t" >/dev/null || fail "missing tool: $_t"
done
unset _t
[ -x "$VMFS_MOUNT" ] || fail "no vmfs-mount binary at $VMFS_MOUNT (build it, or set VMFS_MOUNT)"

# shellcheck disable=SC2031
TEST_TMP=$(mktemp -d "${VMFS_TEST_TMP:-/tmp}/vmfs-$TEST_NAME.XXXXXX")

# Remove TEST_TMP, but never recurse into a mount still there (a failed unmount).
_remove_test_tmp() {
	local m
	while read -r m; do
		[ -n "$m" ] || continue
		echo "warning: $m still mounted at exit; lazy unmount" >&2
		fusermount3 -u -z "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
		_CLEANUP_FAILED=1
	done < <(_mounts_under "$TEST_TMP")
	rm -rf "$TEST_TMP"
}
cleanup_fn _remove_test_tmp

# ---------------------------------------------------------------------------------------
# Mounts

# The mountinfo spelling of an absolute path (space, tab, newline, backslash as octal).
_mi_escape() {
	local p=$1
	p=${p//\\/\\134}
	p=${p// /\\040}
	p=${p//$'\t'/\\011}
	p=${p//$'\n'/\\012}
	printf '%s' "$p"
}

_abspath() {
	local p=$1
	if [ -d "$p" ]; then
		(cd "$p" && pwd -P)
	else
		realpath -m "$p"
	fi
}

_mounts_under() {
	local d
	d=$(_mi_escape "$1")
	awk -v d="$d" 'index($5, d "/") == 1 || $5 == d { print $5 }' /proc/self/mountinfo |
		sed 's/\\040/ /g'
}

is_mounted() {
	local m
	m=$(_mi_escape "$(_abspath "$1")")
	awk -v m="$m" '$5 == m { f = 1 } END { exit !f }' /proc/self/mountinfo
}

# State of a process: R, S, D, Z, ... or empty when it is gone.
_proc_state() {
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
	s=${s##*) }
	printf '%s' "${s%% *}"
}

_alive() {
	local s
	s=$(_proc_state "$1")
	[ -n "$s" ] && [ "$s" != Z ] && [ "$s" != X ]
}

_dump_log() {
	local log=$1 what=${2:-vmfs-mount log}
	[ -f "$log" ] || return 0
	echo "----- $what ($log) -----" >&2
	tail -n 60 "$log" >&2
	echo "----- end of $what -----" >&2
}

# Sanitizer reports in a daemon log make the test fail even if the exit status is 0.
_check_log_clean() {
	local log=$1
	if grep -Eq 'ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error:' "$log"; then
		_dump_log "$log"
		fail "sanitizer report in $log"
		return 1
	fi
}

# kill_quiet PID...: SIGKILL processes that may be gone already (for cleanup_fn).
kill_quiet() {
	kill -KILL "$@" 2>/dev/null || true
}

vmfs_pid() { printf '%s' "${_VMFS_PID[$(_abspath "$1")]:-}"; }
vmfs_log() { printf '%s' "${_VMFS_LOG[$(_abspath "$1")]:-}"; }

vmfs_mount() {
	local src=$1 mnt=$2 pid log deadline rc
	shift 2
	mkdir -p "$mnt"
	mnt=$(_abspath "$mnt")
	_VMFS_N=$((_VMFS_N + 1))
	log=$TEST_TMP/vmfs-mount.$_VMFS_N.log
	echo "+ vmfs-mount -f $* $src $mnt" >"$log"
	# A background job of a non-interactive shell starts with SIGINT ignored, and libfuse
	# leaves an ignored signal alone: give the daemon default dispositions back.
	env --default-signal=INT,QUIT "$VMFS_MOUNT" -f "$@" "$src" "$mnt" >>"$log" 2>&1 &
	pid=$!
	_VMFS_PID[$mnt]=$pid
	_VMFS_LOG[$mnt]=$log
	cleanup_fn vmfs_umount "$mnt"
	deadline=$((SECONDS + VMFS_MOUNT_TIMEOUT))
	while ! is_mounted "$mnt"; do
		if ! _alive "$pid"; then
			rc=0
			wait "$pid" || rc=$?
			unset "_VMFS_PID[$mnt]"
			_dump_log "$log"
			fail "vmfs-mount $src died before the mount appeared (exit status $rc)"
		fi
		if [ $SECONDS -ge $deadline ]; then
			_dump_log "$log"
			fail "vmfs-mount $src: no mount at $mnt after ${VMFS_MOUNT_TIMEOUT}s"
		fi
		sleep 0.05
	done
}

# Wait until pid is gone or a zombie; 0, or 1 after secs.
_wait_gone() {
	local pid=$1 secs=$2 deadline
	deadline=$((SECONDS + secs))
	while _alive "$pid"; do
		[ $SECONDS -lt $deadline ] || return 1
		sleep 0.05
	done
	return 0
}

# Reap the daemon of mnt (already exited or exiting); sets VMFS_EXIT_STATUS.
vmfs_wait_exit() {
	local mnt pid log secs=${2:-$VMFS_EXIT_TIMEOUT} rc
	mnt=$(_abspath "$1")
	pid=${_VMFS_PID[$mnt]:-}
	log=${_VMFS_LOG[$mnt]:-}
	[ -n "$pid" ] || {
		fail "vmfs_wait_exit $mnt: no daemon known for it"
		return 1
	}
	if ! _wait_gone "$pid" "$secs"; then
		_dump_log "$log"
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null || true
		unset "_VMFS_PID[$mnt]"
		fail "vmfs-mount (pid $pid) for $mnt did not exit within ${secs}s"
		return 1
	fi
	rc=0
	wait "$pid" || rc=$?
	unset "_VMFS_PID[$mnt]"
	VMFS_EXIT_STATUS=$rc
	return 0
}

vmfs_umount() {
	local mnt pid log tries=0 err
	mnt=$(_abspath "$1")
	pid=${_VMFS_PID[$mnt]:-}
	log=${_VMFS_LOG[$mnt]:-}
	if is_mounted "$mnt"; then
		# Busy right after a reader ended is possible: retry for a few seconds.
		until err=$(fusermount3 -u "$mnt" 2>&1); do
			tries=$((tries + 1))
			if [ $tries -ge 50 ]; then
				fusermount3 -u -z "$mnt" 2>/dev/null
				[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null
				_dump_log "$log"
				fail "fusermount3 -u $mnt failed: $err"
				[ -n "$pid" ] && vmfs_wait_exit "$mnt" 5
				return 1
			fi
			sleep 0.1
		done
	fi
	[ -n "$pid" ] || return 0 # reaped earlier (vmfs_wait_exit)
	vmfs_wait_exit "$mnt" || return 1
	if [ "$VMFS_EXIT_STATUS" -ne 0 ]; then
		_dump_log "$log"
		fail "vmfs-mount for $mnt exited with status $VMFS_EXIT_STATUS after unmount"
		return 1
	fi
	_check_log_clean "$log" || return 1
	if is_mounted "$mnt"; then
		fail "$mnt still mounted after the daemon exited"
		return 1
	fi
	return 0
}

# expect_cmd_fail REGEX ARGS...: "$VMFS_MOUNT ARGS" must exit 1 within the deadline with
# exactly one line on stderr, "vmfs-mount: ..." matching REGEX, nothing on stdout, and no
# new mount under TEST_TMP.  The line is left in LAST_ERR.
expect_cmd_fail() {
	local re=$1 err out rc=0 n start what before m
	shift
	what="vmfs-mount $*"
	err=$(mktemp "$TEST_TMP/fail.XXXXXX.err")
	out=${err%.err}.out
	before=$(_mounts_under "$TEST_TMP")
	start=$SECONDS
	timeout -k 5 "$VMFS_FAIL_TIMEOUT" "$VMFS_MOUNT" "$@" >"$out" 2>"$err" </dev/null || rc=$?
	LAST_ERR=$(cat "$err")
	while read -r m; do
		[ -n "$m" ] || continue
		grep -qxF -- "$m" <<<"$before" && continue
		fusermount3 -u "$m" || fusermount3 -u -z "$m"
		fail "$what: mounted $m (exit $rc), but should have refused"
	done < <(_mounts_under "$TEST_TMP")
	if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
		fail "$what: still running after ${VMFS_FAIL_TIMEOUT}s (should fail fast)"
	fi
	if [ $rc -ne 1 ]; then
		echo "stderr was:" >&2
		head -c 4000 "$err" >&2
		fail "$what: exit status $rc, expected 1"
	fi
	n=$(wc -l <"$err")
	if [ "$n" -ne 1 ] || [ "$(tail -c 1 "$err" | od -An -c | tr -d ' ')" != '\n' ]; then
		echo "stderr was:" >&2
		head -c 4000 "$err" >&2
		fail "$what: expected exactly one line on stderr, got $n"
	fi
	grep -q '^vmfs-mount: ' "$err" ||
		fail "$what: stderr line does not start with 'vmfs-mount: ': $LAST_ERR"
	grep -Eq -- "$re" "$err" || fail "$what: stderr does not match /$re/: $LAST_ERR"
	[ ! -s "$out" ] || fail "$what: unexpected stdout: $(head -c 300 "$out")"
	ok "refused in $((SECONDS - start))s: $LAST_ERR"
}

expect_mount_fail() {
	local src=$1 re=$2 mnt
	shift 2
	mnt=$(mktemp -d "$TEST_TMP/mnt-fail.XXXXXX")
	expect_cmd_fail "$re" "$@" "$src" "$mnt"
	rmdir "$mnt"
}

# ---------------------------------------------------------------------------------------
# Source files: prove that nothing wrote them.

# One line per file: content hash, size, mtime and ctime in ns, path.  Big sparse files
# are hashed through their data/hole map (the same bytes mean the same map and data).
_src_state() {
	python3 - "$@" <<'EOF'
import hashlib, os, sys
def digest(path, size):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        fd = f.fileno()
        if size <= 256 << 20:
            for b in iter(lambda: f.read(1 << 20), b''):
                h.update(b)
            return 'sha256:' + h.hexdigest()
        pos = 0
        while pos < size:
            try:
                d = os.lseek(fd, pos, os.SEEK_DATA)
            except OSError:
                break
            e = os.lseek(fd, d, os.SEEK_HOLE)
            h.update(b'%d-%d;' % (d, e))
            f.seek(d)
            left = e - d
            while left:
                b = f.read(min(left, 1 << 20))
                if not b:
                    break
                h.update(b)
                left -= len(b)
            pos = e
        return 'sha256-sparse:' + h.hexdigest()
for p in sys.argv[1:]:
    st = os.stat(p)
    print(digest(p, st.st_size), st.st_size, st.st_mtime_ns, st.st_ctime_ns, p)
EOF
}

record_src() {
	local key=$1
	shift
	[ $# -gt 0 ] || fail "record_src $key: no files"
	_SRC_FILES[$key]=$(printf '%q ' "$@")
	_src_state "$@" >"$TEST_TMP/src-$key.before" || fail "cannot hash source files $*"
}

assert_src_unchanged() {
	local key=$1 files
	files=${_SRC_FILES[$key]:-}
	[ -n "$files" ] || fail "assert_src_unchanged $key: nothing recorded"
	eval "set -- $files"
	_src_state "$@" >"$TEST_TMP/src-$key.after" || fail "cannot hash source files $*"
	if ! diff -u "$TEST_TMP/src-$key.before" "$TEST_TMP/src-$key.after" >&2; then
		fail "source files changed (hash size mtime ctime path; before/after above)"
	fi
	ok "source unchanged: $# file(s), sha256 + size + mtime + ctime"
}

# ---------------------------------------------------------------------------------------
# Helper programs

# The preader helper: the build's, or compiled here when the build has none.
_find_preader() {
	local p=$VMFS_BUILD/tests/preader cc
	if [ -x "$p" ]; then
		PREADER=$p
		return
	fi
	cc=$(command -v cc || command -v gcc || true)
	[ -n "$cc" ] || fail "no $p and no C compiler to build tests/tools/preader.c"
	PREADER=$TEST_TMP/preader
	"$cc" -std=gnu11 -O2 -pthread -o "$PREADER" "$VMFS_ROOT/tests/tools/preader.c" ||
		fail "cannot compile tests/tools/preader.c"
}
_find_preader

# Compare two data maps: $1 from qemu-img map --output=json, $2 from preader --seek.
# Prints the first differences and fails when the merged data ranges differ.
compare_maps() {
	python3 - "$1" "$2" <<'EOF'
import json, sys
def merge(r):
    out = []
    for s, n in sorted(r):
        if n <= 0:
            continue
        if out and out[-1][1] >= s:
            out[-1][1] = max(out[-1][1], s + n)
        else:
            out.append([s, s + n])
    return out
q = merge((e["start"], e["length"]) for e in json.load(open(sys.argv[1]))
          if e["data"] and not e["zero"])
f = []
for line in open(sys.argv[2]):
    w = line.split()
    if len(w) == 3 and w[2] == "data":
        f.append((int(w[0]), int(w[1])))
f = merge(f)
tq = sum(e - s for s, e in q)
tf = sum(e - s for s, e in f)
if q == f:
    print("%d data ranges, %d bytes, same as qemu-img map" % (len(f), tf))
    sys.exit(0)
print("data ranges differ: qemu-img map has %d ranges, %d bytes; disk.raw SEEK_DATA has "
      "%d ranges, %d bytes" % (len(q), tq, len(f), tf))
only_q = [r for r in q if r not in f][:5]
only_f = [r for r in f if r not in q][:5]
print("  only in qemu-img map (first 5):   " + ", ".join("[%d, %d)" % tuple(r) for r in only_q))
print("  only in disk.raw's map (first 5): " + ", ".join("[%d, %d)" % tuple(r) for r in only_f))
sys.exit(1)
EOF
}

# views_match_vmdk VMDK MNT: MNT/disk.raw and MNT/disk.qcow2 are what qemu-img reads VMDK
# as, disk.qcow2 passes qemu-img check, and disk.raw's SEEK_DATA ranges are the data
# ranges of qemu-img map of VMDK, which stays in $TEST_TMP/views-src.json for the caller.
views_match_vmdk() {
	local src=$1 mnt=$2 out
	out=$(qemu-img compare -f vmdk "$src" -F raw "$mnt/disk.raw" 2>&1) ||
		fail "qemu-img compare, disk.raw: $out"
	out=$(qemu-img compare -f vmdk "$src" -F qcow2 "$mnt/disk.qcow2" 2>&1) ||
		fail "qemu-img compare, disk.qcow2: $out"
	out=$(qemu-img check -f qcow2 "$mnt/disk.qcow2" 2>&1) || fail "qemu-img check: $out"
	grep -q 'No errors were found' <<<"$out" || fail "qemu-img check output: $out"
	qemu-img map --output=json -f vmdk "$src" >"$TEST_TMP/views-src.json"
	"$PREADER" --seek "$mnt/disk.raw" >"$TEST_TMP/views-raw.map"
	out=$(compare_maps "$TEST_TMP/views-src.json" "$TEST_TMP/views-raw.map") ||
		fail "SEEK_DATA map of disk.raw vs qemu-img map of $src: $out"
	ok "disk.raw and disk.qcow2 identical to qemu's reading of $(basename "$src"), qcow2 check passes, map: $out"
}

# Size in bytes of a file.
fsize() { stat -c %s "$1"; }

# qemu-img's view of a VMDK's virtual size.
virtual_size() {
	qemu-img info --output=json "$@" | jq -r '.["virtual-size"]'
}
