#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Make the seed corpora of the fuzz harnesses, one directory per harness.

    make-seeds.py [--corpus DIR] OUT

OUT/NAME/ gets the inputs harness NAME starts from (tools/fuzz) and that test-fuzz-replay
runs in tools/test.  Nothing here is committed; everything comes from the test fixtures:

  vmdk-sparse, vmdk-stream   small VMDKs made by qemu-img (monolithicSparse with and
                             without zeroed grains, streamOptimized, a twoGbMaxExtentSparse
                             extent), by tests/gen/vmware-stream.py (VMware's layout:
                             tables and footer after the grains, no footer, no tables), and
                             tiny images laid out here with 1 to 8 sector grains and 4 to
                             16 entry tables, so that a mutation is likely to hit a field;
                             the shared corpus' .vmdk files
  vmdk-desc                  the text descriptors qemu-img writes, the embedded ones, and
                             a few of every extent type
  cowd, sesparse             ESXi deltas laid out here, packed tight (no 1 MiB areas):
                             several grain sizes, two tables, an empty table, a short
                             last grain, a dirty journal; COWD from tests/gen/esx-sparse.py
  vmx, domain                tests/data/vmx and the shared corpus' .vmx files
  ovf                        tests/data/ovf and the shared corpus' .ovf files
  manifest                   tests/data/manifest, the corpus' .mf files, and one per
                             algorithm and spelling
  tar                        ustar, pax and GNU archives with long names and directories,
                             an .ova, and the corpus' small .ova files
  gzip                       one and several members, empty, zeros (many checkpoints),
                             random bytes (stored blocks), header fields
  qcow2                      allocation maps in fuzz-qcow2.c's record format

The shared corpus is --corpus, else $VMFS_CORPUS, else ../shared/corpus beside the
repository; without it those seeds are left out.  Files over 256 KiB are left out (no
harness takes inputs that large).  The output is deterministic.
"""

import argparse
import gzip
import hashlib
import io
import os
import random
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile
import zlib

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SECTOR = 512
MAX_SEED = 256 * 1024
HARNESSES = ["vmdk-sparse", "vmdk-stream", "vmdk-desc", "cowd", "sesparse", "vmx", "domain",
             "ovf", "manifest", "tar", "gzip", "qcow2"]


class Out:
    def __init__(self, root):
        self.root = root
        self.seen = set()
        for h in HARNESSES:
            os.makedirs(os.path.join(root, h), exist_ok=True)

    def put(self, harness, name, data):
        """Write a seed, unless it is too big or the harness has it already (the tests'
        data and the corpus share files)."""
        key = (harness, hashlib.sha256(data).digest())
        if len(data) > MAX_SEED or key in self.seen:
            return
        self.seen.add(key)
        with open(os.path.join(self.root, harness, name), "wb") as f:
            f.write(data)

    def copy(self, harness, path, prefix):
        if os.path.getsize(path) <= MAX_SEED:
            with open(path, "rb") as f:
                self.put(harness, prefix + "-" + os.path.basename(path), f.read())


def files_under(top, suffixes):
    out = []
    for d, dirs, names in os.walk(top):
        dirs.sort()
        for n in sorted(names):
            if n.lower().endswith(suffixes) and not n.startswith("."):
                out.append(os.path.join(d, n))
    return out


# ---- tiny KDMV images: the layouts of vmdk-sparse.c's notes, at toy sizes ----

def kdmv_header(cap, grain, ngte, flags, gd, rgd, overhead, desc=(0, 0), compress=0,
                version=1):
    h = struct.pack("<4sIIQQQQIQQQB4sH", b"KDMV", version, flags, cap, grain, desc[0],
                    desc[1], ngte, rgd, gd, overhead, 0, b"\n \r\n", compress)
    return h.ljust(SECTOR, b"\0")


def grain_bytes(g, grain):
    return bytes(((g * 7 + i) * 13 + 1) & 0xFF for i in range(grain * SECTOR))


def tiny_sparse(cap=64, grain=4, ngte=8, zeroed=False, rgd=True, desc=None):
    """monolithicSparse: header, descriptor, redundant GD+GTs, GD+GTs, grains."""
    ng = -(-cap // grain)
    nt = -(-ng // ngte)
    gd_sec = -(-nt * 4 // SECTOR)
    gt_sec = -(-ngte * 4 // SECTOR)
    desc_sec = -(-len(desc) // SECTOR) if desc else 0
    pos = 1 + desc_sec
    rgd_at = pos if rgd else 0
    if rgd:
        pos += gd_sec + nt * gt_sec
    gd_at = pos
    pos += gd_sec + nt * gt_sec
    overhead = pos
    gte = [0] * (nt * ngte)
    grains = b""
    for g in range(ng):
        if g % 3 == 1:
            continue
        if zeroed and g % 5 == 2:
            gte[g] = 1
            continue
        gte[g] = overhead + len(grains) // SECTOR
        grains += grain_bytes(g, grain)
    flags = 1 | (2 if rgd else 0) | (4 if zeroed else 0)
    img = bytearray(kdmv_header(cap, grain, ngte, flags, gd_at, rgd_at, overhead,
                                (1, desc_sec) if desc else (0, 0), version=2 if zeroed else 1))
    if desc:
        img += desc.ljust(desc_sec * SECTOR, b"\0")

    def tables(at):
        out = b""
        for t in range(nt):
            out += struct.pack("<I", at + gd_sec + t * gt_sec)
        out = out.ljust(gd_sec * SECTOR, b"\0")
        for t in range(nt):
            out += struct.pack("<%dI" % ngte, *gte[t * ngte:(t + 1) * ngte]).ljust(
                gt_sec * SECTOR, b"\0")
        return out
    if rgd:
        img += tables(rgd_at)
    img += tables(gd_at)
    assert len(img) == overhead * SECTOR
    return bytes(img + grains)


def marker(lba, data):
    return (struct.pack("<QI", lba, len(data)) + data).ljust(
        -(-(12 + len(data)) // SECTOR) * SECTOR, b"\0")


def meta(nsec, mtype):
    return struct.pack("<QII", nsec, 0, mtype).ljust(SECTOR, b"\0")


def tiny_stream(cap=64, grain=4, ngte=8, layout="vmware", short_last=False):
    """streamOptimized: "qemu" (tables up front), "vmware" (tables, GD, footer after the
    grains), "nofooter", "notables" (grains and EOS only)."""
    ng = -(-cap // grain)
    nt = -(-ng // ngte)
    flags = 1 | (1 << 16) | (1 << 17)
    gd_sec = -(-nt * 4 // SECTOR)
    gt_sec = -(-ngte * 4 // SECTOR)
    overhead = 1 + (gd_sec + nt * gt_sec if layout == "qemu" else 0)
    body, gte = b"", [0] * (nt * ngte)
    for g in range(ng):
        if g % 3 == 1:
            continue
        n = grain * SECTOR
        if short_last and g == ng - 1 and cap % grain:
            n = (cap % grain) * SECTOR
        gte[g] = overhead + len(body) // SECTOR
        body += marker(g * grain, zlib.compress(grain_bytes(g, grain)[:n]))
    if layout == "qemu":
        tbl = b"".join(struct.pack("<I", 1 + gd_sec + t * gt_sec) for t in range(nt))
        tbl = tbl.ljust(gd_sec * SECTOR, b"\0")
        for t in range(nt):
            tbl += struct.pack("<%dI" % ngte, *gte[t * ngte:(t + 1) * ngte]).ljust(
                gt_sec * SECTOR, b"\0")
        head = kdmv_header(cap, grain, ngte, flags, 1, 0, overhead, compress=1, version=3)
        return head + tbl + body + meta(0, 0)
    head = kdmv_header(cap, grain, ngte, flags, 0xFFFFFFFFFFFFFFFF, 0, overhead, compress=1,
                       version=3)
    img = head + body
    if layout == "notables":
        return img + meta(0, 0)
    gd = []
    for t in range(nt):
        entries = gte[t * ngte:(t + 1) * ngte]
        if not any(entries):
            gd.append(0)
            continue
        img += meta(gt_sec, 1)
        gd.append(len(img) // SECTOR)
        img += struct.pack("<%dI" % ngte, *entries).ljust(gt_sec * SECTOR, b"\0")
    img += meta(gd_sec, 2)
    gd_at = len(img) // SECTOR
    img += struct.pack("<%dI" % nt, *gd).ljust(gd_sec * SECTOR, b"\0")
    if layout == "vmware":
        img += meta(1, 3)
        img += kdmv_header(cap, grain, ngte, flags, gd_at, 0, overhead, compress=1,
                           version=3)
    return img + meta(0, 0)


def embedded_desc(cap, ctype, name="tiny.vmdk"):
    return ("# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=ffffffff\n"
            f'createType="{ctype}"\n\n# Extent description\nRW {cap} SPARSE "{name}"\n\n'
            '#DDB\nddb.adapterType = "lsilogic"\nddb.geometry.heads = "16"\n').encode()


def vmdk_seeds(out, tmp, corpus):
    for name, img in [
            ("tiny-sparse", tiny_sparse()),
            ("tiny-sparse-zeroed", tiny_sparse(zeroed=True)),
            ("tiny-sparse-norgd", tiny_sparse(rgd=False, grain=1, ngte=16, cap=40)),
            ("tiny-sparse-desc", tiny_sparse(desc=embedded_desc(64, "monolithicSparse"))),
            ("tiny-sparse-2tables", tiny_sparse(cap=100, grain=2, ngte=4)),
    ]:
        out.put("vmdk-sparse", name, img)
    for layout in ["qemu", "vmware", "nofooter", "notables"]:
        img = tiny_stream(layout=layout)
        out.put("vmdk-sparse", "tiny-stream-" + layout, img)
        out.put("vmdk-stream", "tiny-stream-" + layout, img)
    img = tiny_stream(cap=61, grain=8, ngte=4, layout="notables", short_last=True)
    out.put("vmdk-stream", "tiny-stream-short-last", img)
    out.put("vmdk-sparse", "tiny-stream-short-last", img)

    raw = os.path.join(tmp, "small.raw")
    with open(raw, "wb") as f:
        f.truncate(1024 * 1024)
        f.seek(0)
        f.write(bytes((i * 7 + 3) & 0xFF for i in range(4096)))
        f.seek(8192)
        f.write(b"\xab" * 1000)
    qemu = [("monolithicSparse", []), ("monolithicSparse", ["-o", "zeroed_grain=on"]),
            ("streamOptimized", []), ("twoGbMaxExtentSparse", []), ("monolithicFlat", []),
            ("twoGbMaxExtentFlat", [])]
    for i, (sub, extra) in enumerate(qemu):
        d = os.path.join(tmp, "q%d" % i)
        os.mkdir(d)
        vmdk = os.path.join(d, "q.vmdk")
        subprocess.run(["qemu-img", "convert", "-q", "-f", "raw", "-O", "vmdk", "-o",
                        "subformat=" + sub] + extra + [raw, vmdk], check=True)
        tag = "qemu-%s%s" % (sub, "-zeroed" if extra else "")
        with open(vmdk, "rb") as f:
            data = f.read()
        if data[:4] == b"KDMV":
            out.put("vmdk-sparse", tag, data)
            if sub == "streamOptimized":
                out.put("vmdk-stream", tag, data)
        else:
            out.put("vmdk-desc", tag, data.rstrip(b"\0"))
        for extent in sorted(os.listdir(d)):
            p = os.path.join(d, extent)
            if extent != "q.vmdk" and "-s0" in extent:
                with open(p, "rb") as f:
                    out.put("vmdk-sparse", tag + "-extent", f.read())
    vmw = os.path.join(ROOT, "tests", "gen", "vmware-stream.py")
    for opts in [[], ["--no-footer"], ["--no-tables"], ["--zero-grains-as-data"]]:
        o = os.path.join(tmp, "vmw.vmdk")
        subprocess.run([sys.executable, vmw, "--grain-sectors", "8"] + opts + [raw, o],
                       check=True)
        with open(o, "rb") as f:
            data = f.read()
        tag = "vmware-stream" + "".join(opts).replace("--", "-")
        out.put("vmdk-sparse", tag, data)
        out.put("vmdk-stream", tag, data)
    if corpus:
        for p in files_under(corpus, (".vmdk",)):
            with open(p, "rb") as f:
                head = f.read(4)
            if head == b"KDMV":
                out.copy("vmdk-sparse", p, "corpus")
                out.copy("vmdk-stream", p, "corpus")
            else:
                out.copy("vmdk-desc", p, "corpus")

    # Embedded descriptors, and descriptors of every extent type and shape.
    for name in sorted(os.listdir(os.path.join(out.root, "vmdk-sparse"))):
        with open(os.path.join(out.root, "vmdk-sparse", name), "rb") as f:
            data = f.read()
        off, n = struct.unpack_from("<QQ", data, 28) if len(data) >= 44 else (0, 0)
        if off and n and (off + n) * SECTOR <= len(data):
            text = data[off * SECTOR:(off + n) * SECTOR].split(b"\0")[0]
            if text:
                out.put("vmdk-desc", "embedded-" + name, text)
    head = ("# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\n"
            'createType="%s"\n\n# Extent description\n')
    ddb = ('\n# The Disk Data Base\n#DDB\n\nddb.virtualHWVersion = "4"\n'
           'ddb.geometry.cylinders = "2"\nddb.geometry.heads = "16"\n'
           'ddb.geometry.sectors = "63"\nddb.adapterType = "ide"\n'
           'ddb.uuid = "60 00 C2 9b 69 2f c9 76-74 c4 07 9e 10 87 3b f9"\n')
    descs = {
        "custom": 'RW 100 FLAT "a-flat.vmdk" 0\nRW 28 ZERO\nRDONLY 2048 SPARSE "b.vmdk"\n'
                  'RW 50 FLAT "sub/c d.vmdk" 17\nNOACCESS 8 FLAT "n.vmdk"\n',
        "vmfs": 'RW 2048 VMFS "guest-flat.vmdk"\n',
        "vmfsSparse": 'RW 2048 VMFSSPARSE "guest-delta.vmdk"\n',
        "seSparse": 'RW 2048 SESPARSE "guest-sesparse.vmdk"\n',
        "vmfsRawDeviceMap": 'RW 2048 VMFSRDM "guest-rdm.vmdk"\n',
        "twoGbMaxExtentSparse": 'RW 2048 SPARSE "g-s001.vmdk"\nRW 2048 SPARSE "g-s002.vmdk"\n',
        "monolithicFlat": "RW 2048 FLAT bare-name.vmdk 0\r\n",
    }
    for ctype, extents in descs.items():
        out.put("vmdk-desc", "hand-" + ctype, ((head % ctype) + extents + ddb).encode())
    child = (head % "monolithicSparse").replace("parentCID=ffffffff", "parentCID=fffffffe")
    child += 'parentFileNameHint="base.vmdk"\nRW 2048 SPARSE "child.vmdk"\n' + ddb
    out.put("vmdk-desc", "hand-child", child.encode())


# ---- texts ----

def text_seeds(out, tmp, corpus):
    data = os.path.join(ROOT, "tests", "data")
    for p in files_under(os.path.join(data, "vmx"), (".vmx",)):
        out.copy("vmx", p, "data")
        out.copy("domain", p, "data")
    for p in files_under(os.path.join(data, "ovf"), (".ovf",)):
        out.copy("ovf", p, "data")
    for p in files_under(os.path.join(data, "manifest"), (".mf",)):
        out.copy("manifest", p, "data")
    if corpus:
        for p in files_under(corpus, (".vmx",)):
            out.copy("vmx", p, "corpus")
            out.copy("domain", p, "corpus")
        for p in files_under(corpus, (".ovf",)):
            out.copy("ovf", p, "corpus")
        for p in files_under(corpus, (".mf",)):
            out.copy("manifest", p, "corpus")
    lines = []
    for algo, n in [("SHA1", 20), ("SHA256", 32), ("SHA512", 64)]:
        digest = bytes(range(n)).hex()
        lines.append("%s(disk%d.vmdk)= %s\n" % (algo, n, digest))
        lines.append("%s (spaced name (1).ovf) = %s\r\n" % (algo, digest.upper()))
    out.put("manifest", "hand-all-algos", "".join(lines).encode())
    out.put("manifest", "hand-bom", b"\xef\xbb\xbf" + lines[0].encode() + b"\n")


# ---- archives and streams ----

def tar_bytes(fmt, members):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w", format=fmt) as t:
        for name, data in members:
            ti = tarfile.TarInfo(name)
            ti.mtime = 1700000000
            if data is None:
                ti.type = tarfile.DIRTYPE
                t.addfile(ti)
            else:
                ti.size = len(data)
                t.addfile(ti, io.BytesIO(data))
    return b.getvalue()


def archive_seeds(out, tmp, corpus):
    members = [("guest.ovf", b"<Envelope/>\n" * 20), ("dir", None),
               ("dir/disk1.vmdk", b"KDMV" + b"\0" * 1500), ("guest.mf", b"SHA1(x)= 00\n"),
               ("empty", b"")]
    long_name = "d" * 60 + "/" + "n" * 120 + ".vmdk"
    for fmt, tag in [(tarfile.USTAR_FORMAT, "ustar"), (tarfile.PAX_FORMAT, "pax"),
                     (tarfile.GNU_FORMAT, "gnu")]:
        out.put("tar", tag, tar_bytes(fmt, members))
        if fmt != tarfile.USTAR_FORMAT:
            out.put("tar", tag + "-long", tar_bytes(fmt, members[:1] + [(long_name, b"x" * 700)]))
    out.put("tar", "one-member", tar_bytes(tarfile.PAX_FORMAT, [("./a.ovf", b"y" * 513)]))
    if corpus:
        for p in files_under(corpus, (".ova", ".tar")):
            out.copy("tar", p, "corpus")

    rnd = random.Random(1)
    random_bytes = bytes(rnd.getrandbits(8) for _ in range(12000))
    text = b"".join(b"line %d of a text that compresses\n" % i for i in range(3000))
    streams = {
        "empty": gzip.compress(b"", mtime=0),
        "text-9": gzip.compress(text, 9, mtime=0),
        "text-1": gzip.compress(text, 1, mtime=0),
        "zeros-1m": gzip.compress(b"\0" * (1 << 20), 9, mtime=0),
        "random": gzip.compress(random_bytes, 6, mtime=0),
        "members": gzip.compress(text[:5000], mtime=0) + gzip.compress(b"", mtime=0) +
                   gzip.compress(random_bytes[:3000], mtime=0),
    }
    for name, data in streams.items():
        out.put("gzip", name, data)
    # FNAME, FCOMMENT, FEXTRA and FHCRC in the header
    body = zlib.compressobj(6, zlib.DEFLATED, -15)
    deflated = body.compress(text[:20000]) + body.flush()
    hdr = b"\x1f\x8b\x08\x1e\0\0\0\0\0\x03" + struct.pack("<H", 4) + b"ab\x01\x00" + \
        b"name.txt\0" + b"a comment\0"
    hdr += struct.pack("<H", zlib.crc32(hdr) & 0xFFFF)
    out.put("gzip", "header-fields", hdr + deflated +
            struct.pack("<II", zlib.crc32(text[:20000]), 20000))


# ---- ESXi deltas (fuzz-cowd.c, fuzz-sesparse.c): small files built here ----
# Layouts as tests/gen/esx-sparse.py documents them; these are packed tight (no 1 MiB
# areas) so that an input stays small enough to fuzz.

def tiny_cowd(cap=64, grain=1, writes=((0, 1), (5, 2), (40, 1)), gd_entries=None, gt_at=None):
    """A COWD of cap sectors; writes: (first grain, grains) runs, stored in that order."""
    n_grains = (cap + grain - 1) // grain
    n_gd = gd_entries or (n_grains + 4095) // 4096
    gd_sectors = (n_gd * 4 + SECTOR - 1) // SECTOR
    free = 4 + gd_sectors
    gd = [0] * n_gd
    body = {}
    gts = {}
    for first, n in writes:
        for g in range(first, min(first + n, n_grains)):
            t = g // 4096
            if t not in gts:
                gts[t] = free if gt_at is None else gt_at
                gd[t] = gts[t]
                free += 32
                body[gts[t]] = [0] * 4096
            body[gts[t]][g % 4096] = free
            body[free] = bytes(((g * 37 + i) & 0xFF) | 1 for i in range(grain * SECTOR))
            free += grain
    img = bytearray(free * SECTOR)
    hdr = struct.pack("<4sIIIIIII", b"COWD", 1, 3, cap, grain, 4, n_gd, free)
    img[0:len(hdr)] = hdr
    for i, e in enumerate(gd):
        struct.pack_into("<I", img, 4 * SECTOR + 4 * i, e)
    for sec, v in body.items():
        if isinstance(v, list):
            img[sec * SECTOR:sec * SECTOR + 4 * 4096] = struct.pack("<4096I", *v)
        else:
            img[sec * SECTOR:sec * SECTOR + len(v)] = v
    return bytes(img)


def tiny_sesparse(cap=64, entries=((0, 3), (1, 0), (2, 2), (3, 1), (7, 3)), n_tables=None,
                  replay=0, short_last=False):
    """A seSparse of cap sectors (grains of 8); entries: (grain, state), state 3 stores a
    grain, 1 unmapped, 2 zero; grain g uses table g // 4096."""
    n_grains = (cap + 7) // 8
    n_gd = (n_grains + 4095) // 4096
    tables = sorted({g // 4096 for g, _ in entries})
    n_tbl = n_tables or len(tables)
    vol, gd_off = 1, 4
    gts_off = gd_off + (n_gd * 8 + SECTOR - 1) // SECTOR
    grains_off = gts_off + 64 * n_tbl
    slots = [g for g, st in entries if st == 3]
    img = bytearray((grains_off + 8 * len(slots)) * SECTOR)
    hdr = struct.pack("<QQQQQQ4Q", 0xCAFEBABE, 0x200000001, cap, 8, 64, 0, 0, 0, 0, 0)
    areas = [(vol, 1), (2, 1), (3, 1), (gd_off, gts_off - gd_off), (gts_off, 64 * n_tbl),
             (0, 0), (0, 0), (grains_off, 8 * n_grains)]
    hdr += b"".join(struct.pack("<QQ", o, n) for o, n in areas)
    img[0:len(hdr)] = hdr
    struct.pack_into("<QQQQ", img, vol * SECTOR, 0xCAFECAFE, n_tbl, 0, replay)
    for i, t in enumerate(tables):
        struct.pack_into("<Q", img, gd_off * SECTOR + 8 * t, 0x1000000000000000 | i)
    for g, st in entries:
        i = tables.index(g // 4096)
        at = (gts_off + 64 * i) * SECTOR + 8 * (g % 4096)
        if st == 3:
            s = slots.index(g)
            struct.pack_into("<Q", img, at, 3 << 60 | (s & 0xFFF) << 48 | s >> 12)
            data = bytes(((g * 11 + k) & 0xFF) | 1 for k in range(4096))
            off = (grains_off + 8 * s) * SECTOR
            img[off:off + 4096] = data
        else:
            struct.pack_into("<Q", img, at, st << 60)
    if short_last and slots and slots[-1] == n_grains - 1:
        del img[len(img) - 4096 + (cap % 8 or 8) * SECTOR:]
    return bytes(img)


def esx_seeds(out, tmp):
    cowd = {
        "cowd-tiny": tiny_cowd(),
        "cowd-grain8": tiny_cowd(cap=200, grain=8, writes=((0, 2), (20, 1), (24, 1))),
        "cowd-2tables": tiny_cowd(cap=8192 + 16, writes=((4095, 2), (8200, 1))),
        "cowd-empty": tiny_cowd(writes=()),
    }
    for name, img in cowd.items():
        out.put("cowd", name, img)
    ses = {
        "sesparse-tiny": tiny_sesparse(),
        "sesparse-short-last": tiny_sesparse(cap=61, entries=((0, 2), (7, 3)),
                                             short_last=True),
        "sesparse-2tables": tiny_sesparse(cap=8 * 4096 + 64, entries=((4095, 3), (4096, 3),
                                                                      (4097, 1))),
        "sesparse-empty-table": tiny_sesparse(entries=((0, 2),), n_tables=2),
        "sesparse-dirty": tiny_sesparse(replay=1),
    }
    for name, img in ses.items():
        out.put("sesparse", name, img)
    # and the generator's own output where it is small (COWD only: a seSparse from it
    # has ESXi's 1 MiB areas)
    for seed, size, gs in ((1, 65536, 1), (2, 131072, 8)):
        desc = os.path.join(tmp, "esx%d.vmdk" % seed)
        subprocess.run([sys.executable, os.path.join(ROOT, "tests", "gen", "esx-sparse.py"),
                        "--format", "cowd", "--size", str(size), "--seed", str(seed),
                        "--grain-sectors", str(gs), desc], check=True)
        with open(desc[:-5] + "-delta.vmdk", "rb") as f:
            out.put("cowd", "gen-cowd-%d" % seed, f.read())


# ---- allocation maps for fuzz-qcow2.c: (state | unit << 2 | split << 4, length - 1) ----

def qcow2_seeds(out):
    UN, DATA, ZERO = 0, 1, 2
    B, SEC, CL, L2 = 0, 1, 2, 3

    def rec(state, unit, n, split=0):
        return struct.pack("<BH", state | unit << 2 | split << 4, n - 1)
    maps = {
        "one-data-cluster": rec(DATA, CL, 1),
        "mixed": rec(DATA, SEC, 3) + rec(UN, CL, 2) + rec(ZERO, CL, 3) + rec(DATA, B, 1) +
                 rec(ZERO, SEC, 200, 1) + rec(DATA, CL, 5, 2) + rec(UN, SEC, 1),
        "sparse-l2": rec(UN, L2, 3) + rec(DATA, SEC, 1) + rec(UN, L2, 2) + rec(ZERO, CL, 1) +
                     rec(DATA, B, 100, 3),
        "partial-last": rec(DATA, CL, 3) + rec(DATA, B, 513),
        "zeros-only": rec(ZERO, CL, 20000, 1),
        "refcount-block-edge": rec(DATA, CL, 32760) + rec(UN, L2, 1) + rec(DATA, CL, 20),
        "empty": b"",
        # whole L2 tables of one kind, which the map keeps as counts, beside mixed ones
        "uniform-runs": rec(DATA, L2, 3) + rec(DATA, B, 5) + rec(ZERO, L2, 2) + rec(UN, L2, 1) +
                        rec(ZERO, SEC, 100) + rec(DATA, L2, 1, 2),
        # a run that ends 1 byte into an L2 table: the next run shares that cluster
        "unaligned-l2-edges": rec(ZERO, B, 1) + rec(DATA, L2, 2) + rec(ZERO, L2, 2) +
                              rec(DATA, B, 1) + rec(ZERO, L2, 1, 3) + rec(UN, B, 7) +
                              rec(DATA, L2, 1, 1),
    }
    for name, data in maps.items():
        out.put("qcow2", name, data)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus")
    ap.add_argument("out")
    a = ap.parse_args()
    corpus = a.corpus or os.environ.get("VMFS_CORPUS") or os.path.join(ROOT, "..", "shared",
                                                                         "corpus")
    if not os.path.isdir(corpus):
        corpus = None
    if os.path.isdir(a.out):
        shutil.rmtree(a.out)
    out = Out(a.out)
    with tempfile.TemporaryDirectory(prefix="vmfs-seeds-") as tmp:
        vmdk_seeds(out, tmp, corpus)
        text_seeds(out, tmp, corpus)
        archive_seeds(out, tmp, corpus)
        esx_seeds(out, tmp)
        qcow2_seeds(out)
    counts = {h: len(os.listdir(os.path.join(a.out, h))) for h in HARNESSES}
    print("seeds: " + ", ".join("%s %d" % (h, n) for h, n in counts.items()))


if __name__ == "__main__":
    main()
