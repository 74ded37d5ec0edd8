#!/usr/bin/python3
"""APS result files as input: xpcsio.read_result and xpcs-velocity.lua on
files written by h5py in boost_corr's layout (float32 g2, LZF maps, g2 = 0
with error 0 where a delay has no photon pairs, /entry energy differing
from the qmap's, frame_time as a (1,1) float32 or a scalar, a
scattering_2d that cannot be decoded) and in the legacy /exchange layout.

Checked: the q and phi of every g2 column are the qmap's (v_lists through
dynamic_index_mapping), printed and written as such; placeholders are
missing data (NaN), so every fit of a file with placeholders equals the
fit of the same file with NaN there; an unreadable dataset that g2 does
not need is reported and skipped; the legacy layout is read, or refused
naming it. When ../shared/data/real-aps/ is present its files go through
the script too. TAP output."""
import glob
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from tap import ok, diag, done  # noqa: E402

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(TOP, "scripts", "xpcs-velocity.lua")
IONFLOW = os.environ.get("IONFLOW", os.path.join(TOP, "ionflow"))
REAL = os.path.join(TOP, "..", "shared", "data", "real-aps")
if not os.path.isdir(REAL):
    REAL = "/work/shared/data/real-aps"

ROWS, COLS = 48, 64
QMAP = {"energy": 10.945, "detector_distance": 7.8, "pixel_size": 76e-6,
        "beam_center_x": 10.5, "beam_center_y": 40.5}
ENTRY_ENERGY = 12.339          # disagrees with the qmap's, as in real files
NQ, NPHI = 3, 2
CELLS = [0, 1, 2, 3, 5]        # grid cells of the g2 columns (cell 4 empty)
FT = 2e-5


def qmap_arrays():
    """dynamic map (bins 1..5 on CELLS), static map nested in it (two
    static bins per dynamic one) and the grid's q (1/A) and phi (deg)"""
    y, x = np.mgrid[0:ROWS, 0:COLS]
    r = np.hypot(x - QMAP["beam_center_x"], y - QMAP["beam_center_y"])
    ang = np.degrees(np.arctan2(y - QMAP["beam_center_y"],
                                x - QMAP["beam_center_x"]))
    lam = 12.398419843 / QMAP["energy"]
    q = 4 * np.pi / lam * np.sin(0.5 * np.arctan(
        r * QMAP["pixel_size"] / QMAP["detector_distance"]))
    edges = np.linspace(q[r > 3].min(), q.max() * 0.8, NQ + 1)
    iq = np.digitize(q, edges) - 1
    iphi = (ang >= 0).astype(int)
    cell = iq * NPHI + iphi
    dyn = np.zeros((ROWS, COLS), np.uint8)
    for k, c in enumerate(CELLS):
        dyn[(cell == c) & (iq >= 0) & (iq < NQ) & (r > 3)] = k + 1
    sta = np.where(dyn > 0, 2 * dyn.astype(np.uint16) - (x % 2), 0)
    qlist = 0.5 * (edges[1:] + edges[:-1])
    return dyn, sta.astype(np.uint16), qlist, np.array([-90.0, 90.0])


def g2_table(rng, nb):
    """homodyne decays on multi-tau delays (frames), float32, error 2e-3,
    with g2 = 0 and error 0 at the long delays of bins 1 and 2 and at a
    few scattered points: boost_corr's 'no photon pairs'"""
    tau = np.unique(np.round(np.geomspace(1, 60000, 50))).astype(np.int64)
    tau0 = np.geomspace(5e-3, 5e-2, nb)            # s
    g2 = 1 + 0.2 * np.exp(-2 * (tau[:, None] * FT) / tau0[None, :])
    g2 = g2 + rng.normal(0, 2e-3, g2.shape)
    err = np.full(g2.shape, 2e-3)
    hole = np.zeros(g2.shape, bool)
    hole[-6:, 0] = hole[-4:, 1] = True
    hole[rng.integers(0, len(tau), 5), rng.integers(0, nb, 5)] = True
    g2[hole], err[hole] = 0, 0
    return tau, g2.astype(np.float32), err.astype(np.float32), hole


def write_aps(path, tau, g2, err, frame_time, scattering="lzf"):
    dyn, sta, qlist, philist = qmap_arrays()
    with h5py.File(path, "w") as f:
        f["/entry/instrument/incident_beam/incident_energy"] = ENTRY_ENERGY
        f["/entry/instrument/detector_1/frame_time"] = frame_time
        f["/entry/instrument/detector_1/distance"] = 9.03
        f["/entry/start_time"] = "2025-03-25 20:34:10"
        m = "/xpcs/multitau/"
        f[m + "delay_list"] = tau
        f[m + "normalized_g2"] = g2
        f[m + "normalized_g2_err"] = err
        f[m + "config/stride_frame"] = np.int64(1)
        f[m + "config/avg_frame"] = np.int64(1)
        q = "/xpcs/qmap/"
        for k, v in QMAP.items():
            f[q + k] = v
        f.create_dataset(q + "dynamic_roi_map", data=dyn, chunks=(16, 32),
                         compression="lzf")
        f.create_dataset(q + "static_roi_map", data=sta, chunks=(16, 32),
                         compression="lzf")
        f.create_dataset(q + "mask", data=dyn > 0, chunks=(16, 32),
                         compression="lzf")
        f[q + "dynamic_v_list_dim0"] = qlist
        f[q + "dynamic_v_list_dim1"] = philist
        f[q + "dynamic_num_pts"] = np.array([NQ, NPHI], np.int64)
        f[q + "dynamic_index_mapping"] = np.array(CELLS, np.uint8)
        f[q + "map_names"] = np.array([b"q", b"phi"])
        img = np.random.default_rng(1).random((1, ROWS, COLS), np.float32)
        s2 = "/xpcs/temporal_mean/scattering_2d"
        if scattering == "lzf":
            f.create_dataset(s2, data=img, chunks=(1, 16, 64),
                             compression="lzf")
        else:          # zstd, which nothing here decodes
            dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
            dcpl.set_chunk((1, ROWS, COLS))
            dcpl.set_filter(32015, h5py.h5z.FLAG_OPTIONAL, ())
            f.require_group("/xpcs/temporal_mean")
            d = h5py.h5d.create(f.id, s2.encode(), h5py.h5t.NATIVE_FLOAT,
                                h5py.h5s.create_simple(img.shape), dcpl=dcpl)
            d.write_direct_chunk((0, 0, 0), b"\x00" * 64)
        f.create_dataset("/xpcs/spatial_mean/intensity_vs_time",
                         data=np.ones((2, 20000), np.float32),
                         chunks=(2, 16384), compression="lzf")
    return qlist, philist


READ = r"""
local X = require "ionflow.xpcsio"
local r = X.read_result(arg[1])
print("layout " .. r.layout)
print("missing " .. r.g2_missing)
print(string.format("ft %.17g", r.frame_time or 0 / 0))
for k = 1, #r.bins.q do
  print(string.format("bin %d %.17g %.17g %d", k, r.bins.q[k], r.bins.phi[k],
    r.bins.ring[k]))
end
local nan = {}
for i = 1, r.g2.shape[1] do
  for k = 1, r.g2.shape[2] do
    local g, e = r.g2:get(i, k), r.g2_err and r.g2_err:get(i, k) or 0
    if g ~= g and e ~= e then nan[#nan + 1] = (i - 1) .. ":" .. (k - 1) end
  end
end
print("nan " .. table.concat(nan, " "))
for p in pairs(r.unreadable) do print("unreadable " .. p) end
"""


def ionflow_read(d, path):
    script = os.path.join(d, "read.lua")
    with open(script, "w") as f:
        f.write(READ)
    r = subprocess.run([IONFLOW, script, path], capture_output=True,
                       text=True, timeout=60)
    out = {"bins": [], "unreadable": [], "rc": r.returncode,
           "stderr": r.stderr}
    for line in r.stdout.splitlines():
        w = line.split()
        if w[0] == "bin":
            out["bins"].append((float(w[2]), float(w[3]), int(w[4])))
        elif w[0] == "nan":
            out["nan"] = sorted(tuple(map(int, x.split(":"))) for x in w[1:])
        elif w[0] == "unreadable":
            out["unreadable"].append(w[1])
        else:
            out[w[0]] = w[1]
    return out


def velocity(path, out):
    return subprocess.run([IONFLOW, SCRIPT, path, "-o", out],
                          capture_output=True, text=True, timeout=300)


def printed_ring_q(stdout):
    """ring -> q (1/A) from the script's homodyne table"""
    rows, on = {}, False
    for line in stdout.splitlines():
        w = line.split()
        if w[:2] == ["ring", "q"]:
            on = True
        elif on and len(w) >= 2 and w[0].isdigit():
            rows[int(w[0])] = float(w[1])
        elif on:
            on = False
    return rows


def all_datasets(path, root="/ionflow/velocity"):
    out = {}
    with h5py.File(path, "r") as f:
        f[root].visititems(lambda n, o: out.__setitem__(n, o[()])
                           if isinstance(o, h5py.Dataset) else None)
    return out


def check_synthetic(d):
    rng = np.random.default_rng(4)
    nb = len(CELLS)
    tau, g2, err, hole = g2_table(rng, nb)
    a, b, c = (os.path.join(d, x) for x in ("a.hdf", "b.hdf", "c.hdf"))
    qlist, philist = write_aps(a, tau, g2, err, np.array([[FT]], np.float32))
    g2n, errn = g2.copy(), err.copy()
    g2n[hole], errn[hole] = np.nan, np.nan
    write_aps(b, tau, g2n, errn, np.array([[FT]], np.float32))
    write_aps(c, tau, g2, err, FT, scattering="zstd")

    r = ionflow_read(d, a)
    if not ok(r["rc"] == 0, "read_result reads boost_corr's layout"):
        diag(r["stderr"])
        return
    want_q = [qlist[c_ // NPHI] / 1e-10 for c_ in CELLS]
    want_phi = [philist[c_ % NPHI] for c_ in CELLS]
    got = r["bins"]
    ok(len(got) == nb and all(x[0] == q for x, q in zip(got, want_q)) and
       all(x[1] == p for x, p in zip(got, want_phi)) and
       [x[2] for x in got] == [c_ // NPHI + 1 for c_ in CELLS],
       "q, phi and ring of each g2 column: the qmap's v_lists through "
       "dynamic_index_mapping (not /entry's energy)")
    ok(r["layout"] == "aps" and int(r["missing"]) == int(hole.sum()) and
       r.get("nan") == sorted(map(tuple, np.argwhere(hole).tolist())),
       f"the {int(hole.sum())} placeholders (g2 = 0, error 0) are NaN, "
       "nothing else")
    ok(float(r["ft"]) == float(np.float32(FT)), "frame_time (1,1) float32")

    rc = ionflow_read(d, c)
    ok(rc["rc"] == 0 and float(rc["ft"]) == FT and
       rc["unreadable"] == ["/xpcs/temporal_mean/scattering_2d"],
       "frame_time scalar; an undecodable scattering_2d is reported, "
       "not fatal")

    outs = {}
    for name, path in (("a", a), ("b", b), ("c", c)):
        outs[name] = os.path.join(d, name + "_vel.h5")
        v = velocity(path, outs[name])
        if not ok(v.returncode == 0, f"xpcs-velocity on file {name}"):
            diag(v.stderr[-1500:])
            return
        outs[name + "_stdout"] = v.stdout
        outs[name + "_stderr"] = v.stderr
    rq = printed_ring_q(outs["a_stdout"])
    ok(rq == {i + 1: round(qlist[i], 6) for i in range(NQ)},
       f"printed ring q = the qmap's ({rq})")
    A, B = all_datasets(outs["a"]), all_datasets(outs["b"])
    ok(np.array_equal(A["bins/q_per_m"], want_q) and
       np.array_equal(A["homodyne/rings/q_per_m"], qlist / 1e-10),
       "written q per bin and per ring = the qmap's")
    def equal(a, b):  # NaN equal to NaN in numbers; strings (statuses) as they are
        a, b = np.asarray(a), np.asarray(b)
        if a.dtype.kind in "fc" and b.dtype.kind in "fc":
            return np.array_equal(a, b, equal_nan=True)
        return np.array_equal(a, b)
    same = sorted(A) == sorted(B) and all(equal(A[k], B[k]) for k in A)
    ok(same, f"every fit ({len(A)} datasets) of the file with placeholders"
       " equals that of the file with NaN there")
    diag(f"rings' tau0: {A.get('homodyne/rings/tau0_s')}")
    ok("scattering_2d" in outs["c_stderr"] and "zstd" in outs["c_stderr"],
       "the script warns about the unreadable scattering_2d")


def write_legacy(path, tau, g2, err, nq_list=None):
    nb = g2.shape[1]
    with h5py.File(path, "w") as f:
        f["/exchange/norm-0-g2"] = g2.astype(np.float64)
        f["/exchange/norm-0-stderr"] = err.astype(np.float64)
        f["/exchange/tau"] = tau[None, :].astype(np.float64)
        q = np.linspace(0.002, 0.01, nq_list or nb)
        f["/xpcs/dqlist"] = q[None, :]
        f["/xpcs/dphilist"] = np.zeros((1, nq_list or nb))
        f["/measurement/instrument/detector/exposure_period"] = \
            np.array([[FT]])
    return q


def check_legacy(d):
    rng = np.random.default_rng(8)
    tau, g2, err, hole = g2_table(rng, 4)
    p = os.path.join(d, "legacy.hdf")
    q = write_legacy(p, tau, g2, err)
    r = ionflow_read(d, p)
    ok(r["rc"] == 0 and r["layout"] == "aps-legacy" and
       [x[0] for x in r["bins"]] == list(q / 1e-10) and
       float(r["ft"]) == FT and int(r["missing"]) == int(hole.sum()),
       "legacy /exchange layout: g2, q per bin, exposure period, "
       "placeholders")
    out = os.path.join(d, "legacy_vel.h5")
    v = velocity(p, out)
    ok(v.returncode == 0 and printed_ring_q(v.stdout) ==
       {i + 1: round(q[i], 6) for i in range(4)},
       "xpcs-velocity on a legacy file prints its dqlist q")
    bad = os.path.join(d, "legacy_bad.hdf")
    write_legacy(bad, tau, g2, err, nq_list=3)
    v = velocity(bad, out)
    ok(v.returncode != 0 and "legacy APS layout" in v.stderr and
       "legacy_bad.hdf" in v.stderr, "a legacy file whose q list does not "
       "fit its g2: error naming the layout and the file")
    other = os.path.join(d, "other.h5")
    with h5py.File(other, "w") as f:
        f["/x"] = 1
    v = velocity(other, out)
    ok(v.returncode != 0 and "/xpcs/multitau/normalized_g2" in v.stderr,
       "a file in neither layout: says which layouts it looked for")
    if v.returncode == 0 or "normalized_g2" not in v.stderr:
        diag(v.stdout + v.stderr)


def check_real(d):
    files = sorted(glob.glob(os.path.join(REAL, "*.hdf")))
    if not files:
        ok(True, "real APS files", skip="../shared/data/real-aps not present")
        return
    for p in files:
        out = os.path.join(d, "real_vel.h5")
        v = velocity(p, out)
        with h5py.File(p, "r") as f:
            ql = f["/xpcs/qmap/dynamic_v_list_dim0"][()]
            im = f["/xpcs/qmap/dynamic_index_mapping"][()]
            nphi = int(f["/xpcs/qmap/dynamic_num_pts"][()][1])
        want = ql[im // nphi] / 1e-10
        good = v.returncode == 0
        if good:
            got = all_datasets(out)["bins/q_per_m"]
            rq = printed_ring_q(v.stdout)
            good = (np.array_equal(got, want) and
                    all(abs(rq[i + 1] - ql[i]) < 5e-7 for i in range(len(ql))))
        ok(good, f"{os.path.basename(p)}: xpcs-velocity prints and writes "
           "the qmap's q")
        if v.returncode != 0:
            diag(v.stderr[-1500:])


def main():
    with tempfile.TemporaryDirectory() as d:
        check_synthetic(d)
        check_legacy(d)
        check_real(d)
    return done()


if __name__ == "__main__":
    sys.exit(main())
