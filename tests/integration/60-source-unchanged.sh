#!/bin/bash
# SPDX-License-Identifier: MIT
# The mount is read-only and the source is never written:
#   * the daemon holds its source files open read-only (/proc/PID/fdinfo flags);
#   * reading everything gives the reference bytes;
#   * writing, creating, truncating, chmod, chown, touch, rm, mkdir, rename, link and
#     symlink inside the mount all fail with EROFS, EACCES or EPERM (checked as errno with
#     python, and as the message of the shell tools);
#   * afterwards disk.raw still reads the same, and once unmounted the source files have
#     the same sha256, size, mtime and ctime as before.
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=../lib/fixtures.sh
. "$(dirname "$0")/../lib/fixtures.sh"

# Every write-like system call on the mount; prints one line per operation, and exits 1
# if any of them succeeded or failed with an unexpected errno.
try_writes() {
	python3 - "$1" <<'EOF'
import errno, os, sys
mnt = sys.argv[1]
f = os.path.join(mnt, "disk.raw")
ok_errs = {errno.EROFS, errno.EACCES, errno.EPERM}
xattr_errs = ok_errs | {errno.ENOTSUP, errno.EOPNOTSUPP}
ops = [
    ("open O_WRONLY", lambda: os.open(f, os.O_WRONLY), ok_errs),
    ("open O_RDWR", lambda: os.open(f, os.O_RDWR), ok_errs),
    ("open O_WRONLY|O_TRUNC", lambda: os.open(f, os.O_WRONLY | os.O_TRUNC), ok_errs),
    ("open O_CREAT new file", lambda: os.open(os.path.join(mnt, "new"),
                                              os.O_WRONLY | os.O_CREAT, 0o644), ok_errs),
    ("truncate", lambda: os.truncate(f, 0), ok_errs),
    ("truncate (grow)", lambda: os.truncate(f, 1 << 40), ok_errs),
    ("chmod", lambda: os.chmod(f, 0o666), ok_errs),
    ("chmod mount root", lambda: os.chmod(mnt, 0o777), ok_errs),
    ("chown", lambda: os.chown(f, 1, 1), ok_errs),
    ("utime (touch)", lambda: os.utime(f, None), ok_errs),
    ("utime (set times)", lambda: os.utime(f, (0, 0)), ok_errs),
    ("unlink", lambda: os.unlink(f), ok_errs),
    ("mkdir", lambda: os.mkdir(os.path.join(mnt, "d")), ok_errs),
    ("rmdir of the root", lambda: os.rmdir(mnt), ok_errs | {errno.EBUSY}),
    ("rename", lambda: os.rename(f, os.path.join(mnt, "renamed")), ok_errs),
    ("link", lambda: os.link(f, os.path.join(mnt, "hard")), ok_errs),
    ("symlink", lambda: os.symlink("disk.raw", os.path.join(mnt, "sym")), ok_errs),
    ("mknod fifo", lambda: os.mkfifo(os.path.join(mnt, "fifo")), ok_errs),
    ("setxattr", lambda: os.setxattr(f, "user.test", b"1"), xattr_errs),
    ("removexattr", lambda: os.removexattr(f, "user.test"),
     xattr_errs | {errno.ENODATA}),
]
bad = 0
for name, fn, allowed in ops:
    try:
        r = fn()
        if isinstance(r, int):
            os.close(r)
        print("FAIL %s: succeeded" % name)
        bad = 1
    except OSError as e:
        tag = "ok  " if e.errno in allowed else "FAIL"
        if e.errno not in allowed:
            bad = 1
        print("%s %s: %s (%s)" % (tag, name, errno.errorcode.get(e.errno, e.errno),
                                  e.strerror))
sys.exit(bad)
EOF
}

# The same with the shell tools people use; each must fail with a clear message.
try_tools() {
	local mnt=$1 f=$1/disk.raw out rc=0 name
	local -a cmd
	while IFS='|' read -r name cmdline; do
		read -r -a cmd <<<"$cmdline"
		if out=$("${cmd[@]}" 2>&1 </dev/null); then
			echo "FAIL $name: succeeded"
			rc=1
		elif grep -Eq 'Read-only file system|Permission denied|Operation not permitted' \
			<<<"$out"; then
			echo "ok   $name: ${out##*: }"
		else
			echo "FAIL $name: unexpected error: $out"
			rc=1
		fi
	done <<EOF
write (dd)|dd if=/dev/zero of=$f bs=512 count=1 conv=notrunc status=none
append (tee -a)|tee -a $f
chmod|chmod 600 $f
truncate|truncate -s 0 $f
touch|touch $f
touch new file|touch $mnt/new
rm|rm -f $f
mkdir|mkdir $mnt/dir
mv|mv $f $mnt/moved
ln -s|ln -s disk.raw $mnt/link
EOF
	return $rc
}

# Every fd of pid that points at one of the files must be open read-only.
check_fds_ro() {
	local pid=$1 fd target flags n=0
	shift
	for fd in /proc/"$pid"/fd/*; do
		target=$(readlink "$fd") || continue
		for f in "$@"; do
			[ "$target" = "$(realpath "$f")" ] || continue
			flags=$(awk '$1 == "flags:" { print $2 }' "/proc/$pid/fdinfo/${fd##*/}")
			[ $((8#$flags & 3)) -eq 0 ] ||
				fail "the daemon holds $f open with flags 0$flags (not O_RDONLY)"
			n=$((n + 1))
		done
	done
	ok "the daemon holds $n source fd(s), all O_RDONLY"
}

check() {
	local size=$1 variant=$2 src ref mnt out listing
	src=$(fx_vmdk "$size" "$variant")
	ref=$(fx_ref "$size" "$variant")
	mapfile -t files < <(fx_files "$size" "$variant")
	record_src src "${files[@]}"
	mnt=$TEST_TMP/mnt
	vmfs_mount "$src" "$mnt"
	check_fds_ro "$(vmfs_pid "$mnt")" "${files[@]}"

	cmp "$mnt/disk.raw" "$ref" || fail "disk.raw differs from the reference"
	ok "read everything: equal to the reference"

	listing=$(ls -lA "$mnt")
	if ! out=$(try_writes "$mnt"); then
		echo "$out"
		fail "a write-like system call did not fail with EROFS/EACCES/EPERM (above)"
	fi
	echo "$out"
	ok "$(grep -c '^ok' <<<"$out") write-like system calls refused"
	if ! out=$(try_tools "$mnt"); then
		echo "$out"
		fail "a shell tool managed to change the mount or failed unclearly (above)"
	fi
	echo "$out"
	ok "$(grep -c '^ok' <<<"$out") shell tools refused with a clear message"
	[ "$(ls -lA "$mnt")" = "$listing" ] ||
		fail "the mount's listing changed: before: $listing; after: $(ls -lA "$mnt")"
	cmp "$mnt/disk.raw" "$ref" || fail "disk.raw changed after the write attempts"
	ok "disk.raw unchanged after the attempts"

	vmfs_umount "$mnt"
	assert_src_unchanged src
}

for variant in monolithicSparse monolithicFlat twoGbMaxExtentSparse twoGbMaxExtentFlat \
	streamOptimized vmware-stream vmfs mixed; do
	subtest "1m $variant" check 1m "$variant"
done
subtest "100m monolithicSparse" check 100m monolithicSparse
