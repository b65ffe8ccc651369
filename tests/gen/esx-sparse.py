#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write an ESXi snapshot delta: a vmfsSparse ("COWD") or seSparse extent and its
descriptor, with content chosen by a seed, and the raw image it must read as.

    esx-sparse.py --format cowd|sesparse --size BYTES --seed N [--grain-sectors N]
                  [--parent BASE.vmdk] [--expect OUT.raw] [--manifest OUT.json] OUT.vmdk

OUT.vmdk is the descriptor; the data file beside it is OUT-delta.vmdk (cowd) or
OUT-sesparse.vmdk (sesparse), as ESXi names them.  Without --parent the disk stands
alone (parentCID=ffffffff): what was never written reads as zeros.  With --parent it is
a child of BASE.vmdk, a descriptor with one FLAT or VMFS extent (parentCID = BASE's CID,
parentFileNameHint = BASE's name): what was never written reads as BASE's bytes.
--expect writes what the disk reads as (qemu-img convert -O raw must give the same
bytes), as a sparse file.  --manifest writes the grains as runs in JSON, a list of
{"start", "length", "kind"} in bytes, kind one of:
    data         grain stored with random bytes
    data-zeros   grain stored, all zeros (the guest wrote zeros; COWD has no other way)
    zero         seSparse "zero" grain (no storage, reads as zeros)
    unmapped     seSparse "unmapped" grain (the guest discarded it: reads as zeros, the
                 parent is not consulted)
    unallocated  never written in this delta (zeros, or the parent's bytes)
The disk is cut into runs of 1 to 300 grains (at most a twelfth of the disk) of one kind;
the runs are written in a random order, so the grains of one run are contiguous in the
file and runs are not in disk order; with three tables or more, some tables between the
first and the last stay empty.  Same arguments, same bytes.  Only the
standard library is used.

COWD ("ESX Server Sparse Extent", VMware Virtual Disk Format 1.1).  Little-endian u32;
offsets and sizes count 512-byte sectors.
  sector 0..3   header, 2048 bytes:
                   0 magic "COWD"             24 numGDEntries: ceil(grains / 4096)
                   4 version = 1              28 freeSector: first sector not yet used
                   8 flags = 3                32 cylinders, heads, sectors (a root disk;
                  12 numSectors (capacity)       a child's parentFileName is left empty,
                  16 grainSize (sectors)         as ESXi leaves it)
                  20 gdOffset = 4          1060 generation, name[60], description[512],
                                                savedGeneration, reserved[8],
                                           1648 uncleanShutdown = 0, padding to 2048
  sector 4..    the grain directory (GD): numGDEntries u32, the sector of each grain
                table (GT), 0 for a table never needed; padded to a sector
  then          GTs and grains interleaved, allocated from freeSector in the order the
                runs are written, as ESXi does: a GT (4096 u32 entries, 32 sectors)
                when its first grain is written, then the grain.  An entry is the
                grain's sector, 0 when the grain was never written.

seSparse (ESXi 6.5+, undocumented by VMware; laid out as qemu's block/vmdk.c reads it and
as ESXi's hostd logs it).  Little-endian u64; offsets and sizes count sectors.
  sector 0      constant header: magic 0xcafebabe, version 0x200000001, capacity,
                grainSize = 8, grainTableSize = 64, flags = 0, 4 reserved = 0, then
                (offset, size) of: volatile header, journal header, journal, grain
                directory, grain tables, free bitmap, backmap, grains; zero padding
  sector 1      volatile header: magic 0xcafecafe, free GT number (tables in use),
                next transaction = 0, replayJournal = 0, zero padding
  sector 2..3   journal header (zeros); then each area starts on a 1 MiB boundary and
                its size is rounded up to 1 MiB, as ESXi does: journal (1 MiB of
                zeros), GD (one u64 per 16 MiB of capacity), the GT area (room for every
                table the capacity needs, 32 KiB each), free bitmap and backmap (left
                zero: only a writer needs them, and their layout is not public), and
                the grains area, as large as the capacity, that the file grows into.
  GD entry      0 (no table) or 0x10000000_00000000 | n: table n of the GT area,
                numbered in the order tables were first needed
  GT entry      top nibble: 0 never written (entry 0), 1 unmapped, 2 zero, 3 allocated
                with the grain's slot s in the grains area split as (s & 0xfff) << 48 |
                s >> 12; the grain is at sector grainsOffset + 8 s.  Slots are given in
                write order with random gaps between runs, so slots past 4096 (which use
                the high bits) appear from a few MiB of capacity on.  Some zero and
                unmapped entries carry stray low bits, which readers (qemu) ignore.
  The last grain of a capacity that is not a multiple of 8 sectors is stored short.
"""

import argparse
import json
import os
import random
import re
import struct
import sys
import zlib

S = 512
MIB = 1 << 20
COWD_GT_ENTRIES = 4096
SES_GT_ENTRIES = 4096
SES_GRAIN = 8
SES_GDE_TABLE = 0x1000000000000000


def round_up(v, a):
    return (v + a - 1) // a * a


def plan(rng, n_grains, fmt, tbl_entries):
    """Runs of (first grain, count, kind) covering the disk, with whole empty tables."""
    kinds = ["data", "data", "data", "data-zeros", "unallocated", "unallocated"]
    if fmt == "sesparse":
        kinds += ["zero", "zero", "unmapped"]
    n_tbls = (n_grains + tbl_entries - 1) // tbl_entries
    empty = set()
    if n_tbls > 2:
        empty = set(rng.sample(range(1, n_tbls - 1), max(1, n_tbls // 4)))
    runs, g, longest = [], 0, max(1, min(300, n_grains // 12))
    while g < n_grains:
        t = g // tbl_entries
        if t in empty:
            n = min(n_grains, (t + 1) * tbl_entries) - g
            runs.append((g, n, "unallocated"))
        else:
            n = min(rng.randint(1, longest), n_grains - g, (t + 1) * tbl_entries - g)
            runs.append((g, n, rng.choice(kinds)))
        g += n
    # Data at both ends of the disk, whatever the dice said.
    for i in (0, len(runs) - 1):
        g, n, _ = runs[i]
        runs[i] = (g, n, "data")
    return runs


def grain_bytes(rng, kind, n):
    return rng.randbytes(n) if kind == "data" else bytes(n)


def read_parent(path):
    """CID and raw bytes of a descriptor with one FLAT or VMFS extent."""
    text = open(path, encoding="utf-8", errors="replace").read()
    cid = re.search(r"^CID=([0-9a-fA-F]{8})\s*$", text, re.M)
    ext = re.findall(r'^\s*RW\s+(\d+)\s+(FLAT|VMFS)\s+"([^"]+)"(?:\s+(\d+))?\s*$', text, re.M)
    if not cid or len(ext) != 1:
        sys.exit("esx-sparse.py: %s: want a CID and one FLAT or VMFS extent" % path)
    sectors, _, name, off = ext[0]
    with open(os.path.join(os.path.dirname(path), name), "rb") as f:
        f.seek(int(off or 0) * S)
        data = f.read(int(sectors) * S)
    return int(cid.group(1), 16), data


def write_cowd(path, rng, capacity, grain, runs, contents):
    """contents[g] is the bytes of stored grain g; runs are written in a random order."""
    n_grains = (capacity + grain - 1) // grain
    gd_entries = (n_grains + COWD_GT_ENTRIES - 1) // COWD_GT_ENTRIES
    gd_sector = 4
    free = gd_sector + (gd_entries * 4 + S - 1) // S
    gd = [0] * gd_entries
    gts = {}
    order = list(range(len(runs)))
    rng.shuffle(order)
    with open(path, "wb") as f:
        for i in order:
            g0, n, kind = runs[i]
            if kind not in ("data", "data-zeros"):
                continue
            for g in range(g0, g0 + n):
                t = g // COWD_GT_ENTRIES
                if not gd[t]:
                    gd[t] = free
                    gts[t] = [0] * COWD_GT_ENTRIES
                    free += COWD_GT_ENTRIES * 4 // S
                gts[t][g % COWD_GT_ENTRIES] = free
                f.seek(free * S)
                f.write(contents[g])
                free += grain
        for t, e in gts.items():
            f.seek(gd[t] * S)
            f.write(struct.pack("<%dI" % COWD_GT_ENTRIES, *e))
        f.seek(gd_sector * S)
        f.write(struct.pack("<%dI" % gd_entries, *gd))
        h = struct.pack("<4sIIIIIII", b"COWD", 1, 3, capacity, grain, gd_sector, gd_entries,
                        free)
        h += struct.pack("<III", min(capacity // (255 * 63), 65535), 255, 63)
        h = h.ljust(1060, b"\0") + struct.pack("<I", 1)
        f.seek(0)
        f.write(h.ljust(2048, b"\0"))
        f.truncate(max(free * S, 2048))


def area(nbytes):
    """Sectors of an seSparse area: rounded up to 1 MiB, at least 1 MiB, as ESXi does."""
    return max(MIB, round_up(nbytes, MIB)) // S


def write_sesparse(path, rng, capacity, runs, contents, tail_bytes):
    n_grains = (capacity + SES_GRAIN - 1) // SES_GRAIN
    n_tbls = (n_grains + SES_GT_ENTRIES - 1) // SES_GT_ENTRIES
    layout = []  # (offset, size) in sectors
    layout.append((1, 1))  # volatile header
    layout.append((2, 2))  # journal header
    pos = MIB // S
    for size in (area(0), area(n_tbls * 8), area(n_tbls * SES_GT_ENTRIES * 8),
                 area(n_grains // 8), area(n_grains * 8)):
        layout.append((pos, size))  # journal, GD, GTs, free bitmap, backmap
        pos += size
    grains_off = pos
    layout.append((grains_off, n_grains * SES_GRAIN))
    gd_off, gts_off = layout[3][0], layout[4][0]

    gd = [0] * n_tbls
    gts = {}
    # Grains still to place: a gap may only use slots they do not need.
    left = sum(n for _, n, kind in runs if kind in ("data", "data-zeros"))
    slot, end = 0, 0
    order = list(range(len(runs)))
    rng.shuffle(order)
    with open(path, "wb") as f:
        for i in order:
            g0, n, kind = runs[i]
            if kind == "unallocated":
                continue
            if kind in ("data", "data-zeros"):
                gap = rng.randint(0, 40)
                if slot + gap + left <= n_grains:
                    slot += gap
                left -= n
            for g in range(g0, g0 + n):
                t = g // SES_GT_ENTRIES
                if not gd[t]:
                    gd[t] = SES_GDE_TABLE | len(gts)
                    gts[t] = [0] * SES_GT_ENTRIES
                if kind in ("zero", "unmapped"):
                    e = (2 if kind == "zero" else 1) << 60
                    if rng.randrange(8) == 0:
                        e |= rng.getrandbits(48)
                else:
                    e = 3 << 60 | (slot & 0xFFF) << 48 | slot >> 12
                    data = contents[g]
                    if g == n_grains - 1:
                        data = data[:tail_bytes]
                    f.seek((grains_off + slot * SES_GRAIN) * S)
                    f.write(data)
                    end = max(end, (grains_off + slot * SES_GRAIN) * S + len(data))
                    slot += 1
                gts[t][g % SES_GT_ENTRIES] = e
        for t, e in gts.items():
            f.seek((gts_off + (gd[t] & 0xFFFFFFFF) * 64) * S)
            f.write(struct.pack("<%dQ" % SES_GT_ENTRIES, *e))
        f.seek(gd_off * S)
        f.write(struct.pack("<%dQ" % n_tbls, *gd))
        h = struct.pack("<10Q", 0xCAFEBABE, 0x200000001, capacity, SES_GRAIN, 64, 0, 0, 0, 0, 0)
        for off, size in layout:
            h += struct.pack("<QQ", off, size)
        f.seek(0)
        f.write(h.ljust(S, b"\0"))
        f.write(struct.pack("<4Q", 0xCAFECAFE, len(gts), 0, 0).ljust(S, b"\0"))
        # The areas before the grains are preallocated: the file is at least that long.
        f.truncate(max(end, grains_off * S))


def descriptor(fmt, capacity, cid, parent_cid, parent_hint, extent):
    lines = ["# Disk DescriptorFile", "version=1", 'encoding="UTF-8"', "CID=%08x" % cid,
             "parentCID=%08x" % parent_cid, 'isNativeSnapshot="no"',
             'createType="%s"' % ("vmfsSparse" if fmt == "cowd" else "seSparse")]
    if parent_hint:
        lines.append('parentFileNameHint="%s"' % parent_hint)
    lines += ["", "# Extent description",
              'RW %d %s "%s"' % (capacity, "VMFSSPARSE" if fmt == "cowd" else "SESPARSE",
                                 extent),
              "", "# The Disk Data Base", "#DDB", "",
              'ddb.longContentID = "%s"' % ("%08x" % cid * 4)]
    if fmt == "sesparse":
        lines.append('ddb.grain = "8"')
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--format", choices=("cowd", "sesparse"), required=True)
    ap.add_argument("--size", type=int, required=True, help="disk size in bytes")
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--grain-sectors", type=int, default=1, help="COWD grain (default 1)")
    ap.add_argument("--parent", help="BASE.vmdk: a FLAT/VMFS descriptor to sit on")
    ap.add_argument("--expect", help="write the raw image the disk reads as")
    ap.add_argument("--manifest", help="write the grains' runs as JSON")
    ap.add_argument("out")
    a = ap.parse_args()
    if a.size <= 0 or a.size % S:
        sys.exit("esx-sparse.py: --size must be a positive multiple of 512")
    grain = a.grain_sectors if a.format == "cowd" else SES_GRAIN
    if grain < 1 or grain & (grain - 1):
        sys.exit("esx-sparse.py: --grain-sectors must be a power of two")
    capacity = a.size // S
    gb = grain * S
    n_grains = (capacity + grain - 1) // grain
    tail = a.size - (n_grains - 1) * gb

    rng = random.Random(a.seed)
    runs = plan(rng, n_grains, a.format, COWD_GT_ENTRIES if a.format == "cowd"
                else SES_GT_ENTRIES)
    contents = {}
    for g0, n, kind in runs:
        if kind in ("data", "data-zeros"):
            for g in range(g0, g0 + n):
                contents[g] = grain_bytes(rng, kind, gb)

    parent_cid, parent_hint, parent = 0xFFFFFFFF, None, None
    if a.parent:
        parent_cid, parent = read_parent(a.parent)
        if len(parent) != a.size:
            sys.exit("esx-sparse.py: %s is %d bytes, not %d" % (a.parent, len(parent), a.size))
        parent_hint = os.path.relpath(a.parent, os.path.dirname(os.path.abspath(a.out)))
    cid = zlib.crc32(b"%s:%d:%d" % (a.format.encode(), a.size, a.seed)) & 0x7FFFFFFF

    base = a.out[:-5] if a.out.endswith(".vmdk") else a.out
    data_path = base + ("-delta.vmdk" if a.format == "cowd" else "-sesparse.vmdk")
    if a.format == "cowd":
        write_cowd(data_path, rng, capacity, grain, runs, contents)
    else:
        write_sesparse(data_path, rng, capacity, runs, contents, tail)
    with open(a.out, "w") as f:
        f.write(descriptor(a.format, capacity, cid, parent_cid, parent_hint,
                           os.path.basename(data_path)))

    if a.expect:
        with open(a.expect, "wb") as f:
            f.truncate(a.size)
            for g0, n, kind in runs:
                start, length = g0 * gb, min(n * gb, a.size - g0 * gb)
                if kind == "data":
                    f.seek(start)
                    f.write(b"".join(contents[g] for g in range(g0, g0 + n))[:length])
                elif kind == "unallocated" and parent is not None:
                    chunk = parent[start:start + length]
                    if chunk.count(0) != len(chunk):
                        f.seek(start)
                        f.write(chunk)
    if a.manifest:
        out = []
        for g0, n, kind in runs:
            start, length = g0 * gb, min(n * gb, a.size - g0 * gb)
            if out and out[-1]["kind"] == kind:
                out[-1]["length"] += length
            else:
                out.append({"start": start, "length": length, "kind": kind})
        with open(a.manifest, "w") as f:
            json.dump(out, f, indent=0)


if __name__ == "__main__":
    main()
