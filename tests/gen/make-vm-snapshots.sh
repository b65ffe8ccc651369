#!/bin/bash
# SPDX-License-Identifier: MIT
# A VMware VM directory with two snapshots, made the way Workstation makes one:
#
#   make-vm-snapshots.sh DIR
#
#   1. guest.vmdk (scsi0:0) is written; snapshot 1 "Before update: v1/v2" is taken: the
#      .vmsd lists guest.vmdk, and guest-000001.vmdk is made over it.
#   2. A data disk, data.vmdk (monolithicFlat, sata0:1), is added; both disks are
#      written; snapshot 2 "nach dem Update – grün" is taken: the .vmsd lists
#      guest-000001.vmdk and data.vmdk, and guest-000002.vmdk and data-000001.vmdk are made
#      over them.
#   3. Both are written again; guest.vmx names guest-000002.vmdk and data-000001.vmdk.
#
# So the current state is the two leaves, snapshot 2 the middle of both chains, snapshot 1
# the base of the first disk and no data disk at all.  Every level is written by
# tests/gen/make-chain.sh with its own patterns (the data disk's differ from the guest
# disk's).  Prints nothing; the files are DIR/guest.vmx, guest.vmsd and the disks.
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: make-vm-snapshots.sh DIR" >&2; exit 2; }
dir=$1
chain=$(dirname "$0")/make-chain.sh
mkdir -p "$dir"

bash "$chain" "$dir" guest monolithicSparse 0 >/dev/null
bash "$chain" --from 1 "$dir" guest monolithicSparse 1 >/dev/null
bash "$chain" --pattern 7 "$dir" data monolithicFlat 0 >/dev/null
bash "$chain" --from 2 "$dir" guest monolithicSparse 2 >/dev/null
bash "$chain" --pattern 7 --from 1 "$dir" data monolithicFlat 1 >/dev/null

cat >"$dir/guest.vmsd" <<'EOF'
.encoding = "UTF-8"
snapshot.lastUID = "2"
snapshot.current = "2"
snapshot0.uid = "1"
snapshot0.filename = "guest-Snapshot1.vmsn"
snapshot0.displayName = "Before update: v1/v2"
snapshot0.description = "clean install"
snapshot0.createTimeHigh = "398765"
snapshot0.createTimeLow = "-1203378736"
snapshot0.numDisks = "1"
snapshot0.disk0.fileName = "guest.vmdk"
snapshot0.disk0.node = "scsi0:0"
snapshot.numSnapshots = "2"
snapshot1.uid = "2"
snapshot1.filename = "guest-Snapshot2.vmsn"
snapshot1.parent = "1"
snapshot1.displayName = "nach dem Update – grün"
snapshot1.type = "1"
snapshot1.createTimeHigh = "398766"
snapshot1.createTimeLow = "1521348352"
snapshot1.numDisks = "2"
snapshot1.disk0.fileName = "guest-000001.vmdk"
snapshot1.disk0.node = "scsi0:0"
snapshot1.disk1.fileName = "data.vmdk"
snapshot1.disk1.node = "sata0:1"
EOF

cat >"$dir/guest.vmx" <<'EOF'
.encoding = "UTF-8"
config.version = "8"
virtualHW.version = "19"
displayName = "snap guest"
guestOS = "debian11-64"
memsize = "1024"
numvcpus = "2"
uuid.bios = "56 4d 12 34 56 78 9a bc-de f0 12 34 56 78 9a bc"
scsi0.present = "TRUE"
scsi0.virtualDev = "lsilogic"
scsi0:0.present = "TRUE"
scsi0:0.fileName = "guest-000002.vmdk"
sata0.present = "TRUE"
sata0:1.present = "TRUE"
sata0:1.fileName = "data-000001.vmdk"
ethernet0.present = "TRUE"
ethernet0.virtualDev = "e1000"
ethernet0.addressType = "generated"
ethernet0.generatedAddress = "00:0c:29:aa:bb:cc"
checkpoint.vmState = ""
EOF
