"""HDF5 compression filters built into ionflow (LZF, LZ4, bitshuffle).

Files are written by h5py (LZF is built into it), python3-hdf5plugin (LZ4,
through Debian's hdf5-filter-plugin) and Debian's bitshuffle (bitshuffle,
plain and with LZ4). ionflow ($IONFLOW) reads them with HDF5_PLUGIN_PATH
pointing at an empty folder, so only its in-process filters can decode
them, copies every dataset into a plain file, and h5py compares the copies
with the arrays it wrote, element for element. Chunks are then made
hostile (corrupt streams, sizes that lie, blocks past the end): each read
must fail with an error naming the dataset and the filter, and the process
must survive. A filter that no one provides (zstd, blosc) is named with
the Debian package to install. LZF results written by ionflow open in
h5py with h5py's own LZF. TAP on stdout.
"""
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import h5py
import numpy as np

IONFLOW = os.environ.get("IONFLOW", "./ionflow")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from tap import ok, diag, done  # noqa: E402

try:
    import hdf5plugin
except ImportError:      # python3-hdf5plugin not installed
    hdf5plugin = None

# every dataset of the file, read by ionflow and copied uncompressed; one
# line per dataset: "OK name" or "ERR name message"
COPY = r"""
local src, dst = arg[1], arg[2]
local names = {}
for line in io.lines(arg[3]) do names[#names + 1] = line end
local w = h5.create(dst, {overwrite = true})
for _, name in ipairs(names) do
  local okr, a = pcall(h5.read, src, name)
  if okr then
    w:write(name, a)
    print("OK " .. name)
  else
    print("ERR " .. name .. " " .. tostring(a):gsub("\n", " "))
  end
end
w:close()
collectgarbage()
print("nopen " .. h5.nopen())
"""


def run_copy(tmp, src, names):
    """ionflow copies names from src with no plugin path: {name: msg}
    (msg None when read), the copy's path and the open-id count."""
    script = os.path.join(tmp, "copy.lua")
    with open(script, "w") as f:
        f.write(COPY)
    listing = os.path.join(tmp, "names.txt")
    with open(listing, "w") as f:
        f.write("\n".join(names) + "\n")
    empty = os.path.join(tmp, "no_plugins")
    os.makedirs(empty, exist_ok=True)
    dst = os.path.join(tmp, "copy.h5")
    env = dict(os.environ, HDF5_PLUGIN_PATH=empty)
    r = subprocess.run([IONFLOW, script, src, dst, listing],
                       capture_output=True, text=True, timeout=120, env=env)
    res, nopen = {}, None
    for line in r.stdout.splitlines():
        if line.startswith("OK "):
            res[line[3:]] = None
        elif line.startswith("ERR "):
            name, msg = line[4:].split(" ", 1)
            res[name] = msg
        elif line.startswith("nopen "):
            nopen = int(line.split()[1])
    return r, res, dst, nopen


def arrays(rng):
    """Test arrays: several dtypes, chunks that do not divide the shape
    (partial edge chunks), element counts per chunk not a multiple of 8
    (bitshuffle's raw tail), smooth data (compressible) and noise."""
    return {
        "u16": (rng.poisson(3.0, (20, 37, 53)).astype(np.uint16),
                (4, 16, 16)),
        "u16_full": (np.where(rng.random((9, 64, 64)) < 0.01, 65535,
                              rng.integers(0, 4, (9, 64, 64)))
                     .astype(np.uint16), (1, 64, 64)),
        "f32": (np.cumsum(rng.normal(size=(61, 77)), axis=1)
                .astype(np.float32), (13, 77)),
        "f64": (np.sin(np.arange(10007) * 0.01), (1001,)),
        "i32": (rng.integers(-2**31, 2**31 - 1, (333,), dtype=np.int32),
                (101,)),
        "u8": (rng.integers(0, 256, (7, 300), dtype=np.uint8), (3, 299)),
        "u32": (rng.integers(0, 2**32 - 1, (4, 1000), dtype=np.uint32),
                (2, 1000)),
    }


def write_sources(tmp, rng):
    """The compressed files, and per dataset the array it holds."""
    path = os.path.join(tmp, "sources.h5")
    want = {}
    have_bs = bool(h5py.h5z.filter_avail(32008))
    with h5py.File(path, "w") as f:
        for name, (a, ch) in arrays(rng).items():
            f.create_dataset("lzf/" + name, data=a, chunks=ch,
                             compression="lzf")
            f.create_dataset("lzf_shuffle/" + name, data=a, chunks=ch,
                             compression="lzf", shuffle=True)
            want["lzf/" + name] = want["lzf_shuffle/" + name] = a
            if hdf5plugin is not None:
                f.create_dataset("lz4/" + name, data=a, chunks=ch,
                                 **hdf5plugin.LZ4())
                # small blocks: many per chunk, raw ones for noise
                f.create_dataset("lz4_blocks/" + name, data=a, chunks=ch,
                                 **hdf5plugin.LZ4(nbytes=96))
                want["lz4/" + name] = want["lz4_blocks/" + name] = a
            if have_bs:
                f.create_dataset("bslz4/" + name, data=a, chunks=ch,
                                 compression=32008, compression_opts=(0, 2))
                f.create_dataset("bslz4_b64/" + name, data=a, chunks=ch,
                                 compression=32008, compression_opts=(64, 2))
                f.create_dataset("bshuf/" + name, data=a, chunks=ch,
                                 compression=32008, compression_opts=(0, 0))
                for g in ("bslz4/", "bslz4_b64/", "bshuf/"):
                    want[g + name] = a
    return path, want, have_bs


def check_reads(tmp, rng):
    path, want, have_bs = write_sources(tmp, rng)
    r, res, dst, nopen = run_copy(tmp, path, sorted(want))
    if not ok(r.returncode == 0, "ionflow read every compressed dataset"
              " without a plugin path"):
        diag(r.stderr[-2000:])
        return
    for group in ("lzf", "lzf_shuffle", "lz4", "lz4_blocks", "bslz4",
                  "bslz4_b64", "bshuf"):
        names = [n for n in sorted(want) if n.startswith(group + "/")]
        if not names:
            why = ("python3-hdf5plugin cannot write LZ4 here"
                   if group.startswith("lz4") else
                   "Debian's bitshuffle is not installed")
            ok(True, f"{group}: read", skip=why)
            continue
        bad = []
        with h5py.File(dst, "r") as f:
            for n in names:
                got = f[n][()] if n in f else None
                w = want[n]
                if (res.get(n, "missing") is not None or got is None
                        or got.shape != w.shape
                        or not np.array_equal(got.astype(w.dtype), w)):
                    bad.append(f"{n}: {res.get(n, 'not copied')}")
        ok(not bad, f"{group}: {len(names)} datasets equal h5py's arrays")
        for b in bad[:5]:
            diag(b)
    ok(nopen == 0, "no HDF5 id left open after the reads")
    return path


def chunk_bytes(path, name):
    """the stored bytes of a dataset's first chunk"""
    with h5py.File(path, "r") as f:
        d = f[name]
        return d.id.read_direct_chunk((0,) * d.ndim)[1]


def put_chunk(f, name, like, chunk, dcpl_filter=None):
    """a copy of dataset `like` whose first chunk is replaced by raw bytes"""
    src = f[like]
    d = f.create_dataset(name, shape=src.shape, dtype=src.dtype,
                         chunks=src.chunks, **(dcpl_filter or {}))
    d[...] = src[()]
    d.id.write_direct_chunk((0,) * d.ndim, chunk)
    return d


def be(n, size):
    return n.to_bytes(size, "big")


def hostile(path, have_lz4, have_bs):
    """datasets with one bad chunk: {name: filter name in the error}"""
    bad = {}
    lzf = chunk_bytes(path, "lzf/u16")
    with h5py.File(path, "a") as f:
        opt = {"compression": "lzf"}
        rng = np.random.default_rng(3)
        put_chunk(f, "bad/lzf_noise", "lzf/u16",
                  rng.integers(0, 256, len(lzf), dtype=np.uint8).tobytes(),
                  opt)
        put_chunk(f, "bad/lzf_cut", "lzf/u16", lzf[: len(lzf) // 2], opt)
        # a valid stream of another size: too long, too short
        long_ = np.zeros(4 * 16 * 16 * 4, np.uint8)
        with h5py.File(os.path.join(os.path.dirname(path), "lzfsrc.h5"),
                       "w") as g:
            g.create_dataset("big", data=long_, chunks=long_.shape,
                             compression="lzf")
            g.create_dataset("small", data=long_[:100], chunks=(100,),
                             compression="lzf")
            big = g["big"].id.read_direct_chunk((0,))[1]
            small = g["small"].id.read_direct_chunk((0,))[1]
        put_chunk(f, "bad/lzf_longer", "lzf/u16", big, opt)
        put_chunk(f, "bad/lzf_shorter", "lzf/u16", small, opt)
        for n in ("noise", "cut", "longer", "shorter"):
            bad["bad/lzf_" + n] = "lzf"
        if have_lz4:
            lz4 = chunk_bytes(path, "lz4/u16")
            opt = dict(hdf5plugin.LZ4())
            size = 4 * 16 * 16 * 2
            body = lz4[12:]
            put_chunk(f, "bad/lz4_huge", "lz4/u16",
                      be(1 << 40, 8) + be(1 << 30, 4) + body, opt)
            put_chunk(f, "bad/lz4_short", "lz4/u16",
                      be(size // 2, 8) + lz4[8:], opt)
            put_chunk(f, "bad/lz4_blocklen", "lz4/u16",
                      lz4[:12] + be(10**6, 4) + lz4[16:], opt)
            put_chunk(f, "bad/lz4_noise", "lz4/u16", lz4[:16] + bytes(
                rng.integers(0, 256, len(lz4) - 16, dtype=np.uint8)), opt)
            put_chunk(f, "bad/lz4_header", "lz4/u16", lz4[:7], opt)
            put_chunk(f, "bad/lz4_block0", "lz4/u16",
                      lz4[:8] + be(0, 4) + lz4[12:], opt)
            for n in ("huge", "short", "blocklen", "noise", "header",
                      "block0"):
                bad["bad/lz4_" + n] = "lz4"
            # after scaleoffset (two size-changing filters) the decoded
            # size is not the chunk's: only the stream bounds a claim
            so = dict(hdf5plugin.LZ4(), scaleoffset=0)
            f.create_dataset("so/lz4", data=np.arange(4096, dtype=np.int32)
                             .reshape(4, 1024), chunks=(2, 1024), **so)
            c = f["so/lz4"].id.read_direct_chunk((0, 0))[1]
            put_chunk(f, "bad/so_lz4_huge", "so/lz4",
                      be(1 << 40, 8) + c[8:], so)
            bad["bad/so_lz4_huge"] = "lz4 chunk: claims more data"
        if have_bs:
            bs = chunk_bytes(path, "bslz4/u16")
            opt = {"compression": 32008, "compression_opts": (0, 2)}
            put_chunk(f, "bad/bs_huge", "bslz4/u16",
                      be(1 << 50, 8) + bs[8:], opt)
            put_chunk(f, "bad/bs_short", "bslz4/u16",
                      be(512, 8) + bs[8:], opt)
            put_chunk(f, "bad/bs_blocksize", "bslz4/u16",
                      bs[:8] + be(6, 4) + bs[12:], opt)
            put_chunk(f, "bad/bs_cut", "bslz4/u16", bs[: len(bs) // 2], opt)
            put_chunk(f, "bad/bs_noise", "bslz4/u16", bs[:16] + bytes(
                rng.integers(0, 256, len(bs) - 16, dtype=np.uint8)), opt)
            for n in ("huge", "short", "blocksize", "cut", "noise"):
                bad["bad/bs_" + n] = "bitshuffle"
            so = {"compression": 32008, "compression_opts": (0, 2),
                  "scaleoffset": 0}
            f.create_dataset("so/bs", data=np.arange(4096, dtype=np.int32)
                             .reshape(4, 1024), chunks=(2, 1024), **so)
            c = f["so/bs"].id.read_direct_chunk((0, 0))[1]
            put_chunk(f, "bad/so_bs_huge", "so/bs",
                      be(1 << 44, 8) + c[8:], so)
            bad["bad/so_bs_huge"] = "bitshuffle chunk: claims more data"
    return bad


def missing_filter(path):
    """datasets compressed with filters nobody here provides, written
    with h5py's low-level API (an optional filter may be absent)"""
    out = {}
    with h5py.File(path, "a") as f:
        for fid, name in ((32015, "zstd"), (32001, "blosc")):
            dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
            dcpl.set_chunk((10,))
            dcpl.set_filter(fid, h5py.h5z.FLAG_OPTIONAL, ())
            space = h5py.h5s.create_simple((10,))
            dname = f"missing/{name}".encode()
            f.require_group("missing")
            d = h5py.h5d.create(f.id, dname, h5py.h5t.NATIVE_UINT16, space,
                                dcpl=dcpl)
            d.write_direct_chunk((0,), b"\x01" * 20)
            out["missing/" + name] = (name, fid)
    return out


def check_hostile(tmp, path):
    have_lz4 = hdf5plugin is not None and h5py.h5z.filter_avail(32004)
    have_bs = bool(h5py.h5z.filter_avail(32008))
    bad = hostile(path, have_lz4, have_bs)
    miss = missing_filter(path)
    r, res, _, nopen = run_copy(tmp, path, sorted(bad) + sorted(miss))
    if not ok(r.returncode == 0 and r.returncode >= 0,
              "hostile chunks: ionflow survives every one"):
        diag(f"exit {r.returncode}: {r.stderr[-2000:]}")
        return
    wrong = []
    for n, filt in sorted(bad.items()):
        msg = res.get(n)
        if msg is None or f"sources.h5:/{n}" not in msg or filt not in msg:
            wrong.append(f"{n}: {msg if n in res else 'no line'}")
    ok(not wrong, f"{len(bad)} hostile chunks: each an error naming the"
       " dataset and the filter")
    for w in wrong[:6]:
        diag(w)
    if bad:
        diag("e.g. " + str(res.get(sorted(bad)[0])))
    pkg = {"zstd": "no Debian package",
           "blosc": "hdf5-filter-plugin-blosc-serial"}
    for n, (name, fid) in sorted(miss.items()):
        msg = res.get(n) or ""
        good = (f"sources.h5:/{n}" in msg and f"{name} (HDF5 filter {fid})"
                in msg and pkg[name] in msg)
        if not ok(good, f"missing {name}: error names dataset, filter and"
                  " Debian package"):
            diag(msg)
    ok(nopen == 0, "no HDF5 id left open after the failed reads")


WRITE = r"""
local w = h5.create(arg[1])
local n = 100000
w:write("/g2", array.linspace(0, 1, n):copy("f32"), {compress = "lzf"})
w:write("/map", array.floor(array.arange(0, n) * 0.001):copy("u16")
        :reshape({100, 1000}), {compress = "lzf", chunks = {7, 300}})
w:write("/raw", array.arange(0, 10), {compress = "lzf", shuffle = false})
w:close()
print(h5.open(arg[1]):info("/map").filters)
"""


def check_write(tmp):
    """ionflow's LZF results in h5py: h5py's LZF decodes them."""
    path = os.path.join(tmp, "written.h5")
    script = os.path.join(tmp, "write.lua")
    with open(script, "w") as f:
        f.write(WRITE)
    r = subprocess.run([IONFLOW, script, path], capture_output=True,
                       text=True, timeout=60)
    if not ok(r.returncode == 0, "ionflow wrote LZF datasets"):
        diag(r.stderr)
        return
    with h5py.File(path, "r") as f:
        g2, m, raw = f["g2"], f["map"], f["raw"]
        ok(g2.compression == "lzf" and g2.dtype == np.float32 and
           np.array_equal(g2[()], np.linspace(0, 1, 100000)
                          .astype(np.float32)),
           "h5py reads ionflow's LZF float32")
        ok(m.compression == "lzf" and m.shuffle and m.chunks == (7, 300) and
           np.array_equal(m[()], (np.arange(100000) // 1000)
                          .reshape(100, 1000).astype(np.uint16)),
           "h5py reads ionflow's shuffled LZF u16 with edge chunks")
        ok(raw.compression == "lzf" and not raw.shuffle and
           np.array_equal(raw[()], np.arange(10.0)),
           "h5py reads an LZF chunk stored raw (too short to compress)")
        lz = m.id.get_create_plist().get_filter(1)
        ok(lz[0] == 32000 and tuple(lz[2]) == (4, 0x0105, 7 * 300 * 2),
           "cd_values follow h5py (revision, LZF version, chunk bytes)")
    ok(r.stdout.strip() == "shuffle,lzf", "info names the filters")


def main():
    tmp = tempfile.mkdtemp(prefix="ionflow_filt_")
    try:
        rng = np.random.default_rng(11)
        path = check_reads(tmp, rng)
        if path:
            check_hostile(tmp, path)
        check_write(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return done()


if __name__ == "__main__":
    sys.exit(main())
