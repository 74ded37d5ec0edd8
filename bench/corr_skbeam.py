#!/usr/bin/python3
"""Stand-in for scikit-beam's multi-tau g2: the baseline the correlation
issue measures ionflow against ("100x scikit-beam's multi_tau_auto_corr").

scikit-beam cannot be installed on this machine, so this file re-implements
the structure of its one-time correlator, as read in the public source
scikit-beam/scikit-beam, commit c4c306a8e775da91b364ed2e8ce5752a2ea15cdf,
files skbeam/core/correlation.py (multi_tau_auto_corr, lazy_one_time,
_one_time_process, _validate_and_transform_inputs) and skbeam/core/utils.py
(multi_tau_lags). The code below is written from that description, not
copied. What it keeps, because it sets the cost:

- a Python loop over frames, one frame at a time; each frame is raveled
  and fancy-indexed to the labelled pixels, then stored as float64 into a
  ring buffer of num_bufs frames per level (levels x num_bufs x pixels);
- level l > 0 receives a frame every second frame of level l-1: the mean
  of the two newest frames of level l-1 (pairs (0,1), (2,3), ...);
- lags: 0 .. num_bufs-1 at level 0, then num_bufs/2 .. num_bufs-1 times
  2^l at level l (num_bufs = 8: 0..7, 8 10 12 14, 16 20 24 28, ...);
- for every new frame of a level and every lag that has a partner in the
  ring: a NaN scan of both frames (bad frames are skipped and counted), the
  product of the two frames, and three np.bincount over the ROI labels
  (product, past frame, future frame), each divided by the ROI's pixel
  count and folded into a running mean over the pairs seen so far;
- g2 = G / (past mean * future mean) per lag and ROI (symmetric
  normalisation), recomputed after every frame (the generator yields it),
  cut at the first lag where some ROI has no past intensity yet.

Against ionflow's definition (src/corr.h, bench/corr_numpy.py) this is the
same estimator: for a given level and lag both average, over all pairs of
that level, the ROI mean of the product and of the past and future frames,
and divide. Averaging rather than summing frame pairs scales numerator and
denominator alike. So g2 agrees to rounding at the lags both compute on the
same level: 1..7, and 5..7 x 2^l. The lag sets differ: scikit-beam also
has lag 0, and computes lag 8 x 2^l on level l+1 (lag 4 of frames twice as
coarse) where ionflow computes it on level l; those values differ at the
level of the statistical noise. The check below prints both differences.

    /usr/bin/python3 bench/corr_skbeam.py [rows cols frames]

Prints pixel-frames per second (NumPy on one core, as scikit-beam runs).
"""
import os
import sys
import time

import numpy as np


class SkbeamMultiTau:
    """One-time multi-tau correlator with scikit-beam's structure.

    labels: 2-D integer array, 0 = not used, other values = ROIs (any
    integers; ROIs are ordered by label value). push() takes one frame."""

    def __init__(self, labels, num_levels, num_bufs):
        if num_bufs % 2 or num_bufs < 2:
            raise ValueError(f"num_bufs must be even and >= 2, got {num_bufs}")
        if num_levels < 1:
            raise ValueError(f"num_levels must be >= 1, got {num_levels}")
        flat = np.ravel(labels)
        self.pixels = np.flatnonzero(flat > 0)
        if self.pixels.size == 0:
            raise ValueError("labels: no pixel has a label > 0")
        # ROI numbers 1..R in label order, so bincount(...)[1:] is per ROI
        _, roi = np.unique(flat[self.pixels], return_inverse=True)
        self.roi = roi.reshape(-1) + 1
        self.roi_size = np.bincount(self.roi)[1:]
        self.levels, self.bufs, self.half = num_levels, num_bufs, num_bufs // 2
        rows = (num_levels + 1) * self.half
        self.lag_steps = np.array([self._lag(r) for r in range(rows)])
        nroi = self.roi_size.size
        self.G = np.zeros((rows, nroi))
        self.past = np.zeros((rows, nroi))
        self.future = np.zeros((rows, nroi))
        self.ring = np.zeros((num_levels, num_bufs, self.pixels.size))
        self.newest = np.full(num_levels, -1)
        self.seen = np.zeros(num_levels, np.int64)
        self.bad = np.zeros((num_levels, num_bufs), np.int64)
        # level l holds one frame of level l-1 waiting for its partner
        self.waiting = np.zeros(num_levels, bool)

    def _lag(self, row):
        """delay in frames of row `row` of G (row = level * half + i)"""
        if row < self.bufs:
            return row
        level, i = divmod(row, self.half)
        return (i + self.half) * 2 ** (level - 1)

    def _store(self, level, frame):
        """put a frame into the level's ring and correlate it with every
        earlier frame still held there"""
        slot = (self.newest[level] + 1) % self.bufs
        self.ring[level, slot] = frame
        self.newest[level] = slot
        self.seen[level] += 1
        ring = self.ring[level]
        fut = ring[slot]
        first = self.half if level else 0
        for i in range(first, min(self.seen[level], self.bufs)):
            pst = ring[(slot - i) % self.bufs]
            if np.isnan(pst).any() or np.isnan(fut).any():
                self.bad[level, i] += 1
                continue
            n = self.seen[level] - i - self.bad[level, i]
            row = level * self.half + i
            for acc, w in ((self.G, pst * fut), (self.past, pst),
                           (self.future, fut)):
                mean = np.bincount(self.roi, weights=w)[1:] / self.roi_size
                acc[row] += (mean - acc[row]) / n

    def push(self, image):
        self._store(0, np.ravel(image)[self.pixels])
        for level in range(1, self.levels):
            if not self.waiting[level]:
                self.waiting[level] = True
                break
            self.waiting[level] = False
            below, top = self.ring[level - 1], self.newest[level - 1]
            self._store(level, (below[top - 1] + below[top]) / 2)

    def result(self):
        """(g2[lag, roi], lags) up to the first lag without data"""
        empty = np.flatnonzero((self.past == 0).any(axis=1))
        stop = empty[0] if empty.size else self.past.shape[0]
        g2 = self.G[:stop] / (self.past[:stop] * self.future[:stop])
        return g2, self.lag_steps[:stop]


def lazy_one_time(images, num_levels, num_bufs, labels):
    """generator: (g2, lags) after every frame, as scikit-beam yields"""
    c = SkbeamMultiTau(labels, num_levels, num_bufs)
    for image in images:
        c.push(image)
        yield c.result()


def multi_tau_auto_corr(num_levels, num_bufs, labels, images):
    out = None
    for out in lazy_one_time(images, num_levels, num_bufs, labels):
        pass
    return out


def levels_for(frames, num_bufs):
    """levels whose first lag (num_bufs/2 frames) has at least one pair"""
    n = 1
    while frames >> n > num_bufs // 2:
        n += 1
    return n


def level_ours(tau):
    """ionflow's level for a delay: 1..8 at level 0, (4, 8] x 2^l above"""
    level = 0
    while tau > 8 << level:
        level += 1
    return level


def level_skbeam(tau, half=4):
    """scikit-beam's level (num_bufs 8): 0..7 at level 0, [4, 7] x 2^l"""
    if tau < 2 * half:
        return 0
    level = 1
    while tau > (2 * half - 1) << level:
        level += 1
    return level


def check(rows=64, cols=64, frames=400):
    """g2 against bench/corr_numpy.py's multitau on a small stack"""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from corr_numpy import multitau
    rng = np.random.default_rng(7)
    data = rng.poisson(5.0, size=(frames, rows, cols)).astype(np.uint16)
    bins = (np.arange(rows * cols) % 36).astype(np.int64)
    tau_o, g2_o = multitau(data.reshape(frames, -1), bins, 36)
    g2_s, tau_s = multi_tau_auto_corr(levels_for(frames, 8), 8,
                                      (bins + 1).reshape(rows, cols), data)
    same, moved = 0.0, 0.0
    nsame = nmoved = 0
    for j, t in enumerate(tau_s):
        hit = np.flatnonzero(tau_o == t)
        if t == 0 or hit.size == 0:
            continue
        d = np.max(np.abs(g2_s[j] - g2_o[hit[0]]))
        if level_ours(t) == level_skbeam(t):
            same, nsame = max(same, d), nsame + 1
        else:
            moved, nmoved = max(moved, d), nmoved + 1
    lag1 = np.max(np.abs(g2_s[1] - g2_o[0]))
    print(f"check vs corr_numpy multitau ({rows}x{cols} x {frames}, 36 ROIs):"
          f" lag 1 max |dg2| {lag1:.1e}; {nsame} delays on the same level"
          f" (1..7, 5..7 x 2^l) {same:.1e}; {nmoved} delays 8 x 2^l (level"
          f" l+1 in scikit-beam) {moved:.1e} (noise-level, by definition)")
    return same


def main():
    rows, cols, frames = (int(a) for a in (sys.argv[1:4] or (256, 256, 400)))
    check()
    rng = np.random.default_rng(42)
    data = rng.poisson(5.0, size=(frames, rows, cols)).astype(np.uint16)
    labels = (np.arange(rows * cols) % 36 + 1).reshape(rows, cols)
    levels = levels_for(frames, 8)
    t0 = time.perf_counter()
    c0 = time.process_time()
    g2, tau = multi_tau_auto_corr(levels, 8, labels, data)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    pf = rows * cols * frames
    load = os.getloadavg()[0]
    print(f"scikit-beam-style multi-tau (num_bufs 8, {levels} levels, "
          f"36 ROIs) {rows}x{cols} x {frames}: {pf / wall / 1e6:.2f} M "
          f"px-frames/s wall ({wall:.2f} s), {pf / cpu / 1e6:.2f} M per "
          f"CPU-s, {len(tau)} delays, g2(1) mean {np.mean(g2[1]):.4f}, "
          f"load {load:.1f}")


if __name__ == "__main__":
    main()
