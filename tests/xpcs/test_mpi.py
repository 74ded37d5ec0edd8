#!/usr/bin/python3
"""ionflow built with MPI (make MPI=1): xpcs-correlate.lua under mpirun -n
1..4 (oversubscribed on a small machine) equals the single-process result
within 1e-12 relative (g2, errors, static g2, image, I(q), frame means,
windows) on dense HDF5, a Rigaku 3M set and a detector with fewer rows
than ranks; the batch script under mpirun shares the files between the
ranks; a rank that fails (bad file, SIGTERM) ends the job with its error,
never a hang or a result. Skipped when ionflow was built without MPI or
mpirun is missing. TAP output."""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
from tap import ok, done, diag  # noqa: E402
import detwrite as D  # noqa: E402
import apsraw  # noqa: E402
import procs  # noqa: E402

EXE = os.environ.get("IONFLOW", "./ionflow")
TOP = os.path.join(HERE, "..", "..")
CORR = os.path.join(TOP, "scripts", "xpcs-correlate.lua")
BATCH = os.path.join(TOP, "scripts", "xpcs-batch.lua")
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1",
           OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMPI_MCA_rmaps_base_oversubscribe="1")
KEYS = ["/xpcs/multitau/normalized_g2", "/xpcs/multitau/normalized_g2_err",
        "/ionflow/xpcs/g2_static", "/xpcs/temporal_mean/scattering_2d",
        "/xpcs/temporal_mean/scattering_1d",
        "/xpcs/temporal_mean/scattering_1d_segments",
        "/xpcs/spatial_mean/intensity_vs_time"]
TKEYS = ["/xpcs/twotime/correlation_map/c2_00001",
         "/xpcs/twotime/normalized_g2",
         "/xpcs/twotime/correlation_map/c2_00002"]
WKEYS = ["/xpcs/multitau/normalized_g2_partial",
         "/xpcs/multitau/normalized_g2_partial_err"]


def built():
    p = subprocess.run([EXE, "-e", "io.write(tostring(mpi.built()))"],
                       capture_output=True, text=True)
    return p.stdout == "true"


def mpirun(n, *args, timeout=300):
    return subprocess.run(["mpirun", "--oversubscribe", "--allow-run-as-root",
                           "-n", str(n), EXE, *args], capture_output=True,
                          text=True, env=ENV, timeout=timeout)


def rel(a, b):
    """largest relative difference; inf when shapes or NaNs differ"""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape or not np.array_equal(np.isnan(a), np.isnan(b)):
        return np.inf
    m = np.isfinite(b)
    if not m.any():
        return 0.0
    d = np.abs(a[m] - b[m]) / np.maximum(np.abs(b[m]), 1e-300)
    return float(d.max())


def compare(ref, got, keys):
    worst = 0.0
    with h5py.File(ref) as a, h5py.File(got) as b:
        for k in keys:
            worst = max(worst, rel(b[k][()], a[k][()]))
    return worst


def case(d, name, raw, extra, keys, ranks=(1, 2, 3, 4)):
    ref = os.path.join(d, name + "_1p.h5")
    p = subprocess.run([EXE, CORR, raw, "-o", ref, *extra],
                       capture_output=True, text=True, env=ENV)
    if not ok(p.returncode == 0, f"{name}: single process", p.stderr):
        return
    for n in ranks:
        out = os.path.join(d, f"{name}_{n}.h5")
        r = mpirun(n, CORR, raw, "-o", out, *extra)
        if r.returncode != 0:
            ok(False, f"{name}: mpirun -n {n}", r.stdout + r.stderr)
            continue
        w = compare(ref, out, keys)
        ok(w < 1e-12, f"{name}: mpirun -n {n} = one process ({w:.2g})")


DARK_LUA = r"""
local X = require "ionflow.xpcsio"
local raw, out, darkfile = arg[1], arg[2], arg[3]
local g = X.raw_geometry(raw)
local qm = X.partitions(g, {q_bins = 3, phi_bins = 2})
local f <close> = h5.open(darkfile)
local res = X.correlate_ranks{raw = raw, dynamic = qm.dynamic,
  static = qm.static, dark = f:read("/dark"), segments = 3, normalize = true,
  twotime = {bins = {2}}, window = 250}
if res and res.writer then X.write_result(out, res, {geometry = g, qmap = qm}) end
"""


def dark_case(d, raw):
    """correlate_ranks with a dark image (and normalisation): mpirun -n
    2..4 = one process"""
    script = os.path.join(d, "dark.lua")
    with open(script, "w") as f:
        f.write(DARK_LUA)
    dark = os.path.join(d, "dark.h5")
    with h5py.File(dark, "w") as f:
        f["/dark"] = np.random.default_rng(5).uniform(0, 0.4, (23, 30))
    ref = os.path.join(d, "dark_1p.h5")
    p = subprocess.run([EXE, script, raw, ref, dark], capture_output=True,
                       text=True, env=ENV)
    if not ok(p.returncode == 0, "dark image: single process", p.stderr):
        return
    with h5py.File(ref) as a, h5py.File(raw) as b, h5py.File(dark) as c:
        img = b["/entry/data/data"][()].mean(axis=0) - c["/dark"][()]
        got = a["/xpcs/temporal_mean/scattering_2d"][0]
        m = np.isfinite(got)
        ok(m.sum() > 300 and np.allclose(got[m], img[m], rtol=1e-6, atol=1e-6),
           "dark image: the mean image is the frames' minus the dark")
    for n in (2, 3, 4):
        out = os.path.join(d, f"dark_{n}.h5")
        r = mpirun(n, script, raw, out, dark)
        if r.returncode != 0:
            ok(False, f"dark image: mpirun -n {n}", r.stdout + r.stderr)
            continue
        w = compare(ref, out, KEYS + WKEYS + TKEYS[:2])
        ok(w < 1e-12, f"dark image: mpirun -n {n} = one process ({w:.2g})")


LATE_LUA = r"""
local X = require "ionflow.xpcsio"
local raw, out, how = arg[1], arg[2], arg[3]
local g = X.raw_geometry(raw)
local qm = X.partitions(g, {q_bins = 3})
local res = X.correlate_ranks{raw = raw, dynamic = qm.dynamic,
  static = qm.static}
local ok = true
if mpi.rank() == 1 and how == "kill" then
  local pid = io.open("/proc/self/stat"):read("l"):match("^(%d+)")
  sys.run({"kill", "-TERM", pid})
elseif mpi.rank() == 1 and how == "fail" then
  ok = false
end
if res and res.writer then
  X.write_result(out, res, {geometry = g, qmap = qm,
    commit = function() X.ranks_agree(ok) end})
else
  X.ranks_agree(ok)
end
"""


def find_rank(p, rank, tag):
    """the pid of rank `rank` of mpirun p whose command line holds tag"""
    t0 = time.time()
    key = f"OMPI_COMM_WORLD_RANK={rank}\0".encode()
    while p.poll() is None and time.time() - t0 < 60:
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open(f"/proc/{pid}/environ", "rb") as f:
                    env = f.read()
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmd = f.read()
            except OSError:
                continue
            if key in env and tag.encode() in cmd and b"mpirun" not in cmd:
                return int(pid)
        time.sleep(0.01)
    return None


def finish(p):
    """p's output, and whether it had to be killed after 120 s"""
    try:
        so, se = p.communicate(timeout=120)
        return so, se, False
    except subprocess.TimeoutExpired:
        p.kill()
        so, se = p.communicate()
        return so, se, True


def main():
    if not built() or shutil.which("mpirun") is None:
        ok(True, "MPI tests", skip="ionflow built without MPI (make MPI=1)"
           if shutil.which("mpirun") else "no mpirun")
        sys.exit(done())
    d = tempfile.mkdtemp(prefix="ionflow-mpi-")
    rng = np.random.default_rng(11)
    dense = os.path.join(d, "dense.h5")
    apsraw.write_raw(dense, rng.poisson(1.5, (600, 23, 30)).astype(np.uint16),
                     1e-3, (14.5, 11.0))
    case(d, "dense HDF5", dense, ["--q-bins", "5", "--phi-bins", "3",
                                  "--segments", "4"], KEYS)
    case(d, "windows", dense, ["--q-bins", "4", "--window", "200",
                               "--overlap", "50"], KEYS + WKEYS, ranks=(2, 3))
    # a Rigaku 3M set (small modules) with its sidecar metadata
    mods = [rng.poisson(1.0, (300, 8, 16)).astype(np.uint16) for _ in range(6)]
    mods[2][50:] = 0
    base = os.path.join(d, "r3m_00001")
    D.write_rigaku_3m(base, mods)
    meta = os.path.join(d, "r3m_metadata.hdf")
    apsraw.write_raw(meta, np.zeros((1, 1, 1), np.uint16), 1e-3, (10.5, 12.5))
    with h5py.File(meta, "a") as f:
        del f["/entry/data/data"]
    case(d, "Rigaku 3M", base + ".bin.000",
         ["--nframes", "300", "--module", "8,16", "--gap", "2,3",
          "--q-bins", "4", "--phi-bins", "2"], KEYS)
    case(d, "Rigaku 3M, two-time, windows", base + ".bin.000",
         ["--nframes", "300", "--module", "8,16", "--gap", "2,3",
          "--q-bins", "3", "--twotime", "1,2", "--window", "120"],
         KEYS + WKEYS + TKEYS, ranks=(2, 3, 4))
    # fewer rows than ranks: some ranks hold nothing
    thin = os.path.join(d, "thin.h5")
    apsraw.write_raw(thin, rng.poisson(3.0, (300, 2, 40)).astype(np.uint16),
                     1e-3, (20.0, -3.0))
    case(d, "2 rows", thin, ["--q-bins", "3"], KEYS, ranks=(3, 4))

    # two-time maps: each rank's pair and frame sums, reduced
    case(d, "two-time", dense, ["--q-bins", "3", "--twotime", "1,3",
                                "--downsample", "2"], KEYS + TKEYS)
    case(d, "two-time, windows", dense, ["--q-bins", "3", "--twotime", "2",
                                         "--window", "150"],
         KEYS + WKEYS + TKEYS[:2], ranks=(2, 4))
    # more ranks than rows, with windows and two-time maps: the ranks
    # without rows take part in every reduction
    case(d, "2 rows, two-time, windows", thin,
         ["--q-bins", "3", "--twotime", "1,3", "--window", "100",
          "--overlap", "30"], KEYS + WKEYS + TKEYS, ranks=(3, 4))
    # a dark image (correlate_ranks from a script): each rank its rows
    dark_case(d, dense)
    # per-frame normalisation and rejection: by each frame's sum over the
    # whole detector (shared before the frame is correlated); some of the
    # 600 frames are rejected at 2.5 sigma
    rkeys = KEYS + WKEYS + ["/ionflow/xpcs/rejected_frames",
                            "/ionflow/xpcs/frame_index"]
    case(d, "normalise, reject, windows", dense,
         ["--q-bins", "4", "--normalize", "--reject", "2.5", "--window",
          "200"], rkeys)
    with h5py.File(os.path.join(d, "normalise, reject, windows_1p.h5")) as f:
        nrej = len(f["/ionflow/xpcs/rejected_frames"][()])
    ok(nrej > 3, f"... with frames rejected ({nrej})")
    # (chunks of 77 frames, which the reader's blocks follow: a rank
    # without rows learns each block's length from the others)
    thinc = os.path.join(d, "thin_chunked.h5")
    shutil.copy(thin, thinc)
    with h5py.File(thinc, "a") as f:
        fr = f["/entry/data/data"][()]
        del f["/entry/data/data"]
        f.create_dataset("/entry/data/data", data=fr, chunks=(77, 2, 40),
                         compression="gzip")
    case(d, "2 rows, chunked, normalise, reject", thinc,
         ["--q-bins", "3", "--normalize", "--reject", "2", "--window", "90",
          "--twotime", "2"], rkeys + TKEYS[:2], ranks=(3, 4))
    # a bad file: the job ends with its error
    bad = os.path.join(d, "bad.h5")
    with open(bad, "w") as f:
        f.write("not HDF5")
    t0 = time.time()
    r = mpirun(3, CORR, bad, "-o", os.path.join(d, "bad_out.h5"), timeout=120)
    ok(r.returncode != 0 and "bad.h5" in r.stderr and time.time() - t0 < 60,
       "a bad file ends the job with its name", r.stderr[-600:])
    # one rank killed while it works: the job ends, no result, no hang.
    # The victim is stopped as soon as it appears (before or during its
    # start-up, MPI_Init included, long before its sums), or once it has
    # read a part of the raw file but not all of it (mid-correlation: a
    # rank gives its sums only after its last frame; a clock would not
    # do, as on an idle machine the whole job takes under half a second);
    # the SIGTERM waits while the other rank runs into the first
    # reduction, then it goes on: whether it dies by the signal or stops
    # cooperatively, the job must end with an error and without a result.
    big = os.path.join(d, "big.h5")
    apsraw.write_raw(big, rng.poisson(0.5, (20000, 32, 32)).astype(np.uint16),
                     1e-3, (16.0, 16.0))
    size = os.path.getsize(big)
    for when in ("at its start", "mid-read"):
        out = os.path.join(d, "big_out.h5")
        p = subprocess.Popen(["mpirun", "--oversubscribe", "--allow-run-as-root",
                              "-n", "2", EXE, CORR, big, "-o", out, "--q-bins",
                              "3"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=ENV)
        victim = find_rank(p, 1, big)
        if victim and when == "mid-read":
            # (the victim's reads, other files included, between a tenth
            # and nine tenths of the raw file's size: it is inside its
            # frames; polled without a pause, the frames take tens of ms)
            got = procs.rchar(victim)
            while got is not None and got < size // 10:
                got = procs.rchar(victim)
            if got is None or got > 9 * size // 10:
                victim = None   # (missed the window: said below)
        if victim:
            os.kill(victim, signal.SIGSTOP)
            os.kill(victim, signal.SIGTERM)
            time.sleep(0.5)
            try:    # (a SIGTERM it does not handle yet kills it stopped)
                os.kill(victim, signal.SIGCONT)
            except ProcessLookupError:
                pass
        so, se, hung = finish(p)
        ok(victim is not None and not hung and p.returncode != 0 and
           not os.path.exists(out),
           f"a rank given SIGTERM {when} ends the job "
           "with an error, no result, no hang",
           f"victim {victim} rc {p.returncode}\n{se[-600:]}")
    # late: a rank interrupted after it gave its sums, while rank 0 writes;
    # or one that reports a failure of its own. The collective check before
    # the rename (xpcsio.ranks_agree) keeps the result from being written.
    script = os.path.join(d, "late.lua")
    with open(script, "w") as f:
        f.write(LATE_LUA)
    for how, say in (("kill", "interrupted"),
                     ("fail", "rank 1 of 3 failed or was interrupted")):
        out = os.path.join(d, f"late_{how}.h5")
        t0 = time.time()
        r = mpirun(3, script, dense, out, how, timeout=120)
        ok(r.returncode != 0 and say in r.stderr and not os.path.exists(out)
           and not [n for n in os.listdir(d) if n.startswith(f"late_{how}.h5")]
           and time.time() - t0 < 60,
           f"a rank that {'is interrupted' if how == 'kill' else 'fails'} "
           "after its sums: no result, no temporary file",
           r.stdout[-300:] + r.stderr[-900:])
    # the same script with every rank well: the result is written
    out = os.path.join(d, "late_none.h5")
    r = mpirun(3, script, dense, out, "none")
    ok(r.returncode == 0 and os.path.exists(out),
       "the same with every rank well writes the result", r.stderr[-600:])

    # the batch script: ranks share the files, results as one process's
    raws = os.path.join(d, "many")
    os.mkdir(raws)
    for i in range(5):
        apsraw.write_raw(os.path.join(raws, f"m{i}.h5"),
                         rng.poisson(1.0, (100, 12, 12)).astype(np.uint16),
                         1e-3, (6.0, 6.0))
    r = mpirun(2, BATCH, raws, "-o", os.path.join(d, "many_out"), "--q-bins", "3")
    lines = [ln for ln in r.stdout.splitlines() if ln.split()[:1] and
             ln.split()[0].isdigit() and "files:" not in ln]
    ok(r.returncode == 0 and len(lines) == 5 and
       "5 files: 5 done, 0 skipped, 0 failed" in r.stdout,
       "xpcs-batch under mpirun -n 2: every file once", r.stdout + r.stderr)
    same = True
    for i in (0, 3):
        ref = os.path.join(d, f"m{i}_ref.h5")
        subprocess.run([EXE, CORR, os.path.join(raws, f"m{i}.h5"), "-o", ref,
                        "--q-bins", "3"], capture_output=True, env=ENV)
        same = same and compare(ref, os.path.join(d, "many_out",
                                                  f"m{i}_result.h5"), KEYS) == 0
    ok(same, "its results are one process's")
    shutil.rmtree(d)
    sys.exit(done())


main()
