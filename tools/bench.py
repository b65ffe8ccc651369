#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""vmfs-mount benchmark: lazy views against qemu-img convert, measured in the same run.

Inputs are built once (cached in the work directory):
  fs4g   a 4 GiB disk holding an ext4 filesystem filled from /usr plus incompressible
         data, about 1.2 GiB of content, with written zeros and never-written ranges;
  sp64g  a 64 GiB disk with 1 GiB written in 1 MiB pieces scattered over it.
Each in the variants that matter: VMware-layout streamOptimized, monolithicSparse,
monolithicFlat.  Every figure is the median of N runs (default 5), vmfs-mount and
qemu-img alternating, with the ratio vmfs / qemu-img (below 1 means vmfs-mount is faster).

Figures:
  raw-copy    mount + cp MNT/disk.raw OUT + unmount   vs  qemu-img convert -O raw
  sparse-copy mount + cp --sparse=always ... + umount  vs  qemu-img convert -O raw
  qcow2-copy  mount + cp MNT/disk.qcow2 OUT + unmount vs  qemu-img convert -O qcow2
  cat         cat MNT/disk.raw > /dev/null (mounted)  vs  cat SOURCE > /dev/null
  rand4k      random 4 KiB reads/s on MNT/disk.raw    vs  the same on the converted raw
  mount       time until the mount is visible
  peak-mem    the daemon's VmHWM after the copies
"""

import argparse
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MIB = 1 << 20
GIB = 1 << 30


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def sh(cmd):
    return subprocess.run(cmd, shell=True, check=True)


def drop_file(path):
    if os.path.exists(path):
        os.unlink(path)


class Mount:
    def __init__(self, binary, src, mnt, opts=()):
        self.binary, self.src, self.mnt, self.opts = binary, src, mnt, list(opts)
        self.proc = None
        self.mount_seconds = None

    def __enter__(self):
        os.makedirs(self.mnt, exist_ok=True)
        t0 = time.monotonic()
        self.proc = subprocess.Popen([self.binary, "-f", *self.opts, self.src, self.mnt],
                                     stderr=subprocess.PIPE)
        while not os.path.ismount(self.mnt):
            if self.proc.poll() is not None:
                raise RuntimeError("vmfs-mount failed: " + self.proc.stderr.read().decode())
            time.sleep(0.001)
        self.mount_seconds = time.monotonic() - t0
        return self

    def peak_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        return 0

    def __exit__(self, *exc):
        subprocess.run(["fusermount3", "-u", self.mnt], check=False)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        return False


def timed(fn):
    t0 = time.monotonic()
    fn()
    return time.monotonic() - t0


def rand4k(path, seconds, seed=1):
    """Random 4 KiB preads for a fixed time; returns reads per second."""
    size = os.path.getsize(path)
    rng = random.Random(seed)
    fd = os.open(path, os.O_RDONLY)
    n = 0
    t0 = time.monotonic()
    try:
        while time.monotonic() - t0 < seconds:
            for _ in range(64):
                os.pread(fd, 4096, rng.randrange(0, size // 4096) * 4096)
            n += 64
    finally:
        os.close(fd)
    return n / (time.monotonic() - t0)


def build_fs4g(work, size, content):
    """An ext4 filesystem image filled from /usr plus incompressible data."""
    raw = os.path.join(work, "fs.raw")
    if os.path.exists(raw):
        return raw
    stage = os.path.join(work, "stage")
    shutil.rmtree(stage, ignore_errors=True)
    os.makedirs(stage)
    budget = int(content * 0.75)
    copied = 0
    for top in ("/usr/lib", "/usr/share", "/usr/bin", "/usr/include"):
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames.sort()
            for name in sorted(filenames):
                src = os.path.join(dirpath, name)
                if copied >= budget or not os.path.isfile(src) or os.path.islink(src):
                    continue
                dst = os.path.join(stage, os.path.relpath(src, "/"))
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                try:
                    shutil.copyfile(src, dst)
                    copied += os.path.getsize(dst)
                except OSError:
                    pass
    with open(os.path.join(stage, "random.bin"), "wb") as f:
        f.write(random.Random(7).randbytes(content - budget))
    tmp = raw + ".tmp"
    drop_file(tmp)
    with open(tmp, "wb") as f:
        f.truncate(size)
    run(["mkfs.ext4", "-q", "-F", "-E", "lazy_itable_init=0,nodiscard", "-d", stage, tmp])
    # Written zeros: a region that is allocated in the raw file but holds only zeros.
    with open(tmp, "r+b") as f:
        f.seek(size - 256 * MIB)
        f.write(bytes(64 * MIB))
    os.rename(tmp, raw)
    shutil.rmtree(stage)
    return raw


def build_sparse(work, size, written):
    raw = os.path.join(work, "sparse.raw")
    if os.path.exists(raw):
        return raw
    rng = random.Random(11)
    tmp = raw + ".tmp"
    with open(tmp, "wb") as f:
        f.truncate(size)
        slots = rng.sample(range(size // MIB), written // MIB)
        for i, slot in enumerate(sorted(slots)):
            f.seek(slot * MIB)
            if i % 2:
                f.write(rng.randbytes(MIB))
            else:
                f.write((b"the quick brown fox %d\n" % slot) * (MIB // 24) + bytes(MIB % 24))
    os.rename(tmp, raw)
    return raw


def variants(work, raw, tag, only):
    out = {}
    for v in only:
        path = os.path.join(work, f"{tag}-{v}.vmdk")
        if not os.path.exists(path):
            tmp = path + ".tmp.vmdk"
            if v == "vmware-stream":
                run([sys.executable, os.path.join(ROOT, "tests/gen/vmware-stream.py"), raw, tmp])
            else:
                run(["qemu-img", "convert", "-f", "raw", "-O", "vmdk", "-o",
                     f"subformat={v}", raw, tmp])
                if v == "monolithicFlat":  # the flat extent keeps its name
                    flat = tmp.replace(".vmdk", "-flat.vmdk")
                    final_flat = path.replace(".vmdk", "-flat.vmdk")
                    with open(tmp) as f:
                        desc = f.read().replace(os.path.basename(flat),
                                                os.path.basename(final_flat))
                    os.rename(flat, final_flat)
                    with open(tmp, "w") as f:
                        f.write(desc)
            os.rename(tmp, path)
        out[v] = path
    return out


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def bench_input(args, work, name, src, results):
    mnt = os.path.join(work, "mnt")
    out = os.path.join(args.out_dir, "out.img")
    binary = os.path.join(args.build, "vmfs-mount")
    opts = [f"-o", f"cache_size={args.cache}"]
    m = {k: [] for k in ("conv_raw", "raw_copy", "sparse_copy", "conv_qcow2", "qcow2_copy",
                         "cat_src", "cat_raw", "mount", "peak")}
    for _ in range(args.runs):
        m["conv_raw"].append(timed(lambda: run(
            ["qemu-img", "convert", "-f", "vmdk", "-O", "raw", src, out])))
        drop_file(out)

        def vm_copy(view, sparse):
            with Mount(binary, src, mnt, opts) as mo:
                cmd = ["cp"] + (["--sparse=always"] if sparse else []) + \
                      [os.path.join(mnt, view), out]
                run(cmd)
                m["mount"].append(mo.mount_seconds)
                m["peak"].append(mo.peak_kib())
        m["raw_copy"].append(timed(lambda: vm_copy("disk.raw", False)))
        drop_file(out)
        m["sparse_copy"].append(timed(lambda: vm_copy("disk.raw", True)))
        drop_file(out)
        m["conv_qcow2"].append(timed(lambda: run(
            ["qemu-img", "convert", "-f", "vmdk", "-O", "qcow2", src, out])))
        drop_file(out)
        m["qcow2_copy"].append(timed(lambda: vm_copy("disk.qcow2", False)))
        drop_file(out)
        m["cat_src"].append(timed(lambda: sh(f"cat '{src}' > /dev/null")))
        with Mount(binary, src, mnt, opts):
            m["cat_raw"].append(timed(lambda: sh(f"cat '{mnt}/disk.raw' > /dev/null")))
    # Random 4 KiB reads: the mounted raw view against the converted raw file.
    run(["qemu-img", "convert", "-f", "vmdk", "-O", "raw", src, out])
    ref = rand4k(out, args.rand_seconds)
    with Mount(binary, src, mnt, opts):
        ours = rand4k(os.path.join(mnt, "disk.raw"), args.rand_seconds)
    drop_file(out)
    size = os.path.getsize(src)
    rows = [
        ("raw-copy", median(m["raw_copy"]), median(m["conv_raw"]), "s", "qemu-img convert -O raw"),
        ("sparse-copy", median(m["sparse_copy"]), median(m["conv_raw"]), "s",
         "qemu-img convert -O raw"),
        ("qcow2-copy", median(m["qcow2_copy"]), median(m["conv_qcow2"]), "s",
         "qemu-img convert -O qcow2"),
        ("cat", median(m["cat_raw"]), median(m["cat_src"]), "s", "cat of the source file"),
        ("rand4k", ours, ref, "reads/s", "the same on the converted raw"),
        ("mount", median(m["mount"]) * 1000, None, "ms", ""),
        ("peak-mem", median(m["peak"]) / 1024, None, "MiB", ""),
    ]
    for fig, ours_v, ref_v, unit, vs in rows:
        ratio = ours_v / ref_v if ref_v else None
        results.append({"input": name, "figure": fig, "vmfs": ours_v, "reference": ref_v,
                        "unit": unit, "ratio": ratio, "against": vs, "source_bytes": size})
        print(f"{name:28s} {fig:12s} {ours_v:12.3f} {unit:8s}" +
              (f" vs {ref_v:10.3f}  ratio {ratio:5.2f}  ({vs})" if ref_v else ""), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--work", default="/var/tmp/vmfs-bench")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--cache", default="256M")
    ap.add_argument("--rand-seconds", type=float, default=3.0)
    ap.add_argument("--smoke", action="store_true", help="small inputs, one run")
    ap.add_argument("--only", default="vmware-stream,monolithicSparse,monolithicFlat")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()
    if args.smoke:
        args.work = args.work.rstrip("/") + "-smoke"
        args.runs = 1
        args.rand_seconds = 0.5
        sizes = {"fs": (256 * MIB, 64 * MIB), "sparse": (2 * GIB, 32 * MIB)}
    else:
        sizes = {"fs": (4 * GIB, 1200 * MIB), "sparse": (64 * GIB, 1 * GIB)}
    os.makedirs(args.work, exist_ok=True)
    args.out_dir = args.work
    only = args.only.split(",")
    results = []
    print(f"vmfs-mount bench: {args.runs} runs each, medians; cache {args.cache}; "
          f"{os.cpu_count()} cores", flush=True)
    fs_raw = build_fs4g(args.work, *sizes["fs"])
    for v, path in variants(args.work, fs_raw, "fs", only).items():
        bench_input(args, args.work, f"fs {sizes['fs'][0] >> 20}M {v}", path, results)
    sp_raw = build_sparse(args.work, *sizes["sparse"])
    for v, path in variants(args.work, sp_raw, "sparse",
                            [x for x in only if x != "monolithicFlat"]).items():
        bench_input(args, args.work, f"sparse {sizes['sparse'][0] >> 30}G {v}", path, results)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
