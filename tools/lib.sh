# SPDX-License-Identifier: MIT
# Shared by tools/demo, tools/test and tools/bench: install the Debian packages the
# project needs (only the missing ones), and build the project.

VMFS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Build and run dependencies, then what the tests use as independent oracles.
VMFS_PACKAGES=(
	gcc libc6-dev pkg-config meson ninja-build
	libfuse3-dev fuse3 libxml2-dev zlib1g-dev libarchive-dev libdeflate-dev nettle-dev
	qemu-utils jq python3 e2fsprogs coreutils tar gzip libvirt-clients libxml2-utils util-linux
	# The boot test (tests/integration/90-boot.sh): qemu under TCG with SeaBIOS, and what
	# tests/gen/tiny-linux.sh builds a bootable disk with (the kernel it downloads).
	qemu-system-x86 seabios busybox-static syslinux syslinux-common mtools dosfstools cpio
)

vmfs_install_deps() {
	local missing=() p
	for p in "${VMFS_PACKAGES[@]}" "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "missing packages: ${missing[*]} (run as root, or install them)" >&2
		return 1
	fi
	echo "installing: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null &&
		apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# vmfs_build DIR [meson setup args...]: configure once, then build.
vmfs_build() {
	local dir=$1
	shift
	if [ ! -f "$VMFS_ROOT/$dir/build.ninja" ]; then
		meson setup "$VMFS_ROOT/$dir" "$VMFS_ROOT" "$@" >/dev/null || return 1
	fi
	ninja -C "$VMFS_ROOT/$dir" >/dev/null || ninja -C "$VMFS_ROOT/$dir"
}
