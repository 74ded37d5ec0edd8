#!/usr/bin/python3
"""md.transport against an independent NumPy computation (brute-force MSDs
over all time origins of each block, barycentric frame with masses), on a
trajectory made here by NumPy and written by h5py as H5MD (wrapped, gzip,
masses in /particles/all/mass) and as a LAMMPS dump with scaled wrapped
coordinates and image flags. TAP output."""
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from tap import ok, done  # noqa: E402


KB, E = 1.380649e-23, 1.602176634e-19
rng = np.random.default_rng(12)
nc, na, ns, T = 8, 8, 6, 300
N = nc + na + ns
dt_ps, box_nm = 2.0, 2.5
types = np.array([1] * nc + [2] * na + [3] * ns, dtype=np.int32)
masses_by_type = {1: 6.94, 2: 280.1, 3: 44.05}
mass = np.array([masses_by_type[t] for t in types])
# random walks in nm; cation k and anion k share a step
step = rng.normal(0, 0.08, (T - 1, N, 3))
common = rng.normal(0, 0.06, (T - 1, nc, 3))
step[:, :nc] += common
step[:, nc:nc + na] += common
pos = np.concatenate([rng.uniform(0, box_nm, (1, N, 3)),
                      np.zeros((T - 1, N, 3))])
pos[1:] = pos[0] + np.cumsum(step, axis=0)
wrapped = pos - box_nm * np.floor(pos / box_nm)
images = np.floor(pos / box_nm).astype(int)

tmp = tempfile.mkdtemp()
h5path = os.path.join(tmp, "traj.h5")
with h5py.File(h5path, "w") as f:
    g = f.create_group("particles/all")
    d = g.create_dataset("position/value", data=wrapped, chunks=(16, N, 3),
                         compression="gzip")
    d.attrs["unit"] = "nm"
    tt = g.create_dataset("position/time", data=np.arange(T) * dt_ps)
    tt.attrs["unit"] = "ps"
    g.create_dataset("position/step", data=np.arange(T))
    g.create_dataset("box/edges", data=np.full(3, box_nm))
    g["box"].attrs["boundary"] = ["periodic"] * 3
    g.create_dataset("species", data=types)
    g.create_dataset("mass", data=mass)

# the same in float32 (what many MD engines write)
h5f32 = os.path.join(tmp, "traj32.h5")
with h5py.File(h5f32, "w") as f:
    g = f.create_group("particles/all")
    g.create_dataset("position/value", data=wrapped.astype(np.float32))
    g.create_dataset("position/time", data=np.arange(T) * dt_ps)
    g.create_dataset("box/edges", data=np.full(3, box_nm, np.float32))
    g.create_dataset("species", data=types.astype(np.int16))
    g.create_dataset("mass", data=mass.astype(np.float32))

dump = os.path.join(tmp, "traj.dump")
with open(dump, "w") as f:
    for k in range(T):
        f.write(f"ITEM: TIMESTEP\n{k * 2000}\nITEM: NUMBER OF ATOMS\n{N}\n"
                "ITEM: BOX BOUNDS pp pp pp\n")
        for _ in range(3):
            f.write(f"-5 {box_nm * 10 - 5!r}\n")
        f.write("ITEM: ATOMS id type xs ys zs ix iy iz\n")
        for a in rng.permutation(N):   # any order: the reader sorts by id
            # the box spans -5 .. 10 L - 5 Angstrom: xs = (x - lo) / L
            s = (wrapped[k, a] * 10) / (box_nm * 10)
            f.write(f"{a + 1} {types[a]} {s[0]!r} {s[1]!r} {s[2]!r} "
                    f"{images[k, a, 0]} {images[k, a, 1]} {images[k, a, 2]}\n")

# ---- NumPy reference ----
blocks, lo, hi = 3, 2, 20
Tb = T // blocks
dt = dt_ps * 1e-12
r_si = pos * 1e-9
com = (r_si * mass[None, :, None]).sum(1) / mass.sum()
y = r_si - com[:, None, :]
groups = [np.arange(nc), np.arange(nc, nc + na), np.arange(nc + na, N)]
lags = np.arange(lo, hi + 1)
x_lag = lags * dt


def slope(v):
    return np.polyfit(x_lag, v, 1)[0]


def block_slopes(yb):
    self_s, coll_s = [], np.zeros((3, 3))
    X = [yb[:, gi].sum(1) for gi in groups]
    for gi in groups:
        m = [((yb[l:, gi] - yb[:-l, gi]) ** 2).sum(2).mean(0).mean()
             for l in lags]
        self_s.append(slope(np.array(m)))
    for a in range(3):
        for b in range(3):
            c = [((X[a][l:] - X[a][:-l]) * (X[b][l:] - X[b][:-l])).sum(1).mean()
                 for l in lags]
            coll_s[a, b] = slope(np.array(c))
    return np.array(self_s), coll_s


V = (box_nm * 1e-9) ** 3
kT = KB * 300


def derive(self_s, coll_s):
    den = coll_s[0, 0] + coll_s[1, 1] - 2 * coll_s[0, 1]
    ne = nc * self_s[0] + na * self_s[1]
    return {"D_cation": self_s[0] / 6, "D_anion": self_s[1] / 6,
            "D_solvent": self_s[2] / 6,
            "L_pp": coll_s[0, 0] / (6 * V * kT),
            "L_mm": coll_s[1, 1] / (6 * V * kT),
            "L_pm": coll_s[0, 1] / (6 * V * kT),
            "sigma": E * E * den / (6 * V * kT),
            "sigma_NE": E * E * ne / (6 * V * kT),
            "t_plus": (coll_s[0, 0] - coll_s[0, 1]) / den,
            "t_app": nc * self_s[0] / ne, "ionicity": den / ne}


per = [block_slopes(y[b * Tb:(b + 1) * Tb]) for b in range(blocks)]
ref = derive(np.mean([p[0] for p in per], 0), np.mean([p[1] for p in per], 0))
vals = [derive(*p) for p in per]
for k in list(ref):
    v = np.array([d[k] for d in vals])
    ref[k + "_err"] = v.std(ddof=1) / np.sqrt(blocks)

# ---- ionflow ----
exe = os.environ.get("IONFLOW", "./ionflow")
script = os.path.join(tmp, "run.lua")
with open(script, "w") as f:
    f.write("""
local path, masses = arg[1], arg[2] == "masses"
local o = {cation = 1, anion = 2, solvent = 3, temperature = 300,
  frame = "barycentric", blocks = %d, fit = {%r, %r}}
if masses then o.masses = {[1] = 6.94, [2] = 280.1, [3] = 44.05} end
local r = md.transport(path, o)
for k, v in pairs(r) do
  if type(v) == "number" then print(k .. " " .. string.format("%%.17g", v)) end
end
""" % (blocks, lo * dt, hi * dt))


def run(path, extra):
    out = subprocess.run([exe, script, path, extra], capture_output=True,
                         text=True)
    if out.returncode != 0:
        print("# " + out.stderr.replace("\n", "\n# "))
        return {}
    return {l.split()[0]: float(l.split()[1]) for l in out.stdout.splitlines()}


for name, path, extra in (("H5MD (h5py, masses in the file)", h5path, ""),
                          ("LAMMPS xs ys zs ix iy iz", dump, "masses")):
    got = run(path, extra)
    ok(len(got) > 0, f"{name}: md.transport runs")
    worst, which = 0.0, ""
    for k, v in ref.items():
        if k not in got:
            worst, which = float("inf"), k + " missing"
            break
        rel = abs(got[k] - v) / abs(v)
        if rel > worst:
            worst, which = rel, k
    ok(worst < 1e-7, f"{name}: every value and error == NumPy "
       f"(worst {which}: {worst:.2g})")
    ok(abs(got.get("fit_lo_s", 0) - lo * dt) < 1e-20 and
       abs(got.get("fit_hi_s", 0) - hi * dt) < 1e-20, f"{name}: fit range")

got = run(h5f32, "masses")
worst = max(abs(got.get(k, float("inf")) - ref[k]) / abs(ref[k])
            for k in ("D_cation", "D_anion", "L_pp", "L_pm", "t_plus"))
ok(worst < 1e-4, f"float32 H5MD (no unit attributes: nm, ps) agrees to "
   f"float32 rounding ({worst:.2g})")
print(f"# NumPy: t+ {ref['t_plus']:.4f} +- {ref['t_plus_err']:.4f}, "
      f"t_app {ref['t_app']:.4f} +- {ref['t_app_err']:.4f}")
subprocess.run(["rm", "-rf", tmp])
sys.exit(done())
