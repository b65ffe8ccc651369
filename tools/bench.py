#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""vmfs-mount benchmark: lazy views against qemu-img convert, measured in the same run.

Inputs are built at run time and kept in the work directory for the next run:
  fs    a 4 GiB disk holding an ext4 filesystem filled from /usr plus incompressible
        data (about 1.2 GiB of content), with a range of written zeros and ranges that
        were never written;
  sp    a 64 GiB disk with 1 GiB written in 1 MiB pieces scattered over it, half of
        them text, half random.
Each in the VMDK variants that matter: VMware-layout streamOptimized inside an .ova
(what an export is), monolithicSparse, monolithicFlat.  qemu-img reads the .ova's disk
in place too (a raw slice of the tar), so both sides start from the same bytes.

Every figure is the median of N runs (default 5); inside a run vmfs-mount and qemu-img
alternate, and which goes first flips from run to run, so that load from elsewhere hits
both sides alike.  The ratio is vmfs-mount's time over the reference's time: below 1
means vmfs-mount is faster.

Figures:
  raw-copy     mount + cp MNT/disk.raw OUT + unmount   vs  qemu-img convert -O raw
  sparse-copy  the same with cp --sparse=always        vs  qemu-img convert -O raw
  qcow2-copy   mount + cp MNT/disk.qcow2 OUT + unmount vs  qemu-img convert -O qcow2
  cat          cat MNT/disk.raw >/dev/null, on a fresh mount, and its rate over the
               virtual size                            vs  qemu-img convert -O raw
  cat-source   cat of the source files (the rate the page cache serves them at)
  rand4k       random 4 KiB reads per second on MNT/disk.raw (preader --rate, one
               reader, like fio randread psync iodepth=1)
                                                       vs  the same on the converted raw
  mount        milliseconds from starting vmfs-mount until the mount answers stat
  peak-mem     the daemon's VmHWM after a copy, the largest over the runs, against
               the cache size + 32 MiB

Outputs go to a tmpfs when there is room for them (so the host disk's writeback does not
land on one side at random), else to the work directory.  Every output of the first run
is compared with qemu-img's, so a fast wrong answer cannot pass for a result.
"""

import argparse
import hashlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tarfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MIB = 1 << 20
GIB = 1 << 30


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def drop_file(path):
    if os.path.lexists(path):
        os.unlink(path)


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def mem_available():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0


class Mount:
    """vmfs-mount SRC MNT in the foreground, for a with-block; unmounts at the end."""

    def __init__(self, binary, src, mnt, opts, log):
        self.binary, self.src, self.mnt, self.opts, self.log = binary, src, mnt, opts, log
        self.proc = None
        self.mount_seconds = None

    def __enter__(self):
        os.makedirs(self.mnt, exist_ok=True)
        logf = open(self.log, "w")
        t0 = time.monotonic()
        self.proc = subprocess.Popen([self.binary, "-f", *self.opts, self.src, self.mnt],
                                     stdout=logf, stderr=logf)
        logf.close()
        deadline = t0 + 60
        while not os.path.ismount(self.mnt):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.proc.kill()
                self.proc.wait()
                with open(self.log) as f:
                    raise RuntimeError(f"vmfs-mount {self.src} did not mount: {f.read()}")
            time.sleep(0.0005)
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
            rc = self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            rc = -1
        if rc != 0 and exc[0] is None:
            with open(self.log) as f:
                raise RuntimeError(f"vmfs-mount exited with {rc}: {f.read()}")
        return False


def timed(fn):
    t0 = time.monotonic()
    fn()
    return time.monotonic() - t0


# ---- inputs ----

# Bump when build_fs or build_scattered change what they make.
INPUTS_VERSION = 1


def stamp(*parts):
    """A short key for cached inputs: the parameters and the generators' own text."""
    h = hashlib.sha256(b"%d" % INPUTS_VERSION)
    for p in parts:
        h.update(str(p).encode())
    for gen in ("tests/gen/vmware-stream.py", "tests/gen/make-ova.py"):
        with open(os.path.join(ROOT, gen), "rb") as f:
            h.update(f.read())
    return h.hexdigest()[:10]


def build_fs(path, size, content):
    """An ext4 image of size bytes holding about content bytes: the first files of /usr
    (sorted, so the same machine gives the same image) and random data."""
    if os.path.exists(path):
        return
    stage = path + ".stage"
    shutil.rmtree(stage, ignore_errors=True)
    os.makedirs(stage)
    budget = int(content * 0.7)
    copied = 0
    for top in ("/usr/lib", "/usr/share", "/usr/bin", "/usr/include"):
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames.sort()
            for name in sorted(filenames):
                src = os.path.join(dirpath, name)
                if copied >= budget:
                    break
                if os.path.islink(src) or not os.path.isfile(src):
                    continue
                dst = os.path.join(stage, os.path.relpath(src, "/"))
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                try:
                    shutil.copyfile(src, dst)
                    copied += os.path.getsize(dst)
                except OSError:
                    pass
    rng = random.Random(7)
    with open(os.path.join(stage, "random.bin"), "wb") as f:
        for _ in range(max(content - copied, MIB) // MIB):
            f.write(rng.randbytes(MIB))
    tmp = path + ".tmp"
    drop_file(tmp)
    with open(tmp, "wb") as f:
        f.truncate(size)
    run(["mkfs.ext4", "-q", "-F", "-E", "lazy_itable_init=0,nodiscard", "-d", stage, tmp])
    # Written zeros: 64 MiB allocated in the raw file but holding only zeros, in free
    # space near the end (mkfs -d fills from the start).
    with open(tmp, "r+b") as f:
        f.seek(size - size // 16)
        for _ in range(size // 16 // MIB // 4):
            f.write(bytes(MIB))
    os.rename(tmp, path)
    shutil.rmtree(stage)


def build_scattered(path, size, written):
    """size bytes with written bytes in 1 MiB pieces at random places, the rest never
    written (holes)."""
    if os.path.exists(path):
        return
    rng = random.Random(11)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.truncate(size)
        slots = rng.sample(range(size // MIB), written // MIB)
        for i, slot in enumerate(sorted(slots)):
            f.seek(slot * MIB)
            if i % 2:
                f.write(rng.randbytes(MIB))
            else:
                line = b"the quick brown fox jumps over slot %9d\n" % slot
                f.write((line * (MIB // len(line) + 1))[:MIB])
    os.rename(tmp, path)


class Input:
    def __init__(self, name, mount_src, qemu_src, files, size):
        self.name = name
        self.mount_src = mount_src  # what vmfs-mount is given
        self.qemu_src = qemu_src    # the same disk for qemu-img (-f vmdk)
        self.files = files          # the source files, for cat-source
        self.size = size            # virtual size


def make_variant(work, raw, tag, variant):
    size = os.path.getsize(raw)
    final = os.path.join(work, f"{tag}-{variant}")
    if not os.path.isdir(final):
        tmp = final + ".tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
        if variant == "ova":
            stream = os.path.join(tmp, "disk1.vmdk")
            run([sys.executable, os.path.join(ROOT, "tests/gen/vmware-stream.py"), raw,
                 stream])
            run([sys.executable, os.path.join(ROOT, "tests/gen/make-ova.py"), "--name",
                 "guest", "-o", os.path.join(tmp, "guest.ova"), stream])
            os.unlink(stream)
        else:
            run(["qemu-img", "convert", "-f", "raw", "-O", "vmdk", "-o",
                 f"subformat={variant}", raw, os.path.join(tmp, "disk.vmdk")])
        os.rename(tmp, final)
    files = sorted(os.path.join(final, f) for f in os.listdir(final))
    if variant == "ova":
        ova = os.path.join(final, "guest.ova")
        with tarfile.open(ova) as t:
            m = next(m for m in t.getmembers() if m.name.endswith(".vmdk"))
        qemu_src = "json:" + json.dumps({
            "driver": "vmdk",
            "file": {"driver": "raw", "offset": m.offset_data, "size": m.size,
                     "file": {"driver": "file", "filename": ova}}})
        return Input(f"{tag} {variant}", ova, qemu_src, files, size)
    vmdk = os.path.join(final, "disk.vmdk")
    return Input(f"{tag} {variant}", vmdk, vmdk, files, size)


# ---- measuring ----

def median(xs):
    return statistics.median(xs) if xs else float("nan")


def bench_input(args, inp, figures, results):
    work = args.work
    mnt = os.path.join(work, "mnt")
    out = os.path.join(args.out_dir, "out.img")
    ref_raw = os.path.join(args.out_dir, "ref.raw")
    log = os.path.join(work, "vmfs-mount.log")
    binary = os.path.join(args.build, "vmfs-mount")
    preader = os.path.join(args.build, "tests", "preader")
    opts = ["-o", f"cache_size={args.cache}"] + (["-o", args.opts] if args.opts else [])
    m = {}

    def add(key, value):
        m.setdefault(key, []).append(value)

    def convert(fmt, dest):
        run(["qemu-img", "convert", "-f", "vmdk", "-O", fmt, inp.qemu_src, dest])

    def copy(view, cp_args, check, key):
        def go():
            with Mount(binary, inp.mount_src, mnt, opts, log) as mo:
                run(["cp", *cp_args, os.path.join(mnt, view), out])
                add("mount", mo.mount_seconds)
                add("peak", mo.peak_kib())
        add(key, timed(go))
        if check:
            # The copy must be the disk qemu-img sees; compare reads both as images.
            fmt = "qcow2" if view.endswith(".qcow2") else "raw"
            run(["qemu-img", "compare", "-q", "-f", "vmdk", "-F", fmt, inp.qemu_src, out])
        drop_file(out)

    def cat():
        with Mount(binary, inp.mount_src, mnt, opts, log):
            add("cat", timed(lambda: run(["cat", os.path.join(mnt, "disk.raw")],
                                         stdout=subprocess.DEVNULL)))

    def cat_source():
        add("cat_src", timed(lambda: run(["cat", *inp.files], stdout=subprocess.DEVNULL)))

    def conv_raw(check):
        add("conv_raw", timed(lambda: convert("raw", out)))
        # The first run's output is the reference of the random reads, which saves
        # converting again.
        if check and "rand4k" in figures:
            os.rename(out, ref_raw)
        drop_file(out)

    pairs = []
    if "raw-copy" in figures or "cat" in figures or "sparse-copy" in figures:
        pairs.append(("conv_raw", conv_raw))
    if "raw-copy" in figures:
        pairs.append(("raw_copy", lambda check: copy("disk.raw", [], check, "raw_copy")))
    if "sparse-copy" in figures:
        pairs.append(("sparse_copy", lambda check: copy("disk.raw", ["--sparse=always"], check,
                                                        "sparse_copy")))
    if "cat" in figures:
        pairs.append(("cat", lambda check: cat()))
    if "qcow2-copy" in figures:
        pairs.append(("conv_qcow2", lambda check: (add("conv_qcow2", timed(
            lambda: convert("qcow2", out))), drop_file(out))))
        pairs.append(("qcow2_copy", lambda check: copy("disk.qcow2", [], check, "qcow2_copy")))
    if "cat" in figures:
        pairs.append(("cat_src", lambda check: cat_source()))

    for r in range(args.runs):
        order = pairs if r % 2 == 0 else pairs[::-1]
        for _, fn in order:
            fn(r == 0)

    rows = []
    if "rand4k" in figures:
        if not os.path.exists(ref_raw):
            convert("raw", ref_raw)
        ref = rand4k(preader, ref_raw, args.rand_seconds)
        drop_file(ref_raw)
        with Mount(binary, inp.mount_src, mnt, opts, log):
            ours = rand4k(preader, os.path.join(mnt, "disk.raw"), args.rand_seconds)
        # As a time ratio (per read), so that below 1 still means vmfs-mount is faster.
        rows.append(("rand4k", ours, ref, "reads/s", ref / ours, "the converted raw file"))
    conv_raw = median(m.get("conv_raw", []))
    for fig, key, ref_key, vs in (
            ("raw-copy", "raw_copy", "conv_raw", "qemu-img convert -O raw"),
            ("sparse-copy", "sparse_copy", "conv_raw", "qemu-img convert -O raw"),
            ("qcow2-copy", "qcow2_copy", "conv_qcow2", "qemu-img convert -O qcow2")):
        if fig in figures:
            ours, ref = median(m[key]), median(m[ref_key])
            rows.append((fig, ours, ref, "s", ours / ref, vs))
    if "cat" in figures:
        t = median(m["cat"])
        rows.append(("cat", t, conv_raw, "s", t / conv_raw, "qemu-img convert -O raw"))
        rows.append(("cat-rate", inp.size / t / 1e9, None, "GB/s", None,
                     f"{human(inp.size)} virtual"))
        t = median(m["cat_src"])
        src_bytes = sum(os.path.getsize(f) for f in inp.files)
        rows.append(("cat-source", src_bytes / t / 1e9, None, "GB/s", None,
                     f"{human(src_bytes)} of source files"))
    if "mount" in m:
        rows.append(("mount", median(m["mount"]) * 1000, None, "ms", None, "target <= 30"))
        cache = parse_size(args.cache)
        rows.append(("peak-mem", max(m["peak"]) / 1024, None, "MiB", None,
                     f"target <= {(cache >> 20) + 32} (cache + 32 MiB)"))
    for fig, ours, ref, unit, ratio, vs in rows:
        results.append({"input": inp.name, "figure": fig, "vmfs": ours, "reference": ref,
                        "unit": unit, "ratio": ratio, "against": vs})
        line = f"| {inp.name:22s} | {fig:11s} | {ours:10.3f} {unit:7s} |"
        if ref is not None:
            line += f" {ref:10.3f} | {ratio:5.2f} | {vs}"
        else:
            line += f" {'':10s} | {'':5s} | {vs}"
        print(line, flush=True)


def human(n):
    return f"{n / GIB:.2f} GiB" if n >= GIB else f"{n / MIB:.0f} MiB"


def rand4k(preader, path, seconds):
    p = run([preader, "--rate", str(seconds), path], stdout=subprocess.PIPE, text=True)
    return float(p.stdout.split()[0])


def parse_size(s):
    units = {"K": 10, "M": 20, "G": 30, "T": 40}
    s = s.upper().rstrip("B").rstrip("I")
    if s and s[-1] in units:
        return int(s[:-1]) << units[s[-1]]
    return int(s)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--work", default="/var/tmp/vmfs-bench",
                    help="inputs are built and kept here")
    ap.add_argument("--out-dir", help="copies go here (default: a tmpfs when there is room)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--cache", default="256M", help="vmfs-mount -o cache_size=")
    ap.add_argument("--opts", help="more vmfs-mount -o options")
    ap.add_argument("--rand-seconds", type=float, default=3.0)
    ap.add_argument("--smoke", action="store_true",
                    help="small inputs, one run: checks that the benchmark works, "
                    "its figures mean nothing")
    ap.add_argument("--only", default="ova,monolithicSparse,monolithicFlat",
                    help="variants to run")
    ap.add_argument("--inputs", default="fs,sp", help="inputs to run")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()
    if args.smoke:
        args.runs = 1
        args.rand_seconds = 0.3
        sizes = {"fs": (128 * MIB, 24 * MIB), "sp": (1 * GIB, 16 * MIB)}
    else:
        sizes = {"fs": (4 * GIB, 1200 * MIB), "sp": (64 * GIB, 1 * GIB)}
    os.makedirs(args.work, exist_ok=True)
    if not args.out_dir:
        # Room for the largest copy and the reference raw file, with some to spare.
        need = 3 * sizes["fs"][1] + GIB
        shm = "/dev/shm"
        if os.path.isdir(shm) and mem_available() > need + 4 * GIB:
            args.out_dir = os.path.join(shm, f"vmfs-bench-{os.getpid()}")
        else:
            args.out_dir = os.path.join(args.work, "out")
    os.makedirs(args.out_dir, exist_ok=True)
    variants = args.only.split(",")
    results = []
    t_start = time.monotonic()
    print(f"vmfs-mount bench: median of {args.runs} runs; cache {args.cache}; "
          f"{os.cpu_count()} cores; load average {loadavg()}; outputs in {args.out_dir}",
          flush=True)
    try:
        inputs = []
        if "fs" in args.inputs.split(","):
            size, content = sizes["fs"]
            raw = os.path.join(args.work, f"fs-{stamp(size, content)}.raw")
            build_fs(raw, size, content)
            for v in variants:
                inputs.append((make_variant(args.work, raw, f"fs-{stamp(size, content)}", v),
                               ["raw-copy", "sparse-copy", "qcow2-copy", "cat", "rand4k"],
                               f"fs {size >> 20}M"))
        if "sp" in args.inputs.split(","):
            size, written = sizes["sp"]
            raw = os.path.join(args.work, f"sp-{stamp(size, written)}.raw")
            build_scattered(raw, size, written)
            for v in variants:
                # Reading 64 GiB of holes is not what this input is about: copies only.
                inputs.append((make_variant(args.work, raw, f"sp-{stamp(size, written)}", v),
                               ["sparse-copy", "qcow2-copy", "rand4k"],
                               f"sp {size >> 30}G"))
        print(f"inputs ready after {time.monotonic() - t_start:.0f} s; load average "
              f"{loadavg()}", flush=True)
        print(f"| {'input':22s} | {'figure':11s} | {'vmfs-mount':18s} | {'reference':10s} "
              f"| ratio | against", flush=True)
        print(f"|{'-' * 24}|{'-' * 13}|{'-' * 20}|{'-' * 12}|-------|--------", flush=True)
        for inp, figures, label in inputs:
            inp.name = f"{label} {inp.name.split()[-1]}"
            bench_input(args, inp, figures, results)
    finally:
        shutil.rmtree(args.out_dir, ignore_errors=True)
    print(f"done in {time.monotonic() - t_start:.0f} s; load average {loadavg()}", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
