#!/usr/bin/python3
"""The result file of scripts/xpcs-correlate.lua opened the way the
community viewer (AdvancedPhotonSource/pyXpcsViewer) opens an APS 8-ID-I
result written by boost_corr: the same HDF5 paths (its aps_8idi key map),
the same reads and reshapes (XpcsFile.load_data, QMap.load_dataset,
reshape_phi_analysis, the two-time reader that adds the stored triangle to
its transpose), and an exact list of the datasets we write. Numbers are
checked against NumPy evaluations of the raw frames. TAP output."""
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from tap import ok, done  # noqa: E402
import apsraw  # noqa: E402
from f32check import f32_is  # noqa: E402


# the viewer's names -> paths (the facts its reader relies on)
KEY = {
    "mask": "/xpcs/qmap/mask",
    "dqmap": "/xpcs/qmap/dynamic_roi_map",
    "sqmap": "/xpcs/qmap/static_roi_map",
    "dqlist": "/xpcs/qmap/dynamic_v_list_dim0",
    "sqlist": "/xpcs/qmap/static_v_list_dim0",
    "dplist": "/xpcs/qmap/dynamic_v_list_dim1",
    "splist": "/xpcs/qmap/static_v_list_dim1",
    "bcy": "/xpcs/qmap/beam_center_y",
    "bcx": "/xpcs/qmap/beam_center_x",
    "det_dist": "/xpcs/qmap/detector_distance",
    "pixel_size": "/xpcs/qmap/pixel_size",
    "static_index_mapping": "/xpcs/qmap/static_index_mapping",
    "dynamic_index_mapping": "/xpcs/qmap/dynamic_index_mapping",
    "static_num_pts": "/xpcs/qmap/static_num_pts",
    "dynamic_num_pts": "/xpcs/qmap/dynamic_num_pts",
    "start_time": "/entry/start_time",
    "map_names": "/xpcs/qmap/map_names",
    "map_units": "/xpcs/qmap/map_units",
    "Int_t": "/xpcs/spatial_mean/intensity_vs_time",
    "tau": "/xpcs/multitau/delay_list",
    "g2": "/xpcs/multitau/normalized_g2",
    "g2_partial": "/xpcs/multitau/normalized_g2_partial",
    "g2_partial_err": "/xpcs/multitau/normalized_g2_partial_err",
    "g2_partial_labels": "/xpcs/multitau/normalized_g2_partial_labels",
    "stride_frame": "/xpcs/multitau/config/stride_frame",
    "avg_frame": "/xpcs/multitau/config/avg_frame",
    "g2_err": "/xpcs/multitau/normalized_g2_err",
    "saxs_2d": "/xpcs/temporal_mean/scattering_2d",
    "saxs_1d": "/xpcs/temporal_mean/scattering_1d",
    "Iqp": "/xpcs/temporal_mean/scattering_1d_segments",
    "c2_g2_segments": "/xpcs/twotime/normalized_g2_segments",
    "c2_g2": "/xpcs/twotime/normalized_g2",
    "c2_delay": "/xpcs/twotime/delay_list",
    "c2_prefix": "/xpcs/twotime/correlation_map",
    "c2_processed_bins": "/xpcs/twotime/processed_bins",
    "c2_stride_frame": "/xpcs/twotime/config/stride_frame",
    "c2_avg_frame": "/xpcs/twotime/config/avg_frame",
    "t0": "/entry/instrument/detector_1/frame_time",
    "t1": "/entry/instrument/detector_1/count_time",
    "X_energy": "/entry/instrument/incident_beam/incident_energy",
}


def get(f, fields):
    """the viewer's hdf_reader.get in alias mode"""
    ret = {}
    for key in fields:
        val = f[KEY[key]][()]
        if key == "saxs_2d" and val.ndim == 3:
            val = val[0]
        if type(val) in (np.bytes_, bytes):
            val = val.decode()
        if isinstance(val, np.ndarray) and val.shape == (1, 1):
            val = val.item()
        ret[key] = val
    return ret


def load_qmap(f):
    q = {}
    for key in ("mask", "dqmap", "sqmap", "dqlist", "sqlist", "dplist",
                "splist", "bcx", "bcy", "X_energy", "static_index_mapping",
                "dynamic_index_mapping", "pixel_size", "det_dist",
                "dynamic_num_pts", "static_num_pts", "map_names",
                "map_units"):
        q[key] = f[KEY[key]][()]
    q["map_names"] = [x.decode("utf-8") for x in q["map_names"]]
    q["map_units"] = [x.decode("utf-8") for x in q["map_units"]]
    q["hash"] = f["/xpcs/qmap"].attrs["hash"]
    return q


def reshape_phi(q, raw):
    """QMap.reshape_phi_analysis: columns -> full nq x nphi grid"""
    m = q["static_index_mapping"]
    ns = raw.size // m.size
    assert ns * m.size == raw.size
    full = np.full((ns, len(q["sqlist"]) * len(q["splist"])), np.nan)
    comp = raw.reshape(ns, -1)
    for i in range(ns):
        full[i, m] = comp[i]
    return full.reshape(ns, len(q["sqlist"]), len(q["splist"]))


def c2_full(half):
    c2 = half + half.T
    c2[np.diag_indices(half.shape[0])] /= 2
    return c2


def datasets(f):
    out = {}
    f.visititems(lambda name, obj: out.__setitem__(name, obj.shape)
                 if isinstance(obj, h5py.Dataset) else None)
    return out


def multitau_delays(m, dpl=4):
    taus, lev = [], 0
    while m >= 2:
        for k in (range(1, 2 * dpl + 1) if lev == 0 else
                  range(dpl + 1, 2 * dpl + 1)):
            if k < m:
                taus.append(k * 2 ** lev)
        m //= 2
        lev += 1
    return np.array(taus, float)


def write_raw(path, data, ft):
    apsraw.write_raw(path, data, ft, (3.5, 2.5))


def run(exe, script, *args):
    r = subprocess.run([exe, script, *args], capture_output=True, text=True)
    if r.returncode != 0:
        print("# " + r.stderr.replace("\n", "\n# "))
    return r.returncode == 0


def check_generated(exe, script, d):
    rng = np.random.default_rng(11)
    rows, cols, frames, ft, stride, ds = 16, 20, 240, 0.01, 2, 2
    data = rng.poisson(4.0, size=(frames, rows, cols)).astype(np.uint16)
    raw, res = os.path.join(d, "raw.h5"), os.path.join(d, "res.h5")
    write_raw(raw, data, ft)
    ok(run(exe, script, raw, "-o", res, "--q-bins", "3", "--phi-bins", "2",
           "--stride", str(stride), "--window", "40", "--segments", "4",
           "--twotime", "4,1", "--downsample", str(ds)),
       "xpcs-correlate: 3 q x 2 phi bins, stride 2, windows, two-time")
    used = data[::stride].astype(float)        # the frames correlated
    M = used.shape[0]
    with h5py.File(res, "r") as f:
        have = datasets(f)
        atype = [t for t, p in (("Twotime", KEY["c2_prefix"]),
                                ("Multitau", KEY["g2"])) if p in f]
        ok(atype == ["Twotime", "Multitau"], f"analysis type {atype}")
        ret = get(f, ["saxs_1d", "Iqp", "Int_t", "t0", "t1", "start_time",
                      "tau", "g2", "g2_err", "stride_frame", "avg_frame",
                      "c2_g2", "c2_g2_segments", "c2_processed_bins",
                      "c2_stride_frame", "c2_avg_frame", "saxs_2d",
                      "g2_partial", "g2_partial_err", "g2_partial_labels"])
        q = load_qmap(f)
        names = sorted(f[KEY["c2_prefix"]])
        halves = [f[KEY["c2_prefix"] + "/" + k][()] for k in names]
    nb = len(q["dynamic_index_mapping"])
    tau = multitau_delays(M)
    # XpcsFile.load_data: t0 x stride x avg, t_el = tau t0
    t0 = ret["t0"] * ret["stride_frame"] * ret["avg_frame"]
    ok(np.allclose(ret["tau"] * t0, tau * stride * ft, rtol=1e-12, atol=0)
       and ret["tau"].shape == (len(tau),),
       f"delay_list ({len(tau)},) in used frames: t_el = tau x frame_time x "
       "stride x avg gives seconds")
    ok(ret["g2"].shape == (len(tau), nb) and ret["g2_err"].shape ==
       ret["g2"].shape, f"g2, g2_err: n_tau x n_bins {ret['g2'].shape}")
    ok(q["map_names"] == ["q", "phi"] and list(q["dynamic_num_pts"]) ==
       [3, 2] and len(q["dqlist"]) == 3 and len(q["dplist"]) == 2,
       "qmap: map names q, phi; 3 x 2 grid with its v_lists")
    labels = [f"{a}, {b}" for a in q["dqlist"] for b in q["dplist"]]
    ok(all(0 <= i < len(labels) for i in q["dynamic_index_mapping"]) and
       nb == 6, "every g2 column has a grid label (dynamic_index_mapping)")
    # q-major grid: column k is ring k // 2, sector k % 2; check the roi map
    dq = q["dqmap"]
    img = used.mean(axis=0)
    ok(ret["saxs_2d"].shape == (rows, cols) and f32_is(
        ret["saxs_2d"][dq > 0], img[dq > 0]),
       "scattering_2d (1, rows, cols): the time-averaged image")
    ok(isinstance(q["hash"], str) and q["bcx"] == 3.5 and q["bcy"] == 2.5 and
       q["pixel_size"] == 75e-6 and q["det_dist"] == 4.0 and
       q["X_energy"] == 10.0, "qmap: hash attribute, beam centre, pixel "
       "size, distance, energy")
    full = reshape_phi(q, ret["saxs_1d"])
    sq = q["sqmap"]
    want = np.full(full.shape[1] * full.shape[2], np.nan)
    for b in range(1, sq.max() + 1):
        if (sq == b).any():
            want[b - 1] = img[sq == b].mean()
    ok(ret["saxs_1d"].shape == (1, q["static_index_mapping"].size) and
       f32_is(full.reshape(-1).astype(np.float32), want),
       f"scattering_1d {ret['saxs_1d'].shape}: non-empty static bins, "
       "placed by static_index_mapping = I of the bin's pixels")
    iqp = reshape_phi(q, ret["Iqp"])
    ok(iqp.shape[0] == 4, "scattering_1d_segments: 4 segments x columns")
    it = ret["Int_t"]
    use = dq > 0
    ok(it.shape == (2, M) and np.array_equal(it[0], np.arange(M))
       and f32_is(it[1], used[:, use].mean(axis=1)),
       "intensity_vs_time (2, frames): used frames counted from 0, mean "
       "intensity")
    nw = len(ret["g2_partial_labels"])
    ok(ret["g2_partial"].shape == (nw, len(tau), nb) and nw == 3 and
       ret["g2_partial_err"].shape == ret["g2_partial"].shape,
       f"normalized_g2_partial (windows, n_tau, n_bins) {ret['g2_partial'].shape}")
    # two-time: stored triangle + transpose = C of the downsampled frames
    ok(names == ["c2_00001", "c2_00002"] and
       list(ret["c2_processed_bins"].reshape(-1)) == [4, 1],
       f"correlation_map/{names} numbered in the order of processed_bins "
       "[4, 1] (as boost_corr)")
    nt = M // ds
    dsf = used[: nt * ds].reshape(nt, ds, rows, cols).mean(axis=1)
    err, exact = 0, True
    for half, b in zip(halves, (4, 1)):
        x = dsf[:, dq == b]
        C = (x @ x.T / x.shape[1]) / np.outer(x.mean(1), x.mean(1))
        err = max(err, np.max(np.abs(c2_full(half) - C)))
        exact = exact and f32_is(c2_full(half), C)
        ok(np.allclose(np.tril(half, -1), 0), f"bin {b}: one triangle stored")
    ok(exact, f"c2 + c2^T (diagonal halved) = C(t1, t2) of NumPy in float32 "
       f"(max diff {err:.2g})")
    g2f = np.swapaxes(ret["c2_g2"], 0, 1)
    g2p = np.swapaxes(ret["c2_g2_segments"], 0, 2)
    ok(g2f.shape == (2, nt) and g2p.shape[0] == 2 and
       ret["c2_stride_frame"] == stride and ret["c2_avg_frame"] == ds,
       "two-time g2 (n, bins) and segments as the viewer swaps them; "
       "stride and avg_frame = downsample")
    expect = {
        "entry/start_time": (), "entry/instrument/incident_beam/incident_energy": (),
        "entry/instrument/detector_1/frame_time": (),
        "entry/instrument/detector_1/count_time": (),
        "xpcs/multitau/delay_list": (len(tau),),
        "xpcs/multitau/normalized_g2": (len(tau), nb),
        "xpcs/multitau/normalized_g2_err": (len(tau), nb),
        "xpcs/multitau/normalized_g2_partial": (nw, len(tau), nb),
        "xpcs/multitau/normalized_g2_partial_err": (nw, len(tau), nb),
        "xpcs/multitau/normalized_g2_partial_labels": (nw,),
        "xpcs/multitau/config/stride_frame": (),
        "xpcs/multitau/config/avg_frame": (),
        "xpcs/temporal_mean/scattering_2d": (1, rows, cols),
        "xpcs/temporal_mean/scattering_1d": ret["saxs_1d"].shape,
        "xpcs/temporal_mean/scattering_1d_segments": (4, ret["saxs_1d"].shape[1]),
        "xpcs/spatial_mean/intensity_vs_time": (2, M),
        "xpcs/twotime/correlation_map/c2_00001": (nt, nt),
        "xpcs/twotime/correlation_map/c2_00002": (nt, nt),
        "xpcs/twotime/normalized_g2": (nt, 2),
        "xpcs/twotime/normalized_g2_segments": (nt, 1, 2),
        "xpcs/twotime/processed_bins": (2,),
        "xpcs/twotime/delay_list": (nt,),
        "xpcs/twotime/config/stride_frame": (),
        "xpcs/twotime/config/avg_frame": (),
        "xpcs/qmap/mask": (rows, cols), "xpcs/qmap/dynamic_roi_map": (rows, cols),
        "xpcs/qmap/static_roi_map": (rows, cols),
        "xpcs/qmap/dynamic_v_list_dim0": (3,), "xpcs/qmap/dynamic_v_list_dim1": (2,),
        "xpcs/qmap/static_v_list_dim0": (12,), "xpcs/qmap/static_v_list_dim1": (2,),
        "xpcs/qmap/dynamic_num_pts": (2,), "xpcs/qmap/static_num_pts": (2,),
        "xpcs/qmap/dynamic_index_mapping": (6,),
        "xpcs/qmap/static_index_mapping": (ret["saxs_1d"].shape[1],),
        "xpcs/qmap/map_names": (2,), "xpcs/qmap/map_units": (2,),
        "xpcs/qmap/beam_center_x": (), "xpcs/qmap/beam_center_y": (),
        "xpcs/qmap/detector_distance": (), "xpcs/qmap/pixel_size": (),
    }
    ours = {k: v for k, v in have.items() if not k.startswith("ionflow/")}
    extra = sorted(set(ours) - set(expect))
    missing = sorted(set(expect) - set(ours))
    bad = sorted(k for k in expect if k in ours and ours[k] != expect[k])
    ok(not extra and not missing and not bad, "exactly the layout's datasets "
       f"outside /ionflow (extra {extra}, missing {missing}, shape {bad})")
    for k in bad:
        print(f"# {k}: {ours[k]} != {expect[k]}")


def check_aps_qmap(exe, script, d):
    """a pySimpleMask-style qmap with its own grid: 2 q x 2 phi, bins
    numbered 1..3 (one grid cell empty), index mappings into the grid"""
    rng = np.random.default_rng(5)
    rows, cols, frames = 12, 16, 100
    data = rng.poisson(2.0, size=(frames, rows, cols)).astype(np.uint16)
    dyn = np.zeros((rows, cols), np.uint32)
    dyn[:, 0:5], dyn[:, 5:10], dyn[:, 10:16] = 1, 2, 3
    sta = dyn * 2 - (np.arange(cols) % 2 == 0)[None, :] * (dyn > 0)
    raw, qf, res = (os.path.join(d, x) for x in ("r2.h5", "q2.h5", "s2.h5"))
    write_raw(raw, data, 0.02)
    with h5py.File(qf, "w") as f:
        f["/qmap/dynamic_roi_map"] = dyn
        f["/qmap/static_roi_map"] = sta.astype(np.uint32)
        f["/qmap/mask"] = (dyn > 0).astype(np.int32)
        f["/qmap/dynamic_v_list_dim0"] = np.array([0.001, 0.002])
        f["/qmap/dynamic_v_list_dim1"] = np.array([-45.0, 45.0])
        f["/qmap/dynamic_num_pts"] = np.array([2, 2])
        f["/qmap/dynamic_index_mapping"] = np.array([0, 1, 3])
        f["/qmap/static_v_list_dim0"] = np.array([1e-3, 1.5e-3, 2e-3])
        f["/qmap/static_v_list_dim1"] = np.array([-45.0, 45.0])
        f["/qmap/static_num_pts"] = np.array([3, 2])
        f["/qmap/static_index_mapping"] = np.array([0, 1, 2, 3, 4, 5])
        f["/qmap/map_names"] = np.array([b"q", b"phi"])
        f["/qmap/map_units"] = np.array([b"1/A", b"deg"])
    ok(run(exe, script, raw, "--qmap", qf, "-o", res),
       "xpcs-correlate with a pySimpleMask-style qmap")
    with h5py.File(res, "r") as f:
        q = load_qmap(f)
        s1 = f[KEY["saxs_1d"]][()]
        g2 = f[KEY["g2"]][()]
    ok(list(q["dynamic_index_mapping"]) == [0, 1, 3] and
       list(q["static_num_pts"]) == [3, 2] and list(q["dplist"]) ==
       [-45.0, 45.0], "the qmap file's own grid and index mappings kept")
    full = reshape_phi(q, s1).reshape(-1)
    img = data.mean(axis=0)
    want = np.array([img[sta == b].mean() for b in range(1, 7)])
    ok(g2.shape[1] == 3 and f32_is(full.astype(np.float32), want),
       "scattering_1d lands on the file's static grid; g2 has 3 columns")


def check_storage(exe, script, d):
    """results stored as the facility's: float32 measured values, integer
    maps in the smallest type, large arrays chunked and LZF-compressed,
    and still what the viewer's reader computes"""
    rng = np.random.default_rng(2)
    rows, cols, frames = 96, 100, 1000
    data = rng.poisson(3.0, size=(frames, rows, cols)).astype(np.uint16)
    raw, res = os.path.join(d, "big.h5"), os.path.join(d, "big_res.h5")
    write_raw(raw, data, 0.01)
    ok(run(exe, script, raw, "-o", res, "--q-bins", "3", "--twotime", "2"),
       "xpcs-correlate: 1000 frames of 96 x 100, a two-time map")
    with h5py.File(res, "r") as f:
        dt = {k: f[KEY[k]].dtype for k in ("g2", "g2_err", "saxs_2d",
                                           "saxs_1d", "Int_t", "c2_g2")}
        ok(all(v == np.float32 for v in dt.values()),
           f"g2, errors, intensities, two-time g2: float32 ({dt})")
        ints = {k: f[KEY[k]].dtype for k in ("dqmap", "sqmap", "mask",
                                             "dynamic_index_mapping",
                                             "static_index_mapping")}
        ok(ints["dqmap"] == np.uint8 and ints["mask"] == np.uint8 and
           ints["dynamic_index_mapping"] == np.uint8 and
           all(v.kind == "u" for v in ints.values()),
           f"integer maps in the smallest unsigned type ({ints})")
        c2 = f[KEY["c2_prefix"] + "/c2_00001"]
        s2 = f[KEY["saxs_2d"]]
        ok(c2.dtype == np.float32 and c2.compression == "lzf" and
           c2.chunks is not None and s2.compression == "lzf" and
           f[KEY["dqmap"]].compression == "lzf",
           "two-time map, scattering_2d and roi maps chunked, LZF")
        n = c2.shape[0]
        stored = c2.id.get_storage_size()
        ok(stored < n * n * 4 * 0.75, f"two-time map {n} x {n}: {stored} B "
           f"stored, {n * n * 8} B as float64 (ratio "
           f"{stored / (n * n * 8):.3f})")
        half = c2[()]
        dq = f[KEY["dqmap"]][()]
    x = data[:, dq == 2].astype(float)
    C = (x @ x.T / x.shape[1]) / np.outer(x.mean(1), x.mean(1))
    ok(f32_is(c2_full(half), C), "the viewer's c2 + c2^T is NumPy's C(t1, "
       "t2) in float32")


def main():
    exe = os.environ.get("IONFLOW", "./ionflow")
    top = os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
    script = os.path.join(top, "scripts", "xpcs-correlate.lua")
    with tempfile.TemporaryDirectory() as d:
        check_generated(exe, script, d)
        check_aps_qmap(exe, script, d)
        check_storage(exe, script, d)
    return done()


if __name__ == "__main__":
    sys.exit(main())
