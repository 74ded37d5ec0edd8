#!/usr/bin/python3
"""ionflow's XPCS script against an independent NumPy multi-tau, through
files written and read by h5py: a raw file with APS 8-ID-I metadata, a
qmap file in the APS (pySimpleMask) layout with 0 = excluded, and the
result file in the APS result layout. TAP output."""
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


def multitau(x, sbins, nstat, s2d, ndyn, dpl=4):
    """the definition in src/corr.h: static-bin symmetric normalisation,
    dynamic bin = mean of its static bins"""
    x = x.astype(np.float64)
    use = sbins >= 0
    cnt = np.bincount(sbins[use], minlength=nstat).astype(float)
    taus, out, pairs = [], [], []
    level = 0
    while x.shape[0] >= 2:
        m = x.shape[0]
        lags = range(1, 2 * dpl + 1) if level == 0 else \
            range(dpl + 1, 2 * dpl + 1)
        for k in lags:
            if k >= m:
                continue
            G = np.bincount(sbins[use], (x[:-k] * x[k:]).mean(0)[use], nstat)
            IP = np.bincount(sbins[use], x[:-k].mean(0)[use], nstat)
            IF = np.bincount(sbins[use], x[k:].mean(0)[use], nstat)
            g2s = (G / cnt) / ((IP / cnt) * (IF / cnt))
            out.append([g2s[s2d == d].mean() for d in range(ndyn)])
            taus.append(k * 2 ** level)
            pairs.append(m - k)
        x = x[: m // 2 * 2].reshape(m // 2, 2, -1).sum(axis=1)
        level += 1
    return np.array(taus, float), np.array(out), np.array(pairs)


def main():
    exe = os.environ.get("IONFLOW", "./ionflow")
    top = os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
    script = os.path.join(top, "scripts", "xpcs-correlate.lua")
    rng = np.random.default_rng(3)
    rows, cols, frames = 20, 24, 301
    data = rng.poisson(3.0, size=(frames, rows, cols)).astype(np.uint16)
    # 3 dynamic bins (column bands), each of 2 static bins; a masked block
    dyn = np.zeros((rows, cols), np.uint32)
    sta = np.zeros((rows, cols), np.uint32)
    for c in range(cols):
        dyn[:, c] = c // 8 + 1
        sta[:, c] = 2 * (c // 8) + (1 if c % 8 < 4 else 2)
    dyn[0:4, 0:6] = 0
    sta[0:4, 0:6] = 0
    with tempfile.TemporaryDirectory() as d:
        raw, qmap, res = (os.path.join(d, f) for f in
                          ("raw.h5", "qmap.h5", "res.h5"))
        apsraw.write_raw(raw, data, 0.01, (11.5, 9.5))
        with h5py.File(qmap, "w") as f:
            f["/qmap/dynamic_roi_map"] = dyn
            f["/qmap/static_roi_map"] = sta
            f["/qmap/mask"] = (dyn > 0).astype(np.int32)
            f["/qmap/dynamic_v_list_dim0"] = np.array([1e-3, 2e-3, 3e-3])
            f["/qmap/dynamic_v_list_dim1"] = np.array([0.0])
        run = subprocess.run([exe, script, raw, "--qmap", qmap, "-o", res],
                             capture_output=True, text=True)
        ok(run.returncode == 0, "script runs on an APS qmap file")
        if run.returncode != 0:
            print("# " + run.stderr.replace("\n", "\n# "))
            done()
            return 1
        s2d = np.array([1, 1, 2, 2, 3, 3]) - 1
        x = data.reshape(frames, -1)
        tau, g2, pairs = multitau(x, sta.reshape(-1).astype(np.int64) - 1, 6, s2d, 3)
        with h5py.File(res, "r") as f:
            rtau = f["/xpcs/multitau/delay_list"][()]
            rg2 = f["/xpcs/multitau/normalized_g2"][()]
            err = f["/xpcs/multitau/normalized_g2_err"][()]
            img = f["/xpcs/temporal_mean/scattering_2d"][()]
            ivt = f["/xpcs/spatial_mean/intensity_vs_time"][()]
            ok("bluesky" in f["/entry/instrument"], "viewer marker group")
            ok(f["/xpcs/qmap/dynamic_roi_map"].shape == (rows, cols),
               "qmap copied into the result")
        ok(np.array_equal(rtau, tau), f"delays {list(rtau[:10])}...")
        ok(rg2.shape == (len(tau), 3), f"g2 is n_tau x n_bins {rg2.shape}")
        e = np.max(np.abs(rg2 - g2))
        ok(f32_is(rg2, g2), f"g2 = NumPy multi-tau in float32 (max diff "
           f"{e:.2g})")
        one = pairs < 2
        ok(np.all(err[~one] > 0) and np.all(err[~one] < 0.1) and
           np.all(np.isnan(err[one])), "errors positive, small; NaN "
           f"with a single pair ({one.sum()} delays)")
        want = data.mean(axis=0).astype(float)
        got = img[0]
        ok(f32_is(got[dyn > 0], want[dyn > 0]), "time-averaged image "
           "(float32)")
        ok(np.all(np.isnan(got[dyn == 0])), "masked pixels are NaN")
        use = dyn > 0
        ok(f32_is(ivt[1], data[:, use].mean(axis=1)) and
           np.array_equal(ivt[0], np.arange(frames)), "intensity vs frame "
           "(row 1: used frames from 0)")
    return done()


if __name__ == "__main__":
    sys.exit(main())
