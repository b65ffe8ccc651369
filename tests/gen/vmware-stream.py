#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write a streamOptimized VMDK in VMware's layout from a raw disk image.

    vmware-stream.py [--grain-sectors N] [--no-tables] [--no-footer]
                     [--zero-grains-as-data] IN.raw OUT.vmdk

qemu-img writes streamOptimized files in its own layout (grain directory at the start,
real gdOffset in the header).  VMware (ovftool, ESXi exports) writes them as a stream:
the header says "grain directory at the end", and the tables follow the data.  This
script makes the second kind, so the decoder and the mount can be tested on it without
a VMware product.  Only the standard library is used (struct, zlib).

File layout (all integers little-endian, offsets and sizes in 512-byte sectors):

  sector 0          header (the "SparseExtentHeader", 512 bytes):
                       0 magic "KDMV"           44 numGTEsPerGT u32 = 512
                       4 version u32 = 3        48 rgdOffset u64 = 0 (none)
                       8 flags u32 = 0x30001    56 gdOffset u64 = ~0 (GD_AT_END)
                      12 capacity u64           64 overHead u64 (first grain's sector)
                      20 grainSize u64          72 uncleanShutdown u8 = 0
                      28 descriptorOffset = 1   73 "\\n \\r\\n" (newline test bytes)
                      36 descriptorSize u64     77 compressAlgorithm u16 = 1 (deflate)
                    flags: bit 0 newline test valid, bit 16 compressed, bit 17 markers.
  sector 1..        the text descriptor, NUL-padded to descriptorSize sectors
  overHead (128)    grains in disk order, each a grain marker padded to a sector:
                       u64 LBA (the grain's first disk sector), u32 compressed size,
                       then a zlib stream of the grain (the last grain of a disk whose
                       size is not a multiple of the grain holds only what exists)
                    grains that are all zero are left out (unallocated) unless
                    --zero-grains-as-data
  then, unless --no-tables, all the grain tables at the end (VMware's tools may
  instead emit each table as soon as its 512 grains are written; readers must not
  care, and ours finds them through the GD either way):
                    for each table with at least one grain: a GT marker (one sector:
                       u64 numSectors = 4, u32 0, u32 type 1, zero padding) and the
                       table (512 u32 GTEs: the sector of the grain's marker, or 0)
                    a GD marker (type 2, numSectors = GD sectors) and the GD (one u32
                       per table: the sector of the table's data, 0 for an empty one)
                    unless --no-footer: a footer marker (type 3, numSectors 1) and the
                       footer, a copy of the header with the real gdOffset; it sits at
                       file size - 1024
  last sector       the end-of-stream marker (all zeros: numSectors 0, size 0, type 0)

--no-tables leaves out tables, GD and footer (grains, then EOS): a reader has to walk
the markers.  --no-footer keeps the tables but drops the footer, with the same effect
for a reader that needs the footer to find the GD.  qemu-img reads the full layout
(qemu-img compare reports it identical to IN.raw); it refuses the other two.

The output is deterministic: the same input and options give the same bytes.
"""

import argparse
import os
import struct
import sys
import zlib

SECTOR = 512
GD_AT_END = 0xFFFFFFFFFFFFFFFF
NGTE = 512
OVERHEAD = 128
FLAG_NL_TEST = 1 << 0
FLAG_COMPRESSED = 1 << 16
FLAG_MARKERS = 1 << 17
MARKER_EOS, MARKER_GT, MARKER_GD, MARKER_FOOTER = 0, 1, 2, 3


def header(capacity, grain, desc_sectors, gd_offset):
    h = struct.pack("<4sIIQQQQIQQQB4sH", b"KDMV", 3,
                    FLAG_NL_TEST | FLAG_COMPRESSED | FLAG_MARKERS,
                    capacity, grain, 1, desc_sectors, NGTE, 0, gd_offset, OVERHEAD,
                    0, b"\n \r\n", 1)
    assert len(h) == 79
    return h.ljust(SECTOR, b"\0")


def descriptor(capacity, name):
    cylinders = min(capacity // (255 * 63), 65535)
    cid = zlib.crc32(b"%d:%s" % (capacity, name.encode())) & 0xFFFFFFFF
    if cid == 0xFFFFFFFF:
        cid = 0xFFFFFFFE
    text = (
        "# Disk DescriptorFile\n"
        "version=1\n"
        f"CID={cid:08x}\n"
        "parentCID=ffffffff\n"
        'createType="streamOptimized"\n'
        "\n"
        "# Extent description\n"
        f'RW {capacity} SPARSE "{name}"\n'
        "\n"
        "# The Disk Data Base\n"
        "#DDB\n"
        "\n"
        'ddb.adapterType = "lsilogic"\n'
        f'ddb.geometry.cylinders = "{cylinders}"\n'
        'ddb.geometry.heads = "255"\n'
        'ddb.geometry.sectors = "63"\n'
        'ddb.virtualHWVersion = "4"\n'
    )
    return text.encode()


def meta_marker(num_sectors, mtype):
    return struct.pack("<QII", num_sectors, 0, mtype).ljust(SECTOR, b"\0")


def pad(b):
    return b + b"\0" * (-len(b) % SECTOR)


def data_ranges(f, size):
    """The (start, end) byte ranges of f that may hold data (holes are zeros)."""
    fd = f.fileno()
    try:
        out, pos = [], 0
        while pos < size:
            try:
                start = os.lseek(fd, pos, os.SEEK_DATA)
            except OSError:
                break  # ENXIO: no more data
            end = os.lseek(fd, start, os.SEEK_HOLE)
            out.append((start, min(end, size)))
            pos = end
        return out
    except (AttributeError, OSError):
        return [(0, size)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--grain-sectors", type=int, default=128)
    ap.add_argument("--no-tables", action="store_true")
    ap.add_argument("--no-footer", action="store_true")
    ap.add_argument("--zero-grains-as-data", action="store_true")
    ap.add_argument("input")
    ap.add_argument("output")
    a = ap.parse_args()

    gs = a.grain_sectors
    if gs < 1 or gs & (gs - 1) or gs > 32768:
        sys.exit("vmware-stream.py: --grain-sectors must be a power of two, 1..32768")
    gbytes = gs * SECTOR

    with open(a.input, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size % SECTOR:
            sys.exit(f"vmware-stream.py: {a.input}: size {size} is not a multiple of 512")
        capacity = size // SECTOR
        n_grains = (capacity + gs - 1) // gs
        ranges = data_ranges(f, size)

        desc = pad(descriptor(capacity, os.path.basename(a.output)))
        desc_sectors = len(desc) // SECTOR
        if 1 + desc_sectors > OVERHEAD:
            sys.exit("vmware-stream.py: descriptor too long")

        out = open(a.output, "wb")
        out.write(header(capacity, gs, desc_sectors, GD_AT_END))
        out.write(desc)
        out.write(b"\0" * ((OVERHEAD - 1 - desc_sectors) * SECTOR))
        pos = OVERHEAD  # in sectors
        gtes = {}  # grain -> sector of its marker

        ri = 0
        for g in range(n_grains):
            start = g * gbytes
            end = min(start + gbytes, size)
            while ri < len(ranges) and ranges[ri][1] <= start:
                ri += 1
            in_hole = ri == len(ranges) or ranges[ri][0] >= end
            if in_hole and not a.zero_grains_as_data:
                continue
            if in_hole:
                data = bytes(end - start)
            else:
                f.seek(start)
                data = f.read(end - start)
                if len(data) != end - start:
                    sys.exit(f"vmware-stream.py: {a.input}: short read")
            if not a.zero_grains_as_data and not any(data):
                continue
            c = zlib.compress(data, 6)
            rec = pad(struct.pack("<QI", g * gs, len(c)) + c)
            out.write(rec)
            gtes[g] = pos
            pos += len(rec) // SECTOR

        if not a.no_tables:
            n_gts = (n_grains + NGTE - 1) // NGTE
            gt_sectors = NGTE * 4 // SECTOR
            gd = [0] * n_gts
            for t in range(n_gts):
                entries = [gtes.get(t * NGTE + i, 0) for i in range(NGTE)]
                if not any(entries):
                    continue
                out.write(meta_marker(gt_sectors, MARKER_GT))
                pos += 1
                gd[t] = pos
                out.write(pad(struct.pack("<%dI" % NGTE, *entries)))
                pos += gt_sectors
            gd_bytes = pad(struct.pack("<%dI" % n_gts, *gd))
            out.write(meta_marker(len(gd_bytes) // SECTOR, MARKER_GD))
            pos += 1
            gd_offset = pos
            out.write(gd_bytes)
            pos += len(gd_bytes) // SECTOR
            if not a.no_footer:
                out.write(meta_marker(1, MARKER_FOOTER))
                out.write(header(capacity, gs, desc_sectors, gd_offset))
                pos += 2
        out.write(meta_marker(0, MARKER_EOS))
        out.close()


if __name__ == "__main__":
    main()
