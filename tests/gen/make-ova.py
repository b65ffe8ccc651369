#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Package VMDK files as an OVF export: an .ova (a tar) or an OVF directory.

    make-ova.py [options] -o OUT DISK.vmdk [DISK2.vmdk ...]

OUT ending in .ova makes a tar; anything else is made a directory holding NAME.ovf and
the files.  The OVF envelope is written by this script from what it knows of the disks
(their virtual size is read from the VMDK header or descriptor with qemu-img), in the
shape VMware's ovftool writes: References, DiskSection, NetworkSection, one
VirtualSystem (or a VirtualSystemCollection with --vms 2) with CPU, memory, a SCSI
lsilogic controller, an IDE controller with an empty CD-ROM, disks and NICs.

Options shape the package the way real exports differ:
  --name NAME          package and VM name (default "guest")
  --ovf-last           put the .ovf last in the tar (ovftool puts it first)
  --tar-format F       gnu, pax or ustar (default pax)
  --long-names         member names over 100 characters (needs pax or gnu)
  --vms N              1 (default) or 2: two VMs in a VirtualSystemCollection; the disks
                       are dealt out in turn
  --ovf2               OVF 2.0 namespaces and StorageItem/EthernetPortItem items
  --gzip I             store disk I (1-based) gzip-compressed (ovf:compression="gzip")
  --chunk I:BYTES      store disk I split in chunks of BYTES (ovf:chunkSize)
  --manifest ALGO      none, sha1 or sha256 (default sha256): NAME.mf over every file
  --efi                firmware efi (vmw:Config)
The output is deterministic: same inputs and options, same bytes.
"""

import argparse
import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile

NS1 = "http://schemas.dmtf.org/ovf/envelope/1"
NS2 = "http://schemas.dmtf.org/ovf/envelope/2"
RASD = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData"
VSSD = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData"
SASD = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_StorageAllocationSettingData"
EPASD = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_EthernetPortAllocationSettingData"
VMW = "http://www.vmware.com/schema/ovf"
STREAM_URI = "http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"


def virtual_size(path):
    out = subprocess.run(["qemu-img", "info", "--output=json", path], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)["virtual-size"]


def esc(s):
    return (s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


class Item:
    """One hardware item; ovf2 changes the element and the namespace prefix used."""

    def __init__(self, kind, fields, extra=""):
        self.kind, self.fields, self.extra = kind, fields, extra

    def render(self, ovf2):
        tag, pfx = "Item", "rasd"
        if ovf2 and self.kind == "storage":
            tag, pfx = "StorageItem", "sasd"
        elif ovf2 and self.kind == "ethernet":
            tag, pfx = "EthernetPortItem", "epasd"
        lines = [f"      <{tag}>"]
        for k, v in sorted(self.fields.items()):
            lines.append(f"        <{pfx}:{k}>{esc(str(v))}</{pfx}:{k}>")
        if self.extra:
            lines.append(self.extra)
        lines.append(f"      </{tag}>")
        return "\n".join(lines)


def virtual_system(vm_id, name, disks, nic_base, ovf2, efi):
    items = [
        Item("rasd", {"AllocationUnits": "hertz * 10^6", "ElementName": "2 virtual CPU(s)",
                      "InstanceID": 1, "ResourceType": 3, "VirtualQuantity": 2},
             '        <vmw:CoresPerSocket ovf:required="false">2</vmw:CoresPerSocket>'),
        Item("rasd", {"AllocationUnits": "byte * 2^20", "ElementName": "512MB of memory",
                      "InstanceID": 2, "ResourceType": 4, "VirtualQuantity": 512}),
        Item("rasd", {"Address": 0, "ElementName": "SCSI Controller 0", "InstanceID": 3,
                      "ResourceSubType": "lsilogic", "ResourceType": 6}),
        Item("rasd", {"Address": 0, "ElementName": "IDE 0", "InstanceID": 4,
                      "ResourceType": 5}),
        Item("rasd", {"AddressOnParent": 0, "AutomaticAllocation": "false",
                      "ElementName": "CD/DVD drive 1", "InstanceID": 5, "Parent": 4,
                      "ResourceType": 15}),
    ]
    iid = 6
    for unit, (disk_id, _) in enumerate(disks):
        items.append(Item("storage", {"AddressOnParent": unit, "ElementName": f"Hard disk {unit + 1}",
                                      "HostResource": f"ovf:/disk/{disk_id}", "InstanceID": iid,
                                      "Parent": 3, "ResourceType": 17}))
        iid += 1
    for n in range(2):
        mac = "00:50:56:%02x:%02x:%02x" % (0x10 + nic_base, 0x20 + n, 0x30 + n)
        items.append(Item("ethernet", {"Address": mac, "AddressOnParent": 7 + n,
                                       "AutomaticAllocation": "true", "Connection": "VM Network",
                                       "ElementName": f"Network adapter {n + 1}",
                                       "InstanceID": iid,
                                       "ResourceSubType": "VmxNet3" if n == 0 else "E1000",
                                       "ResourceType": 10}))
        iid += 1
    cfg = '      <vmw:Config ovf:required="false" vmw:key="firmware" vmw:value="%s"/>' % (
        "efi" if efi else "bios")
    body = "\n".join(i.render(ovf2) for i in items)
    return f"""  <VirtualSystem ovf:id="{esc(vm_id)}">
    <Info>A virtual machine</Info>
    <Name>{esc(name)}</Name>
    <OperatingSystemSection ovf:id="101" vmw:osType="otherLinux64Guest">
      <Info>The kind of installed guest operating system</Info>
    </OperatingSystemSection>
    <VirtualHardwareSection>
      <Info>Virtual hardware requirements</Info>
      <System>
        <vssd:ElementName>Virtual Hardware Family</vssd:ElementName>
        <vssd:InstanceID>0</vssd:InstanceID>
        <vssd:VirtualSystemIdentifier>{esc(name)}</vssd:VirtualSystemIdentifier>
        <vssd:VirtualSystemType>vmx-13</vssd:VirtualSystemType>
      </System>
{body}
{cfg}
    </VirtualHardwareSection>
  </VirtualSystem>
"""


def envelope(name, files, disks, vms, ovf2, efi):
    ns = NS2 if ovf2 else NS1
    refs = []
    for f in files:
        attrs = f'ovf:href="{esc(f["href"])}" ovf:id="{f["id"]}" ovf:size="{f["size"]}"'
        if f.get("gzip"):
            attrs += ' ovf:compression="gzip"'
        if f.get("chunk"):
            attrs += f' ovf:chunkSize="{f["chunk"]}"'
        refs.append(f"    <File {attrs}/>")
    dsk = []
    for d in disks:
        dsk.append(f'    <Disk ovf:capacity="{d["capacity"]}" ovf:capacityAllocationUnits="byte" '
                   f'ovf:diskId="{d["id"]}" ovf:fileRef="{d["file"]}" ovf:format="{STREAM_URI}"/>')
    extra_ns = f' xmlns:sasd="{SASD}" xmlns:epasd="{EPASD}"' if ovf2 else ""
    head = f"""<?xml version="1.0" encoding="UTF-8"?>
<Envelope vmw:buildId="build-0" xmlns="{ns}" xmlns:ovf="{ns}" xmlns:rasd="{RASD}" xmlns:vssd="{VSSD}" xmlns:vmw="{VMW}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"{extra_ns}>
  <References>
{chr(10).join(refs)}
  </References>
  <DiskSection>
    <Info>Virtual disk information</Info>
{chr(10).join(dsk)}
  </DiskSection>
  <NetworkSection>
    <Info>The list of logical networks</Info>
    <Network ovf:name="VM Network">
      <Description>The VM Network network</Description>
    </Network>
  </NetworkSection>
"""
    systems = []
    per_vm = [[] for _ in range(vms)]
    for i, d in enumerate(disks):
        per_vm[i % vms].append((d["id"], d))
    for v in range(vms):
        vm_name = name if vms == 1 else f"{name}-vm{v + 1}"
        systems.append(virtual_system(vm_name, vm_name, per_vm[v], v, ovf2, efi))
    if vms == 1:
        body = systems[0]
    else:
        body = (f'  <VirtualSystemCollection ovf:id="{esc(name)}">\n'
                f"    <Info>A collection of virtual machines</Info>\n"
                f"    <Name>{esc(name)}</Name>\n" + "".join(systems) +
                "  </VirtualSystemCollection>\n")
    return (head + body + "</Envelope>\n").encode()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--name", default="guest")
    ap.add_argument("--ovf-last", action="store_true")
    ap.add_argument("--tar-format", choices=["gnu", "pax", "ustar"], default="pax")
    ap.add_argument("--long-names", action="store_true")
    ap.add_argument("--vms", type=int, choices=[1, 2], default=1)
    ap.add_argument("--ovf2", action="store_true")
    ap.add_argument("--gzip", type=int, action="append", default=[])
    ap.add_argument("--chunk", action="append", default=[])
    ap.add_argument("--manifest", choices=["none", "sha1", "sha256"], default="sha256")
    ap.add_argument("--efi", action="store_true")
    ap.add_argument("-o", "--output", dest="out", required=True)
    ap.add_argument("disks", nargs="+")
    a = ap.parse_args()
    if a.vms > len(a.disks):
        sys.exit("make-ova.py: --vms 2 needs two disks")
    chunks = {}
    for c in a.chunk:
        i, n = c.split(":")
        chunks[int(i)] = int(n)

    prefix = ("x" * 90 + "-") if a.long_names else ""
    members = []  # (name, bytes or path)
    files, disks = [], []
    for i, path in enumerate(a.disks, 1):
        base = f"{prefix}{a.name}-disk{i}.vmdk"
        fid = f"file{i}"
        size = os.path.getsize(path)
        entry = {"id": fid, "href": base, "size": size}
        if i in a.gzip:
            with open(path, "rb") as f:
                data = gzip.compress(f.read(), compresslevel=6, mtime=0)
            entry["href"] = base + ".gz"
            entry["gzip"] = True
            entry["size"] = len(data)
            members.append((entry["href"], data))
        elif i in chunks:
            n = chunks[i]
            entry["chunk"] = n
            with open(path, "rb") as f:
                k = 0
                while True:
                    part = f.read(n)
                    if not part and k > 0:
                        break
                    members.append((f"{base}.{k:09d}", part))
                    k += 1
                    if len(part) < n:
                        break
        else:
            members.append((base, path))
        files.append(entry)
        disks.append({"id": f"vmdisk{i}", "file": fid, "capacity": virtual_size(path)})

    ovf_name = f"{prefix}{a.name}.ovf"
    ovf = envelope(a.name, files, disks, a.vms, a.ovf2, a.efi)
    members.insert(0, (ovf_name, ovf))
    if a.manifest != "none":
        lines = []
        for n, d in members:
            h = hashlib.new(a.manifest)
            if isinstance(d, bytes):
                h.update(d)
            else:
                with open(d, "rb") as f:
                    for blk in iter(lambda: f.read(1 << 20), b""):
                        h.update(blk)
            lines.append(f"{a.manifest.upper()}({n})= {h.hexdigest()}\n")
        members.insert(1, (f"{prefix}{a.name}.mf", "".join(lines).encode()))
    if a.ovf_last:
        members.append(members.pop(0))

    if a.out.endswith(".ova"):
        fmt = {"gnu": tarfile.GNU_FORMAT, "pax": tarfile.PAX_FORMAT,
               "ustar": tarfile.USTAR_FORMAT}[a.tar_format]
        with tarfile.open(a.out, "w", format=fmt) as t:
            for n, d in members:
                ti = tarfile.TarInfo(n)
                ti.mtime, ti.mode, ti.uid, ti.gid = 1700000000, 0o644, 64, 64
                ti.uname = ti.gname = "someone"
                if isinstance(d, bytes):
                    ti.size = len(d)
                    t.addfile(ti, io.BytesIO(d))
                else:
                    ti.size = os.path.getsize(d)
                    with open(d, "rb") as f:
                        t.addfile(ti, f)
    else:
        os.makedirs(a.out, exist_ok=True)
        for n, d in members:
            if isinstance(d, bytes):
                with open(os.path.join(a.out, n), "wb") as f:
                    f.write(d)
            else:
                subprocess.run(["cp", "--sparse=always", d, os.path.join(a.out, n)], check=True)


if __name__ == "__main__":
    main()
