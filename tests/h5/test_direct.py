"""Frame streams read whole chunks straight from the file (h5.c's direct
reads: H5Dread_chunk), unfiltered ones into the block and those of the
codecs ionflow decodes (LZF, LZ4, bitshuffle, gzip; after HDF5's shuffle
or not) by threads, and everything else through H5Dread. Both must give the frames h5py
reads, for every chunk shape, frame range, step and block size: one-frame
and several-frame chunks, a last chunk past the end of the frames,
chunks never written (fill values), a type that needs conversion (big
endian), a chunk of part of a frame, a part of the rows (detector's
rows=), and detector's hold=true (two buffers from the first read, the
second populated in the background; blocks held by a correlator's
push_async are tested through xpcsio.correlate in tests/lua/xpcs.lua). A file emptied while it is read must fail with an error that names
the file, the dataset and the frames, never a crash or frames of zeros
(HDF5 reads zeros past the end of a file: before this test, every frame
after the cut was read as zeros without a word). TAP on stdout.
"""
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np

try:
    import hdf5plugin
except ImportError:      # python3-hdf5plugin not installed
    hdf5plugin = None

IONFLOW = os.environ.get("IONFLOW", "./ionflow")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from tap import ok, diag, done  # noqa: E402

# every case: the blocks of h5.frames (or detector.frames with rows),
# each written to the output as /c<case>/b<block>
READ = r"""
local src, dst = arg[1], arg[2]
local w = h5.create(dst, {overwrite = true})
local k = 0
for line in io.lines(arg[3]) do
  local name, first, count, step, block, r0, r1 =
    line:match("^(%S+) (%d+) (%-?%d+) (%d+) (%d+) (%-?%d+) (%d+)$")
  k = k + 1
  local o = {first = tonumber(first), step = tonumber(step),
    block = tonumber(block), blocks = true}
  if tonumber(count) > 0 then o.count = tonumber(count) end
  local it, s, c
  if tonumber(r0) > 0 then
    o.dataset, o.rows = name, {tonumber(r0), tonumber(r1)}
    it, s, c = detector.frames(src, o)
  elseif tonumber(r0) < 0 then   -- hold=true
    o.dataset, o.hold = name, true
    it, s, c = detector.frames(src, o)
  else
    it, s, c = h5.frames(src, name, o)
  end
  local j = 0
  for _, b in it, s, c do
    j = j + 1
    w:write(string.format("/c%d/b%04d", k, j), b:copy())
  end
end
w:close()
"""

FRAMES, R, C = 23, 12, 20

# every frame of /entry/data/data in blocks, then the count
COUNT = """
local n = 0
for i, b in h5.frames(arg[1], "/entry/data/data", {blocks = true}) do
  n = n + b.shape[1]
end
print("read " .. n)
"""


def write_source(path, rng):
    """datasets of every layout; returns {name: the frames h5py reads}"""
    data = rng.integers(0, 60000, (FRAMES, R, C)).astype(np.uint16)
    # every third frame compressible, the others not (LZF then stores
    # the chunk as it is and says so in the chunk's filter mask)
    data[::3] = rng.poisson(1.5, (len(data[::3]), R, C))
    out = {}
    filters = [("lzf1", (1, R, C), {"compression": "lzf"}),
               ("lzf3", (3, R, C), {"compression": "lzf"}),
               ("lzf_shuf2", (2, R, C),
                {"compression": "lzf", "shuffle": True}),
               ("gzip1", (1, R, C), {"compression": "gzip"}),
               ("gzip_shuf3", (3, R, C),
                {"compression": "gzip", "shuffle": True}),
               # (HDF5's checksum after it: verified here)
               ("gzip_fl", (2, R, C), {"compression": "gzip",
                                       "shuffle": True, "fletcher32": True}),
               ("lzf_fl", (1, R, C), {"compression": "lzf",
                                      "fletcher32": True})]
    if hdf5plugin is not None:
        filters += [("lz4", (1, R, C), dict(hdf5plugin.LZ4())),
                    ("lz4_2", (2, R, C), dict(hdf5plugin.LZ4(nbytes=96))),
                    ("bshuf", (1, R, C), dict(hdf5plugin.Bitshuffle())),
                    ("bshuf3", (3, R, C),
                     dict(hdf5plugin.Bitshuffle(nelems=64))),
                    ("bshuf_raw", (2, R, C),
                     dict(hdf5plugin.Bitshuffle(cname="none")))]
    with h5py.File(path, "w") as f:
        for name, chunks, opts in filters:
            f.create_dataset(name, data=data, chunks=chunks, **opts)
            out[name] = data.astype(np.float64)
        d = f.create_dataset("lzf_holes", shape=(FRAMES, R, C),
                             dtype="<u2", chunks=(2, R, C), fillvalue=5,
                             compression="lzf")
        full = np.full((FRAMES, R, C), 5, np.uint16)
        for c0 in (0, 6, 12, 20):
            d[c0:c0 + 2] = data[c0:c0 + 2]
            full[c0:c0 + 2] = data[c0:c0 + 2]
        out["lzf_holes"] = full.astype(np.float64)
        for name, chunks, dt in [("one", (1, R, C), "<u2"),
                                 ("three", (3, R, C), "<u2"),
                                 ("five", (5, R, C), "<u2"),
                                 ("half", (2, R // 2, C), "<u2"),
                                 ("big_endian", (1, R, C), ">u2"),
                                 ("i32", (2, R, C), "<i4"),
                                 ("f32", (4, R, C), "<f4")]:
            f.create_dataset(name, data=data.astype(dt), chunks=chunks)
            out[name] = data.astype(dt).astype(np.float64)
        # chunks 1 and 3 of 4-frame chunks never written: fill value 7
        d = f.create_dataset("holes", shape=(FRAMES, R, C), dtype="<u2",
                             chunks=(4, R, C), fillvalue=7)
        full = np.full((FRAMES, R, C), 7, np.uint16)
        for c0 in (0, 8, 16, 20):
            d[c0:c0 + 4] = data[c0:c0 + 4]
            full[c0:c0 + 4] = data[c0:c0 + 4]
        out["holes"] = full.astype(np.float64)
    return out


def cases(names):
    """(name, first, count, step, block, row0, row1): 1-based frames"""
    out = []
    for n in names:
        for first, count, step, block in [(1, -1, 1, 0), (1, -1, 1, 4),
                                          (2, -1, 1, 5), (3, 7, 1, 3),
                                          (2, 8, 2, 3), (1, -1, 3, 2),
                                          (23, 1, 1, 0)]:
            out.append((n, first, count, step, block, 0, 0))
        out.append((n, 2, 9, 1, 4, 3, 10))     # rows 3..10 only
        out.append((n, 1, -1, 1, 4, -1, 0))    # hold=true (two buffers)
        out.append((n, 2, 17, 1, 5, -1, 0))
    return out


def expected(data, c):
    _, first, count, step, _, r0, r1 = c
    sel = data[first - 1::step]
    if count > 0:
        sel = sel[:count]
    if r0 > 0:
        sel = sel[:, r0 - 1:r1]
    return sel


def check_reads(tmp, rng):
    src = os.path.join(tmp, "src.h5")
    data = write_source(src, rng)
    cs = cases(sorted(data))
    listing = os.path.join(tmp, "cases.txt")
    with open(listing, "w") as f:
        for c in cs:
            f.write(" ".join(str(v) for v in c) + "\n")
    script = os.path.join(tmp, "read.lua")
    with open(script, "w") as f:
        f.write(READ)
    dst = os.path.join(tmp, "out.h5")
    r = subprocess.run([IONFLOW, script, src, dst, listing],
                       capture_output=True, text=True, timeout=300)
    if not ok(r.returncode == 0, "every layout and range is read",
              r.stdout + r.stderr):
        return
    bad = []
    with h5py.File(dst, "r") as f:
        for k, c in enumerate(cs, 1):
            g = f.get("c%d" % k)
            got = (np.concatenate([g[b][()] for b in sorted(g)])
                   if g is not None else np.zeros((0, R, C)))
            want = expected(data[c[0]], c)
            if got.shape != want.shape or not np.array_equal(got, want):
                bad.append(c)
    ok(not bad, "%d reads equal h5py's frames" % len(cs),
       "differ: %s" % bad[:5])


def chunk_offset(path, name, index):
    with h5py.File(path, "r") as f:
        return f[name].id.get_chunk_info(index).byte_offset


def check_truncated(tmp, rng):
    """the file emptied by another program after the first block was
    read (HDF5's sec2 driver reads zeros past the end of a file): the
    next read fails with an error naming the file and dataset, not a
    crash or frames of zeros; read whole (native) and through H5Dread
    (big endian)"""
    for dt in ("<u2", ">u2"):
        src = os.path.join(tmp, "cut.h5")
        data = rng.integers(0, 9, (FRAMES, R, C)).astype(dt)
        with h5py.File(src, "w") as f:
            f.create_dataset("/entry/data/data", data=data,
                             chunks=(1, R, C))
        script = os.path.join(tmp, "cut.lua")
        with open(script, "w") as f:
            f.write("""
local n = 0
for i, b in h5.frames(arg[1], "/entry/data/data", {block = 4,
    blocks = true}) do
  n = n + b.shape[1]
  io.open(arg[1], "w"):close()
end
print("read " .. n)
""")
        r = subprocess.run([IONFLOW, script, src], capture_output=True,
                           text=True, timeout=120)
        err = r.stderr
        ok(r.returncode == 1 and "read " not in r.stdout,
           "%s: a file emptied while read fails" % dt, r.stdout + err)
        ok("cut.h5" in err and "/entry/data/data" in err and
           "frames 5..8" in err,
           "%s: the error names the file, dataset and frames" % dt, err)
        diag(err.splitlines()[0] if err else "")
        ok("Segmentation" not in err and "core dumped" not in err,
           "%s: no crash" % dt, err)


def check_corrupt_chunk(tmp, rng):
    """a compressed chunk whose decoded size lies or which is all zeros:
    the read fails naming the file, dataset and frame (decoded by
    threads); random bytes in the middle of a stream (which LZF and LZ4,
    having no checksum, may decode into other values of the right size)
    give a clear error or frames, never a crash"""
    kinds = [("lzf", {"compression": "lzf"}),
             ("gzip", {"compression": "gzip", "shuffle": True})]
    if hdf5plugin is not None:
        kinds += [("lz4", dict(hdf5plugin.LZ4())),
                  ("bitshuffle", dict(hdf5plugin.Bitshuffle()))]
    script = os.path.join(tmp, "corrupt.lua")
    with open(script, "w") as f:
        f.write(COUNT)
    for kind, opts in kinds:
        for how in ("garbage", "header", "zeros"):
            src = os.path.join(tmp, "bad_%s.h5" % kind)
            data = rng.poisson(2, (FRAMES, R, C)).astype("<u2")
            with h5py.File(src, "w") as f:
                f.create_dataset("/entry/data/data", data=data,
                                 chunks=(1, R, C), **opts)
                info = f["/entry/data/data"].id.get_chunk_info(6)
            with open(src, "r+b") as f:
                if how == "garbage":      # the middle of the stream
                    f.seek(info.byte_offset + info.size // 2)
                    f.write(bytes(rng.integers(0, 256, 24,
                                               dtype=np.uint8)))
                elif how == "header":     # LZ4's decoded size, LZF's start
                    f.seek(info.byte_offset)
                    f.write(b"\x7f\xff\xff\xff\x00\x00\x00\x09")
                else:
                    f.seek(info.byte_offset)
                    f.write(bytes(info.size))
            r = subprocess.run([IONFLOW, script, src], capture_output=True,
                               text=True, timeout=60)
            err = r.stderr
            crashed = r.returncode < 0 or "Segmentation" in err
            named = (r.returncode == 1 and "bad_%s.h5" % kind in err and
                     "/entry/data/data" in err and "frame 7" in err)
            if how == "garbage":
                ok(not crashed and (named or (r.returncode == 0 and
                                              "read 23" in r.stdout)),
                   "%s chunk 7 (%s): frames or an error naming the "
                   "frame, no crash" % (kind, how), r.stdout + err)
            else:
                ok(not crashed and named, "%s chunk 7 (%s): an error "
                   "naming the file, dataset and frame" % (kind, how),
                   r.stdout + err)
            diag(err.splitlines()[0] if err else r.stdout)


def check_groups(tmp, rng):
    """a block whose stored chunks pass 8 MB is decoded in groups (the
    buffer of stored chunks stays small): its frames are h5py's, and a
    corrupt chunk in a later group is named by its own frame"""
    kinds = [("lzf", {"compression": "lzf"}),
             ("gzip", {"compression": "gzip", "shuffle": True})]
    if hdf5plugin is not None:
        kinds.append(("bitshuffle", dict(hdf5plugin.Bitshuffle())))
    n, r, c = 96, 256, 512            # about 24 MB of counts near 1000
    script = os.path.join(tmp, "groups.lua")
    with open(script, "w") as f:
        f.write("""
local sums = {}
for i, b in h5.frames(arg[1], "/entry/data/data", {blocks = true,
    block = 96}) do
  for k = 1, b.shape[1] do sums[#sums + 1] = string.format("%d",
    math.tointeger(b:frame(k):sum())) end
end
print(table.concat(sums, " "))
""")
    for kind, opts in kinds:
        src = os.path.join(tmp, "groups_%s.h5" % kind)
        data = rng.poisson(1000, (n, r, c)).astype("<u2")
        with h5py.File(src, "w") as f:
            f.create_dataset("/entry/data/data", data=data, chunks=(1, r, c),
                             **opts)
            ds = f["/entry/data/data"]
            stored = sum(ds.id.get_chunk_info(i).size for i in range(n))
            info = ds.id.get_chunk_info(80)
        p = subprocess.run([IONFLOW, script, src], capture_output=True,
                           text=True, timeout=120)
        want = " ".join(str(int(v)) for v in data.reshape(n, -1).sum(1))
        ok(stored > 8 << 20 and p.returncode == 0 and
           p.stdout.strip() == want, "%s: a block of %.1f MB stored chunks "
           "gives h5py's frames" % (kind, stored / 2**20), p.stderr)
        with open(src, "r+b") as f:
            f.seek(info.byte_offset)
            f.write(bytes(info.size))
        p = subprocess.run([IONFLOW, script, src], capture_output=True,
                           text=True, timeout=120)
        ok(p.returncode == 1 and "frame 81" in p.stderr and
           "Segmentation" not in p.stderr, "%s: a corrupt chunk in a later "
           "group is named by its frame" % kind, p.stdout + p.stderr)


SHORT = r"""
local ok, err = pcall(function()
  local n = 0
  for i, b in h5.frames(arg[1], "/entry/data/data", {blocks = true,
      first = tonumber(arg[2])}) do
    n = n + b.shape[1]
  end
  print("frames " .. n)
end)
if not ok then print("frames error: " .. tostring(err)) end
ok, err = pcall(h5.read, arg[1], "/table")
print(ok and "table read" or "table error: " .. tostring(err))
"""


def check_short_deflate(tmp, rng):
    """HDF5's deflate, whose decoding HDF5 1.10 does not check: a chunk
    whose zlib stream is whole but decodes to half the chunk. HDF5 read
    on past its buffer and returned stray bytes as data, without an
    error. Now the direct reads of frames (decoded here) and every other
    read of a deflate dataset (each chunk checked before H5Dread) fail,
    naming the file, the dataset and the frame or chunk; with and
    without shuffle; a whole file still reads."""
    import zlib
    script = os.path.join(tmp, "short.lua")
    with open(script, "w") as f:
        f.write(SHORT)
    for shuffle in (False, True):
        for bad in (False, True):
            src = os.path.join(tmp, "short.h5")
            data = rng.poisson(2, (FRAMES, R, C)).astype("<u2")
            table = rng.integers(0, 1000, (10, 10)).astype("<i4")
            with h5py.File(src, "w") as f:
                d = f.create_dataset("/entry/data/data", data=data,
                                     chunks=(1, R, C), compression="gzip",
                                     shuffle=shuffle)
                t = f.create_dataset("/table", data=table, chunks=(4, 4),
                                     compression="gzip", shuffle=shuffle)
                if bad:
                    raw = data[6].tobytes()[:R * C]
                    d.id.write_direct_chunk((6, 0, 0), zlib.compress(raw))
                    raw = table[4:8, 0:4].tobytes()[:32]
                    t.id.write_direct_chunk((4, 0), zlib.compress(raw))
            label = "gzip%s, %s" % ("+shuffle" if shuffle else "",
                                    "a short chunk" if bad else "whole")
            for first in (1, 2):   # whole chunks; the first through H5Dread
                r = subprocess.run([IONFLOW, script, src, str(first)],
                                   capture_output=True, text=True,
                                   timeout=60)
                out = r.stdout
                if not bad:
                    ok(r.returncode == 0 and "frames %d" % (FRAMES - first
                                                           + 1) in out
                       and "table read" in out, "%s: frames from %d and the"
                       " table read" % (label, first), out + r.stderr)
                    continue
                ok(r.returncode == 0 and "frames error" in out and
                   "short.h5" in out and "/entry/data/data" in out and
                   "frame 7" in out and "decoded size" in out,
                   "%s, frames from %d: an error naming the file, dataset "
                   "and frame" % (label, first), out + r.stderr)
                ok("table error" in out and "/table" in out and
                   "chunk at (5, 1)" in out, "%s: h5.read names the table's"
                   " chunk" % label, out + r.stderr)


def check_checksum(tmp, rng):
    """HDF5's Fletcher-32 after gzip or LZF, verified by ionflow's own
    decoding: a stored chunk whose checksum (its last 4 bytes) is changed
    fails the read naming the file, dataset and frame, as h5py refuses
    it; the stream itself is intact"""
    script = os.path.join(tmp, "sum.lua")
    with open(script, "w") as f:
        f.write(COUNT)
    for kind, opts in (("gzip", {"compression": "gzip", "shuffle": True}),
                       ("lzf", {"compression": "lzf"})):
        src = os.path.join(tmp, "sum_%s.h5" % kind)
        data = rng.poisson(2, (FRAMES, R, C)).astype("<u2")
        with h5py.File(src, "w") as f:
            f.create_dataset("/entry/data/data", data=data,
                             chunks=(1, R, C), fletcher32=True, **opts)
            info = f["/entry/data/data"].id.get_chunk_info(4)
        r = subprocess.run([IONFLOW, script, src], capture_output=True,
                           text=True, timeout=60)
        ok(r.returncode == 0 and "read 23" in r.stdout, "%s + fletcher32: "
           "every checksum as HDF5 wrote it verifies" % kind,
           r.stdout + r.stderr)
        with open(src, "r+b") as f:
            f.seek(info.byte_offset + info.size - 2)
            b = f.read(1)
            f.seek(info.byte_offset + info.size - 2)
            f.write(bytes([b[0] ^ 0x10]))
        r = subprocess.run([IONFLOW, script, src], capture_output=True,
                           text=True, timeout=60)
        err = r.stderr
        try:
            with h5py.File(src, "r") as f:
                f["/entry/data/data"][4]
            h5py_refuses = False
        except OSError:
            h5py_refuses = True
        ok(r.returncode == 1 and "frame 5" in err and "checksum" in err and
           "sum_%s.h5" % kind in err and h5py_refuses,
           "%s + fletcher32: a changed checksum is an error naming the "
           "frame (h5py refuses it too)" % kind, r.stdout + err)
        diag(err.splitlines()[0] if err else r.stdout)


def check_strided_chunks(tmp, rng):
    """every 2nd frame of 4-frame chunks, compressed: each chunk is read
    whole once and decoded by threads, and its frames picked (HDF5
    decoded the chunk again for each frame of it); a chunk that decodes
    short is an error naming a frame of it"""
    import zlib
    script = os.path.join(tmp, "step.lua")
    with open(script, "w") as f:
        f.write("""
local n, s = 0, 0
for i, b in h5.frames(arg[1], "/entry/data/data", {step = 2,
    first = 2, blocks = true}) do
  n = n + b.shape[1]
  s = s + b:sum()
end
print(string.format("read %d sum %.0f", n, s))
""")
    for bad in (False, True):
        src = os.path.join(tmp, "step.h5")
        data = rng.poisson(3, (FRAMES, R, C)).astype("<u2")
        with h5py.File(src, "w") as f:
            d = f.create_dataset("/entry/data/data", data=data,
                                 chunks=(4, R, C), compression="gzip",
                                 shuffle=True)
            if bad:   # frames 9..12, of which 10 and 12 are read
                d.id.write_direct_chunk((8, 0, 0), zlib.compress(
                    data[8:12].tobytes()[:R * C]))
        r = subprocess.run([IONFLOW, script, src], capture_output=True,
                           text=True, timeout=60)
        want = data[1::2]
        if not bad:
            ok(r.returncode == 0 and r.stdout.strip() == "read %d sum %d"
               % (len(want), int(want.sum())), "every 2nd frame of 4-frame "
               "gzip chunks, from frame 2: h5py's frames",
               r.stdout + r.stderr)
        else:
            ok(r.returncode == 1 and "step.h5" in r.stderr and
               "frame 10" in r.stderr and "decoded size" in r.stderr,
               "a short chunk among them: an error naming its first frame "
               "read", r.stdout + r.stderr)


def main():
    rng = np.random.default_rng(18)
    with tempfile.TemporaryDirectory() as tmp:
        check_reads(tmp, rng)
        check_truncated(tmp, rng)
        check_corrupt_chunk(tmp, rng)
        check_groups(tmp, rng)
        check_short_deflate(tmp, rng)
        check_checksum(tmp, rng)
        check_strided_chunks(tmp, rng)
    return done()


if __name__ == "__main__":
    sys.exit(main())
