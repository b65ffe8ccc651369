#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Damage VMDK files and exports on purpose, following a recipe (tests/bad/catalogue.tsv).

    poke.py DIR 'STEP ; STEP ; ...'

Every FILE is relative to DIR.  Numbers (OFF, VAL, SIZE, N) are Python expressions over
the fields of FILE's hosted sparse ("KDMV") header, read again before each step:

  magic version flags capacity grain desc_off desc_size ngte rgd gd overhead compress
      the header fields (capacity, grain, desc_*, rgd, gd and overhead in sectors)
  size        the file's size in bytes
  footer      byte offset of the footer header of a stream file (size - 1024) if
              there is one there, else None
  gd_entries  number of grain directory entries: ceil(capacity / (grain * ngte))
  gde(i)      grain directory entry i (a sector); gde_off(i) its byte offset in FILE
  rgde(i), rgde_off(i), rgte_off(i)  the same in the redundant copy (rgd)
  gte(i)      grain table entry i counted over all tables (a sector; 0 unallocated,
              1 zeroed); gte_off(i) its byte offset
  nth_gte(n)  the index of the n-th allocated grain (entry > 1), n from 0
  S           512
Headers are read from the start of the file, or from the footer when the header's
gdOffset is -1 (GD_AT_END, VMware's stream layout).
For any existing FILE (ESXi COWD and seSparse extents too), u32(OFF) and u64(OFF) are
the little-endian integers at byte OFF of FILE.

Steps:
  poke8|poke16|poke32|poke64 FILE OFF VAL   write VAL little-endian at OFF
  pokebytes FILE OFF HEX                    write bytes given in hex
  truncate FILE SIZE                        cut (or extend) FILE to SIZE bytes
  rm FILE
  mkfile FILE SIZE                          a new sparse file
  write FILE TEXT                           FILE := TEXT (\\n, \\t, \\", \\0 and \\xNN, a
                                            byte, are unescaped in every TEXT)
  desc FILE CREATETYPE 'EXTENT LINE' ...    FILE := a small descriptor with these extents
  desc-many FILE N 'EXTENT LINE'            a descriptor with N copies of the extent line
  sed FILE REGEX REPLACEMENT                re.sub on FILE's text (every match)
  append FILE TEXT                          add TEXT at the end of FILE
  lines FILE N FORMAT                       add FORMAT N times, with {i} = 0 .. N-1
  make-ova OUT DISK [OPTION ...]            tests/gen/make-ova.py -o OUT DISK OPTION...
                                            (a manifest only when an option asks)
  tar-sed OVA MEMBER REGEX TEXT             replace the first match of REGEX in MEMBER's
                                            text inside the tar OVA with TEXT (no
                                            back-references); the tar is written again,
                                            same member order
  tar-rename OVA MEMBER NEWNAME             rename a member
  tar-add OVA SPEC                          append a member to the tar OVA.  SPEC is
                                            NAME (a copy of DIR/NAME), NAME=FILE (DIR/
                                            FILE's bytes as NAME), NAME->TARGET (a
                                            symlink), NAME=>TARGET (a hard link) or
                                            NAME!chr (a character device)
  gzip-damage OVA MEMBER                    flip bytes in the middle of a gzip member
  gte-set FILE N VAL                        point the n-th allocated grain's table entry
                                            (both copies) at sector VAL; DIR/.eio as
                                            corrupt-grain does
  corrupt-grain FILE N MODE                 damage the n-th allocated compressed grain of a
                                            stream file: MODE zlib-header (bad CMF/FLG
                                            bytes), checksum (flip the Adler-32), middle
                                            (flip bytes in the deflate data), size-huge
                                            (marker length 0x7fffffff), truncate (marker
                                            length 8).  Writes DIR/.eio: "OFFSET LENGTH"
                                            of the guest range that must now read EIO.
"""

import io
import os
import re
import shlex
import struct
import subprocess
import sys
import tarfile

S = 512


def unescape(s):
    """\\n \\t \\" \\0, and \\xNN as that byte (surrogate-escaped past 0x7f, so text
    written with errors="surrogateescape" gets the raw byte: invalid UTF-8 on purpose)."""
    s = s.replace("\\n", "\n").replace("\\t", "\t").replace('\\"', '"').replace("\\0", "\0")
    return re.sub(r"\\x([0-9a-fA-F]{2})",
                  lambda m: chr(int(m.group(1), 16) | (0xDC00 if int(m.group(1), 16) > 0x7F
                                                       else 0)), s)


class Sparse:
    """The header and tables of a KDMV file, read lazily."""

    def __init__(self, path):
        self.path = path
        self.size = os.path.getsize(path)
        with open(path, "rb") as f:
            self.head = f.read(512)
        self.ok = len(self.head) == 512 and self.head[:4] == b"KDMV"
        self.footer = None
        if self.ok:
            self.parse(self.head)
            if self.gd == 0xFFFFFFFFFFFFFFFF and self.size >= 1536:
                with open(path, "rb") as f:
                    f.seek(self.size - 1024)
                    foot = f.read(512)
                if foot[:4] == b"KDMV":
                    self.footer = self.size - 1024
                    self.parse(foot)

    def parse(self, h):
        (self.magic, self.version, self.flags, self.capacity, self.grain, self.desc_off,
         self.desc_size, self.ngte, self.rgd, self.gd, self.overhead) = struct.unpack_from(
            "<4sIIQQQQIQQQ", h, 0)
        self.compress = struct.unpack_from("<H", h, 77)[0]

    def u32(self, off):
        with open(self.path, "rb") as f:
            f.seek(off)
            b = f.read(4)
        if len(b) != 4:
            raise ValueError("%s: no 4 bytes at %d" % (self.path, off))
        return struct.unpack("<I", b)[0]

    def gd_entries(self):
        per = self.grain * self.ngte
        return (self.capacity + per - 1) // per if per else 0

    def gde_off(self, i):
        return self.gd * S + 4 * i

    def gde(self, i):
        return self.u32(self.gde_off(i))

    def gte_off(self, i):
        return self.gde(i // self.ngte) * S + 4 * (i % self.ngte)

    def gte(self, i):
        return self.u32(self.gte_off(i))

    def rgde_off(self, i):
        return self.rgd * S + 4 * i

    def rgde(self, i):
        return self.u32(self.rgde_off(i))

    def rgte_off(self, i):
        return self.rgde(i // self.ngte) * S + 4 * (i % self.ngte)

    def nth_gte(self, n):
        seen = 0
        for t in range(self.gd_entries()):
            g = self.gde(t)
            if g == 0:
                continue
            with open(self.path, "rb") as f:
                f.seek(g * S)
                table = f.read(4 * self.ngte)
            for j, v in enumerate(struct.unpack("<%dI" % (len(table) // 4), table)):
                if v > 1:
                    if seen == n:
                        return t * self.ngte + j
                    seen += 1
        raise ValueError("%s: fewer than %d allocated grains" % (self.path, n + 1))

    def env(self):
        e = {"S": S, "size": self.size, "footer": self.footer}
        if self.ok:
            for k in ("magic", "version", "flags", "capacity", "grain", "desc_off",
                      "desc_size", "ngte", "rgd", "gd", "overhead", "compress"):
                e[k] = getattr(self, k)
            e.update(gd_entries=self.gd_entries(), gde=self.gde, gde_off=self.gde_off,
                     gte=self.gte, gte_off=self.gte_off, nth_gte=self.nth_gte,
                     rgde=self.rgde, rgde_off=self.rgde_off, rgte_off=self.rgte_off)
        return e


def read_le(path, off, n):
    with open(path, "rb") as f:
        f.seek(off)
        b = f.read(n)
    if len(b) != n:
        raise ValueError("%s: no %d bytes at %d" % (path, n, off))
    return int.from_bytes(b, "little")


def num(expr, path):
    env = Sparse(path).env() if os.path.exists(path) else {"S": S}
    if os.path.exists(path):
        env.update(u32=lambda off: read_le(path, off, 4), u64=lambda off: read_le(path, off, 8))
    try:
        v = eval(expr, {"__builtins__": {"min": min, "max": max}}, env)  # our own recipes
    except Exception as ex:
        sys.exit("poke.py: cannot evaluate %r for %s: %s" % (expr, path, ex))
    if not isinstance(v, int):
        sys.exit("poke.py: %r is not a number" % expr)
    return v


def pwrite(path, off, data):
    with open(path, "r+b") as f:
        f.seek(off)
        f.write(data)


def descriptor(create_type, lines):
    return ("# Disk DescriptorFile\nversion=1\nCID=1234abcd\nparentCID=ffffffff\n"
            "createType=\"%s\"\n\n# Extent description\n%s\n\n# The Disk Data Base\n"
            "#DDB\n\nddb.adapterType = \"lsilogic\"\nddb.virtualHWVersion = \"4\"\n"
            % (create_type, "".join(unescape(x) + "\n" for x in lines)))


def corrupt_grain(d, path, n, mode):
    sp = Sparse(path)
    if not sp.ok:
        sys.exit("poke.py: %s is not a KDMV file" % path)
    i = sp.nth_gte(n)
    marker = sp.gte(i) * S
    with open(path, "rb") as f:
        f.seek(marker)
        lba, length = struct.unpack("<QI", f.read(12))
    payload = marker + 12
    if mode == "zlib-header":
        pwrite(path, payload, b"\x00\x00")
    elif mode == "checksum":
        with open(path, "rb") as f:
            f.seek(payload + length - 4)
            b = f.read(4)
        pwrite(path, payload + length - 4, bytes(x ^ 0xFF for x in b))
    elif mode == "middle":
        with open(path, "rb") as f:
            f.seek(payload + length // 2)
            b = f.read(16)
        pwrite(path, payload + length // 2, bytes(x ^ 0x5A for x in b))
    elif mode == "size-huge":
        pwrite(path, marker + 8, struct.pack("<I", 0x7FFFFFFF))
    elif mode == "truncate":
        pwrite(path, marker + 8, struct.pack("<I", 8))
    else:
        sys.exit("poke.py: unknown corrupt-grain mode %s" % mode)
    gbytes = sp.grain * S
    off = lba * S
    if off != i * gbytes:
        sys.exit("poke.py: marker lba %d does not match grain %d" % (lba, i))
    length = min(gbytes, sp.capacity * S - off)
    with open(os.path.join(d, ".eio"), "w") as f:
        f.write("%d %d\n" % (off, length))


def tar_members(path):
    """Every member of the tar at path with its bytes (None for non-files), in order."""
    out = []
    with tarfile.open(path, "r:") as t:
        for m in t.getmembers():
            out.append((m, t.extractfile(m).read() if m.isfile() else None))
        fmt = t.format
    return out, fmt


def tar_write(path, members, fmt):
    with tarfile.open(path, "w:", format=fmt) as t:
        for m, data in members:
            if data is not None:
                m.size = len(data)
                t.addfile(m, io.BytesIO(data))
            else:
                t.addfile(m)


def tar_add(d, path, spec):
    members, fmt = tar_members(path)
    if "->" in spec or "=>" in spec:
        name, target = re.split("->|=>", spec, maxsplit=1)
        m = tarfile.TarInfo(name)
        m.type = tarfile.SYMTYPE if "->" in spec else tarfile.LNKTYPE
        m.linkname = target
        data = None
    elif spec.endswith("!chr"):
        m = tarfile.TarInfo(spec[:-4])
        m.type = tarfile.CHRTYPE
        m.devmajor, m.devminor = 1, 3
        data = None
    else:
        name, _, src = spec.partition("=")
        with open(os.path.join(d, src or name), "rb") as f:
            data = f.read()
        m = tarfile.TarInfo(name)
    m.mtime = 1700000000
    members.append((m, data))
    tar_write(path, members, fmt)


def tar_sed(path, member, regex, repl):
    members, fmt = tar_members(path)
    for i, (m, data) in enumerate(members):
        if m.name == member and data is not None:
            text = data.decode("utf-8", "surrogateescape")
            new = re.sub(regex, lambda _: unescape(repl), text, count=1)
            if new == text:
                sys.exit("poke.py: tar-sed %r changed nothing in %s" % (regex, member))
            members[i] = (m, new.encode("utf-8", "surrogateescape"))
            tar_write(path, members, fmt)
            return
    sys.exit("poke.py: no member %s in %s" % (member, path))


def gzip_damage(path, member):
    with tarfile.open(path, "r:") as t:
        m = t.getmember(member)
        off, size = m.offset_data, m.size
    with open(path, "rb") as f:
        f.seek(off)
        if f.read(2) != b"\x1f\x8b":
            sys.exit("poke.py: %s is not gzip" % member)
        f.seek(off + size // 2)
        b = f.read(64)
    pwrite(path, off + size // 2, bytes(x ^ 0xA5 for x in b))


def gte_set(d, path, n, val):
    """Point the n-th allocated grain's table entry, and its redundant copy, at sector val;
    the grain's guest range goes to DIR/.eio."""
    sp = Sparse(path)
    if not sp.ok:
        sys.exit("poke.py: %s is not a KDMV file" % path)
    i = sp.nth_gte(n)
    pwrite(path, sp.gte_off(i), struct.pack("<I", val))
    if sp.rgd:
        pwrite(path, sp.rgte_off(i), struct.pack("<I", val))
    gbytes = sp.grain * S
    with open(os.path.join(d, ".eio"), "w") as f:
        f.write("%d %d\n" % (i * gbytes, min(gbytes, sp.capacity * S - i * gbytes)))


def step(d, words):
    op, args = words[0], words[1:]
    if not args:
        sys.exit("poke.py: %s: no file" % op)
    path = os.path.join(d, args[0])
    if op in ("poke8", "poke16", "poke32", "poke64"):
        bits = int(op[4:])
        off, val = num(args[1], path), num(args[2], path)
        val &= (1 << bits) - 1
        pwrite(path, off, val.to_bytes(bits // 8, "little"))
    elif op == "pokebytes":
        pwrite(path, num(args[1], path), bytes.fromhex(args[2]))
    elif op == "truncate":
        os.truncate(path, num(args[1], path))
    elif op == "rm":
        os.unlink(path)
    elif op == "mkfile":
        with open(path, "wb") as f:
            f.truncate(num(args[1], path))
    elif op == "write":
        with open(path, "w", errors="surrogateescape") as f:
            f.write(unescape(args[1]))
    elif op == "desc":
        with open(path, "w") as f:
            f.write(descriptor(args[1], args[2:]))
    elif op == "desc-many":
        n = num(args[1], path)
        with open(path, "w") as f:
            f.write(descriptor("monolithicFlat", []).replace(
                "# Extent description\n", "# Extent description\n" +
                (unescape(args[2]) + "\n") * n))
    elif op == "sed":
        with open(path, "r", errors="surrogateescape") as f:
            text = f.read()
        new = re.sub(args[1], unescape(args[2]), text)
        if new == text:
            sys.exit("poke.py: sed %r changed nothing in %s" % (args[1], path))
        with open(path, "w", errors="surrogateescape") as f:
            f.write(new)
    elif op in ("append", "lines"):
        n = num(args[1], path) if op == "lines" else 1
        text = unescape(args[-1])
        with open(path, "ab") as f:
            for i in range(n):
                f.write(text.replace("{i}", str(i)).encode("utf-8", "surrogateescape"))
    elif op == "make-ova":
        gen = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "gen",
                           "make-ova.py")
        opts = args[2:] if any(a.startswith("--manifest") for a in args[2:]) else \
            args[2:] + ["--manifest", "none"]
        subprocess.run([sys.executable, gen, "-o", path] + opts +
                       [os.path.join(d, args[1])], check=True)
    elif op == "tar-sed":
        tar_sed(path, args[1], args[2], args[3])
    elif op == "tar-rename":
        members, fmt = tar_members(path)
        if not any(m.name == args[1] for m, _ in members):
            sys.exit("poke.py: no member %s in %s" % (args[1], path))
        for m, _ in members:
            if m.name == args[1]:
                m.name = args[2]
        tar_write(path, members, fmt)
    elif op == "tar-add":
        tar_add(d, path, args[1])
    elif op == "gzip-damage":
        gzip_damage(path, args[1])
    elif op == "gte-set":
        gte_set(d, path, num(args[1], path), num(args[2], path))
    elif op == "corrupt-grain":
        corrupt_grain(d, path, num(args[1], path), args[2])
    else:
        sys.exit("poke.py: unknown step %s" % op)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    d, recipe = sys.argv[1], sys.argv[2]
    for part in recipe.split(" ; "):
        words = shlex.split(part)
        if words:
            step(d, words)


if __name__ == "__main__":
    main()
