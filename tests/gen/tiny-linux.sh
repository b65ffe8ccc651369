#!/bin/bash
# SPDX-License-Identifier: MIT
# A bootable BIOS disk image holding a tiny Linux: Debian's cloud kernel and a busybox
# initramfs whose /init prints MARKER on the serial console and powers off.
#
#   tiny-linux.sh OUT.img MARKER CACHE_DIR
#
# The disk is one FAT filesystem from sector 0 (no partition table, as on a floppy) with
# SYSLINUX in its boot sector: the BIOS runs that sector, which loads the kernel and the
# initramfs through the BIOS's own driver for the disk's controller.  So the guest boots
# only if the firmware can read the disk on the bus it sits on, which is the point.  Made
# with mtools and syslinux's mtools installer: no loop device, no mount, no root needed.
#
# The kernel comes from the Debian archive (apt-get download, then extracted; nothing is
# installed) and is kept in CACHE_DIR for the next run.
set -euo pipefail

out=$1 marker=$2 cache=$3
mkdir -p "$cache"
kernel=$cache/vmlinuz
if [ ! -s "$kernel" ]; then
	pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
		awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
	if [ -z "$pkg" ]; then
		apt-get update -qq >/dev/null
		pkg=$(apt-cache depends linux-image-cloud-amd64 |
			awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
	fi
	[ -n "$pkg" ] || { echo "tiny-linux: no linux-image-cloud-amd64 in apt" >&2; exit 1; }
	# A stale package list names a kernel the mirror no longer has: refresh once.
	(cd "$cache" && apt-get download -qq "$pkg" 2>/dev/null) ||
		(apt-get update -qq >/dev/null && cd "$cache" && apt-get download -qq "$pkg")
	dpkg-deb --fsys-tarfile "$cache"/"$pkg"_*.deb |
		tar -x -C "$cache" --wildcards './boot/vmlinuz-*'
	mv "$cache"/boot/vmlinuz-* "$kernel.tmp"
	rm -rf "$cache/boot" "$cache"/"$pkg"_*.deb
	mv "$kernel.tmp" "$kernel"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root/bin" "$root/dev" "$root/proc"
cp /bin/busybox "$root/bin/busybox"
ln -s busybox "$root/bin/sh"
cat >"$root/init" <<INIT
#!/bin/sh
/bin/busybox mount -t devtmpfs dev /dev
/bin/busybox echo "$marker" >/dev/ttyS0
/bin/busybox poweroff -f
INIT
chmod 755 "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -9) >"$work/initrd"

cat >"$work/syslinux.cfg" <<'CFG'
SERIAL 0 115200
DEFAULT linux
PROMPT 0
TIMEOUT 0
LABEL linux
  KERNEL vmlinuz
  INITRD initrd
  APPEND console=ttyS0 quiet panic=-1
CFG

rm -f "$out"
mkfs.vfat -C -n TINYLINUX "$out" 32768 >/dev/null
syslinux --install "$out"
mcopy -i "$out" "$kernel" ::vmlinuz
mcopy -i "$out" "$work/initrd" ::initrd
mcopy -i "$out" "$work/syslinux.cfg" ::syslinux.cfg
