#!/bin/bash
# SPDX-License-Identifier: MIT
# Build a VMDK snapshot chain with qemu-img and qemu-io, the way VMware names one:
#
#   make-chain.sh [options] DIR NAME BASE DEPTH
#
# DIR/NAME.vmdk is the base, BASE one of monolithicSparse, monolithicFlat (with
# NAME-flat.vmdk) or streamOptimized (written as raw, then converted).  Over it come DEPTH
# deltas, DIR/NAME-000001.vmdk ... NAME-00000N.vmdk, each made with
# "qemu-img create -f vmdk -b PARENT -F vmdk" and then written with qemu-io before the
# next is made (writing a parent afterwards would change its CID and break the chain).
# Every level writes its own pattern: whole grains, ranges straddling 64 KiB grains,
# partial grains, zero writes (whole and partial grains) over data from below, and a
# range that grows with the level so each level overwrites part of the one before.
# The leaf's name is printed.
#
#   --size SIZE      virtual size (default 8M)
#   --zeroed-grain   make the deltas with -o zeroed_grain=on, so whole-grain zero writes
#                    are "zeroed grain" entries that hide the parent, not zero data
#   --absolute       name each parent by its absolute path in the child's descriptor
#   --from N         add deltas N ... DEPTH to a chain made before, over the existing
#                    NAME-00000(N-1).vmdk (NAME.vmdk for N = 1); BASE is not used
#   --pattern P      add P to every byte pattern, so that two chains differ (default 0)
set -euo pipefail

size=8M
zeroed=
absolute=0
from=0
pattern=0
while [ $# -gt 0 ]; do
	case $1 in
	--size) size=$2; shift 2 ;;
	--pattern) pattern=$2; shift 2 ;;
	--zeroed-grain) zeroed=-ozeroed_grain=on; shift ;;
	--absolute) absolute=1; shift ;;
	--from) from=$2; shift 2 ;;
	-*) echo "make-chain.sh: unknown option $1" >&2; exit 2 ;;
	*) break ;;
	esac
done
[ $# -eq 4 ] || { echo "usage: make-chain.sh [options] DIR NAME BASE DEPTH" >&2; exit 2; }
dir=$1 name=$2 base=$3 depth=$4
cd "$dir"

K=1024
M=$((1024 * 1024))

# The writes of level i (0 is the base).
level_writes() {
	local i=$1 p
	p=$(((0x20 + i * 0x11 + pattern) % 0xf0))
	printf '%s\n' \
		"write -P $((p + 1)) $((i * 512 * K)) $((64 * K))" \
		"write -P $((p + 2)) $((i * 512 * K + 60 * K)) $((8 * K))" \
		"write -P $((p + 3)) $((M + i * 64 * K + 512 * i + 100)) 1000" \
		"write -P $((p + 4)) $((2 * M)) $(((i + 1) * 100 * K))" \
		"write -z $((2 * M + 32 * K + i * 64 * K)) $((16 * K))" \
		"write -z $((3 * M + i * 128 * K)) $((128 * K))" \
		"write -z $((i * 512 * K + 128 * K)) $((64 * K))" \
		"write -P $((p + 5)) $((5 * M - 4 * K + i * 8 * K)) $((8 * K))"
}

# qio FORMAT FILE CMD [ARGS]: run the qemu-io commands CMD prints on FILE.
qio() {
	local fmt=$1 file=$2 args=() c cmds
	shift 2
	cmds=$("$@")
	while read -r c; do
		args+=(-c "$c")
	done <<<"$cmds"
	qemu-io -f "$fmt" "${args[@]}" "$file" >/dev/null
}

base_writes() {
	level_writes 0
	# The base also holds data the deltas never touch, at the start and the end.
	printf '%s\n' "write -P $((0x11 + pattern % 0xe0)) $((6 * M)) $((M / 2))" \
		"write -P $((0x12 + pattern % 0xe0)) $((4 * M)) $((192 * K))"
}

if [ "$from" -eq 0 ]; then
	case $base in
	monolithicSparse | monolithicFlat)
		qemu-img create -q -f vmdk -o subformat="$base" "$name.vmdk" "$size"
		qio vmdk "$name.vmdk" base_writes
		;;
	streamOptimized)
		qemu-img create -q -f raw "$name.raw" "$size"
		qio raw "$name.raw" base_writes
		qemu-img convert -f raw -O vmdk -o subformat=streamOptimized "$name.raw" "$name.vmdk"
		rm -f "$name.raw"
		;;
	*)
		echo "make-chain.sh: unknown base $base" >&2
		exit 2
		;;
	esac
fi

leaf=$name.vmdk
[ "$from" -gt 1 ] && leaf=$(printf '%s-%06d.vmdk' "$name" $((from - 1)))
for ((i = from > 0 ? from : 1; i <= depth; i++)); do
	child=$(printf '%s-%06d.vmdk' "$name" "$i")
	parent=$leaf
	[ "$absolute" = 1 ] && parent=$PWD/$leaf
	# shellcheck disable=SC2086 # $zeroed is one option or nothing
	qemu-img create -q -f vmdk $zeroed -b "$parent" -F vmdk "$child"
	qio vmdk "$child" level_writes "$i"
	leaf=$child
done
echo "$leaf"
