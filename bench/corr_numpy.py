#!/usr/bin/python3
"""Plain multi-tau g2 in NumPy: the reference point for bench/corr.lua.

The same definition as ionflow's correlator (src/corr.h): levels of sums
of 2^l frames, lags 1..8 at level 0 and 5..8 above, symmetric
normalisation per bin. Whole-array NumPy operations on the stack held in
memory (float64), which is how a NumPy user would write it.

    /usr/bin/python3 bench/corr_numpy.py [rows cols frames]

Prints pixel-frames per second on this machine (NumPy's own threads for
elementwise work: one core).
"""
import os
import sys
import time

import numpy as np


def multitau(stack, bins, nbins, dpl=4):
    """stack: (frames, pixels) float64; bins: (pixels,) 0-based bin or -1.
    Returns (delays, g2[delay, bin])."""
    x = stack.astype(np.float64)
    taus, rows = [], []
    level = 0
    cnt = np.bincount(bins[bins >= 0], minlength=nbins).astype(float)
    ok = bins >= 0
    while x.shape[0] >= 2:
        lags = range(1, 2 * dpl + 1) if level == 0 else \
            range(dpl + 1, 2 * dpl + 1)
        m = x.shape[0]
        for k in lags:
            if k >= m:
                continue
            g = (x[:-k] * x[k:]).mean(axis=0)
            ip = x[:-k].mean(axis=0)
            if_ = x[k:].mean(axis=0)
            G = np.bincount(bins[ok], g[ok], nbins) / cnt
            IP = np.bincount(bins[ok], ip[ok], nbins) / cnt
            IF = np.bincount(bins[ok], if_[ok], nbins) / cnt
            with np.errstate(invalid="ignore", divide="ignore"):
                rows.append(G / (IP * IF))
            taus.append(k * 2 ** level)
        x = x[: m // 2 * 2].reshape(m // 2, 2, -1).sum(axis=1)
        level += 1
    return np.array(taus, float), np.array(rows)


def main():
    rows, cols, frames = (int(a) for a in (sys.argv[1:4] or (256, 256, 2000)))
    rng = np.random.default_rng(42)
    data = rng.poisson(5.0, size=(frames, rows * cols)).astype(np.uint16)
    bins = (np.arange(rows * cols) % 36).astype(np.int64)
    t0 = time.perf_counter()
    c0 = time.process_time()
    tau, g2 = multitau(data, bins, 36)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    pf = rows * cols * frames
    load = os.getloadavg()[0]
    print(f"numpy multi-tau {rows}x{cols} x {frames}: {pf / wall / 1e6:.1f} M "
          f"px-frames/s wall ({wall:.2f} s), {pf / cpu / 1e6:.1f} M per CPU-s,"
          f" {len(tau)} delays, g2(1) mean {np.nanmean(g2[0]):.4f}, "
          f"load {load:.1f}")


if __name__ == "__main__":
    main()
