#!/bin/bash
# SPDX-License-Identifier: MIT
# A guest boots from the mount.  tests/gen/tiny-linux.sh makes a bootable disk (SYSLINUX,
# Debian's cloud kernel, a busybox initramfs that prints a marker made for this run on
# the serial console and powers off).  It is exported the ways VMware does it: an .ova
# with a VMware-layout streamOptimized disk on an lsilogic SCSI controller, and VM
# directories (.vmx + monolithicSparse) with the disk on pvscsi and on IDE.  For each,
# qemu-system-x86_64 under TCG boots MNT/disk.qcow2 with -snapshot, on the machine type,
# bus, controller model and slot that MNT/domain.xml names (tests/lib/qemu-args.py),
# and the serial console must show the marker.  The firmware reads the kernel through
# its driver for that controller, so a wrong bus, a bad slot or a wrong byte in the boot
# path does not print the marker.
. "$(dirname "$0")/../lib/common.sh"

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
MARKER="vmfs-boot-ok-$$-$RANDOM$RANDOM"

# Boot the domain.xml at $1; the serial console's output goes to $2.
boot() {
	local xml=$1 log=$2 args
	mapfile -t args < <(python3 "$ROOT/tests/lib/qemu-args.py" "$xml")
	[ ${#args[@]} -gt 0 ] || fail "qemu-args.py found nothing to boot in $xml"
	echo "+ qemu-system-x86_64 ${args[*]}"
	timeout 300 qemu-system-x86_64 -nodefaults -display none -no-reboot -m 256 \
		-serial "file:$log" "${args[@]}" || fail "qemu exited with status $?"
	grep -qF "$MARKER" "$log" || {
		cat "$log" >&2
		fail "the guest did not print its marker"
	}
}

check_boot() {
	local src=$1 want=$2 mnt=$TEST_TMP/mnt out
	shift 2
	vmfs_mount "$src" "$mnt" "$@"
	out=$(virt-xml-validate "$mnt/domain.xml" domain 2>&1) || fail "virt-xml-validate: $out"
	grep -qE "$want" "$mnt/domain.xml" || fail "domain.xml does not say $want"
	boot "$mnt/domain.xml" "$TEST_TMP/serial.log"
	ok "booted from $src on $(grep -oE "$want" "$mnt/domain.xml" | head -1)"
	vmfs_umount "$mnt"
	rm -f "$TEST_TMP/serial.log"
}

step "making the guest"
"$ROOT/tests/gen/tiny-linux.sh" "$TEST_TMP/disk.img" "$MARKER" "$FIXTURES/tiny-linux"

ova() {
	python3 "$ROOT/tests/gen/vmware-stream.py" "$TEST_TMP/disk.img" "$TEST_TMP/tiny.vmdk"
	python3 "$ROOT/tests/gen/make-ova.py" --name tiny -o "$TEST_TMP/tiny.ova" \
		"$TEST_TMP/tiny.vmdk"
	record_src ova "$TEST_TMP/tiny.ova"
	check_boot "$TEST_TMP/tiny.ova" "model=\"lsilogic\""
	assert_src_unchanged ova
}

# A VM directory whose disk is on controller $1 ("scsi0" with virtualDev $2, or "ide0").
vmx_dir() {
	local dir=$TEST_TMP/vm-$1 ctl=$1 dev=${2:-}
	mkdir -p "$dir"
	qemu-img convert -f raw -O vmdk -o subformat=monolithicSparse "$TEST_TMP/disk.img" \
		"$dir/tiny.vmdk"
	{
		printf '.encoding = "UTF-8"\nconfig.version = "8"\nvirtualHW.version = "19"\n'
		printf 'displayName = "tiny %s"\nmemsize = "256"\nnumvcpus = "1"\n' "$ctl"
		printf 'guestOS = "other5xlinux-64"\n%s.present = "TRUE"\n' "$ctl"
		[ -n "$dev" ] && printf '%s.virtualDev = "%s"\n' "$ctl" "$dev"
		printf '%s:0.present = "TRUE"\n%s:0.fileName = "tiny.vmdk"\n' "$ctl" "$ctl"
		printf 'ethernet0.present = "TRUE"\nethernet0.virtualDev = "vmxnet3"\n'
		printf 'ethernet0.addressType = "generated"\n'
		printf 'ethernet0.generatedAddress = "00:0c:29:12:34:56"\n'
	} >"$dir/tiny.vmx"
	record_src "vm-$ctl" "$dir"/*
	check_boot "$dir" "$3"
	assert_src_unchanged "vm-$ctl"
}

subtest "OVA, VMware streamOptimized on lsilogic SCSI" ova
subtest "VM directory, monolithicSparse on pvscsi" vmx_dir scsi0 pvscsi 'model="vmpvscsi"'
subtest "VM directory, monolithicSparse on IDE (machine pc)" vmx_dir ide0 "" 'machine="pc"'
