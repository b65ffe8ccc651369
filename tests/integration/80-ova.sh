#!/bin/bash
# SPDX-License-Identifier: MIT
# OVA and OVF packages, read in place.  Each package is built at test time by
# tests/gen/make-ova.py from VMDK fixtures, mounted, and checked:
#   * every disk.raw is identical to the VMDK it was made from (qemu-img compare), and
#     disk.qcow2 passes qemu-img check, compares identical, has the same virtual size,
#     and a cp of it is identical and passes qemu-img check;
#   * source/ holds every member, cmp-identical with tar -xOf (or the directory's file);
#   * domain.xml passes virt-xml-validate and virsh define, and names the disks and MACs;
#   * the package itself is unchanged.
# Shapes: .ovf first and last; pax, gnu and ustar headers; long names; two disks; two
# VMs in a VirtualSystemCollection; OVF 2.0; a gzip disk; a chunked disk; SHA1 and
# SHA256 manifests with --verify; an OVF directory, mounted by its .ovf and as a
# directory.  Then --verify against a flipped byte in a 100 MiB member, proof that
# nothing is written outside the mount while an OVA is read whole, and refusals.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/fixtures.sh"

MKOVA=$VMFS_ROOT/tests/gen/make-ova.py
D1=$(fx_vmdk 100m streamOptimized)
D2=$(fx_vmdk 1m vmware-stream)

# check_disk MNTFILE VMDK: the view equals the VMDK, as raw and as qcow2.
check_disk() {
	local view=$1 vmdk=$2 out
	out=$(qemu-img compare -f vmdk "$vmdk" -F raw "$view.raw" 2>&1) ||
		fail "qemu-img compare $vmdk vs $view.raw: $out"
	qemu-img check -q -f qcow2 "$view.qcow2" || fail "qemu-img check $view.qcow2"
	out=$(qemu-img compare -f vmdk "$vmdk" -F qcow2 "$view.qcow2" 2>&1) ||
		fail "qemu-img compare $vmdk vs $view.qcow2: $out"
	[ "$(virtual_size -f qcow2 "$view.qcow2")" = "$(virtual_size -f vmdk "$vmdk")" ] ||
		fail "$view.qcow2: virtual size differs from $vmdk"
	cp "$view.qcow2" "$TEST_TMP/copy.qcow2"
	cmp "$view.qcow2" "$TEST_TMP/copy.qcow2" || fail "a cp of $view.qcow2 differs"
	qemu-img check -q -f qcow2 "$TEST_TMP/copy.qcow2" || fail "qemu-img check of a cp"
	rm -f "$TEST_TMP/copy.qcow2"
	ok "$(basename "$view").raw and .qcow2 identical to $(basename "$vmdk"), same" \
		"virtual size, a cp of the qcow2 identical and valid"
}

# check_sources MNT PKG: source/ lists exactly the package's members, each identical.
check_sources() {
	local mnt=$1 pkg=$2 m n=0 want got
	if [ -d "$pkg" ]; then
		want=$(cd "$pkg" && find . -maxdepth 1 -type f ! -name '.*' -printf '%f\n' | sort)
	else
		want=$(tar -tf "$pkg" | sort)
	fi
	got=$(cd "$mnt/source" && find . -type f -printf '%P\n' | sort)
	[ "$want" = "$got" ] || fail "source/ lists $(echo $got), the package holds $(echo $want)"
	while read -r m; do
		if [ -d "$pkg" ]; then
			cmp "$pkg/$m" "$mnt/source/$m" || fail "source/$m differs"
		else
			tar -xOf "$pkg" "$m" | cmp - "$mnt/source/$m" || fail "source/$m differs"
		fi
		n=$((n + 1))
	done <<<"$want"
	ok "source/: $n members, each identical"
}

# check_domain MNT/DIR MACS...: DIR/domain.xml passes libvirt's schema and parser (a
# define on the test driver with an empty node), names every disk*.qcow2 of DIR by its
# absolute path, and keeps the given MACs.
check_domain() {
	local dir=$1 xml q mac out
	shift
	xml=$dir/domain.xml
	[ -f "$xml" ] || fail "no domain.xml in $dir"
	out=$(virt-xml-validate "$xml" domain 2>&1) || fail "virt-xml-validate $xml: $out"
	[ -f "$TEST_TMP/node.xml" ] || echo '<node/>' >"$TEST_TMP/node.xml"
	out=$(virsh -q -c "test://$TEST_TMP/node.xml" define "$xml" 2>&1) ||
		fail "virsh define $xml: $out"
	for q in "$dir"/disk*.qcow2; do
		grep -qF "<source file=\"$q\"/>" "$xml" || fail "domain.xml does not name $q"
	done
	for mac in "$@"; do
		grep -qF "<mac address=\"$mac\"/>" "$xml" || fail "domain.xml lost MAC $mac"
	done
	ok "$(basename "$dir")/domain.xml: valid, defined by virsh, disks and MACs ($#) kept"
}

# package NAME ARGS...: build (once per run) a package named NAME with make-ova.py.
package() {
	local name=$1 out
	shift
	out=$TEST_TMP/pkg/$name
	mkdir -p "$TEST_TMP/pkg"
	python3 "$MKOVA" -o "$out" "$@" >&2 || fail "make-ova.py -o $out $* failed"
	echo "$out"
}

one_vm() {
	local name=$1 pkg mnt
	shift
	pkg=$(package "$name" "$@" "$D1" "$D2")
	record_src pkg "$pkg"
	mnt=$TEST_TMP/mnt
	vmfs_mount "$pkg" "$mnt" ${VERIFY:-}
	check_disk "$mnt/disk" "$D1"
	check_disk "$mnt/disk2" "$D2"
	[ ! -e "$mnt/disk3.raw" ] || fail "a third disk appeared"
	check_domain "$mnt" 00:50:56:10:20:30 00:50:56:10:21:31
	check_sources "$mnt" "$pkg"
	vmfs_umount "$mnt"
	assert_src_unchanged pkg
}

two_vms() {
	local pkg mnt
	pkg=$(package two-vms.ova --vms 2 "$D1" "$D2")
	record_src pkg "$pkg"
	mnt=$TEST_TMP/mnt
	vmfs_mount "$pkg" "$mnt"
	[ -d "$mnt/guest-vm1" ] && [ -d "$mnt/guest-vm2" ] ||
		fail "want guest-vm1/ and guest-vm2/, got: $(ls "$mnt")"
	check_disk "$mnt/guest-vm1/disk" "$D1"
	check_disk "$mnt/guest-vm2/disk" "$D2"
	check_domain "$mnt/guest-vm1" 00:50:56:10:20:30 00:50:56:10:21:31
	check_domain "$mnt/guest-vm2" 00:50:56:11:20:30 00:50:56:11:21:31
	check_sources "$mnt" "$pkg"
	vmfs_umount "$mnt"
	assert_src_unchanged pkg
}

ovf_dir() {
	local pkg mnt
	pkg=$(package dir-pkg --chunk 2:200000 "$D1" "$D2")
	ls "$pkg"/*.000000001 >/dev/null || fail "the chunked fixture has one chunk only"
	record_src pkg "$pkg"/*
	mnt=$TEST_TMP/mnt
	vmfs_mount "$pkg/guest.ovf" "$mnt" --verify
	check_disk "$mnt/disk" "$D1"
	check_disk "$mnt/disk2" "$D2"
	check_sources "$mnt" "$pkg"
	vmfs_umount "$mnt"
	vmfs_mount "$pkg" "$mnt"
	check_disk "$mnt/disk" "$D1"
	vmfs_umount "$mnt"
	assert_src_unchanged pkg
}

# Offset of member NAME's data in OVA.
member_offset() {
	python3 -c 'import sys, tarfile
t = tarfile.open(sys.argv[1])
print(t.getmember(sys.argv[2]).offset_data)' "$1" "$2"
}

verify_flip() {
	local raw big pkg off mnt member
	raw=$TEST_TMP/random.raw
	head -c $((100 * 1024 * 1024)) /dev/urandom >"$raw"
	big=$TEST_TMP/big.vmdk
	qemu-img convert -q -f raw -O vmdk -o subformat=streamOptimized "$raw" "$big"
	rm -f "$raw"
	pkg=$(package flip.ova --manifest sha256 "$big")
	member=guest-disk1.vmdk
	[ "$(tar -tvf "$pkg" "$member" | awk '{print $3}')" -ge $((100 * 1024 * 1024)) ] ||
		fail "the member is smaller than 100 MiB"
	mnt=$TEST_TMP/mnt
	vmfs_mount "$pkg" "$mnt" --verify
	check_disk "$mnt/disk" "$big"
	vmfs_umount "$mnt"
	off=$(member_offset "$pkg" "$member")
	off=$((off + 50 * 1024 * 1024 + 12345))
	python3 -c 'import sys
f = open(sys.argv[1], "r+b"); f.seek(int(sys.argv[2])); b = f.read(1)
f.seek(int(sys.argv[2])); f.write(bytes([b[0] ^ 0x40]))' "$pkg" "$off"
	expect_mount_fail "$pkg" "$member.*(SHA256|digest|mismatch)" --verify
	vmfs_mount "$pkg" "$mnt"
	[ -f "$mnt/disk.raw" ] || fail "no disk.raw without --verify"
	vmfs_umount "$mnt"
	ok "without --verify the damaged package still mounts"
}

# Nothing written outside MNT while an OVA is read whole: the daemon holds no file open
# for writing, and the filesystems of the package and of TMPDIR do not grow.
no_writes() {
	local pkg mnt pid before_t before_p after_t after_p fd flags target
	pkg=$(package nowrite.ova --gzip 2 "$D1" "$D2")
	record_src pkg "$pkg"
	mnt=$TEST_TMP/mnt
	sync
	before_t=$(df -B1 --output=used "${TMPDIR:-/tmp}" | tail -1)
	before_p=$(df -B1 --output=used "$pkg" | tail -1)
	vmfs_mount "$pkg" "$mnt"
	pid=$(vmfs_pid "$mnt")
	cat "$mnt"/disk.raw "$mnt"/disk2.raw "$mnt"/disk.qcow2 "$mnt"/source/* >/dev/null
	for fd in /proc/"$pid"/fdinfo/*; do
		# 0-2 are the log the test opened for the daemon, not the daemon's doing.
		[ "$(basename "$fd")" -gt 2 ] || continue
		flags=$(awk '/^flags:/ {print $2}' "$fd")
		# O_WRONLY 01, O_RDWR 02: only /dev/fuse may be open for writing.
		# Pipes (splice), anonymous inodes and the memfd of zeros that hole replies
		# are spliced from are not files; a path is.
		if [ $((8#$flags & 3)) -ne 0 ]; then
			target=$(readlink /proc/"$pid"/fd/"$(basename "$fd")")
			case $target in
			/dev/fuse | pipe:* | anon_inode:* | "/memfd:vmfs-mount-zeros (deleted)") ;;
			*) fail "the daemon holds $target open for writing" ;;
			esac
		fi
	done
	sync
	after_t=$(df -B1 --output=used "${TMPDIR:-/tmp}" | tail -1)
	after_p=$(df -B1 --output=used "$pkg" | tail -1)
	vmfs_umount "$mnt"
	# Other processes on the same filesystem write too: allow 64 MiB of noise, below the
	# 100 MiB disk read (the fd check above is the exact one).
	[ $((after_t - before_t)) -lt $((64 << 20)) ] ||
		fail "${TMPDIR:-/tmp} grew by $((after_t - before_t)) bytes during the read"
	[ $((after_p - before_p)) -lt $((64 << 20)) ] ||
		fail "the package's filesystem grew by $((after_p - before_p)) bytes"
	ok "read whole: no file open for writing, filesystems grew by" \
		"$((after_t - before_t)) and $((after_p - before_p)) bytes"
	assert_src_unchanged pkg
}

# refuse NAME REGEX PYTHON: a package doctored by a Python snippet (given the path of a
# good .ova as argv[1], writing argv[2]) is refused with REGEX.
refuse() {
	local name=$1 re=$2 code=$3 good bad
	good=$(package "good-$name.ova" --manifest none "$D2")
	bad=$TEST_TMP/pkg/$name.ova
	python3 -c "$code" "$good" "$bad" || fail "could not build $name"
	expect_mount_fail "$bad" "$re"
}

refusals() {
	local rewrite='import sys, tarfile, io
src, dst = sys.argv[1], sys.argv[2]
t = tarfile.open(src)
out = tarfile.open(dst, "w", format=tarfile.PAX_FORMAT)
def add(ti, data):
    ti.size = len(data); out.addfile(ti, io.BytesIO(data))
for m in t.getmembers():
    data = t.extractfile(m).read()
'
	refuse href-slash '(href|plain member|refused)' "$rewrite"'
    if m.name.endswith(".ovf"):
        data = data.replace(b"ovf:href=\"guest-disk1.vmdk\"", b"ovf:href=\"sub/guest-disk1.vmdk\"")
    add(m, data)
'
	refuse href-dotdot '(href|plain member|refused)' "$rewrite"'
    if m.name.endswith(".ovf"):
        data = data.replace(b"ovf:href=\"guest-disk1.vmdk\"", b"ovf:href=\"..\"")
    add(m, data)
'
	refuse missing-member 'guest-disk1.vmdk.*not in the package' "$rewrite"'
    if m.name.endswith(".vmdk"):
        continue
    add(m, data)
'
	refuse duplicate-member '(duplicate|twice|more than once)' "$rewrite"'
    add(m, data)
    if m.name.endswith(".vmdk"):
        add(m, data)
'
	refuse symlink-member '(link|symlink)' "$rewrite"'
    add(m, data)
l = tarfile.TarInfo("evil.vmdk"); l.type = tarfile.SYMTYPE; l.linkname = "/etc/passwd"
out.addfile(l)
'
	refuse no-ovf '(no \.ovf|descriptor)' "$rewrite"'
    if m.name.endswith(".ovf"):
        continue
    add(m, data)
'
	refuse truncated 'guest.*(truncat|past end|end of|short)' 'import sys, os
d = open(sys.argv[1], "rb").read()
open(sys.argv[2], "wb").write(d[: len(d) // 2])
'
}

subtest "pax, .ovf first, sha256" one_vm first.ova
VERIFY=--verify subtest "gnu, .ovf last, long names, sha1, --verify" one_vm last-gnu.ova \
	--tar-format gnu --ovf-last --long-names --manifest sha1
subtest "pax long names, OVF 2.0" one_vm ovf2.ova --long-names --ovf2
subtest "ustar" one_vm ustar.ova --tar-format ustar
VERIFY=--verify subtest "gzip disk and chunked disk, --verify" one_vm gz.ova --gzip 1 \
	--chunk 2:100000
subtest "two VMs" two_vms
subtest "OVF directory" ovf_dir
subtest "--verify and a flipped byte" verify_flip
subtest "nothing written outside the mount" no_writes
# A signed package (.cert) mounts; the signature is reported as not checked.
signed() {
	local good bad mnt log
	good=$(package signed-base.ova "$D2")
	bad=$TEST_TMP/pkg/signed.ova
	python3 -c 'import sys, tarfile, io
t = tarfile.open(sys.argv[1]); out = tarfile.open(sys.argv[2], "w", format=tarfile.PAX_FORMAT)
for m in t.getmembers():
    out.addfile(m, t.extractfile(m))
c = b"SHA256(guest.mf)= 00\n-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
ti = tarfile.TarInfo("guest.cert"); ti.size = len(c); out.addfile(ti, io.BytesIO(c))
out.close()' "$good" "$bad" || fail "could not build the signed package"
	mnt=$TEST_TMP/mnt
	vmfs_mount "$bad" "$mnt"
	log=$(vmfs_log "$mnt")
	grep -q 'signed (guest.cert); the signature is not checked' "$log" ||
		fail "the .cert was not reported: $(cat "$log")"
	check_disk "$mnt/disk" "$D2"
	vmfs_umount "$mnt"
	ok "signed package mounts, .cert reported"
}

subtest "signed package" signed
subtest "refusals" refusals
