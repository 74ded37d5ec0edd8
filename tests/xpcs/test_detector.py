#!/usr/bin/python3
"""detector.frames on raw files written by an independent NumPy writer
(tests/detwrite.py, from the format notes): Rigaku 500k, Rigaku 3M (six
files, gaps, module order), IMM dense and sparse. Every frame's sum and a
position-weighted checksum are exact, empty frames (trailing ones too)
included; bad files give errors naming the file, the frame and the field;
hundreds of truncated and bit-flipped copies give an error or frames,
never a crash. TAP output."""
import os
import shutil
import subprocess
import sys
import tempfile

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from tap import ok, done, diag  # noqa: E402
import detwrite as D  # noqa: E402
import apsraw  # noqa: E402

EXE = os.environ.get("IONFLOW", "./ionflow")

# per frame: 1-based index, sum, sum of count x (flat index mod 9973 + 1)
DUMP = r"""
local path, opts = arg[1], load("return " .. arg[2])()
local w
local function out(i, f)
  if not w then
    local n = f.shape[1] * f.shape[2]
    w = array.arange(0, n, 1):reshape{f.shape[1], f.shape[2]}
    w = (w - array.floor(w / 9973) * 9973) + 1
  end
  io.write(string.format("%d %.0f %.0f %d %d\n", i, f:sum(), (f * w):sum(),
    f.shape[1], f.shape[2]))
end
for i, f in detector.frames(path, opts) do
  if #f.shape == 3 then   -- a block: its frames, step apart
    for k = 1, f.shape[1] do out(i + (k - 1) * (opts.step or 1), f:frame(k)) end
  else
    out(i, f)
  end
end
"""


def run(script, *args):
    p = subprocess.run([EXE, script, *args], capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def expect(frames, first=1, step=1):
    n = frames.shape[0]
    flat = frames.reshape(n, -1).astype(np.int64)
    wt = np.arange(flat.shape[1]) % 9973 + 1
    return [(first + k * step, int(flat[k].sum()), int((flat[k] * wt).sum()))
            for k in range(0, n)]


def check_stream(dump, path, lua_opts, frames, name, first=1, step=1):
    rc, out, err = run(dump, path, lua_opts)
    got = [tuple(int(x) for x in ln.split()[:3]) for ln in out.splitlines()]
    shape = out.split()[3:5] if out else []
    want = expect(frames[first - 1::step], first, step)
    good = rc == 0 and got == want and \
        [int(s) for s in shape] == list(frames.shape[1:])
    ok(good, name, diag=err or "got %s\nwant %s" % (got[:6], want[:6]))


def sparse_frames(rng, n, rows, cols, p, hi, empty):
    f = ((rng.random((n, rows, cols)) < p) *
         rng.integers(1, hi, (n, rows, cols))).astype(np.uint16)
    for k in empty:
        f[k] = 0
    return f


EVSUM = r"""
local n, s, w = 0, 0, 0
for _, pix, cnt in detector.events(arg[1], load("return " .. arg[2])()) do
  for k = 1, #pix do
    n, s = n + 1, s + cnt:get(k)
    w = w + cnt:get(k) * pix:get(k)
  end
end
print(n, math.tointeger(s), math.tointeger(w))
"""


def rows_3m(dump, d, sb, small, order):
    """rows={first, last} of a Rigaku 3M set (an MPI rank's share): those
    rows of the assembled frames, from the modules that show in them"""
    geo = "frames = 9, module = {16, 24}, gap = {3, 5}, order = {0, 1, 2, 3, 4, 5}"
    full = D.assemble_3m(small, gap=(3, 5), order=order)
    # modules: rows 1-16, gap 17-19, 20-35, gap 36-38, 39-54 (1-based)
    for a, b in ((10, 25), (17, 19), (1, 54), (54, 54), (30, 45)):
        check_stream(dump, sb + ".bin.000", "{%s, rows = {%d, %d}}" % (geo, a, b),
                     full[:, a - 1:b, :], f"Rigaku 3M rows {a}..{b}")
    check_stream(dump, sb + ".bin.000",
                 "{%s, rows = {12, 40}, blocks = true, block = 4}" % geo,
                 full[:, 11:40, :], "Rigaku 3M rows 12..40 in blocks")
    ev = os.path.join(d, "evsum.lua")
    with open(ev, "w") as f:
        f.write(EVSUM)
    part = full[:, 11:40, :].reshape(9, -1).astype(np.int64)
    nz = part != 0
    want = [str(int(nz.sum())), str(int(part.sum())),
            str(int((part * (np.arange(part.shape[1]) + 1)).sum()))]
    rc, out, err = run(ev, sb + ".bin.000", "{%s, rows = {12, 40}}" % geo)
    ok(rc == 0 and out.split() == want,
       "Rigaku 3M events of rows 12..40: pixels counted in those rows",
       diag=err or f"got {out.split()} want {want}")
    rc, out, err = run(dump, sb + ".bin.000", "{%s, rows = {50, 55}}" % geo)
    ok(rc != 0 and "rows 50..55 of 54" in err and "small.bin.000" in err,
       "Rigaku 3M rows past the frame are named", diag=err)
    # a bad word in the bottom right module (.bin.005): rows above it never
    # read that file; rows that show it name it
    bad = os.path.join(d, "badmod")
    for k in range(6):
        shutil.copy(f"{sb}.bin.{k:03d}", f"{bad}.bin.{k:03d}")
    w = np.fromfile(f"{bad}.bin.005", "<u8")
    w[-1] = (w[-1] & ~np.uint64(0xFFFFF << 16)) | np.uint64(1000 << 16)
    w.tofile(f"{bad}.bin.005")
    check_stream(dump, bad + ".bin.000", "{%s, rows = {1, 38}}" % geo,
                 full[:, :38, :], "Rigaku 3M rows 1..38 do not read the "
                 "bottom modules (a bad word there is not seen)")
    rc, out, err = run(dump, bad + ".bin.000", "{%s, rows = {37, 40}}" % geo)
    ok(rc != 0 and "badmod.bin.005" in err and "pixel index 1000" in err,
       "Rigaku 3M rows that show the bad module name its word", diag=err)


def errors(dump, d):
    """bad files: the message names the file, the frame and the field"""
    rng = np.random.default_rng(11)
    fr = sparse_frames(rng, 6, 8, 16, 0.2, 50, [])
    good = os.path.join(d, "e.bin")
    D.write_rigaku(good, fr)
    raw = open(good, "rb").read()

    cut = os.path.join(d, "cut.bin")
    open(cut, "wb").write(raw[:-3])
    rc, _, err = run(dump, cut, "{frames = 6, module = {8, 16}}")
    ok(rc != 0 and cut in err and "truncated" in err and "8-byte words" in err,
       "truncated .bin: error names the file and the short word", diag=err)

    words = np.frombuffer(raw, "<u8").copy()
    k = len(words) // 2
    frame = int(words[k] >> np.uint64(40))
    words[k] = (words[k] & ~np.uint64(0xFFFFF << 16)) | np.uint64(200 << 16)
    past = os.path.join(d, "past.bin")
    words.tofile(past)
    rc, _, err = run(dump, past, "{frames = 6, module = {8, 16}}")
    ok(rc != 0 and past in err and ("word %d (frame %d)" % (k, frame)) in err
       and "pixel index 200" in err and "8x16 module" in err,
       "a word past the module: error names the file, word, frame, field",
       diag=err)

    words = np.frombuffer(raw, "<u8").copy()
    words[1], words[-1] = words[-1], words[1]
    uns = os.path.join(d, "unsorted.bin")
    words.tofile(uns)
    rc, _, err = run(dump, uns, "{frames = 6, module = {8, 16}}")
    ok(rc != 0 and uns in err and "sorted by frame" in err,
       "words out of frame order are refused", diag=err)

    rc, _, err = run(dump, good, "{module = {8, 16}}")
    ok(rc != 0 and good in err and "frame count" in err,
       "no frame count for a Rigaku file: an error, not the last word's",
       diag=err)
    rc, _, err = run(dump, good, "{frames = 5, module = {8, 16}}")
    ok(rc != 0 and "frame 5" in err and "5 frames" in err,
       "a frame count below the last word's frame is refused", diag=err)

    im = sparse_frames(rng, 4, 9, 7, 0.3, 9, [])
    imm = os.path.join(d, "e.imm")
    D.write_imm(imm, im, False)
    b = bytearray(open(imm, "rb").read())
    bad = os.path.join(d, "rows.imm")
    b[108:112] = (-5).to_bytes(4, "little", signed=True)
    open(bad, "wb").write(b)
    rc, _, err = run(dump, bad, "{}")
    ok(rc != 0 and bad in err and "frame 0" in err and "rows, cols = -5, 7"
       in err, "IMM header with impossible rows: names file, frame, field",
       diag=err)
    b = bytearray(open(imm, "rb").read())
    fsz = 1024 + 2 * 63
    b[2 * fsz + 152:2 * fsz + 156] = (10 ** 6).to_bytes(4, "little")
    bad = os.path.join(d, "dlen.imm")
    open(bad, "wb").write(b)
    rc, _, err = run(dump, bad, "{}")
    ok(rc != 0 and bad in err and "frame 2" in err and "dlen = 1000000" in err,
       "IMM header with an impossible dlen: names file, frame, field", diag=err)
    bad = os.path.join(d, "short.imm")
    open(bad, "wb").write(bytes(b[:3 * fsz + 500])[:2 * fsz] +
                          open(imm, "rb").read()[2 * fsz:3 * fsz + 500])
    rc, _, err = run(dump, bad, "{}")
    ok(rc != 0 and bad in err and "frame 3" in err and "truncated" in err,
       "truncated IMM: names file, frame", diag=err)

    ims = os.path.join(d, "s.imm")
    D.write_imm(ims, im, True)
    b = bytearray(open(ims, "rb").read())
    b[1024:1028] = (63).to_bytes(4, "little")     # first index of frame 0
    bad = os.path.join(d, "idx.imm")
    open(bad, "wb").write(b)
    rc, _, err = run(dump, bad, "{}")
    ok(rc != 0 and bad in err and "frame 0" in err and "pixel index 63" in err,
       "sparse IMM index past the frame: names file, frame, field", diag=err)


def fuzz(d):
    """truncated and bit-flipped copies of valid Rigaku and IMM files"""
    rng = np.random.default_rng(5)
    fr = sparse_frames(rng, 12, 8, 16, 0.15, 4000, [3, 11])
    src = {}
    src["bin"] = os.path.join(d, "z.bin")
    D.write_rigaku(src["bin"], fr)
    src["imm"] = os.path.join(d, "z.imm")
    D.write_imm(src["imm"], fr[:5], False)
    src["simm"] = os.path.join(d, "zs.imm")
    D.write_imm(src["simm"], fr, True)
    paths = []
    for kind, p in src.items():
        raw = open(p, "rb").read()
        for j in range(100):
            b = bytearray(raw)
            if j % 4 == 0:
                b = b[:int(rng.integers(0, len(b)))]
            else:
                for _ in range(int(rng.integers(1, 4))):
                    if kind != "bin" and rng.random() < 0.5:
                        # header fields IMM readers use
                        pos = int(rng.choice([4, 108, 112, 116, 152])) + \
                            int(rng.integers(0, 4)) + \
                            (1024 + 2 * 128) * int(kind == "imm") * int(rng.integers(0, 5))
                        pos = min(pos, len(b) - 1)
                    else:
                        pos = int(rng.integers(0, len(b)))
                    b[pos] ^= 1 << int(rng.integers(0, 8))
            q = os.path.join(d, "f%s%03d.%s" % (kind, j, "bin" if kind == "bin" else "imm"))
            open(q, "wb").write(bytes(b))
            paths.append(q)
    lst = os.path.join(d, "list.txt")
    open(lst, "w").write("\n".join(paths) + "\n")
    script = os.path.join(d, "fuzz.lua")
    open(script, "w").write(r"""
for p in io.lines(arg[1]) do
  local opts = p:match("%.bin$") and {frames = 12, module = {8, 16}} or {}
  local ok, e = pcall(function()
    local n = 0
    for i, f in detector.frames(p, opts) do n = n + f:sum() end
    return n
  end)
  print(ok and "ok" or "err", p, ok and "" or tostring(e))
end
print("end")
""")
    rc, out, err = run(script, lst)
    lines = out.splitlines()
    ok(rc == 0 and lines and lines[-1] == "end" and len(lines) == len(paths) + 1,
       "%d damaged files: no crash" % len(paths), diag=err[-2000:])
    bad = [ln for ln in lines[:-1] if ln.startswith("err") and
           ln.split("\t")[1] not in ln.split("\t", 2)[2]]
    nerr = sum(1 for ln in lines if ln.startswith("err"))
    diag("%d of %d damaged files refused" % (nerr, len(paths)))
    ok(not bad and nerr > 50, "every refusal names its file", diag="\n".join(bad[:5]))


def scripts(d):
    """xpcs-correlate on raw files gives the g2 of their HDF5 copy"""
    top = os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
    script = os.path.join(top, "scripts", "xpcs-correlate.lua")
    rng = np.random.default_rng(3)
    mods = [rng.poisson(2.0, (400, 8, 16)).astype(np.uint16) for _ in range(6)]
    mods[3][100:] = 0               # a module that goes dark
    full = D.assemble_3m(mods, gap=(2, 3))
    full[-5:] = 0                   # trailing empty frames
    for k in range(6):
        mods[k][-5:] = 0
    h5raw = os.path.join(d, "s3m.h5")
    apsraw.write_raw(h5raw, full, 1e-3, (10.5, 12.5))
    base = os.path.join(d, "s3m_00001")
    D.write_rigaku_3m(base, mods)
    meta = os.path.join(d, "s3m_metadata.hdf")
    apsraw.write_raw(meta, np.zeros((1, 1, 1), np.uint16), 1e-3, (10.5, 12.5))
    with h5py.File(meta, "a") as f:
        del f["/entry/data/data"]
    im = rng.poisson(0.5, (300, 20, 24)).astype(np.uint16)
    im[-3:] = 0
    imraw = os.path.join(d, "imm.h5")
    apsraw.write_raw(imraw, im, 1e-3, (5.0, 6.0))
    imm = os.path.join(d, "imm_00001-00300.imm")
    D.write_imm(imm, im, True)
    immmeta = os.path.join(d, "imm_metadata.hdf")
    apsraw.write_raw(immmeta, np.zeros((1, 1, 1), np.uint16), 1e-3, (5.0, 6.0))

    def g2(raw, *extra):
        out = raw + ".result.h5"
        p = subprocess.run([EXE, script, raw, "-o", out, "--q-bins", "3",
                            "--phi-bins", "2", *extra],
                           capture_output=True, text=True)
        if p.returncode != 0:
            return None, p.stderr
        with h5py.File(out, "r") as f:
            return f["/xpcs/multitau/normalized_g2"][()], \
                f["/xpcs/spatial_mean/intensity_vs_time"][()]

    ref, rint = g2(h5raw)
    got, gint = g2(base + ".bin.000", "--nframes", "400", "--module", "8,16",
                   "--gap", "2,3")
    ok(got is not None and ref is not None and np.array_equal(got, ref) and
       np.array_equal(gint, rint),
       "xpcs-correlate: Rigaku 3M set (sidecar metadata) = its HDF5 copy",
       diag=rint if got is None else "")
    ok(got is not None and gint.shape[1] == 400 and gint[1, -1] == 0,
       "all 400 frames, the trailing empty ones too")
    ref, rint = g2(imraw)
    got, gint = g2(imm)
    ok(got is not None and np.array_equal(got, ref) and
       np.array_equal(gint, rint),
       "xpcs-correlate: sparse IMM (sidecar of NAME_00001-00300) = HDF5",
       diag=rint if got is None else "")
    got, _ = g2(imm, "--metadata", meta)
    ok(got is not None and not np.array_equal(got, ref),
       "--metadata overrides the sidecar (another beam centre, other g2)")


def main():
    d = tempfile.mkdtemp(prefix="ionflow-det-")
    dump = os.path.join(d, "dump.lua")
    open(dump, "w").write(DUMP)
    rng = np.random.default_rng(7)

    # Rigaku 500k at its real size: empty frames at the start, inside and
    # three at the end (no words); counts up to 4095 (12 bits)
    fr = sparse_frames(rng, 16, 512, 1024, 0.002, 4096, [0, 6, 13, 14, 15])
    fr[2, 511, 1023] = 4095
    p = os.path.join(d, "r500k.bin")
    D.write_rigaku(p, fr)
    check_stream(dump, p, "{frames = 16}", fr,
                 "Rigaku 500k: exact frames, 4 empty ones (3 trailing)")
    check_stream(dump, p, "{frames = 16, first = 2, step = 3, blocks = false}",
                 fr, "Rigaku 500k: first 2, step 3", first=2, step=3)
    q = os.path.join(d, "flag.bin")
    D.write_rigaku(q, fr, flag=True)
    check_stream(dump, q, "{frames = 16}", fr,
                 "Rigaku with the module flag (bit 36) in every word")
    rc, out, err = run(dump, p, '{frames = "last"}')
    ok(rc == 0 and len(out.splitlines()) == 13,
       'frames = "last": the last word\'s frame + 1 (13)', diag=err)
    info = os.path.join(d, "info.lua")
    open(info, "w").write('local i = detector.info(arg[1], load("return "'
                          ' .. arg[2])()) print(i.format, i.frames, i.frames_seen,'
                          ' i.rows, i.cols, i.dtype, i.sparse)\n')
    rc, out, err = run(info, p, "{}")
    ok(out.split() == ["rigaku", "nil", "13", "512", "1024", "u16", "true"],
       "detector.info: no frame count given: frames nil, frames_seen 13",
       diag=out + err)

    # Rigaku 3M: six real-size modules, one file without any word, frames
    # empty in some modules only and two trailing empty frames
    mods = [sparse_frames(rng, 7, 512, 1024, 0.0005, 30, [5, 6])
            for _ in range(6)]
    mods[4][:] = 0
    mods[1][2] = 0
    base = os.path.join(d, "r3m")
    first3m = D.write_rigaku_3m(base, mods)
    full = D.assemble_3m(mods)
    ok(full.shape == (7, 1676, 2100), "the writer's 3M frame is 1676 x 2100")
    check_stream(dump, first3m, "{frames = 7}", full,
                 "Rigaku 3M: six modules on the grid with gaps, exact frames")
    check_stream(dump, base + ".bin.004", "{frames = 7, blocks = true, block = 3}",
                 full, "Rigaku 3M named by another module, in blocks")
    # a custom geometry: small modules, gap and order as options
    small = [sparse_frames(rng, 9, 16, 24, 0.1, 99, [8]) for _ in range(6)]
    sb = os.path.join(d, "small")
    D.write_rigaku_3m(sb, small)
    order = (0, 1, 2, 3, 4, 5)
    check_stream(dump, sb + ".bin.000",
                 "{frames = 9, module = {16, 24}, gap = {3, 5}, order = {0, 1, 2, 3, 4, 5}}",
                 D.assemble_3m(small, gap=(3, 5), order=order),
                 "Rigaku 3M: gap and module order as options")
    rows_3m(dump, d, sb, small, order)

    # IMM, dense and sparse, with empty frames (sparse: bare headers)
    im = sparse_frames(rng, 25, 37, 53, 0.3, 3000, [0, 10, 23, 24])
    im[4, 36, 52] = 65535
    p = os.path.join(d, "dense.imm")
    D.write_imm(p, im, False)
    check_stream(dump, p, "{}", im, "IMM dense: exact frames (65535 kept)")
    p = os.path.join(d, "sparse.imm")
    D.write_imm(p, im, True)
    check_stream(dump, p, "{}", im,
                 "IMM sparse: exact frames, trailing empty frames kept")
    check_stream(dump, p, "{first = 3, step = 4, blocks = true, block = 2}",
                 im, "IMM sparse: first 3, step 4, blocks", first=3, step=4)
    rc, out, err = run(info, p, "{}")
    ok(out.split() == ["imm", "25", "nil", "37", "53", "u16", "true"],
       "detector.info of a sparse IMM file", diag=out + err)

    # the sparse events: 1-based pixels and counts of each frame
    ev = os.path.join(d, "events.lua")
    open(ev, "w").write("""
for i, p, c in detector.events(arg[1]) do
  local t = {i, #p}
  for k = 1, #p do t[#t + 1] = p[k] .. ":" .. c[k] end
  print(table.concat(t, " "))
end
""")
    rc, out, err = run(ev, p)
    want = []
    for k in range(im.shape[0]):
        flat = im[k].reshape(-1)
        nz = np.nonzero(flat)[0]
        want.append(" ".join([str(k + 1), str(len(nz))] +
                             ["%d:%d" % (j + 1, flat[j]) for j in nz]))
    ok(rc == 0 and out.splitlines() == want,
       "detector.events: each frame's pixels and counts", diag=err)

    scripts(d)
    errors(dump, d)
    fuzz(d)
    shutil.rmtree(d)
    return done()


if __name__ == "__main__":
    sys.exit(main())
