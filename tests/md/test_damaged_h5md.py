#!/usr/bin/python3
"""Damaged H5MD trajectories never kill ionflow or give a wrong number
(issue 14). Two valid sources, one written by md.write_h5md (HDF5 1.8
format, contiguous, no checksums) and one by h5py in MDAnalysis' layout
(latest format, gzip chunks, float32 Angstrom, per-frame times, boxes,
species and image flags, masses), are cut and bit-flipped into a few
hundred copies (half the flips aimed at the metadata, outside the raw data
bytes). Every copy goes through md.open and md.transport, all in one
ionflow process per source: the process must end normally, no copy may
take 30 s, and every failure is an error naming the file.

A copy that is analysed must give the numbers of what it holds. A flip
in the raw values, or in an unchecked address or datatype, makes a valid
HDF5 file with other contents: no reader can tell. So each copy that
ionflow analyses is also read by h5py (in a forked child, since a damaged
file may kill libhdf5), every object it can read is written into a clean
file, and ionflow's numbers on the copy must equal its numbers on that
clean file (or the original's); a copy whose readable content ionflow
would refuse (a NaN position, say) must have been refused.
IONFLOW_DAMAGE_SEED, IONFLOW_DAMAGE_CUTS and IONFLOW_DAMAGE_FLIPS (per
source) choose another or a larger sample for a longer search. TAP
output."""
import os
import random
import signal
import subprocess
import sys
import tempfile

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from tap import ok, diag, done  # noqa: E402
import procs  # noqa: E402
import h5store  # noqa: E402

EXE = os.environ.get("IONFLOW") or os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    "ionflow")
NTRUNC = int(os.environ.get("IONFLOW_DAMAGE_CUTS", 30))     # per source
NFLIP = int(os.environ.get("IONFLOW_DAMAGE_FLIPS", 90))
SEED = int(os.environ.get("IONFLOW_DAMAGE_SEED", 1414))

# for each path on stdin: "BEGIN path", then "OK numbers" or "ERR
# message", then "END seconds". The numbers are md.open's info and every
# number md.transport returns (but its run time), %.17g.
READ = r"""
local function put(out, k, v)
  if type(v) == "number" then out[#out + 1] = k .. "=" .. string.format("%.17g", v)
  elseif type(v) == "boolean" or type(v) == "string" then
    out[#out + 1] = k .. "=" .. tostring(v):gsub("%s", "_")
  elseif type(v) == "table" then
    for i, x in ipairs(v) do put(out, k .. "[" .. i .. "]", x) end
  elseif type(v) == "userdata" then
    put(out, k, v:reshape(-1):totable())
  end
end
local opts = {cation = 1, anion = 2, solvent = 3, temperature = 300,
  blocks = 2, progress = false}
for path in io.lines() do
  io.write("BEGIN ", path, "\n"); io.flush()
  local t0 = os.time()
  local okk, msg = pcall(function()
    local out = {}
    local t <close> = md.open(path)
    local inf = t:info()
    for _, k in ipairs{"natoms", "nframes", "unwrapping", "has_box",
                       "triclinic", "length_unit", "time_unit", "types"} do
      put(out, "info." .. k, inf[k])
    end
    local r = md.transport(path, opts)
    local keys = {}
    for k in pairs(r) do if k ~= "analysis_s" then keys[#keys + 1] = k end end
    table.sort(keys)
    for _, k in ipairs(keys) do put(out, k, r[k]) end
    return table.concat(out, " ")
  end)
  io.write(okk and "OK " or "ERR ", (tostring(msg):gsub("\n", " ")), "\n")
  io.write("END ", os.time() - t0, "\n"); io.flush()
end
"""


# HDF5 1.10 leaks a few hundred bytes when it meets a bad metadata
# checksum or a broken object header (allocated and lost inside libhdf5;
# a clean file leaks nothing): on damaged copies a sanitized build reads
# with the suppressions make fuzz uses for the same library
LSAN_SUPP = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "fuzz", "lsan.supp")


def run_ionflow(paths, damaged=True):
    env = dict(os.environ)
    if damaged and os.environ.get("IONFLOW_SANITIZE") == "1":
        env["LSAN_OPTIONS"] = "suppressions=" + LSAN_SUPP
    try:
        r = subprocess.run([EXE, "-e", READ], input="\n".join(paths) + "\n",
                           env=env, capture_output=True, encoding="utf-8",
                           errors="replace", timeout=120 + 2 * len(paths))
    except subprocess.TimeoutExpired as e:   # a hang: killed, reported
        out = e.stdout or ""
        r = subprocess.CompletedProcess(e.cmd, -9, out if isinstance(out, str)
                                        else out.decode(errors="replace"),
                                        "timed out")
    return r, procs.marks(r.stdout, "out")


def write_h5py_source(path):
    """MDAnalysis' layout: random walks in a 2 nm box, wrapped, float32
    Angstrom, times in fs, box per frame as 3 x 3, image flags"""
    rng = np.random.default_rng(14)
    n, nf, box = 10, 64, 20.0
    types = np.array([1] * 4 + [2] * 4 + [3] * 2, np.int32)
    pos = rng.uniform(0, box, (1, n, 3)) + np.concatenate(
        [np.zeros((1, n, 3)), np.cumsum(rng.normal(0, 1.5, (nf - 1, n, 3)), 0)])
    img = np.floor(pos / box)
    with h5py.File(path, "w", libver="latest") as f:
        f.create_group("h5md").attrs["version"] = np.array([1, 1], np.int32)
        g = f.create_group("particles/trajectory")
        d = g.create_dataset("position/value", data=(pos - box * img).astype(
            np.float32), chunks=(16, n, 3), compression="gzip")
        d.attrs["unit"] = "Angstrom"
        g.create_dataset("position/time", data=np.arange(nf) * 500.0
                         ).attrs["unit"] = "fs"
        g.create_dataset("position/step", data=np.arange(nf))
        b = g.create_group("box")
        b.attrs["dimension"] = 3
        b.attrs["boundary"] = ["periodic"] * 3
        b.create_dataset("edges/value", data=np.tile(np.eye(3) * box, (nf, 1, 1))
                         ).attrs["unit"] = "Angstrom"
        g.create_dataset("image/value", data=img.astype(np.int32),
                         chunks=(16, n, 3))
        g.create_dataset("species/value", data=np.tile(types, (nf, 1)))
        g.create_dataset("mass", data=np.array([6.94] * 4 + [280.1] * 4 + [44.05] * 2))


def raw_ranges(path):
    """the byte ranges holding dataset values (contiguous data, chunks)"""
    out = []
    with h5py.File(path, "r") as f:
        def visit(_, o):
            if isinstance(o, h5py.Dataset):
                out.extend(h5store.storage_ranges(o))
        f.visititems(visit)
    return out


def damaged(src, d, rng):
    data = open(src, "rb").read()
    raw = raw_ranges(src)
    meta = [i for i in range(len(data)) if not any(lo <= i < hi for lo, hi in raw)]
    tag = os.path.basename(src)[:-3]
    out = []
    for k in range(NTRUNC):
        p = os.path.join(d, "%s-cut-%03d.h5" % (tag, k))
        open(p, "wb").write(data[:rng.randrange(len(data))])
        out.append(p)
    for k in range(NFLIP):
        b = bytearray(data)
        for _ in range(rng.randint(1, 3)):
            i = rng.choice(meta) if k % 2 else rng.randrange(len(b))
            b[i] ^= 1 << rng.randrange(8)
        p = os.path.join(d, "%s-flip-%03d.h5" % (tag, k))
        open(p, "wb").write(bytes(b))
        out.append(p)
    return out


def copy_readable(src, dst):
    """every group, dataset and attribute h5py can read from src, into a
    clean dst (same dtypes and shapes); exit status 0, or 3 when something
    could not be read"""
    lost = 0
    with h5py.File(src, "r") as f, h5py.File(dst, "w") as g:
        def attrs(a, b):
            nonlocal lost
            try:
                names = list(a.attrs)
            except Exception:
                lost += 1
                return
            for n in names:
                try:
                    aid = a.attrs.get_id(n)
                    b.attrs.create(n, a.attrs[n], shape=aid.shape, dtype=aid.dtype)
                except Exception:
                    lost += 1

        def walk(a, b):
            nonlocal lost
            attrs(a, b)
            try:
                names = list(a)
            except Exception:
                lost += 1
                return
            for n in names:
                try:
                    o = a[n]
                    if isinstance(o, h5py.Dataset):
                        # a float wider than double (a flipped datatype
                        # message) as HDF5 converts it to double, as
                        # ionflow reads it (not rounded twice)
                        wide = o.dtype.kind == "f" and o.dtype.itemsize > 8
                        v = o.astype("f8")[()] if wide else o[()]
                        c = b.create_dataset(n, data=v, dtype=v.dtype
                                             if wide else o.dtype)
                        attrs(o, c)
                    elif isinstance(o, h5py.Group):
                        walk(o, b.create_group(n))
                    else:
                        lost += 1
                except Exception:
                    lost += 1
        walk(f, g)
    return 3 if lost else 0


def clean_copy(src, dst):
    """copy_readable in a forked child (libhdf5 may die on a damaged
    file): 0 all copied, 3 partly, anything else nothing usable"""
    pid = os.fork()
    if pid == 0:
        signal.alarm(30)
        try:
            st = copy_readable(src, dst)
        except BaseException:
            st = 2
        os._exit(st)
    _, st = os.waitpid(pid, 0)
    return os.WEXITSTATUS(st) if os.WIFEXITED(st) else -1


def differ(a, b):
    """the first few numbers where two result lines differ"""
    x, y = dict(w.split("=", 1) for w in a.split()), dict(
        w.split("=", 1) for w in b.split())
    return ["%s: %s vs %s" % (k, x.get(k), y.get(k)) for k in sorted(
        set(x) | set(y)) if x.get(k) != y.get(k)][:3]


def finite(out):
    return not any(w.split("=", 1)[1].lower() in ("nan", "-nan", "inf", "-inf")
                   for w in out.split())


with tempfile.TemporaryDirectory() as d:
    own = os.path.join(d, "own.h5")
    r = subprocess.run([EXE, "-e", "md.write_h5md(%r, md.synthetic{ncat = 4, "
                        "nan = 4, nsolv = 2, frames = 64, seed = 3})" % own],
                       capture_output=True, text=True)
    ok(r.returncode == 0, "md.write_h5md writes a source", r.stderr)
    mda = os.path.join(d, "mda.h5")
    write_h5py_source(mda)
    _, orig = run_ionflow([own, mda], damaged=False)
    ok(all(orig.get(s, {}).get("ok") and finite(orig[s]["out"]) and
           "t_plus=" in orig[s]["out"] for s in (own, mda)),
       "both sources are analysed, every number finite",
       "; ".join(str(v)[:300] for v in orig.values()))
    rng = random.Random(SEED)
    for src in (own, mda):
        name = os.path.basename(src)
        paths = damaged(src, d, rng)
        proc, res = run_ionflow(paths)
        ok(proc.returncode == 0 and len(res) == len(paths) and
           all("ok" in v for v in res.values()),
           "%s: %d damaged copies read in one process, which ends normally"
           % (name, len(paths)), "exit %d, %d of %d read; %s" % (
               proc.returncode, len(res), len(paths), proc.stderr[-800:]))
        slow = [p for p, v in res.items() if v.get("secs", 99) > 30]
        ok(not slow, "%s: no copy takes 30 s" % name, slow[:3])
        unnamed = [p for p, v in res.items()
                   if not v.get("ok") and os.path.basename(p) not in v.get("out", "")]
        ok(not unnamed, "%s: every failure names the file" % name,
           [(os.path.basename(p), res[p].get("out")) for p in unnamed[:3]])
        nerr = sum(1 for v in res.values() if not v.get("ok"))
        ok(nerr >= NTRUNC // 2, "%s: damaged copies are refused (%d of %d)"
           % (name, nerr, len(res)))
        cutok = [p for p, v in res.items() if "-cut-" in p and v.get("ok")]
        ok(not cutok, "%s: a cut copy is refused" % name,
           [os.path.basename(p) for p in cutok[:5]])

        # every copy analysed: same numbers as the original, or as the
        # clean file of what h5py reads from it
        same = [p for p, v in res.items() if v.get("ok")
                and v["out"] == orig[src]["out"]]
        other = [p for p, v in res.items() if v.get("ok") and p not in same]
        nonfin = [p for p in other if not finite(res[p]["out"])]
        ok(not nonfin, "%s: no copy analysed gives NaN or Inf (%d analysed "
           "with other numbers)" % (name, len(other)),
           [os.path.basename(p) for p in nonfin[:5]])
        cleans, unreadable = {}, []
        for p in other:
            c = p[:-3] + "-clean.h5"
            st = clean_copy(p, c)
            if st in (0, 3):
                cleans[p] = c
            else:
                unreadable.append(p)
        _, cres = run_ionflow(list(cleans.values()))
        wrong = []
        for p, c in cleans.items():
            v = cres.get(c, {})
            if not v.get("ok") or v["out"] != res[p]["out"]:
                wrong.append((os.path.basename(p), differ(
                    res[p]["out"], v["out"]) if v.get("ok") else v.get("out")))
        ok(not wrong and not unreadable, "%s: each of the %d copies analysed "
           "with other numbers gives the numbers of its readable contents"
           % (name, len(other)), "%s; h5py reads nothing of %s" % (
               wrong[:3], [os.path.basename(p) for p in unreadable[:5]]))
        diag("%s: %d refused, %d analysed as the original, %d as other "
             "contents" % (name, nerr, len(same), len(other)))

sys.exit(done())
