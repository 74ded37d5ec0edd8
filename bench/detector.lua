-- bench/detector.lua: reading throughput of each raw format through
-- detector.frames (frames/s and pixel-frames/s; blocks, as the correlator
-- takes them), against the HDF5 path on the same frames in the same run,
-- and the multi-tau correlation of a Rigaku stack against its HDF5 copy.
-- The files are written by tests/detwrite.py (NumPy) into a temporary
-- directory: Poisson frames, mean 0.01 photons per pixel (a 50 kHz run).
--
--   ionflow bench/detector.lua [quick]
local quick = arg[1] == "quick"
local here = arg[0]:match("^(.*)/bench/[^/]*$") or "."
local dir = os.tmpname()
os.remove(dir)
sys.mkdir(dir)   -- no shell: sys.mkdir and sys.run take no command line

local n, side, n3 = quick and 300 or 1000, 256, quick and 30 or 100
local gen = dir .. "/gen.py"
local fh = assert(io.open(gen, "w"))
fh:write(string.format([[
import sys
sys.path.insert(0, %q)
import h5py, numpy as np
import detwrite as D
rng = np.random.default_rng(1)
d, n, s, n3 = %q, %d, %d, %d
def sparse(n, r, c):
    """Poisson frames of mean 0.01 made from their photons (fast)"""
    out = np.zeros(n * r * c, np.uint16)
    k = rng.poisson(0.01 * out.size)
    np.add.at(out, rng.integers(0, out.size, k), 1)
    return out.reshape(n, r, c)
fr = sparse(n, s, s)
with h5py.File(d + "/run.h5", "w") as f:
    f.create_dataset("/entry/data/data", data=fr, chunks=(1, s, s))
D.write_rigaku(d + "/run.bin", fr)
D.write_imm(d + "/dense.imm", fr, False)
D.write_imm(d + "/sparse.imm", fr, True)
mods = [sparse(n3, 512, 1024) for _ in range(6)]
D.write_rigaku_3m(d + "/r3m", mods)
]], here .. "/tests", dir, n, side, n3))
fh:close()
assert(sys.run({"/usr/bin/python3", gen}, {capture = false}) == 0, "writing failed")

-- best of three passes (the page cache warm after the first); mk makes
-- a fresh iterator
local function read(name, px, mk)
  local best, frames = math.huge, 0
  for _ = 1, 3 do
    local t0 = sys.time()
    frames = 0
    for _, b in mk() do frames = frames + b.shape[1] end
    best = math.min(best, sys.time() - t0)
  end
  print(string.format("%-34s %8.0f frames/s %8.0f M px-frames/s (%d frames,"
    .. " %.3f s)", name, frames / best, frames * px / best / 1e6, frames, best))
end

local px = side * side
local opts = {blocks = true, block = 64}
local function with(t)
  local o = {blocks = true, block = 64}
  for k, v in pairs(t) do o[k] = v end
  return o
end
read("HDF5 via h5.frames", px, function() return h5.frames(dir ..
  "/run.h5", "/entry/data/data", {blocks = true, block = 64}) end)
read("HDF5 via detector.frames", px, function()
  return detector.frames(dir .. "/run.h5", opts) end)
read("Rigaku 500k (256x256 module)", px, function()
  return detector.frames(dir .. "/run.bin", with{frames = n,
    module = {side, side}}) end)
read("IMM dense", px, function()
  return detector.frames(dir .. "/dense.imm", opts) end)
read("IMM sparse", px, function()
  return detector.frames(dir .. "/sparse.imm", opts) end)
read("Rigaku 3M (1676x2100)", 1676 * 2100, function()
  return detector.frames(dir .. "/r3m.bin.000", {frames = n3, blocks = true,
    block = 4}) end)

-- correlation: the same frames from the Rigaku words and from HDF5
local part = xpcs.partition{map = array.full({side, side}, 1, "i32")}
local function corr(name, path, o)
  local c = xpcs.correlator{dynamic = part, progress = false, total = n}
  o.block = c:batch()
  o.blocks = true
  local t0 = sys.time()
  for _, b in detector.frames(path, o) do c:push(b) end
  local r = c:result()
  local dt = sys.time() - t0
  c:close()
  print(string.format("%-34s %8.0f frames/s %8.0f M px-frames/s, g2(1) %.6f",
    name, n / dt, n * px / dt / 1e6, r.g2:get(1, 1)))
end
corr("correlate HDF5", dir .. "/run.h5", {})
corr("correlate Rigaku 500k", dir .. "/run.bin",
  {frames = n, module = {side, side}})

for _, f in ipairs{"gen.py", "run.h5", "run.bin", "dense.imm", "sparse.imm"} do
  os.remove(dir .. "/" .. f)
end
for k = 0, 5 do os.remove(string.format("%s/r3m.bin.%03d", dir, k)) end
os.remove(dir)
