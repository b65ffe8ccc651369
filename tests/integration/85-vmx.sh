#!/bin/bash
# SPDX-License-Identifier: MIT
# VMware VM directories: a .vmx naming its disks (a monolithicSparse disk with a space in
# its name on a pvscsi controller, a twoGbMaxExtentSparse disk on SATA), mounted by the
# .vmx and as a directory.  The disks equal their VMDKs (qemu-img compare, raw and qcow2);
# domain.xml passes virt-xml-validate and virsh define, keeps the display name with
# < & ' " > and non-ASCII characters exactly, the MAC, and names the mounted qcow2 files.
# A .vmx naming a disk outside its directory, or a missing one, is refused.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/fixtures.sh"

NAME="Tëst <VM> & 'q' \"dq\" 虚拟机"

make_vm() {
	local dir=$1 d1 d2
	mkdir -p "$dir"
	d1=$(dirname "$(fx_vmdk 100m monolithicSparse)")
	d2=$(dirname "$(fx_vmdk 1m twoGbMaxExtentSparse)")
	cp --sparse=always "$d1/disk.vmdk" "$dir/system disk.vmdk"
	# A twoGbMaxExtentSparse descriptor names its extents: keep their names.
	cp --sparse=always "$d2"/disk*.vmdk "$dir/"
	# displayName with the |22 escape for a double quote, as VMware writes it.
	cat >"$dir/guest.vmx" <<EOF
.encoding = "UTF-8"
config.version = "8"
virtualHW.version = "14"
displayName = "Tëst <VM> & 'q' |22dq|22 虚拟机"
memsize = "2048"
numvcpus = "4"
cpuid.coresPerSocket = "2"
guestOS = "ubuntu-64"
uuid.bios = "56 4d 9f 1a 2b 3c 4d 5e-6f 70 81 92 a3 b4 c5 d6"
scsi0.present = "TRUE"
scsi0.virtualDev = "pvscsi"
scsi0:0.present = "TRUE"
scsi0:0.fileName = "system disk.vmdk"
sata0.present = "TRUE"
sata0:1.present = "TRUE"
sata0:1.fileName = "disk.vmdk"
sata0:2.present = "TRUE"
sata0:2.deviceType = "cdrom-raw"
ethernet0.present = "TRUE"
ethernet0.virtualDev = "e1000e"
ethernet0.addressType = "static"
ethernet0.address = "00:50:56:01:02:03"
ethernet1.present = "FALSE"
ethernet1.address = "00:50:56:0f:0f:0f"
EOF
}

check_mount() {
	local src=$1 dir=$2 mnt out name
	mnt=$TEST_TMP/mnt
	vmfs_mount "$src" "$mnt"
	out=$(qemu-img compare -f vmdk "$dir/system disk.vmdk" -F qcow2 "$mnt/disk.qcow2" 2>&1) ||
		fail "disk.qcow2: $out"
	out=$(qemu-img compare -f vmdk "$dir/disk.vmdk" -F raw "$mnt/disk2.raw" 2>&1) ||
		fail "disk2.raw: $out"
	qemu-img check -q -f qcow2 "$mnt/disk2.qcow2" || fail "qemu-img check disk2.qcow2"
	ok "disk.qcow2 and disk2.raw identical to their VMDKs"
	out=$(virt-xml-validate "$mnt/domain.xml" domain 2>&1) || fail "virt-xml-validate: $out"
	echo '<node/>' >"$TEST_TMP/node.xml"
	out=$(virsh -q -c "test://$TEST_TMP/node.xml" define "$mnt/domain.xml" 2>&1) ||
		fail "virsh define: $out"
	name=$(python3 -c 'import sys, xml.etree.ElementTree as E
print(E.parse(sys.argv[1]).getroot().findtext("name"))' "$mnt/domain.xml")
	[ "$name" = "$NAME" ] || fail "name in domain.xml is [$name], want [$NAME]"
	grep -qF '<mac address="00:50:56:01:02:03"/>' "$mnt/domain.xml" || fail "MAC lost"
	! grep -qF '00:50:56:0f:0f:0f' "$mnt/domain.xml" || fail "a NIC with present=FALSE appeared"
	grep -qF "<source file=\"$mnt/disk.qcow2\"/>" "$mnt/domain.xml" || fail "disk path"
	grep -qF "<source file=\"$mnt/disk2.qcow2\"/>" "$mnt/domain.xml" || fail "disk2 path"
	grep -qF 'model="vmpvscsi"' "$mnt/domain.xml" || fail "pvscsi controller model lost"
	grep -qF 'device="cdrom"' "$mnt/domain.xml" || fail "the CD-ROM is missing"
	ok "domain.xml: valid, defined, name exact, MAC, disks, controller model, CD-ROM"
	vmfs_umount "$mnt"
}

by_vmx() {
	local dir=$TEST_TMP/vm
	make_vm "$dir"
	record_src vm "$dir"/*
	check_mount "$dir/guest.vmx" "$dir"
	check_mount "$dir" "$dir"
	assert_src_unchanged vm
}

refusals() {
	local dir=$TEST_TMP/bad
	make_vm "$dir/vm"
	cp "$dir/vm/system disk.vmdk" "$dir/outside.vmdk"
	sed -i 's|^scsi0:0.fileName = .*|scsi0:0.fileName = "../outside.vmdk"|' "$dir/vm/guest.vmx"
	expect_mount_fail "$dir/vm/guest.vmx" "guest.vmx.*(leaves|refused)"
	sed -i 's|^scsi0:0.fileName = .*|scsi0:0.fileName = "nowhere.vmdk"|' "$dir/vm/guest.vmx"
	expect_mount_fail "$dir/vm/guest.vmx" "nowhere.vmdk"
}

subtest "a VM directory, by its .vmx and as a directory" by_vmx
subtest "refusals" refusals
