#!/usr/bin/python3
"""scripts/xpcs-batch.lua on 20 small raw files written here with h5py:
one is corrupt, one is killed (SIGTERM) half-way through reading its
frames. The other 18 are finished, the two are reported and the exit
status is 1; a rerun completes the killed one without redoing the rest
(their results are untouched) and removes the killed writer's temporary
files; every result equals xpcs-correlate.lua's on its own file; --part
K/N splits the list into disjoint shares that cover it. TAP output."""
import os
import signal
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from tap import ok, done, diag  # noqa: E402
import procs  # noqa: E402

EXE = os.environ.get("IONFLOW", "./ionflow")
TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
BATCH = os.path.join(TOP, "scripts", "xpcs-batch.lua")
CORR = os.path.join(TOP, "scripts", "xpcs-correlate.lua")
BIG = 10   # the file that is killed


def write_raw(path, frames):
    with h5py.File(path, "w") as f:
        f.create_dataset("/entry/data/data", data=frames,
                         chunks=(min(200, frames.shape[0]),) + frames.shape[1:],
                         compression="gzip", compression_opts=1)
        d = "/entry/instrument/detector_1/"
        f[d + "beam_center_x"] = frames.shape[2] / 2 - 0.3
        f[d + "beam_center_y"] = frames.shape[1] / 2 + 0.2
        f[d + "distance"] = 5.0
        f[d + "frame_time"] = 1e-3
        f[d + "x_pixel_size"] = 75e-6
        f[d + "y_pixel_size"] = 75e-6
        f["/entry/instrument/incident_beam/incident_energy"] = 10.0


def children(pid):
    """pids of the processes whose parent is pid"""
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/stat") as f:
                st = f.read()
            if int(st[st.rindex(")") + 2:].split()[1]) == pid:
                out.append(int(p))
        except (OSError, ValueError):
            pass
    return out


def rchar(pid):
    """bytes pid has read, 0 once it is gone"""
    return procs.rchar(pid) or 0


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().split(b"\0")
    except OSError:
        return []


def batch(*args):
    return subprocess.run([EXE, BATCH, *args], capture_output=True, text=True)


def lines_by_file(out):
    rows = {}
    for line in out.splitlines():
        w = line.split()
        if w and w[0].isdigit() and len(w) > 2 and w[1] != "files:":
            rows[int(w[0])] = line
    return rows


def mtimes(outdir):
    return {n: os.stat(os.path.join(outdir, n)).st_mtime_ns
            for n in os.listdir(outdir)}


def main():
    rng = np.random.default_rng(7)
    tmp = tempfile.mkdtemp(prefix="ionflow-batch-")
    raw = os.path.join(tmp, "raw")
    out = os.path.join(tmp, "out")
    os.mkdir(raw)
    names = []
    for i in range(1, 21):
        p = os.path.join(raw, f"run{i:02d}.h5")
        if i == 4:      # corrupt: a truncated copy of an HDF5 file
            write_raw(p, rng.poisson(1.0, (50, 16, 16)).astype("u2"))
            with open(p, "r+b") as f:
                f.truncate(600)
        elif i == BIG:  # large enough to be caught half-way
            write_raw(p, rng.poisson(0.3, (8000, 64, 64)).astype("u2"))
        else:
            write_raw(p, rng.poisson(1.0 + 0.1 * i, (60, 16, 16)).astype("u2"))
        names.append(p)
    lst = os.path.join(tmp, "list.txt")
    with open(lst, "w") as f:
        f.write("# the runs\n" + "\n".join(names) + "\n")

    # first run: kill the child on the big file once it read half of it
    p = subprocess.Popen([EXE, BATCH, lst, "-o", out, "--q-bins", "3"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    big = names[BIG - 1].encode()
    half = os.path.getsize(names[BIG - 1]) // 2
    killed_at = None
    t0 = time.time()
    while p.poll() is None and time.time() - t0 < 120 and killed_at is None:
        for c in children(p.pid):
            if big in cmdline(c) and rchar(c) > half:
                os.kill(c, signal.SIGTERM)
                killed_at = rchar(c)
        time.sleep(0.002)
    so, se = p.communicate(timeout=300)
    rows = lines_by_file(so)
    ok(killed_at is not None, "the child on the big file was killed half-way",
       so + se)
    ok(p.returncode == 1, "exit status 1 when files failed", p.returncode)
    ok(len(rows) == 20, "one line per file", so)
    ok("killed (signal 15)" in rows.get(BIG, ""), "the killed file is reported",
       rows.get(BIG))
    ok("failed" in rows.get(4, "") and "run04.h5" in rows.get(4, ""),
       "the corrupt file is reported with its name", rows.get(4))
    good = [i for i in range(1, 21) if i not in (4, BIG)]
    ok(all(rows.get(i, "").rstrip().endswith(" ok") for i in good),
       "the other 18 are done", so)
    made = sorted(n for n in os.listdir(out) if n.endswith("_result.h5"))
    ok(made == sorted(f"run{i:02d}_result.h5" for i in good),
       "exactly their 18 results exist", made)
    ok("20 files: 18 done, 0 skipped, 2 failed" in so, "the totals", so)

    # a stale temporary file, as a writer killed while writing leaves it
    stale = os.path.join(out, f"run{BIG:02d}_result.h5.tmp-Ab12Cd")
    with open(stale, "w") as f:
        f.write("half a result")
    before = mtimes(out)
    r = batch(lst, "-o", out, "--q-bins", "3")
    rows = lines_by_file(r.stdout)
    ok(rows.get(BIG, "").rstrip().endswith(" ok"), "the rerun completes the killed one",
       r.stdout + r.stderr)
    ok(all("skipped" in rows.get(i, "") for i in good), "and skips the 18",
       r.stdout)
    after = mtimes(out)
    ok(all(after.get(n) == t for n, t in before.items()
           if n.endswith("_result.h5")), "their results are untouched")
    ok(not os.path.exists(stale), "the stale temporary file is removed",
       sorted(after))
    ok(r.returncode == 1 and "20 files: 1 done, 18 skipped, 1 failed" in r.stdout,
       "the corrupt one still fails", r.stdout)

    # the results equal a direct correlation of each file
    same = True
    for i in (1, BIG, 20):
        ref = os.path.join(tmp, f"ref{i}.h5")
        c = subprocess.run([EXE, CORR, names[i - 1], "-o", ref, "--q-bins", "3"],
                           capture_output=True, text=True)
        with h5py.File(ref) as a, h5py.File(os.path.join(out, f"run{i:02d}_result.h5")) as b:
            for k in ("/xpcs/multitau/normalized_g2", "/xpcs/multitau/normalized_g2_err",
                      "/xpcs/temporal_mean/scattering_2d"):
                if c.returncode != 0 or not np.array_equal(a[k][()], b[k][()], equal_nan=True):
                    same = False
                    diag(f"file {i}: {k} differs ({c.stderr})")
    ok(same, "results equal xpcs-correlate.lua's")

    # --part: disjoint shares covering the list
    seen = []
    for k in (1, 2, 3):
        r = batch(lst, "-o", out, "--part", f"{k}/3", "--dry-run")
        seen += sorted(lines_by_file(r.stdout))
    ok(sorted(seen) == list(range(1, 21)) and
       set(lines_by_file(batch(lst, "-o", out, "--part", "2/3", "--dry-run").stdout))
       == set(range(2, 21, 3)), "--part K/N takes every N-th file", seen)
    r = batch(lst, "-o", out, "--part", "4/3")
    ok(r.returncode == 2 and "--part" in r.stderr, "a bad --part is refused", r.stderr)
    r = batch(os.path.join(tmp, "missing.txt"), "-o", out)
    ok(r.returncode == 1 and "missing.txt" in r.stderr, "a missing list is named",
       r.stderr)
    # --fit: the velocity fit of every result, and a DIR as input
    fx = os.path.join(tmp, "fitdir")
    os.mkdir(fx)
    subprocess.run([EXE, os.path.join(TOP, "scripts", "make-sample.lua"), "-o",
                    os.path.join(fx, "s1.h5"), "--qmap", "", "--frames", "400",
                    "--size", "32"], capture_output=True)
    fo = os.path.join(tmp, "fitout")
    r = batch(fx, "-o", fo, "--fit", "--q-bins", "8", "--phi-bins", "4")
    fit = os.path.join(fo, "s1_fit.h5")
    good = r.returncode == 0 and os.path.exists(fit)
    if good:
        with h5py.File(fit) as f:
            good = "/ionflow/velocity" in f
    ok(good, "--fit writes NAME_fit.h5 with the velocity fit", r.stdout + r.stderr)
    h = batch("--help")
    ok(h.returncode == 0 and "Options (defaults in brackets):" in h.stdout
       and "Example:" in h.stdout, "--help in the shared shape")
    sys.exit(done())


main()
