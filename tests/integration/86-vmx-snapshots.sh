#!/bin/bash
# SPDX-License-Identifier: MIT
# A VMware VM directory with two snapshots (tests/gen/make-vm-snapshots.sh: two disks,
# the second added between the snapshots) shows three states:
#   MNT/                                     the current one: the .vmx's leaves
#   MNT/snapshots/Before_update__v1_v2/      snapshot 1: the first disk's base, no data disk
#   MNT/snapshots/nach_dem_Update_–_grün/    snapshot 2: the middle of both chains
# Each disk.raw/disk.qcow2 (and disk2) is identical to qemu-img's reading of the file the
# state stands on, each disk.qcow2 passes qemu-img check, each domain.xml passes
# virt-xml-validate and all three define side by side on one libvirt test connection
# (distinct names; the snapshots' have no uuid).  The source files are unchanged.  Disks
# removed from the .vmx since a snapshot come back in it, independent disks are in every
# state.  A .vmsd naming a file outside the VM's directory, and a snapshot whose disk is
# missing, are refused with one line naming the .vmsd or the snapshot.
. "$(dirname "$0")/../lib/common.sh"

GEN=$VMFS_ROOT/tests/gen/make-vm-snapshots.sh
S1="snapshots/Before_update__v1_v2"
S2="snapshots/nach_dem_Update_–_grün"

# same_disk VMDK MNT/PATH-WITHOUT-SUFFIX: the raw and qcow2 views equal the VMDK chain.
same_disk() {
	local vmdk=$1 view=$2 out
	out=$(qemu-img compare -f vmdk "$vmdk" -F raw "$view.raw" 2>&1) || fail "$view.raw: $out"
	out=$(qemu-img compare -f vmdk "$vmdk" -F qcow2 "$view.qcow2" 2>&1) ||
		fail "$view.qcow2: $out"
	qemu-img check -q -f qcow2 "$view.qcow2" || fail "qemu-img check $view.qcow2"
}

# The disk files a domain.xml names, one a line.
disk_sources() {
	python3 -c 'import sys, xml.etree.ElementTree as E
for d in E.parse(sys.argv[1]).getroot().iter("disk"):
    for s in d.iter("source"):
        print(s.get("file"))' "$1"
}

three_states() {
	local dir=$TEST_TMP/vm mnt=$TEST_TMP/mnt out state names f
	cp -a --sparse=always "$TEST_TMP/orig" "$dir"
	record_src vm "$dir"/*
	vmfs_mount "$dir" "$mnt"

	same_disk "$dir/guest-000002.vmdk" "$mnt/disk"
	same_disk "$dir/data-000001.vmdk" "$mnt/disk2"
	ok "current state: disk and disk2 are the .vmx's leaves"
	same_disk "$dir/guest.vmdk" "$mnt/$S1/disk"
	[ ! -e "$mnt/$S1/disk2.raw" ] || fail "snapshot 1 has a data disk it did not have"
	ok "snapshot 1: the base of the first disk, no data disk"
	same_disk "$dir/guest-000001.vmdk" "$mnt/$S2/disk"
	same_disk "$dir/data.vmdk" "$mnt/$S2/disk2"
	ok "snapshot 2: the middle of both chains"
	# The states differ where the levels wrote (a mix-up would compare equal).
	! cmp -s "$mnt/disk.raw" "$mnt/$S2/disk.raw" || fail "current and snapshot 2 are equal"
	! cmp -s "$mnt/$S1/disk.raw" "$mnt/$S2/disk.raw" || fail "snapshots 1 and 2 are equal"

	echo '<node/>' >"$TEST_TMP/node.xml"
	for state in "" "$S1/" "$S2/"; do
		out=$(virt-xml-validate "$mnt/${state}domain.xml" domain 2>&1) ||
			fail "virt-xml-validate ${state}domain.xml: $out"
		# Every disk the domain names is a file of this state.
		disk_sources "$mnt/${state}domain.xml" >"$TEST_TMP/sources"
		[ -s "$TEST_TMP/sources" ] || fail "${state}domain.xml names no disk"
		while read -r f; do
			[ "$(dirname "$f")/" = "$mnt/$state" ] ||
				fail "${state}domain.xml names $f, outside its state"
			[ -f "$f" ] || fail "${state}domain.xml names $f, which does not exist"
		done <"$TEST_TMP/sources"
	done
	out=$(virsh -q -c "test://$TEST_TMP/node.xml" \
		"define $mnt/domain.xml; define '$mnt/$S1/domain.xml'; define '$mnt/$S2/domain.xml'; list --all --name" 2>&1) ||
		fail "virsh define of the three states: $out"
	names=$(grep -c . <<<"$out" || true)
	[ "$names" = 3 ] || fail "expected three defined domains, got: $out"
	grep -qx 'snap guest' <<<"$out" || fail "the current domain's name: $out"
	grep -qx 'snap guest (snapshot Before update: v1_v2)' <<<"$out" ||
		fail "snapshot 1's domain name: $out"
	grep -qx 'snap guest (snapshot nach dem Update – grün)' <<<"$out" ||
		fail "snapshot 2's domain name: $out"
	grep -q '<uuid>564d1234-5678-9abc-def0-123456789abc</uuid>' "$mnt/domain.xml" ||
		fail "the current domain lost its uuid"
	! grep -q '<uuid>' "$mnt/$S1/domain.xml" "$mnt/$S2/domain.xml" ||
		fail "a snapshot's domain has a uuid"
	grep -q 'may differ from when the snapshot' "$mnt/$S2/domain.xml" ||
		fail "snapshot 2's domain.xml does not say its hardware is today's"
	ok "three domain.xml: valid, defined side by side, named apart"
	vmfs_umount "$mnt"
	assert_src_unchanged vm
}

# The .vmx changed since the snapshots: the data disk removed (snapshot 2 still has it:
# it comes back as its last disk, on a SATA controller the .vmx no longer has) and an
# independent disk added on scsi0:1 (no snapshot captures it: every state shows it).
changed_vmx() {
	local dir=$TEST_TMP/changed mnt=$TEST_TMP/mnt-changed out
	cp -a --sparse=always "$TEST_TMP/orig" "$dir"
	bash "$VMFS_ROOT/tests/gen/make-chain.sh" --pattern 13 "$dir" indep monolithicSparse 0 \
		>/dev/null
	sed -i '/^sata0/d' "$dir/guest.vmx"
	printf '%s\n' 'scsi0:1.present = "TRUE"' 'scsi0:1.fileName = "indep.vmdk"' \
		'scsi0:1.mode = "independent-persistent"' >>"$dir/guest.vmx"
	vmfs_mount "$dir/guest.vmx" "$mnt"
	same_disk "$dir/guest-000002.vmdk" "$mnt/disk"
	same_disk "$dir/indep.vmdk" "$mnt/disk2"
	[ ! -e "$mnt/disk3.raw" ] || fail "the current state has a third disk"
	same_disk "$dir/guest.vmdk" "$mnt/$S1/disk"
	same_disk "$dir/indep.vmdk" "$mnt/$S1/disk2"
	[ ! -e "$mnt/$S1/disk3.raw" ] || fail "snapshot 1 has a third disk"
	same_disk "$dir/guest-000001.vmdk" "$mnt/$S2/disk"
	same_disk "$dir/indep.vmdk" "$mnt/$S2/disk2"
	same_disk "$dir/data.vmdk" "$mnt/$S2/disk3"
	out=$(virt-xml-validate "$mnt/$S2/domain.xml" domain 2>&1) || fail "virt-xml-validate: $out"
	echo '<node/>' >"$TEST_TMP/node2.xml"
	out=$(virsh -q -c "test://$TEST_TMP/node2.xml" define "$mnt/$S2/domain.xml" 2>&1) ||
		fail "virsh define: $out"
	grep -q 'bus="sata"' "$mnt/$S2/domain.xml" || fail "the removed SATA disk is not on SATA"
	ok "a removed disk comes back in the snapshot that has it; an independent one is in all"
	vmfs_umount "$mnt"
}

refusals() {
	local dir=$TEST_TMP/bad
	cp -a --sparse=always "$TEST_TMP/orig" "$dir"
	cp "$dir/guest.vmsd" "$TEST_TMP/guest.vmsd.orig"
	sed -i 's|^snapshot1.disk1.fileName = .*|snapshot1.disk1.fileName = "../other/data.vmdk"|' \
		"$dir/guest.vmsd"
	expect_mount_fail "$dir/guest.vmx" \
		'guest\.vmsd: line [0-9]+: snapshot1\.disk1\.fileName = "\.\./other/data\.vmdk" leaves the VM.s directory; refused'
	cp "$TEST_TMP/guest.vmsd.orig" "$dir/guest.vmsd"
	sed -i 's|^snapshot1.disk1.fileName = .*|snapshot1.disk1.fileName = "gone.vmdk"|' \
		"$dir/guest.vmsd"
	expect_mount_fail "$dir/guest.vmx" \
		'guest\.vmx: snapshot "nach dem Update – grün": .*gone\.vmdk.*No such file'
}

bash "$GEN" "$TEST_TMP/orig"
subtest "three states of a VM with two snapshots" three_states
subtest "disks added and removed since the snapshots" changed_vmx
subtest "refusals" refusals
