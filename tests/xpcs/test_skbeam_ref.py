#!/usr/bin/python3
"""bench/corr_skbeam.py (the scikit-beam stand-in the correlation issue's
speed goal is measured against) against a brute-force direct correlation:
frames of level l as means of 2^l raw frames, every pair at every lag,
ROI means taken pixel by pixel. The stand-in must agree at every delay it
reports, with bad (NaN) frames skipped, and with bench/corr_numpy.py at
the delays both compute on the same level. TAP output."""
import os
import sys

import numpy as np

top = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(top, "bench"))
import corr_numpy  # noqa: E402
import corr_skbeam  # noqa: E402
sys.path.insert(0, os.path.join(top, "tests"))
from tap import ok, done  # noqa: E402


def brute(stack, labels, num_levels, num_bufs):
    """{delay: g2 per ROI} straight from the definition"""
    frames = stack.shape[0]
    x = stack.reshape(frames, -1).astype(np.float64)
    lab = labels.reshape(-1)
    rois = sorted(set(lab[lab > 0].tolist()))
    out = {}
    half = num_bufs // 2
    for level in range(num_levels):
        w = 2 ** level
        m = frames // w
        lv = np.array([x[j * w:(j + 1) * w].mean(axis=0) for j in range(m)])
        for i in range(half if level else 0, num_bufs):
            G, P, F = [], [], []
            for r in rois:
                sel = lab == r
                g = p = f = 0.0
                pairs = 0
                for t in range(i, m):
                    a, b = lv[t - i][sel], lv[t][sel]
                    if np.isnan(a).any() or np.isnan(b).any():
                        continue
                    pairs += 1
                    g += np.mean(a * b)
                    p += np.mean(a)
                    f += np.mean(b)
                if pairs == 0:
                    break
                G.append(g / pairs)
                P.append(p / pairs)
                F.append(f / pairs)
            if len(G) == len(rois):
                out[i * w] = np.array(G) / (np.array(P) * np.array(F))
    return out


def compare(g2, tau, ref):
    """largest relative difference over the reported delays; None if a
    reported delay has no brute-force value"""
    worst = 0.0
    for j, t in enumerate(tau):
        if t not in ref:
            return None
        worst = max(worst, np.max(np.abs(g2[j] / ref[t] - 1)))
    return worst


def main():
    rng = np.random.default_rng(11)
    rows, cols, frames = 8, 7, 90
    data = rng.poisson(3.0, size=(frames, rows, cols)).astype(np.uint16)
    # labels not consecutive, with background
    labels = np.zeros((rows, cols), np.int64)
    labels[:, 0:3] = 5
    labels[:, 3:5] = 2
    labels[2:, 5:] = 9

    g2, tau = corr_skbeam.multi_tau_auto_corr(4, 8, labels, data)
    ok(list(tau) == list(range(8)) + [8, 10, 12, 14, 16, 20, 24, 28,
                                      32, 40, 48, 56],
       f"delays 0..7, then 4..7 x 2^l ({len(tau)})")
    ok(g2.shape == (len(tau), 3), f"g2 is delays x ROIs {g2.shape}")
    ref = brute(data, labels, 4, 8)
    e = compare(g2, tau, ref)
    ok(e is not None and e < 1e-12,
       f"g2 = brute force at every delay (max rel diff {e})")

    # six levels on 90 frames: level 5 has 2 frames, no pair at lag 4
    g2, tau = corr_skbeam.multi_tau_auto_corr(6, 8, labels, data)
    ref = brute(data, labels, 6, 8)
    ok(list(tau) == sorted(ref), "cut at the first delay without data "
       f"(last {tau[-1]}, brute force {max(ref)})")
    e = compare(g2, tau, ref)
    ok(e is not None and e < 1e-12, f"deep levels = brute force ({e})")

    # a bad frame: every pair touching it is skipped, on every level
    bad = data.astype(np.float64)
    bad[37] = np.nan
    g2, tau = corr_skbeam.multi_tau_auto_corr(4, 8, labels, bad)
    ref = brute(bad, labels, 4, 8)
    e = compare(g2, tau, ref)
    ok(e is not None and e < 1e-12 and np.all(np.isfinite(g2)),
       f"NaN frame skipped as in the definition ({e})")

    # the generator yields after every frame; midway = the first frames
    mid = None
    count = 0
    for count, (g, t) in enumerate(corr_skbeam.lazy_one_time(
            data, 4, 8, labels), 1):
        if count == 41:
            mid = (g, t)
    ok(count == frames, f"one result per frame ({count})")
    e = compare(mid[0], mid[1], brute(data[:41], labels, 4, 8))
    ok(e is not None and e < 1e-12, f"after 41 frames = brute force ({e})")

    # same estimator as ionflow's NumPy reference where both use one level
    bins = labels.reshape(-1).copy()
    order = {v: k for k, v in enumerate(sorted(set(bins[bins > 0])))}
    bins = np.array([order.get(v, -1) for v in bins], np.int64)
    tau_o, g2_o = corr_numpy.multitau(data.reshape(frames, -1), bins, 3)
    g2, tau = corr_skbeam.multi_tau_auto_corr(4, 8, labels, data)
    worst, common = 0.0, 0
    for j, t in enumerate(tau):
        hit = np.flatnonzero(tau_o == t)
        if t and hit.size and corr_skbeam.level_ours(t) == \
                corr_skbeam.level_skbeam(t):
            common += 1
            worst = max(worst, np.max(np.abs(g2[j] - g2_o[hit[0]])))
    ok(common == 7 + 3 * 3 and worst < 1e-12,
       f"= corr_numpy at {common} same-level delays ({worst:.1e})")

    try:
        corr_skbeam.SkbeamMultiTau(labels, 4, 7)
        ok(False, "odd num_bufs refused")
    except ValueError as err:
        ok("even" in str(err), f"odd num_bufs refused: {err}")
    try:
        corr_skbeam.SkbeamMultiTau(np.zeros((3, 3), int), 4, 8)
        ok(False, "no labelled pixel refused")
    except ValueError as err:
        ok("labels" in str(err), f"no labelled pixel refused: {err}")

    return done()


if __name__ == "__main__":
    sys.exit(main())
