#!/bin/bash
# SPDX-License-Identifier: MIT
# The read path's shortcuts give the bytes the long way gives:
#   * replies made of spliced pieces (bytes of flat extents and raw grains straight from
#     the source file, holes from a memfd of zeros) mixed with computed ones, for
#     disk.raw and disk.qcow2 of a monolithicFlat, a monolithicSparse and a mixed-extent
#     disk: random reads of up to 3 MiB (so that one request crosses data, holes and
#     extents) with the page cache dropped, then whole files; the daemon's debug log must
#     show spliced replies, or this would test the copying path only;
#   * st_blocks counts the data (what lets plain cp look for holes): stat %b * 512 is the
#     data qemu-img map reports, rounded up to 512;
#   * the first open sets the mount's readahead window in its bdi: 4096 KiB by default,
#     -o readahead_kb=N, and 0 leaves the kernel's own.
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=../lib/fixtures.sh
. "$(dirname "$0")/../lib/fixtures.sh"

bdi_readahead() {
	local dev
	dev=$(awk -v m="$1" '$5 == m { d = $3 } END { print d }' /proc/self/mountinfo)
	cat "/sys/class/bdi/$dev/read_ahead_kb"
}

check_pieces() {
	local variant=$1 src ref mnt spliced want got
	src=$(fx_vmdk 100m "$variant")
	ref=$(fx_ref 100m "$variant")
	mnt=$TEST_TMP/mnt
	vmfs_mount "$src" "$mnt" -d

	"$PREADER" -t 4 -n 200 -s 3 --max-len 3145728 --drop 8 "$mnt/disk.raw" "$ref" ||
		fail "$variant: random reads of disk.raw differ from the reference"
	"$PREADER" --cmp "$mnt/disk.raw" "$ref" >/dev/null ||
		fail "$variant: disk.raw differs from the reference"
	if fx_qemu_readable "$variant"; then
		qemu-img compare -q -f qcow2 -F raw "$mnt/disk.qcow2" "$ref" ||
			fail "$variant: disk.qcow2 differs from the reference"
	else
		qemu-img convert -f qcow2 -O raw "$mnt/disk.qcow2" "$TEST_TMP/q.raw"
		cmp "$TEST_TMP/q.raw" "$ref" || fail "$variant: disk.qcow2 differs from the reference"
		rm -f "$TEST_TMP/q.raw"
	fi
	spliced=$(grep -c 'success, outsize: [0-9]* (splice)' "$(vmfs_log "$mnt")" || true)
	[ "$spliced" -gt 0 ] || fail "$variant: no reply was spliced"
	ok "$variant: disk.raw and disk.qcow2 equal the reference ($spliced replies spliced)"

	if fx_qemu_readable "$variant"; then
		want=$(qemu-img map --output=json -f vmdk "$src" |
			jq '[.[] | select(.data and (.zero | not)) | .length] | add // 0')
		got=$(($(stat -c %b "$mnt/disk.raw") * 512))
		[ "$got" -eq $(((want + 511) / 512 * 512)) ] ||
			fail "$variant: st_blocks says $got bytes of data, qemu-img map $want"
		ok "$variant: st_blocks matches qemu-img map ($want bytes of data)"
	fi
	vmfs_umount "$mnt"
}

for variant in monolithicFlat monolithicSparse mixed; do
	subtest "pieces $variant" check_pieces "$variant"
done

check_readahead() {
	local src mnt=$TEST_TMP/mnt want got
	src=$(fx_vmdk 1m monolithicSparse)
	for opt in "" 512 0; do
		if [ -n "$opt" ]; then
			vmfs_mount "$src" "$mnt" -o "readahead_kb=$opt"
		else
			vmfs_mount "$src" "$mnt"
		fi
		before=$(bdi_readahead "$mnt")
		head -c 1 "$mnt/disk.raw" >/dev/null
		got=$(bdi_readahead "$mnt")
		case $opt in
		"") want=4096 ;;
		0) want=$before ;;
		*) want=$opt ;;
		esac
		[ "$got" = "$want" ] ||
			fail "readahead_kb=${opt:-default}: the bdi says $got KiB after an open, want $want"
		ok "readahead_kb=${opt:-default}: $got KiB (was $before before the first open)"
		vmfs_umount "$mnt"
	done
}

if [ "$(id -u)" = 0 ]; then
	subtest readahead check_readahead
else
	echo "not root: the bdi's readahead cannot be raised, not checked"
fi
