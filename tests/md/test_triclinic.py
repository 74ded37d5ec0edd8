#!/usr/bin/python3
"""Real MD box layouts (issue 15, item 6): H5MD boxes stored as per-frame
3x3 matrices (as MDAnalysis writes them), orthogonal and triclinic, and
LAMMPS triclinic dumps ("ITEM: BOX BOUNDS xy xz yz"), read frame by frame
with correct unwrapped positions: a hand-computed case (numbers derived in
the comments), then random walks in a tilted box wrapped here by NumPy
(fractional coordinates) and written by h5py and as dumps in every
coordinate style. Also: a rotated cell and a dump without a type column
are clear errors; type_column maps another column. TAP output."""
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from tap import ok, done  # noqa: E402

exe = os.environ.get("IONFLOW", "./ionflow")
tmp = tempfile.mkdtemp()
script = os.path.join(tmp, "dump.lua")
with open(script, "w") as f:
    f.write("""
local path, opts = arg[1], load("return " .. (arg[2] or "{}"))()
local t = md.open(path, opts)
local inf = t:info()
print("triclinic", tostring(inf.triclinic), inf.natoms, inf.nframes)
while true do
  local i, time, x, box = t:next()
  if not i then break end
  print("box", i, box[1], box[2], box[3], box.xy or 0, box.xz or 0, box.yz or 0)
  for a = 1, inf.natoms do
    print("pos", i, a, string.format("%.17g %.17g %.17g", x:get(a, 1), x:get(a, 2), x:get(a, 3)))
  end
end
""")


def read(path, opts="{}"):
    """(positions T x N x 3 in m, boxes T x 6, triclinic flag) or the error"""
    r = subprocess.run([exe, script, path, opts], capture_output=True, text=True)
    if r.returncode != 0:
        return None, None, r.stderr.strip()
    pos, box, tric = {}, [], None
    for line in r.stdout.splitlines():
        w = line.split()
        if w[0] == "triclinic":
            tric = w[1] == "true"
        elif w[0] == "box":
            box.append([float(v) for v in w[2:]])
        elif w[0] == "pos":
            pos.setdefault(int(w[1]), []).append([float(v) for v in w[3:]])
    return np.array([pos[k] for k in sorted(pos)]), np.array(box), tric


# --- the hand-computed case --------------------------------------------
# Cell (Angstrom): lx = ly = lz = 10, xy = 3, xz = 2, yz = 1, lower corner
# 0, so a = (10,0,0), b = (3,10,0), c = (2,1,10). One atom, true path:
#   p0 = (5, 5, 9.5)      fractions (sa, sb, sc) = (.1885, .405, .95)
#   p1 = (5.6, 9.6, 10.3) sc = 1.03: minus c -> (3.6, 8.6, 0.3)
#                         images (0, 0, 1), fractions (.0969, .857, .03)
#   p2 = (4.0, 10.4, 10.6) sc = 1.06, sb = .934, sa = -.0922: minus c plus a
#                         -> (12.0, 9.4, 0.6), images (-1, 0, 1),
#                         fractions (.9078, .934, .06)
#   p3 = (4.5, 11.5, 10.2) sc = 1.02, sb = 1.048, sa = -.0684: minus c,
#                         minus b, plus a -> (9.5, 0.5, 0.2), images
#                         (-1, 1, 1), fractions (.9316, .048, .02)
# Minimum image of the wrapped steps: (-1.4, 3.6, -9.2) + c = (0.6, 4.6,
# 0.8); (8.4, 0.8, 0.3) - a = (-1.6, 0.8, 0.3); (-2.5, -8.9, -0.4) + b =
# (0.5, 1.1, -0.4): the true steps. A second atom sits still at (1, 1, 1).
true = np.array([[5, 5, 9.5], [5.6, 9.6, 10.3], [4.0, 10.4, 10.6],
                 [4.5, 11.5, 10.2]])
wrapped = np.array([[5, 5, 9.5], [3.6, 8.6, 0.3], [12.0, 9.4, 0.6],
                    [9.5, 0.5, 0.2]])
images = np.array([[0, 0, 0], [0, 0, 1], [-1, 0, 1], [-1, 1, 1]])
scaled = np.array([[.1885, .405, .95], [.0969, .857, .03], [.9078, .934, .06],
                   [.9316, .048, .02]])
still = np.array([1.0, 1.0, 1.0])
still_s = np.array([(1 - 0.09 * 3 - 0.1 * 2) / 10, 0.09, 0.1])  # (.053, .09, .1)


def hand_dump(name, cols, rows_of):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        for k in range(4):
            f.write("ITEM: TIMESTEP\n%d\nITEM: NUMBER OF ATOMS\n2\n" % (10 * k))
            f.write("ITEM: BOX BOUNDS xy xz yz pp pp pp\n0 15 3\n0 11 2\n0 10 1\n")
            f.write("ITEM: ATOMS id type %s\n" % cols)
            for a, vals in enumerate(rows_of(k)):
                f.write("%d %d %s\n" % (2 - a, 1 + a, " ".join("%.17g" % v for v in vals)))
    return path


want = np.stack([true, np.tile(still, (4, 1))], axis=1) * 1e-10  # ids 1, 2
dumps = {
    "minimum image (x y z)": hand_dump("w.dump", "x y z", lambda k: [still, wrapped[k]]),
    "image flags (x y z ix iy iz)": hand_dump(
        "i.dump", "x y z ix iy iz",
        lambda k: [np.r_[still, 0, 0, 0], np.r_[wrapped[k], images[k]]]),
    "scaled with images (xs ys zs ix iy iz)": hand_dump(
        "s.dump", "xs ys zs ix iy iz",
        lambda k: [np.r_[still_s, 0, 0, 0], np.r_[scaled[k], images[k]]]),
    "scaled, minimum image (xs ys zs)": hand_dump(
        "sm.dump", "xs ys zs", lambda k: [still_s, scaled[k]]),
}
for name, path in dumps.items():
    pos, box, tric = read(path)
    if pos is None:
        ok(False, "triclinic dump, %s: %s" % (name, tric))
        continue
    err = np.max(np.abs(pos - want))
    ok(tric and err < 1e-19, "triclinic dump, %s: the hand-computed unwrapped "
       "path (max error %.2g m)" % (name, err))
    ok(np.allclose(box, [[10e-10, 10e-10, 10e-10, 3e-10, 2e-10, 1e-10]] * 4,
                   rtol=1e-15, atol=0),
       "triclinic dump, %s: edges and tilts from the bounding box" % name)

# the same path as an H5MD file in MDAnalysis' layout: box/edges/value is
# T x 3 x 3 (rows a, b, c), nm; with and without image flags
cell = np.array([[10, 0, 0], [3, 10, 0], [2, 1, 10]]) * 0.1


def h5md(name, wr, box, img=None, dtype=np.float64, fixed=False):
    path = os.path.join(tmp, name)
    T, N = wr.shape[0], wr.shape[1]
    with h5py.File(path, "w") as f:
        g = f.create_group("particles/trajectory")
        d = g.create_dataset("position/value", data=wr.astype(dtype))
        d.attrs["unit"] = "nm"
        g.create_dataset("position/time", data=np.arange(T) * 1.0)
        g.create_dataset("position/step", data=np.arange(T))
        b = g.create_group("box")
        b.attrs["dimension"] = 3
        b.attrs["boundary"] = ["periodic"] * 3
        if fixed:
            b.create_dataset("edges", data=box.astype(dtype))
        else:
            b.create_dataset("edges/value", data=box.astype(dtype))
            b.create_dataset("edges/time", data=np.arange(T) * 1.0)
            b.create_dataset("edges/step", data=np.arange(T))
        if img is not None:
            g.create_dataset("image/value", data=img)
        g.create_dataset("species", data=np.arange(1, N + 1, dtype=np.int32))
    return path


wr2 = np.stack([wrapped, np.tile(still, (4, 1))], axis=1) * 0.1
img2 = np.stack([images, np.zeros((4, 3), int)], axis=1)
want_h5 = np.stack([true, np.tile(still, (4, 1))], axis=1) * 1e-10
for name, path in {
        "3x3 per frame, minimum image": h5md("t.h5", wr2, np.tile(cell, (4, 1, 1))),
        "3x3 per frame, image flags": h5md("ti.h5", wr2, np.tile(cell, (4, 1, 1)), img2),
        "one fixed 3x3 box": h5md("tf.h5", wr2, cell, fixed=True)}.items():
    pos, box, tric = read(path)
    if pos is None:
        ok(False, "H5MD triclinic, %s: %s" % (name, tric))
        continue
    err = np.max(np.abs(pos - want_h5))
    ok(tric and err < 1e-19, "H5MD triclinic, %s: the hand-computed path "
       "(max error %.2g m)" % (name, err))

# --- random walks in a tilted box, wrapped by NumPy ---------------------
rng = np.random.default_rng(3)
T, N = 60, 20
H = np.array([[2.0, 0, 0], [0.5, 2.2, 0], [-0.3, 0.4, 1.9]])  # rows a, b, c (nm)
start = rng.uniform(0, 1, (N, 3)) @ H
path_nm = start + np.cumsum(np.r_[np.zeros((1, N, 3)),
                                  rng.normal(0, 0.12, (T - 1, N, 3))], axis=0)
frac = path_nm @ np.linalg.inv(H)
img = np.floor(frac)
frac_w = frac - img
wr = frac_w @ H
for name, path in {
        "3x3 per frame": h5md("r.h5", wr, np.tile(H, (T, 1, 1))),
        "3x3 per frame, float32": h5md("r32.h5", wr, np.tile(H, (T, 1, 1)),
                                       dtype=np.float32),
        "3x3 per frame, image flags": h5md("ri.h5", wr, np.tile(H, (T, 1, 1)),
                                           img.astype(np.int32))}.items():
    pos, box, tric = read(path)
    if pos is None:
        ok(False, "H5MD random walk, %s: %s" % (name, tric))
        continue
    tol = 2e-6 if "float32" in name else 1e-12
    err = np.max(np.abs(pos * 1e9 - path_nm)) / np.max(np.abs(path_nm))
    ok(tric and err < tol, "H5MD random walk in a tilted box, %s: unwrapped "
       "as NumPy's path (rel. error %.2g)" % (name, err))

# the same walk as LAMMPS triclinic dumps (Angstrom, bounding boxes)
xy, xz, yz = H[1, 0] * 10, H[2, 0] * 10, H[2, 1] * 10
lx, ly, lz = H[0, 0] * 10, H[1, 1] * 10, H[2, 2] * 10
xlo, ylo, zlo = -1.0, 2.0, 0.5        # a lower corner away from 0
bounds = "%.17g %.17g %.17g\n%.17g %.17g %.17g\n%.17g %.17g %.17g\n" % (
    xlo + min(0, xy, xz, xy + xz), xlo + lx + max(0, xy, xz, xy + xz), xy,
    ylo + min(0, yz), ylo + ly + max(0, yz), xz, zlo, zlo + lz, yz)
corner = np.array([xlo, ylo, zlo])
for style, cols in [("x y z", "x y z"), ("x y z ix iy iz", "x y z ix iy iz"),
                    ("xs ys zs ix iy iz", "xs ys zs ix iy iz"), ("xu yu zu", "xu yu zu")]:
    p = os.path.join(tmp, "r_%s.dump" % style.replace(" ", ""))
    with open(p, "w") as f:
        for k in range(T):
            f.write("ITEM: TIMESTEP\n%d\nITEM: NUMBER OF ATOMS\n%d\n" % (k, N))
            f.write("ITEM: BOX BOUNDS xy xz yz pp pp pp\n" + bounds)
            f.write("ITEM: ATOMS id type %s\n" % cols)
            for a in range(N):
                if style.startswith("xs"):
                    v = list(frac_w[k, a]) + list(img[k, a])
                elif style == "xu yu zu":
                    v = list(path_nm[k, a] * 10 + corner)
                else:
                    v = list(wr[k, a] * 10 + corner)
                    if "ix" in style:
                        v += list(img[k, a])
                f.write("%d 1 %s\n" % (a + 1, " ".join("%.17g" % x for x in v)))
    pos, box, tric = read(p)
    if pos is None:
        ok(False, "triclinic dump random walk, %s: %s" % (style, tric))
        continue
    got = pos * 1e10 - corner
    err = np.max(np.abs(got - path_nm * 10)) / np.max(np.abs(path_nm * 10))
    ok(err < 1e-12, "triclinic dump random walk, %s: unwrapped as NumPy's "
       "path (rel. error %.2g)" % (style, err))

# --- refusals ------------------------------------------------------------
rot = np.array([[1.5, 1.5, 0], [-1.5, 1.5, 0], [0, 0, 2.0]])
_, _, msg = read(h5md("rot.h5", wr2, np.tile(rot, (4, 1, 1))))
ok(msg and "rot.h5" in msg and "restricted triclinic form" in msg,
   "a rotated H5MD cell is a clear error: %s" % msg)
orth = np.tile(np.diag([1.0, 1.0, 1.0]), (4, 1, 1))
pos, box, tric = read(h5md("orth.h5", np.tile([[0.5, 0.5, 0.5], [0.1, 0.1, 0.1]], (4, 1, 1)), orth))
ok(pos is not None and tric is False and np.allclose(box[:, :3], 1e-9, rtol=1e-15),
   "an orthogonal 3x3 H5MD box reads as edges (not triclinic)")
p = os.path.join(tmp, "notype.dump")
with open(p, "w") as f:
    for k in range(2):
        f.write("ITEM: TIMESTEP\n%d\nITEM: NUMBER OF ATOMS\n2\n"
                "ITEM: BOX BOUNDS pp pp pp\n0 10\n0 10\n0 10\n"
                "ITEM: ATOMS id mol element x y z\n1 3 Li 1 1 1\n2 4 O 2 2 2\n" % k)
_, _, msg = read(p)
ok(msg and "notype.dump" in msg and "no 'type' column" in msg and "type_column" in msg,
   "a dump without a type column is a clear error: %s" % msg)
r = subprocess.run([exe, "-e", "local t = md.open(%r, {type_column = 'mol'}); "
                    "print(table.concat(t:info().types, ','))" % p],
                   capture_output=True, text=True)
ok(r.stdout.strip() == "3,4", "type_column = 'mol' takes the types from mol: %s"
   % (r.stdout.strip() or r.stderr.strip()))

# (issue 14, F10) species per frame that change are an error naming the
# frame and particle
p = os.path.join(tmp, "spec.h5")
with h5py.File(p, "w") as f:
    g = f.create_group("particles/all")
    g.create_dataset("position/value", data=np.zeros((4, 2, 3)) + 0.5)
    g.create_dataset("position/time", data=np.arange(4.0))
    g.create_dataset("box/edges", data=np.ones(3))
    sp = np.array([[1, 2]] * 4, np.int32)
    sp[2, 1] = 1
    g.create_dataset("species/value", data=sp)
_, _, msg = read(p)
ok(msg and "spec.h5: species/value: frame 3: particle 2 has species 1, in the first frame 2"
   in msg, "species changing between frames: %s" % (msg or "").split("\n")[0])

# (issue 14, F7, F15) a particle count beyond the bound names the file
# (nothing is allocated: 240 TB would have been asked for)
p = os.path.join(tmp, "huge.h5")
with h5py.File(p, "w") as f:
    g = f.create_group("particles/all")
    g.create_dataset("position/value", shape=(2, 10**13, 3), dtype="f4",
                     chunks=(1, 1000, 3))
    g.create_dataset("position/time", data=np.arange(2.0))
    g.create_dataset("box/edges", data=np.ones(3))
r = subprocess.run([exe, "-e", "md.open(%r)" % p], capture_output=True, text=True)
ok(r.returncode == 1 and "huge.h5: 10000000000000 particles, more than 1000000000" in r.stderr,
   "md.open of too many particles names the file and the bound: %s"
   % r.stderr.strip().split("\n")[0])

subprocess.run(["rm", "-rf", tmp])
done()
