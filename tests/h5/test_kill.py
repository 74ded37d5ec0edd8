#!/usr/bin/python3
"""Results are written atomically even when the writer is killed: twenty
SIGTERMs and twenty SIGKILLs at random times while ionflow writes a
result leave either no result or a complete one; SIGTERM leaves no
temporary file, and the next run of the same result removes what SIGKILL
left, but never a temporary file of a live writer or a file that is not
ionflow's. TAP output."""
import os
import random
import signal
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from tap import ok, done  # noqa: E402

IONFLOW = os.environ.get("IONFLOW", "./ionflow")
NDSET, N = 24, 1 << 17          # 24 datasets of 1 MiB: a wide write window

WRITER = """
local out = arg[1]
local w = h5.create(out, {overwrite = true})
for k = 1, %d do
  w:write("/d" .. k, array.full({%d}, k))
end
w:close()
""" % (NDSET, N)


def temps(d):
    return sorted(n for n in os.listdir(d) if ".tmp-" in n)


def complete(path):
    """None when the result is complete, else what is wrong"""
    try:
        with h5py.File(path, "r") as f:
            for k in range(1, NDSET + 1):
                x = f["/d%d" % k][()]
                if x.shape != (N,) or not np.all(x == k):
                    return "/d%d is wrong" % k
    except (OSError, KeyError) as e:
        return str(e)
    return None


def run(script, out):
    return subprocess.Popen([IONFLOW, script, out], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)


with tempfile.TemporaryDirectory() as d:
    script = os.path.join(d, "write.lua")
    with open(script, "w") as f:
        f.write(WRITER)
    out = os.path.join(d, "result.h5")
    t0 = time.monotonic()
    p = run(script, out)
    p.wait()
    window = time.monotonic() - t0
    ok(p.returncode == 0 and complete(out) is None and temps(d) == [],
       "an undisturbed run writes the complete result", p.stderr.read())
    os.remove(out)
    rng = random.Random(14)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        bad, left, codes = [], 0, set()
        for i in range(20):
            if os.path.exists(out):
                os.remove(out)
            p = run(script, out)
            time.sleep(rng.uniform(0.02, window))
            p.send_signal(sig)
            p.wait()
            msg = p.stderr.read().decode(errors="replace")
            p.stderr.close()
            codes.add(p.returncode)
            if p.returncode not in (0, -sig):
                bad.append("exit %d: %s" % (p.returncode, msg))
            if os.path.exists(out) and complete(out) is not None:
                bad.append(complete(out))
            if sig == signal.SIGTERM and temps(d):
                bad.append("left %s (exit %d)" % (temps(d), p.returncode))
            left += len(temps(d))
        name = signal.Signals(sig).name
        ok(bad == [], "%s: no result or a complete one, never a partial"
           " one%s" % (name, ", no temporary file"
                       if sig == signal.SIGTERM else ""), "\n".join(bad))
        ok(codes <= {0, -sig}, "%s: the run ends by the signal (or"
           " had finished)" % name, str(codes) + "\n" + "\n".join(bad))
        if sig == signal.SIGKILL:
            ok(left > 0, "SIGKILL leaves temporary files (%d after 20 kills,"
               " each removed by the next run)" % left)
    # what the next run may and may not remove
    alive = os.path.join(d, "result.h5.tmp-%d-abcdef" % os.getpid())
    with open(alive, "wb") as f:
        f.write(b"\x89HDF\r\n\x1a\n")
    q = subprocess.Popen(["true"])
    q.wait()
    foreign = os.path.join(d, "result.h5.tmp-%d-ghijkl" % q.pid)
    with open(foreign, "wb") as f:
        f.write(b"not HDF5")
    other = os.path.join(d, "other.h5.tmp-%d-mnopqr" % q.pid)
    with open(other, "wb") as f:
        f.write(b"")
    p = run(script, out)
    p.wait()
    p.stderr.close()
    ok(p.returncode == 0 and complete(out) is None,
       "the next run writes the complete result")
    ok(temps(d) == sorted(os.path.basename(x) for x in (alive, foreign, other)),
       "it removed the files of killed writers, kept a live writer's, a"
       " non-HDF5 one and another result's", str(temps(d)))

sys.exit(done())
