#!/usr/bin/python3
"""Recursive listings of files whose hard links form cycles (legal HDF5)
end, list each group's members once, and name where a group was first
listed; compared with a walk of the same file through h5py. TAP output."""
import os
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


def expected(path):
    """(path, again) in ionflow's order: members sorted by name, depth
    first, entering each group (by object address) once, hard links only"""
    out = []
    with h5py.File(path, "r") as f:
        seen = {h5py.h5o.get_info(f["/"].id).addr: "/"}

        def walk(g):
            for name in sorted(f[g].keys()):
                p = (g.rstrip("/") + "/" + name)
                link = f[g].get(name, getlink=True)
                obj = f.get(p)
                again = None
                if isinstance(link, h5py.HardLink) and isinstance(obj, h5py.Group):
                    addr = h5py.h5o.get_info(obj.id).addr
                    if addr in seen:
                        again = seen[addr]
                    else:
                        seen[addr] = p
                        out.append((p, None))
                        walk(p)
                        continue
                out.append((p, again))
        walk("/")
    return out


def listing(path, timeout=30):
    code = ("for _, e in ipairs(h5.open([==[" + path + "]==]):list"
            "{recursive=true}) do print(e.path .. ' ' .. (e.again or '-'))"
            " end")
    r = subprocess.run([IONFLOW, "-e", code], capture_output=True,
                       text=True, timeout=timeout)
    return r


with tempfile.TemporaryDirectory() as d:
    path = os.path.join(d, "cycles.h5")
    with h5py.File(path, "w") as f:
        f.create_group("a/deep/er")
        f.create_group("b")
        f["a/up"] = f["/"]            # a cycle through the root
        f["b/up"] = f["/"]            # a second one: 2^depth paths before
        f["a/deep/er/back"] = f["a"]  # a cycle below the root
        f["c"] = f["b"]               # the same group under two names
        f["a/x"] = np.arange(3.0)
        f["b/soft"] = h5py.SoftLink("/a")
    try:
        r = listing(path)
        got = [tuple(l.split(" ", 1)) for l in r.stdout.splitlines()]
        got = [(p, None if a == "-" else a) for p, a in got]
        want = expected(path)
        ok(r.returncode == 0, "the listing ends", r.stderr)
        ok(got == want, "each group listed once, repeats name the first path",
           f"got {got}\nwant {want}")
    except subprocess.TimeoutExpired:
        ok(False, "the listing ends", "no end after 30 s")
        ok(False, "each group listed once, repeats name the first path")
    code = "h5.tree([==[" + path + "]==])"
    try:
        r = subprocess.run([IONFLOW, "-e", code], capture_output=True,
                           text=True, timeout=30)
        ok(r.returncode == 0 and "up/  (= /, listed above)" in r.stdout
           and "c/  (= /b, listed above)" in r.stdout,
           "h5.tree ends and marks groups listed before", r.stdout + r.stderr)
    except subprocess.TimeoutExpired:
        ok(False, "h5.tree ends and marks groups listed before")

    # a long listing polls the interrupt flag: Ctrl-C stops it inside
    # the C loop (its own message), not after it
    many = os.path.join(d, "many.h5")
    with h5py.File(many, "w") as f:
        for i in range(20000):
            f.create_group("g%05d" % i)
    code = ("local f = h5.open([==[" + many + "]==]); io.write('ready\\n');"
            " io.flush(); f:list{recursive=true}")
    p = subprocess.Popen([IONFLOW, "-e", code], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    ready = p.stdout.readline()
    time.sleep(0.2)
    t0 = time.monotonic()
    p.send_signal(signal.SIGINT)
    try:
        _, err = p.communicate(timeout=30)
        took = time.monotonic() - t0
    except subprocess.TimeoutExpired:
        p.kill()
        err, took = "no end", 30
    ok(ready == "ready\n" and p.returncode == 1 and
       "listing '/' interrupted" in err and took < 5,
       "Ctrl-C stops a long recursive listing (%.2f s)" % took,
       "exit %s: %s" % (p.returncode, err))

sys.exit(done())
