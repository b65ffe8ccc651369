#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write a sparse raw disk image with deterministic, varied content.

    content.py --size BYTES --seed N [--manifest OUT.json] OUT.raw

The image is what the VMDK fixtures are converted from, and the reference every mount
is compared with.  For one (size, seed) the bytes are always the same (Python's
random.Random is seeded and nothing else is consulted), so fixtures can be cached.

What it contains, chosen so that decoders meet their edge cases:
  * random bytes (incompressible: stored deflate blocks in streamOptimized grains),
    text lines (compressible), runs of one repeated byte, and single stray bytes;
  * runs of zeros that are really written (allocated in OUT.raw, but all zero: a
    converter should drop them), and never-written holes (we seek past them);
  * data in the first and the very last bytes of the image (the last byte is never 0),
    which for a size that is not a multiple of 64 KiB means a partial last grain;
  * data straddling several 64 KiB grain boundaries, at unaligned offsets;
  * at least one hole of several whole grains, and a grain with a single byte in it;
  * for images over 2 GiB, data straddling the 2 GiB / 2047 MiB extent boundaries
    (twoGbMaxExtent* split there), and for images over 4 GiB data beyond 4 GiB and
    straddling it (32-bit offset truncation bugs).

Data is dense in small images and sparse in big ones (about 8 MiB plus size/512 at
most), so a 6 GiB image takes about 20 MiB of disk.  OUT.raw is written with
pwrite at chosen offsets after an ftruncate to the full size: what is never written
stays a hole.  --manifest writes a JSON summary: the segments written, the number of
non-zero bytes ("data_bytes"), and the number of 4 KiB blocks holding them
("data_blocks_4k").
"""

import argparse
import json
import os
import random
import sys

GRAIN = 64 * 1024
KIB = 1024
MIB = 1024 * 1024
GIB = 1024 * MIB

WORDS = ("vmfs mount grain table directory extent sparse flat stream marker footer "
         "descriptor capacity sector cluster hole zero data qemu vmware esxi guest disk "
         "lorem ipsum dolor sit amet consectetur adipiscing elit").split()


def text_bytes(rng, n, first_line):
    out = bytearray()
    line = first_line
    while len(out) < n:
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 14)))
        out += b"%08d: %s\n" % (line, words.encode())
        line += 1
    return bytes(out[:n])


def nonzero_last(b):
    """Make sure the buffer does not end in a zero byte (data right at the end)."""
    if b and b[-1] == 0:
        b = b[:-1] + b"\xa5"
    return b


class Image:
    def __init__(self, path, size):
        self.size = size
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.ftruncate(self.fd, size)
        self.segments = []  # (off, len, kind), non-overlapping
        self.taken = []     # sorted (start, end) intervals, holes included

    def free(self, off, n):
        end = off + n
        if off < 0 or n <= 0 or end > self.size:
            return False
        return all(end <= s or off >= e for s, e in self.taken)

    def claim(self, off, n, kind, data=None):
        """Reserve [off, off+n); write data there unless kind is 'hole'."""
        if not self.free(off, n):
            return False
        self.taken.append((off, off + n))
        self.taken.sort()
        if kind != "hole":
            assert data is not None and len(data) == n
            view = memoryview(data)
            done = 0
            while done < n:
                done += os.pwrite(self.fd, view[done:], off + done)
        self.segments.append((off, n, kind))
        return True

    def gaps(self):
        pos = 0
        for s, e in self.taken:
            if s > pos:
                yield pos, s
            pos = max(pos, e)
        if pos < self.size:
            yield pos, self.size

    def close(self):
        os.fsync(self.fd)
        os.close(self.fd)


def make_data(rng, kind, n, line):
    if kind == "random":
        return rng.randbytes(n)
    if kind == "text":
        return text_bytes(rng, n, line)
    if kind == "pattern":
        return bytes([rng.randint(1, 255)]) * n
    if kind == "zeros":
        return bytes(n)
    if kind == "byte":
        return bytes([rng.randint(1, 255)]) * n
    raise ValueError(kind)


def generate(path, size, seed):
    rng = random.Random("%d:%d" % (seed, size))
    img = Image(path, size)
    line = 0

    def put(off, n, kind):
        nonlocal line
        if n <= 0:
            return False
        data = make_data(rng, kind, n, line)
        line += n // 40 + 1
        return img.claim(off, n, kind, data)

    # Holes first, so nothing lands in them: whole grains, aligned, a few of them.
    n_grains = size // GRAIN
    if n_grains >= 8:
        for start in (3, n_grains // 2 + 1):
            count = min(4, max(1, n_grains // 16))
            img.claim(start * GRAIN, count * GRAIN, "hole")

    # The first sector and the very end.
    put(0, min(size, 4096 + rng.randint(0, 511)), "random")
    tail = min(size // 4, rng.randint(700, 9000))
    if img.free(size - tail, tail):
        data = nonzero_last(rng.randbytes(tail))
        img.claim(size - tail, tail, "random", data)

    # Straddling 64 KiB boundaries at unaligned offsets (text and random).
    boundaries = [k * GRAIN for k in range(1, n_grains)]
    rng.shuffle(boundaries)
    for b in boundaries[:8]:
        before = rng.randint(1, 40 * KIB)
        after = rng.randint(1, 40 * KIB)
        put(b - before, before + after, rng.choice(("random", "text")))

    # One lonely non-zero byte in a grain of its own (a converter must keep it).
    for g in range(n_grains // 3, n_grains):
        off = g * GRAIN + rng.randint(0, GRAIN - 1)
        if img.free(g * GRAIN, GRAIN):
            put(off, 1, "byte")
            break

    # A grain half data, half written zeros.
    for g in range(n_grains // 4, n_grains):
        if img.free(g * GRAIN, GRAIN):
            put(g * GRAIN, GRAIN // 2, "random")
            put(g * GRAIN + GRAIN // 2, GRAIN // 2, "zeros")
            break

    # Big-image boundaries: twoGbMaxExtent split points and 32-bit wrap-around.
    marks = []
    if size > 2 * GIB:
        marks += [2047 * MIB, 2 * GIB, 4094 * MIB]
    if size > 4 * GIB:
        marks += [4 * GIB, 4 * GIB + 512, 5 * GIB + 3 * GRAIN + 123]
    for m in marks:
        if m < size:
            before = rng.randint(100, 20 * KIB)
            put(m - before, before + rng.randint(100, 20 * KIB),
                rng.choice(("random", "text")))
    if size > 4 * GIB:
        # A long written run well beyond 4 GiB, and a written zero run there.
        put(4 * GIB + 77 * MIB + 4321, 3 * MIB + 17, "random")
        put(4 * GIB + 90 * MIB, 2 * MIB, "zeros")

    # Fill the rest at random: density high for small images, low for big ones.
    budget = size // 2 if size <= 8 * MIB else min(size // 8, 8 * MIB + size // 512)
    written = sum(n for _, n, k in img.segments if k != "hole")
    kinds = ("random", "random", "random", "text", "text", "pattern", "zeros", "byte")
    mean_len = 48 * KIB
    density = max(min(budget / size, 0.9), 1e-6)
    mean_gap = mean_len * (1 - density) / density
    for lo, hi in list(img.gaps()):
        pos = lo
        while pos < hi and written < budget:
            pos += int(rng.expovariate(1 / mean_gap)) if rng.random() < 0.85 else 0
            if rng.random() < 0.3:
                pos = (pos + 511) & ~511  # sometimes sector-aligned
            kind = rng.choice(kinds)
            if kind == "byte":
                n = rng.randint(1, 16)
            elif kind == "zeros":
                n = rng.randint(4 * KIB, 384 * KIB)
            else:
                n = int(2 ** rng.uniform(6, 18.5))  # 64 B .. ~360 KiB, log-uniform
            n = min(n, hi - pos)
            if n > 0 and put(pos, n, kind):
                written += n
            pos += max(n, 1)

    img.close()

    data_bytes = 0
    blocks = set()
    for off, n, kind in img.segments:
        if kind in ("hole", "zeros"):
            continue
        data_bytes += n
        blocks.update(range(off // 4096, (off + n - 1) // 4096 + 1))
    return {
        "size": size,
        "seed": seed,
        "data_bytes": data_bytes,
        "data_blocks_4k": len(blocks),
        "segments": [{"offset": o, "length": n, "kind": k}
                     for o, n, k in sorted(img.segments)],
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, required=True, help="image size in bytes")
    ap.add_argument("--seed", type=int, default=1, help="PRNG seed (default 1)")
    ap.add_argument("--manifest", help="write a JSON summary of the layout here")
    ap.add_argument("out", help="raw image to write")
    a = ap.parse_args()
    if a.size <= 0 or a.size % 512:
        sys.exit("content.py: --size must be a positive multiple of 512")
    m = generate(a.out, a.size, a.seed)
    if a.manifest:
        with open(a.manifest, "w") as f:
            json.dump(m, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
