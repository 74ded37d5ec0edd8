"""ionflow's g2 fits against scipy.optimize.curve_fit on the same points.

The homodyne model g2 = 1 + beta exp(-2 (tau/tau0)^gamma) and Eq. 1 (the
heterodyne model, baseline fixed at 1) are fitted by fit.curve and by
scipy's curve_fit (absolute errors, bounds = the physical ranges) to
seeded noisy g2 on multi-tau delays: a good curve, one with missing points
(g2 = 0 with error 0, NaN: left out by ionflow, removed by hand for scipy),
and one whose contrast 1.8 exceeds the physical 1 (both fits stop at the
bound; ionflow says "at bound"). Parameters must agree to a small fraction
of their errors, the errors to 0.1 %. TAP on stdout.
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
from scipy.optimize import curve_fit

IONFLOW = os.environ.get("IONFLOW", "./ionflow")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from tap import ok, diag, done  # noqa: E402

TAU = np.array([k * 0.05 for k in range(1, 9)] +
               [k * 2 ** l * 0.05 for l in range(1, 10) for k in range(4, 8)])


def homodyne(t, beta, tau0, gamma):
    return 1 + beta * np.exp(-2 * (t / tau0) ** gamma)


def heterodyne(t, beta, h, tau0, gamma, omega):
    x = (t / tau0) ** gamma
    return 1 + beta * ((1 - h) ** 2 + h * h * np.exp(-2 * x) +
                       2 * h * (1 - h) * np.cos(omega * t) * np.exp(-x))


LUA = r"""
local path, model = arg[1], arg[2]
local d = dofile(path)
local p0 = {baseline = 1, beta = d.p0[1]}
local names = model == "homodyne" and {"beta", "tau0", "gamma"} or
  {"beta", "h", "tau0", "gamma", "omega"}
for i, k in ipairs(names) do p0[k] = d.p0[i] end
local f = fit.curve(model, d.x, d.y, {p0 = p0, fixed = {"baseline"},
  sigma = d.e, scale_errors = false})
local out = {f.status, f.n}
for _, k in ipairs(names) do
  out[#out + 1] = string.format("%.17g %.17g", f[k], f[k .. "_err"])
end
print(table.concat(out, " "))
"""


def ionflow_fit(model, x, y, e, p0):
    with tempfile.TemporaryDirectory() as d:
        data = os.path.join(d, "data.lua")
        script = os.path.join(d, "fit.lua")
        def lua_list(v):
            return "{" + ", ".join("0/0" if np.isnan(a) else repr(float(a))
                                   for a in v) + "}"
        with open(data, "w") as f:
            f.write("return {x = %s, y = %s, e = %s, p0 = %s}\n" %
                    (lua_list(x), lua_list(y), lua_list(e), lua_list(p0)))
        with open(script, "w") as f:
            f.write(LUA)
        r = subprocess.run([IONFLOW, script, data, model],
                           capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise RuntimeError(r.stderr)
    w = r.stdout.split()
    vals = np.array([float(v) for v in w[-2 * len(p0):]])
    status = " ".join(w[:-2 * len(p0) - 1])
    return status, int(w[-2 * len(p0) - 1]), vals[0::2], vals[1::2]


def scipy_fit(fn, x, y, e, p0, lo, hi):
    keep = np.isfinite(y) & (y != 0) & (e > 0)
    p, C = curve_fit(fn, x[keep], y[keep], p0=p0, sigma=e[keep],
                     absolute_sigma=True, bounds=(lo, hi), method="trf",
                     xtol=1e-14, ftol=1e-14, gtol=1e-14, max_nfev=20000)
    return p, np.sqrt(np.diag(C)), int(keep.sum())


def compare(name, model, fn, truth, p0, lo, hi, sig=0.003, spoil=False,
            at_bound=None):
    rng = np.random.default_rng(5)
    y = fn(TAU, *truth) + sig * rng.standard_normal(TAU.size)
    e = np.full(TAU.size, sig)
    if spoil:          # no photon pairs at some delays, a NaN
        y[[1, 7]] = 0
        e[[1, 7]] = 0
        y[11] = np.nan
    st, n, pi, ei = ionflow_fit(model, TAU, y, e, p0)
    ps, es, ns = scipy_fit(fn, TAU, y, e, p0, lo, hi)
    diag(f"{name}: ionflow {st}, {n} points: {np.array2string(pi, precision=6)}")
    diag(f"{name}: scipy {ns} points: {np.array2string(ps, precision=6)}")
    ok(n == ns, f"{name}: the same points used ({n}, scipy {ns})")
    if at_bound is None:
        dz = np.abs(pi - ps) / es
        ok(np.all(dz < 1e-3), f"{name}: parameters agree to 1e-3 of their "
           f"errors (max {dz.max():.2g})")
        ok(np.all(np.abs(ei / es - 1) < 1e-3), f"{name}: errors agree to "
           f"0.1 % (max {np.abs(ei / es - 1).max():.2g})")
        ok(st == "ok", f"{name}: status ok ({st})")
    else:
        j = at_bound
        ok(abs(pi[j] - hi[j]) < 1e-4 and abs(ps[j] - hi[j]) < 1e-4,
           f"{name}: both stop at the bound {hi[j]} ({pi[j]:.6f}, {ps[j]:.6f})")
        ok(st == "at bound", f"{name}: ionflow says at bound ({st})")


compare("homodyne", "homodyne", homodyne, (0.25, 10.0, 1.0),
        (0.2, 5.0, 1.0), (0, 0, 0), (1, np.inf, np.inf))
compare("homodyne, missing points", "homodyne", homodyne, (0.25, 10.0, 0.8),
        (0.2, 5.0, 1.0), (0, 0, 0), (1, np.inf, np.inf), spoil=True)
compare("heterodyne", "heterodyne", heterodyne, (0.2, 0.4, 10.0, 1.0, 1.3),
        (0.18, 0.45, 9.0, 1.0, 1.28), (0, 0, 0, 0, 0),
        (1, 1, np.inf, np.inf, np.inf))
compare("homodyne, contrast 1.8", "homodyne", homodyne, (1.8, 10.0, 1.0),
        (0.9, 5.0, 1.0), (0, 0, 0), (1, np.inf, np.inf), at_bound=0)
sys.exit(done())
