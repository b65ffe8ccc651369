#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The qemu command-line arguments that boot a domain.xml's first hard disk the way
libvirt would attach it: the machine type, the disk's controller (SCSI model, SATA,
IDE or virtio) and its slot, with -snapshot so the read-only mount is never written.

    qemu-args.py domain.xml

Prints one argument per line.  Only what the boot test needs: the first hard disk, no
NICs, a serial port.  Refuses (exit 1) a bus or controller model it does not know, so
a domain.xml naming something qemu lacks fails the test instead of being papered over.
"""
import sys
import xml.etree.ElementTree as ET

SCSI_MODELS = {  # libvirt's controller model -> qemu device
    "lsilogic": "lsi53c895a",
    "lsisas1068": "mptsas1068",
    "vmpvscsi": "pvscsi",
    "virtio-scsi": "virtio-scsi-pci",
}


def main():
    dom = ET.parse(sys.argv[1]).getroot()
    machine = dom.find("os/type").get("machine")
    disk = dom.find("devices/disk[@device='disk']")
    if machine not in ("q35", "pc") or disk is None:
        sys.exit(f"qemu-args: machine {machine!r} or no hard disk")
    src = disk.find("source").get("file")
    fmt = disk.find("driver").get("type")
    bus = disk.find("target").get("bus")
    addr = disk.find("address")
    args = ["-machine", f"{machine},accel=tcg", "-snapshot",
            "-drive", f"file={src},format={fmt},if=none,id=d0"]
    if bus == "scsi":
        ctl = addr.get("controller")
        c = dom.find(f"devices/controller[@type='scsi'][@index='{ctl}']")
        model = c.get("model") if c is not None else None
        if model not in SCSI_MODELS:
            sys.exit(f"qemu-args: SCSI controller model {model!r}")
        args += ["-device", f"{SCSI_MODELS[model]},id=scsi{ctl}",
                 "-device", f"scsi-hd,drive=d0,bus=scsi{ctl}.0,"
                 f"scsi-id={addr.get('unit')},bootindex=1"]
    elif bus == "sata":
        if machine != "q35" or addr.get("controller") != "0":
            sys.exit("qemu-args: SATA outside q35's built-in AHCI")
        args += ["-device", f"ide-hd,drive=d0,bus=ide.{addr.get('unit')},bootindex=1"]
    elif bus == "ide":
        if machine != "pc":
            sys.exit("qemu-args: IDE needs the pc machine")
        args += ["-device", f"ide-hd,drive=d0,bus=ide.{addr.get('bus')},"
                 f"unit={addr.get('unit')},bootindex=1"]
    elif bus == "virtio":
        args += ["-device", "virtio-blk-pci,drive=d0,bootindex=1"]
    else:
        sys.exit(f"qemu-args: disk bus {bus!r}")
    print("\n".join(args))


main()
