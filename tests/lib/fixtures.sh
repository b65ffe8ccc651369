# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# Fixtures for the integration tests, generated at test time and cached in $FIXTURES
# (see common.sh, which must be sourced first).  The cache is keyed by a hash of this
# script, tests/gen/content.py and qemu-img's version: change any of them and the next
# test regenerates what it needs; stale caches are removed.  The VMware-layout stream
# files are keyed by tests/gen/vmware-stream.py as well.  Everything is sparse: a 6 GiB
# fixture takes a few tens of MiB (checked with du when built).
#
# Each fixture is a directory holding exactly the source files of one disk (descriptor
# and extents), so "every file of the fixture" is the set a mount must leave unchanged.
#
#   fx_size SIZE              bytes of a size name: 1m (1 MiB + 512 B), 100m, 6g
#   fx_content SIZE           the raw content image (tests/gen/content.py, seed 1)
#   fx_manifest SIZE          its JSON layout summary (data_bytes, data_blocks_4k, ...)
#   fx_vmdk SIZE VARIANT      the .vmdk to mount (builds the fixture on first use)
#   fx_ref SIZE VARIANT       the raw image the mount must equal
#   fx_files SIZE VARIANT     every source file of that fixture, one a line
#   fx_qemu_readable VARIANT  status 0 when qemu-img can read it (compare/convert/map)
#   fx_zeroed SUBFORMAT       a small VMDK with zeroed-grain entries (see below)
#   fx_variants               every variant name, one a line
#
# Variants:
#   monolithicSparse monolithicFlat twoGbMaxExtentSparse twoGbMaxExtentFlat streamOptimized
#                             qemu-img convert -O vmdk -o subformat=X
#   vmware-stream             tests/gen/vmware-stream.py (VMware's layout: tables after
#                             the grains, footer); -g256 with 128 KiB grains; -notables
#                             without grain tables (rebuilt by walking the markers);
#                             -nofooter without the footer
#   vmfs                      an ESXi descriptor (createType "vmfs", a VMFS extent, lsilogic)
#                             over NAME-flat.vmdk, a sparse copy of the content
#   mixed                     one descriptor with FLAT, ZERO, SPARSE and FLAT-at-an-offset
#                             extents (boundaries not grain aligned, a sparse extent whose
#                             capacity is not a whole number of grains); its reference is
#                             the content with the ZERO extent's range zeroed (qemu
#                             cannot read it: it drops ZERO extents)
#   esx-cowd esx-sesparse     tests/gen/esx-sparse.py --seed 1: a standalone ESXi delta
#                             (parentCID ffffffff), disk.vmdk over disk-delta.vmdk (COWD,
#                             512-byte grains) or disk-sesparse.vmdk; the generator's own
#                             content (its --expect is the reference), keyed by its hash.
#                             Not in fx_variants: the damaged-input catalogue uses them.
#
# Call these as $(fx_vmdk ...): they print a path, and exit non-zero on failure.

# shellcheck disable=SC2034 # used by the tests
FX_SIZES=(1m 100m 6g)
FX_QEMU_VARIANTS=(monolithicSparse monolithicFlat twoGbMaxExtentSparse twoGbMaxExtentFlat
	streamOptimized)
FX_VMW_VARIANTS=(vmware-stream vmware-stream-g256 vmware-stream-notables vmware-stream-nofooter)
FX_OWN_VARIANTS=(vmfs mixed)
FX_SEED=1
FX_CONTENT_PY=$VMFS_ROOT/tests/gen/content.py
FX_VMW_PY=$VMFS_ROOT/tests/gen/vmware-stream.py
FX_ESX_PY=$VMFS_ROOT/tests/gen/esx-sparse.py

fx_size() {
	case $1 in
	1m) echo 1049088 ;;
	100m) echo 104857600 ;;
	6g) echo 6442450944 ;;
	*)
		echo "fx_size: unknown size $1" >&2
		return 1
		;;
	esac
}

fx_variants() {
	printf '%s\n' "${FX_QEMU_VARIANTS[@]}" "${FX_VMW_VARIANTS[@]}" "${FX_OWN_VARIANTS[@]}"
}

# fx_big_skip SIZE VARIANT: true when a sanitized build (VMFS_SANITIZED=1) should leave
# out this 6 GiB case.  The plain build runs them all; under ASan+UBSan, where reading
# 6 GiB through FUSE costs minutes, four variants cover every decoder past 4 GiB: hosted
# sparse, several flat extents, VMware's stream layout and mixed extents.
fx_big_skip() {
	[ "${VMFS_SANITIZED:-0}" = 1 ] && [ "$1" = 6g ] || return 1
	case $2 in
	monolithicSparse | twoGbMaxExtentFlat | vmware-stream | mixed) return 1 ;;
	*) return 0 ;;
	esac
}

fx_qemu_readable() {
	case $1 in
	# qemu cannot walk markers, and skips ZERO extents (wrong virtual size).
	vmware-stream-notables | vmware-stream-nofooter | mixed) return 1 ;;
	*) return 0 ;;
	esac
}

_fx_die() {
	echo "fixtures: $*" >&2
	exit 1
}

# $FIXTURES/v-KEY: created on first use; other keys' directories are removed.
_fx_base() {
	local key
	if [ -z "${_FX_BASE:-}" ]; then
		key=$({
			cat "${BASH_SOURCE[0]}" "$FX_CONTENT_PY"
			qemu-img --version | head -1
		} | sha256sum | cut -c1-16)
		_FX_BASE=$FIXTURES/v-$key
	fi
	printf '%s' "$_FX_BASE"
}

# _fx_build DIR FUNC [ARGS...]: build DIR with FUNC TMPDIR ARGS, once, under a lock.
_fx_build() {
	local dir=$1 fn=$2 tmp parent
	shift 2
	[ -e "$dir/.done" ] && return 0
	mkdir -p "$FIXTURES" || _fx_die "cannot create $FIXTURES"
	(
		flock 9
		[ -e "$dir/.done" ] && exit 0
		base=$(_fx_base)
		if [ ! -d "$base" ]; then
			# A new key: drop the old caches so they do not pile up.
			find "$FIXTURES" -mindepth 1 -maxdepth 1 -name 'v-*' -exec rm -rf {} +
			mkdir -p "$base"
		fi
		parent=$(dirname "$dir")
		if [ ! -d "$parent" ]; then
			# A new vmware-stream.py or esx-sparse.py: drop the old caches it made.
			case $(basename "$parent") in
			vmw-* | esx-*)
				p=$(basename "$parent")
				find "$(dirname "$parent")" -mindepth 1 -maxdepth 1 \
					-name "${p%%-*}-*" -exec rm -rf {} +
				;;
			esac
			mkdir -p "$parent"
		fi
		rm -rf "$dir" "$dir.tmp"
		tmp=$dir.tmp
		mkdir -p "$tmp"
		start=$SECONDS
		echo "fixtures: building $(basename "$dir")" >&2
		if ! "$fn" "$tmp" "$@"; then
			rm -rf "$tmp"
			_fx_die "building $(basename "$dir") failed"
		fi
		touch "$tmp/.done"
		mv "$tmp" "$dir"
		echo "fixtures: built $(basename "$dir") in $((SECONDS - start))s" \
			"($(du -sh "$dir" | cut -f1) on disk)" >&2
	) 9>"$FIXTURES/.lock" || exit 1
}

# Fail unless the files of dir use at most limit bytes of disk (sparse really is sparse).
_fx_check_sparse() {
	local dir=$1 limit=$2 used
	used=$(du -s -B1 "$dir" | cut -f1)
	[ "$used" -le "$limit" ] ||
		_fx_die "$dir uses $used bytes of disk, more than $limit: not sparse?"
}

# Copy len bytes from src at soff to dst at doff, leaving holes where src has them.
_fx_copy_range() {
	python3 - "$@" <<'EOF'
import os, sys
src, soff, dst, doff, n = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
fi = os.open(src, os.O_RDONLY)
fo = os.open(dst, os.O_WRONLY | os.O_CREAT, 0o644)
if os.fstat(fo).st_size < doff + n:
    os.ftruncate(fo, doff + n)
pos, end = soff, soff + n
while pos < end:
    try:
        d = os.lseek(fi, pos, os.SEEK_DATA)
    except OSError:
        break
    if d >= end:
        break
    h = min(os.lseek(fi, d, os.SEEK_HOLE), end)
    while d < h:
        b = os.pread(fi, min(h - d, 1 << 20), d)
        if not b:
            break
        os.pwrite(fo, b, doff + d - soff)
        d += len(b)
    pos = h
os.close(fi)
os.close(fo)
EOF
}

# --- content ---------------------------------------------------------------------------

_fx_gen_content() {
	local tmp=$1 size=$2
	python3 "$FX_CONTENT_PY" --size "$size" --seed "$FX_SEED" \
		--manifest "$tmp/content.json" "$tmp/content.raw" || return 1
	_fx_check_sparse "$tmp" $((size / 4 + 64 * 1024 * 1024))
}

fx_content() {
	local dir size
	size=$(fx_size "$1") || exit 1
	dir=$(_fx_base)/content-$1
	_fx_build "$dir" _fx_gen_content "$size"
	echo "$dir/content.raw"
}

fx_manifest() {
	fx_content "$1" >/dev/null || exit 1
	echo "$(_fx_base)/content-$1/content.json"
}

# --- VMDK variants ---------------------------------------------------------------------

_fx_gen_qemu() {
	local tmp=$1 raw=$2 sub=$3
	qemu-img convert -q -f raw -O vmdk -o "subformat=$sub" "$raw" "$tmp/disk.vmdk" || return 1
	_fx_check_sparse "$tmp" $((3 * $(du -B1 "$raw" | cut -f1) + 8 * 1024 * 1024))
}

_fx_gen_vmw() {
	local tmp=$1 raw=$2 opts=$3
	# shellcheck disable=SC2086 # opts is a word list
	python3 "$FX_VMW_PY" $opts "$raw" "$tmp/disk.vmdk" || return 1
	_fx_check_sparse "$tmp" $((3 * $(du -B1 "$raw" | cut -f1) + 8 * 1024 * 1024))
}

_fx_gen_vmfs() {
	local tmp=$1 raw=$2 size sectors
	size=$(stat -c %s "$raw")
	sectors=$((size / 512))
	cp --sparse=always "$raw" "$tmp/disk-flat.vmdk" || return 1
	cat >"$tmp/disk.vmdk" <<EOF
# Disk DescriptorFile
version=1
encoding="UTF-8"
CID=5a3c1e77
parentCID=ffffffff
isNativeSnapshot="no"
createType="vmfs"

# Extent description
RW $sectors VMFS "disk-flat.vmdk"

# The Disk Data Base
#DDB

ddb.adapterType = "lsilogic"
ddb.geometry.cylinders = "$((sectors / (255 * 63) + 1))"
ddb.geometry.heads = "255"
ddb.geometry.sectors = "63"
ddb.longContentID = "0e3b5c2a9f6d4e8b1c7a2d305a3c1e77"
ddb.thinProvisioned = "1"
ddb.uuid = "60 00 C2 9a 1b 2c 3d 4e-5f 60 71 82 93 a4 b5 c6"
ddb.virtualHWVersion = "14"
EOF
	_fx_check_sparse "$tmp" $((2 * $(du -B1 "$raw" | cut -f1) + 1024 * 1024))
}

# Extents, in sectors of the disk: [0,a) FLAT disk-f.raw at 0, [a,b) ZERO, [b,c) SPARSE
# disk-s.vmdk, [c,n) FLAT disk-f.raw at offset a+pad.
_fx_mixed_layout() {
	local n=$1
	a=$((n / 4 + 3))
	b=$((3 * n / 8 / 128 * 128))
	c=$((3 * n / 4 / 128 * 128 + 17))
	pad=$((2048 + 5))
}

_fx_gen_mixed() {
	local tmp=$1 raw=$2 size n a b c pad
	size=$(stat -c %s "$raw")
	n=$((size / 512))
	_fx_mixed_layout "$n"
	[ "$a" -lt "$b" ] && [ "$b" -lt "$c" ] && [ "$c" -lt "$n" ] || return 1
	_fx_copy_range "$raw" 0 "$tmp/disk-f.raw" 0 $((a * 512)) || return 1
	_fx_copy_range "$raw" $((c * 512)) "$tmp/disk-f.raw" $(((a + pad) * 512)) \
		$(((n - c) * 512)) || return 1
	# Zero runs become holes, as in a thin-provisioned flat file (and as cp
	# --sparse=always leaves the vmfs variant's): the flat extents then report the
	# same allocation qemu-img convert finds by scanning.
	fallocate --dig-holes "$tmp/disk-f.raw" || return 1
	_fx_copy_range "$raw" $((b * 512)) "$tmp/piece.raw" 0 $(((c - b) * 512)) || return 1
	qemu-img convert -q -f raw -O vmdk -o subformat=monolithicSparse "$tmp/piece.raw" \
		"$tmp/disk-s.vmdk" || return 1
	rm -f "$tmp/piece.raw"
	cat >"$tmp/disk.vmdk" <<EOF
# Disk DescriptorFile
version=1
CID=7e1d00a5
parentCID=ffffffff
createType="custom"

# Extent description
RW $a FLAT "disk-f.raw" 0
RW $((b - a)) ZERO
RW $((c - b)) SPARSE "disk-s.vmdk"
RW $((n - c)) FLAT "disk-f.raw" $((a + pad))

# The Disk Data Base
#DDB

ddb.virtualHWVersion = "4"
ddb.adapterType = "ide"
EOF
	_fx_check_sparse "$tmp" $((3 * $(du -B1 "$raw" | cut -f1) + 8 * 1024 * 1024))
}

_fx_gen_mixed_ref() {
	local tmp=$1 raw=$2 size n a b c pad
	size=$(stat -c %s "$raw")
	n=$((size / 512))
	_fx_mixed_layout "$n"
	cp --sparse=always "$raw" "$tmp/ref.raw" || return 1
	fallocate --punch-hole --offset $((a * 512)) --length $(((b - a) * 512)) "$tmp/ref.raw"
}

_fx_gen_esx() {
	local tmp=$1 size=$2 fmt=$3
	python3 "$FX_ESX_PY" --format "$fmt" --size "$size" --seed "$FX_SEED" \
		--expect "$tmp/.ref.raw" "$tmp/disk.vmdk"
}

_fx_vmw_opts() {
	case $1 in
	vmware-stream) echo "" ;;
	vmware-stream-g256) echo "--grain-sectors 256" ;;
	vmware-stream-notables) echo "--no-tables" ;;
	vmware-stream-nofooter) echo "--no-footer" ;;
	*) return 1 ;;
	esac
}

_fx_vmdk_dir() {
	local size=$1 variant=$2 raw base h
	raw=$(fx_content "$size") || exit 1
	base=$(_fx_base)
	case $variant in
	monolithicSparse | monolithicFlat | twoGbMaxExtentSparse | twoGbMaxExtentFlat | streamOptimized)
		_fx_build "$base/$size-$variant" _fx_gen_qemu "$raw" "$variant"
		echo "$base/$size-$variant"
		;;
	vmware-stream*)
		[ -f "$FX_VMW_PY" ] || _fx_die "tests/gen/vmware-stream.py does not exist (yet)"
		h=$(sha256sum "$FX_VMW_PY" | cut -c1-12)
		_fx_build "$base/vmw-$h/$size-$variant" _fx_gen_vmw "$raw" \
			"$(_fx_vmw_opts "$variant")"
		echo "$base/vmw-$h/$size-$variant"
		;;
	vmfs)
		_fx_build "$base/$size-vmfs" _fx_gen_vmfs "$raw"
		echo "$base/$size-vmfs"
		;;
	mixed)
		_fx_build "$base/$size-mixed" _fx_gen_mixed "$raw"
		echo "$base/$size-mixed"
		;;
	esx-cowd | esx-sesparse)
		h=$(sha256sum "$FX_ESX_PY" | cut -c1-12)
		_fx_build "$base/esx-$h/$size-$variant" _fx_gen_esx "$(fx_size "$size")" \
			"${variant#esx-}"
		echo "$base/esx-$h/$size-$variant"
		;;
	*) _fx_die "unknown variant $variant" ;;
	esac
}

fx_vmdk() {
	local dir
	dir=$(_fx_vmdk_dir "$1" "$2") || exit 1
	echo "$dir/disk.vmdk"
}

fx_files() {
	local dir
	dir=$(_fx_vmdk_dir "$1" "$2") || exit 1
	find "$dir" -mindepth 1 -maxdepth 1 -type f ! -name '.*' | sort
}

fx_ref() {
	local raw base
	raw=$(fx_content "$1") || exit 1
	if [ "$2" = mixed ]; then
		base=$(_fx_base)
		_fx_build "$base/$1-mixed-ref" _fx_gen_mixed_ref "$raw"
		echo "$base/$1-mixed-ref/ref.raw"
	elif [[ $2 == esx-* ]]; then
		base=$(_fx_vmdk_dir "$1" "$2") || exit 1
		echo "$base/.ref.raw"
	else
		echo "$raw"
	fi
}

# --- zeroed grains ---------------------------------------------------------------------
# An 8 MiB disk made with zeroed_grain=on, written with qemu-io:
#   [0, 1M)          0x5a                       data
#   [1M, 3M)         write -z                   zeroed grains (never allocated)
#   [3M, 3M+256K)    0xa5, then write -z        grains allocated, then zeroed
#   [3M+256K, 4M)    0xa5                       data
#   [5M, 5M+64K)     write -z                   one zeroed grain
#   [6M, 6M+64K)     0x11, then write -z of [6M+32K, 6M+48K) inside the allocated
#                    grain: written zeros, still data
#   [7M, 7M+4K)      0x33                       data in a partly written grain
# Zero ranges as a list for the tests:
# shellcheck disable=SC2034 # used by the tests
FX_ZEROED_RANGES=("1048576 2097152" "3145728 262144" "5242880 65536")

_fx_gen_zeroed() {
	local tmp=$1 sub=$2
	qemu-img create -q -f vmdk -o "zeroed_grain=on,subformat=$sub" "$tmp/disk.vmdk" 8M ||
		return 1
	qemu-io -f vmdk \
		-c 'write -P 0x5a 0 1M' \
		-c 'write -z 1M 2M' \
		-c 'write -P 0xa5 3M 1M' \
		-c 'write -z 3M 256k' \
		-c 'write -z 5M 64k' \
		-c 'write -P 0x11 6M 64k' \
		-c 'write -z 6176k 16k' \
		-c 'write -P 0x33 7M 4k' \
		"$tmp/disk.vmdk" >/dev/null || return 1
	# The reference, decoded by qemu.
	qemu-img convert -q -f vmdk -O raw "$tmp/disk.vmdk" "$tmp/.ref.raw"
}

fx_zeroed() {
	local sub=${1:-monolithicSparse} dir
	dir=$(_fx_base)/zeroed-$sub
	_fx_build "$dir" _fx_gen_zeroed "$sub"
	echo "$dir/disk.vmdk"
}

fx_zeroed_ref() {
	local sub=${1:-monolithicSparse}
	fx_zeroed "$sub" >/dev/null || exit 1
	echo "$(_fx_base)/zeroed-$sub/.ref.raw"
}
