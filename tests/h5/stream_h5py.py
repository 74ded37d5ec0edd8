"""Stream frame stacks written by h5py through ionflow's h5.frames.

A 2000 x 128 x 128 uint16 stack (65 MB) is written by h5py chunked,
gzip-compressed and, when the system's HDF5 filter plugins are installed
for h5py to write with (Debian: hdf5-filter-plugin, bitshuffle),
LZ4-compressed and bitshuffle/LZ4-compressed; ionflow decodes these with
its built-in filters.
ionflow ($IONFLOW) streams each frame by frame, prints every frame's sum and
its peak resident memory (VmHWM); the sums must equal numpy's and the memory
must stay well below the stack's size. TAP on stdout.
"""
import os
import shutil
import subprocess
import sys
import tempfile

import h5py
import numpy as np

NF, NY, NX = 2000, 128, 128
IONFLOW = os.environ.get("IONFLOW", "./ionflow")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from tap import ok, diag, done  # noqa: E402


def sanitized():
    """True when $IONFLOW is an AddressSanitizer build."""
    try:
        r = subprocess.run(["ldd", IONFLOW], capture_output=True, text=True)
        return "libasan" in r.stdout
    except OSError:
        return False


SANITIZED = sanitized()

LUA = r"""
local path, dset = arg[1], arg[2]
local out = {}
for i, frame in h5.frames(path, dset) do
  out[#out + 1] = string.format("%d %d", i, math.tointeger(frame:sum()))
end
for line in io.lines("/proc/self/status") do
  local kb = line:match("^VmHWM:%s*(%d+)")
  if kb then print("VmHWM " .. kb) end
end
print(table.concat(out, "\n"))
print("nopen " .. h5.nopen())
"""


def stream(tmp, path, dset):
    script = os.path.join(tmp, "stream.lua")
    with open(script, "w") as f:
        f.write(LUA)
    r = subprocess.run([IONFLOW, script, path, dset], capture_output=True,
                       text=True, timeout=60)
    if r.returncode != 0:
        diag(r.stderr)
        return None, None, None
    hwm, sums, nopen = None, {}, None
    for line in r.stdout.splitlines():
        w = line.split()
        if w[0] == "VmHWM":
            hwm = int(w[1]) * 1024
        elif w[0] == "nopen":
            nopen = int(w[1])
        else:
            sums[int(w[0])] = int(w[1])
    return hwm, sums, nopen


def check(tmp, path, dset, want, label):
    hwm, sums, nopen = stream(tmp, path, dset)
    if sums is None:
        ok(False, f"{label}: ionflow streamed the stack")
        return
    ok(len(sums) == NF and sorted(sums) == list(range(1, NF + 1)),
       f"{label}: {NF} frames, indices 1..{NF}")
    got = np.array([sums.get(i, -1) for i in range(1, NF + 1)])
    bad = int(np.sum(got != want))
    ok(bad == 0, f"{label}: every frame sum equals numpy's")
    if bad:
        diag(f"{bad} frames differ, first at {int(np.argmax(got != want)) + 1}")
    stack_bytes = NF * NY * NX * 2
    ok(hwm is not None and hwm < stack_bytes // 2,
       f"{label}: peak memory {hwm} B well below the stack's {stack_bytes} B",
       skip=(SANITIZED and "AddressSanitizer build: its quarantine keeps"
             " freed memory resident") or
       (os.environ.get("IONFLOW_VALGRIND") == "1" and
        "under valgrind, whose own memory counts in the peak"))
    ok(nopen == 0, f"{label}: no HDF5 id left open")


def check_no_plugin_path(tmp, lz4):
    """LZ4 is built into ionflow: it streams with an empty plugin path
    (what a missing filter gives is tests/h5/test_filters.py's)."""
    if not lz4:
        ok(True, "lz4 without a plugin path", skip="cannot write lz4 here")
        return
    path = os.path.join(tmp, "small_lz4.h5")
    data = np.arange(1000, dtype=np.uint16).reshape(10, 100)
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=data, chunks=(2, 100), compression=32004)
    empty = os.path.join(tmp, "no_plugins")
    os.mkdir(empty)
    code = ("local s = 0 for _, fr in h5.frames(arg[1], 'x') do"
            " s = s + fr:sum() end print(math.tointeger(s))"
            " collectgarbage() print(h5.nopen())")
    env = dict(os.environ, HDF5_PLUGIN_PATH=empty)
    r = subprocess.run([IONFLOW, "-e", code.replace("arg[1]", repr(path))],
                       capture_output=True, text=True, timeout=30, env=env)
    ok(r.stdout.split() == [str(int(data.sum())), "0"],
       "lz4 streams with an empty plugin path (built-in filter)")
    if r.returncode != 0:
        diag(r.stdout + r.stderr)


def check_locked(tmp):
    """A file that h5py still has open for writing cannot be opened by
    HDF5 (file locking); the error says so and how to read it anyway."""
    path = os.path.join(tmp, "acquiring.h5")
    with h5py.File(path, "w") as f:
        f["x"] = np.arange(3)
        f.flush()
        r = subprocess.run([IONFLOW, "-e", f"print(pcall(h5.open, {path!r}))"],
                           capture_output=True, text=True, timeout=30)
    if "HDF5_USE_FILE_LOCKING" in os.environ:
        ok(True, "file open for writing elsewhere", skip="locking disabled")
        return
    ok("acquiring.h5" in r.stdout and "HDF5_USE_FILE_LOCKING" in r.stdout,
       "a file open for writing elsewhere: error explains the lock")
    if "HDF5_USE_FILE_LOCKING" not in r.stdout:
        diag(r.stdout + r.stderr)


WRITE = r"""
local w = h5.create(arg[1])
w:write("/xpcs/multitau/delay_list", array.linspace(1, 8, 8),
        {attrs = {units = "frames"}})
w:write("/entry/data/data", array.arange(0, 2 * 3 * 4):reshape({2, 3, 4})
        :copy("u16"), {compress = 5})
w:write("/xpcs/qmap/map_names", {"q", "phi"})
w:write("/entry/start_time", "2026-11-25T10:00:00")
w:write("/entry/n", 7)
w:attr("/entry/instrument/bluesky/metadata", "plan", "count")
w:close()
"""


def check_written_for_h5py(tmp):
    """A result written by ionflow reads back in h5py with the same values,
    types and attributes (what the community viewer needs)."""
    path = os.path.join(tmp, "result.h5")
    script = os.path.join(tmp, "write.lua")
    with open(script, "w") as f:
        f.write(WRITE)
    r = subprocess.run([IONFLOW, script, path], capture_output=True,
                       text=True, timeout=30)
    if not ok(r.returncode == 0 and os.path.exists(path),
              "ionflow wrote a result file"):
        diag(r.stderr)
        return
    with h5py.File(path, "r") as f:
        d = f["/xpcs/multitau/delay_list"]
        ok(d.dtype == np.float64 and np.array_equal(d[()], np.arange(1, 9))
           and d.attrs["units"] in ("frames", b"frames"),
           "h5py reads delay_list and its units")
        x = f["/entry/data/data"]
        ok(x.dtype == np.uint16 and x.shape == (2, 3, 4) and
           x.compression == "gzip" and
           np.array_equal(x[()], np.arange(24).reshape(2, 3, 4)),
           "h5py reads the gzip u16 array")
        names = [n.decode() if isinstance(n, bytes) else n
                 for n in f["/xpcs/qmap/map_names"][()]]
        t0 = f["/entry/start_time"][()]
        ok(names == ["q", "phi"] and
           (t0.decode() if isinstance(t0, bytes) else t0) ==
           "2026-11-25T10:00:00" and int(f["/entry/n"][()]) == 7 and
           "/entry/instrument/bluesky/metadata" in f,
           "h5py reads strings, scalars and the metadata group")


def main():
    tmp = tempfile.mkdtemp(prefix="ionflow_h5_")
    try:
        rng = np.random.default_rng(7)
        data = rng.integers(0, 16, size=(NF, NY, NX), dtype=np.uint16)
        data[::97, 5, 7] = 65535          # full-range values survive too
        want = data.reshape(NF, -1).sum(axis=1, dtype=np.int64)
        path = os.path.join(tmp, "stack.h5")
        with h5py.File(path, "w") as f:
            f.create_dataset("/entry/data/data", data=data,
                             chunks=(10, NY, NX))
            f.create_dataset("/entry/data/gzip", data=data,
                             chunks=(16, NY, NX), compression="gzip",
                             compression_opts=1)
            lz4 = h5py.h5z.filter_avail(32004)
            bshuf = h5py.h5z.filter_avail(32008)
            if lz4:
                f.create_dataset("/entry/data/lz4", data=data,
                                 chunks=(8, NY, NX), compression=32004)
            if bshuf:
                f.create_dataset("/entry/data/bitshuffle", data=data,
                                 chunks=(8, NY, NX), compression=32008,
                                 compression_opts=(0, 2))
        check(tmp, path, "/entry/data/data", want, "chunked")
        check(tmp, path, "/entry/data/gzip", want, "gzip")
        no = "HDF5 filter plugin not installed (Debian: %s)"
        if lz4:
            check(tmp, path, "/entry/data/lz4", want, "lz4 plugin")
        else:
            for _ in range(4):
                ok(True, "lz4 plugin", skip=no % "hdf5-filter-plugin")
        if bshuf:
            check(tmp, path, "/entry/data/bitshuffle", want,
                  "bitshuffle plugin")
        else:
            for _ in range(4):
                ok(True, "bitshuffle plugin", skip=no % "bitshuffle")
        check_no_plugin_path(tmp, lz4)
        check_locked(tmp)
        check_written_for_h5py(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return done()


if __name__ == "__main__":
    sys.exit(main())
