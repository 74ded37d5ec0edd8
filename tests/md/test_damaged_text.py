#!/usr/bin/python3
"""Damaged text inputs never kill ionflow (issue 14): hundreds of truncated
and bit-flipped copies of a valid LAMMPS dump (md.transport over it) and of
a valid CSV table (csv.read) are read in one process each kind; the process
must end normally, no file may take 30 s, and every failure is an error
naming the file. A truncated dump must be refused (never analysed on the
frames before the cut without a word). Prints TAP; $IONFLOW is the binary."""
import os
import random
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from tap import ok, done  # noqa: E402
import procs  # noqa: E402

EXE = os.environ.get("IONFLOW") or os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    "ionflow")

MAKE = r"""
local dir = ...
md.write_lammps(dir .. "/good.dump", md.synthetic{ncat = 6, nan = 6, nsolv = 4,
  frames = 40, seed = 3})
local csv = require "ionflow.csv"
local r, rho = {}, {}
for i = 1, 12 do r[i] = 0.01 * i; rho[i] = 1.1 + 0.01 * i end
csv.write(dir .. "/good.csv", {"r", "rho"}, {r, rho})
"""

READ = r"""
local kind = ...
local csv = require "ionflow.csv"
for path in io.lines() do
  io.write("BEGIN ", path, "\n"); io.flush()
  local t0 = os.time()
  local okk, msg = pcall(function()
    if kind == "dump" then
      local r = md.transport(path, {cation = 1, anion = 2, blocks = 2})
      return string.format("%.6g", r.t_app or 0)
    else
      local t = csv.read(path)
      return tostring(t.nrows)
    end
  end)
  io.write(okk and "OK " or "ERR ", (tostring(msg):gsub("\n", " ")), "\n")
  io.write("END ", os.time() - t0, "\n"); io.flush()
end
"""


def damaged(src, d, tag, n):
    data = open(src, "rb").read()
    rng = random.Random(7)
    out = []
    for k in range(n):
        if k % 2 == 0:
            cut = rng.randrange(1, len(data))
            b = data[:cut]
            what = "cut"
        else:
            b = bytearray(data)
            for _ in range(rng.randint(1, 4)):
                i = rng.randrange(len(b))
                b[i] ^= 1 << rng.randrange(8)
            b = bytes(b)
            what = "flip"
        p = os.path.join(d, "%s-%s-%03d" % (tag, what, k))
        with open(p, "wb") as f:
            f.write(b)
        out.append(p)
    return out


def run(kind, paths):
    r = subprocess.run([EXE, "-e", READ.replace("...", repr(kind), 1)],
                       input="\n".join(paths) + "\n", capture_output=True,
                       encoding="utf-8", errors="replace", timeout=600)
    return r, procs.marks(r.stdout, "msg")


with tempfile.TemporaryDirectory() as d:
    r = subprocess.run([EXE, "-e", MAKE.replace("...", repr(d), 1)],
                       capture_output=True, text=True)
    ok(r.returncode == 0, "a valid dump and CSV are made", r.stderr)
    for kind, src, tag in (("dump", "good.dump", "dump"), ("csv", "good.csv", "csv")):
        paths = damaged(os.path.join(d, src), d, tag, 200)
        proc, res = run(kind, paths)
        ok(proc.returncode == 0 and len(res) == len(paths),
           "%s: 200 damaged copies read in one process, which ends normally"
           % kind, "exit %d, %d of %d read; %s" % (proc.returncode, len(res),
                                                 len(paths), proc.stderr[-800:]))
        slow = [p for p, v in res.items() if v.get("secs", 99) > 30]
        ok(not slow, "%s: no file takes 30 s" % kind, slow[:3])
        unnamed = [p for p, v in res.items()
                   if not v.get("ok") and os.path.basename(p) not in v.get("msg", "")]
        ok(not unnamed, "%s: every failure names the file" % kind,
           [(os.path.basename(p), res[p].get("msg")) for p in unnamed[:3]])
        nerr = sum(1 for v in res.values() if not v.get("ok"))
        ok(nerr > 0, "%s: damaged copies are refused (%d of %d)" % (kind, nerr,
                                                                  len(res)))
        if kind == "dump":
            # a dump cut inside its frames must not be analysed silently
            cutok = [p for p, v in res.items() if "-cut-" in p and v.get("ok")
                     and os.path.getsize(p) < os.path.getsize(
                         os.path.join(d, src)) - 200]
            ok(not cutok, "dump: a copy cut before its end is refused",
               [os.path.basename(p) for p in cutok[:5]])

sys.exit(done())
