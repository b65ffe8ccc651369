#!/bin/bash
# SPDX-License-Identifier: MIT
# Damaged inputs are refused with one clear line, or read as EIO where the damage is only
# found when reading.  The cases are lines of tests/bad/catalogue.tsv (its header says
# what the fields mean): VMDK headers, grain tables, descriptors and compressed grains;
# OVAs with links, devices, duplicates and ".." members, bad hrefs, XML bombs and
# external entities, damaged gzip and missing chunks; VMX files with 1 MiB lines, NUL
# bytes, invalid UTF-8 and escaping disk paths.  tests/lib/poke.py applies each recipe
# to a copy of a fixture (make-ova builds an export around it first).
#   fail: exit status 1 within 20 s, one stderr line "vmfs-mount: ..." that matches the
#         case's regex and names the file, nothing mounted;
#   eio:  the mount works; reading the damaged grain fails with EIO (dd says Input/output
#         error), every other byte equals the content, the daemon logs exactly one line
#         about it however often it is read, and it still unmounts cleanly;
#   ok:   the mount works and equals the content (controls).
# In every case the damaged files themselves are left unchanged.
# VMFS_CASES (a regex on case names) narrows the run.
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=../lib/fixtures.sh
. "$(dirname "$0")/../lib/fixtures.sh"

catalogue=$VMFS_ROOT/tests/bad/catalogue.tsv
poke=$VMFS_ROOT/tests/lib/poke.py

# must_mention TEXT NAME: the message names the file (as itself or in a path).
must_mention() {
	[ "$2" = - ] && return 0
	grep -qF -- "$2" <<<"$1" || fail "the message does not name $2: $1"
}

# read_must_eio FILE OFF LEN: dd of that range fails with EIO.
read_must_eio() {
	local f=$1 off=$2 len=$3 out
	if out=$(dd if="$f" of=/dev/null bs=65536 skip="$off" count="$len" \
		iflag=skip_bytes,count_bytes 2>&1); then
		fail "reading [$off, +$len) succeeded; want EIO"
	fi
	grep -q 'Input/output error' <<<"$out" ||
		fail "reading [$off, +$len) failed, but not with EIO: $out"
}

run_case() {
	local name=$1 base=$2 mount=$3 recipe=$4 outcome=$5 names=$6 regex=$7
	local dir ref mnt f off len log n size files=()
	dir=$TEST_TMP/bad/$name
	mkdir -p "$dir"
	ref=
	if [ "$base" != - ]; then
		while read -r f; do
			cp --sparse=always "$f" "$dir/"
		done < <(fx_files "${base%%:*}" "${base#*:}")
		ref=$(fx_ref "${base%%:*}" "${base#*:}")
	fi
	if [ "$recipe" != - ]; then
		python3 "$poke" "$dir" "$recipe" || fail "recipe failed: $recipe"
	fi
	mapfile -t files < <(find "$dir" -maxdepth 1 -type f ! -name '.*' | sort)
	[ ${#files[@]} -gt 0 ] && record_src case "${files[@]}"

	case $outcome in
	fail)
		expect_mount_fail "$dir/$mount" "$regex"
		must_mention "$LAST_ERR" "$names"
		;;
	ok)
		mnt=$TEST_TMP/mnt
		vmfs_mount "$dir/$mount" "$mnt"
		cmp "$mnt/disk.raw" "$ref" || fail "disk.raw differs from the content"
		vmfs_umount "$mnt"
		ok "mounts, and equals the content"
		;;
	eio)
		[ -f "$dir/.eio" ] || fail "the recipe left no .eio range"
		read -r off len <"$dir/.eio"
		mnt=$TEST_TMP/mnt
		vmfs_mount "$dir/$mount" "$mnt"
		log=$(vmfs_log "$mnt")
		size=$(fsize "$ref")
		read_must_eio "$mnt/disk.raw" "$off" "$len"
		ok "[$off, +$len) reads EIO"
		# The rest is intact: before the damaged grain, and after it.
		cmp -n "$off" "$mnt/disk.raw" "$ref" || fail "bytes before the damaged grain differ"
		if [ $((off + len)) -lt "$size" ]; then
			cmp -i $((off + len)) "$mnt/disk.raw" "$ref" ||
				fail "bytes after the damaged grain differ"
		fi
		ok "every other byte equals the content"
		read_must_eio "$mnt/disk.raw" "$off" "$len"
		read_must_eio "$mnt/disk.raw" $((off + len / 2)) 512
		# The log starts with the command line, whose file name may match too.
		n=$(grep -v '^+ ' "$log" | grep -Ec -- "$regex" || true)
		if [ "$n" -ne 1 ]; then
			_dump_log "$log"
			fail "want exactly one log line matching /$regex/ after 3 failed reads, got $n"
		fi
		must_mention "$(grep -v '^+ ' "$log" | grep -E -- "$regex")" "$names"
		ok "logged once: $(grep -v '^+ ' "$log" | grep -E -- "$regex")"
		vmfs_umount "$mnt"
		;;
	*) fail "catalogue: unknown outcome '$outcome'" ;;
	esac
	[ ${#files[@]} -gt 0 ] && assert_src_unchanged case
	return 0
}

declare -A seen=()
cases=0
while IFS=$'\t' read -r -u 3 name base mount recipe outcome names regex; do
	case $name in '' | '#'*) continue ;; esac
	[ -n "${outcome:-}" ] || fail "catalogue: case $name has fewer than 7 fields"
	[ -z "${seen[$name]:-}" ] || fail "catalogue: case $name appears twice"
	seen[$name]=1
	if [ -n "${VMFS_CASES:-}" ] && ! [[ $name =~ $VMFS_CASES ]]; then
		continue
	fi
	cases=$((cases + 1))
	subtest "$name" run_case "$name" "$base" "$mount" "$recipe" "$outcome" "$names" "$regex"
done 3<"$catalogue"
[ $cases -gt 0 ] || fail "no cases ran"
echo "$cases cases"
