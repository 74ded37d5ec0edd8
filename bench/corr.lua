-- bench/corr.lua: multi-tau correlator throughput in pixel-frames per
-- second (not a timed test). Frames are Poisson counts made in C; a pool
-- larger than the L3 cache is pushed repeatedly, so the frames stream from
-- memory as they would from a file read ahead. Times are wall clock (with
-- the result, and the correlator's state faulted in as it is first used:
-- a fresh correlator's cost) and process CPU; on a shared machine the CPU
-- figure per thread is the steadier one. The same stack goes through the
-- integer kernels this CPU has and the double kernel in the same run.
--
--   ionflow bench/corr.lua [quick]
local quick = arg[1] == "quick"

local function loadavg()
  local p = io.open("/proc/loadavg")
  local s = p and p:read("l") or "?"
  if p then p:close() end
  return s:match("^(%S+)") or "?"
end

-- o: rows, cols, frames, mean, pool, chunk (frames a push; default a
-- batch, read in place), dtype, kernel
local function run(name, o)
  local data = xpcs.poisson(o.pool, o.rows, o.cols, o.mean, 42)
  if o.dtype then data = data:astype(o.dtype) end
  local part = xpcs.partition{map = array.full({o.rows, o.cols}, 1, "i32")}
  local c = xpcs.correlator{dynamic = part, progress = false,
    kernel = o.kernel}
  local chunk = o.chunk or c:batch()
  local w0, c0 = sys.time(), os.clock()
  local done = 0
  while done < o.frames do
    local first = (done % o.pool) + 1
    local n = math.min(chunk, o.frames - done, o.pool - first + 1)
    c:push(data, first, n)
    done = done + n
  end
  local w1 = sys.time()
  local r = c:result()
  local wall, cpu = sys.time() - w0, os.clock() - c0
  local pf = o.rows * o.cols * o.frames
  print(string.format("%-36s %6.0f M px-frames/s wall (%.2f s, result %.3f"
    .. " s), %5.0f M per CPU-s, %s kernel, integer %3.0f %%, %d delays, "
    .. "%d MB state, load %s", name, pf / wall / 1e6, wall, sys.time() - w1,
    pf / cpu / 1e6, c:kernel(), 100 * c:int_share(), #r.tau,
    c:memory() >> 20, loadavg()))
  c:close()
end

print(string.format("best kernel %s, OMP_NUM_THREADS=%s", xpcs.kernel(),
  os.getenv("OMP_NUM_THREADS") or "(all cores)"))
local dense = {rows = 256, cols = 256, frames = 10000, mean = 5, pool = 512}
local function with(t, more)
  local o = {}
  for k, v in pairs(t) do o[k] = v end
  for k, v in pairs(more) do o[k] = v end
  return o
end
if quick then
  run("dense 256x256 x 2000, mean 5", with(dense, {frames = 2000}))
  return
end
run("dense u16 256x256 x 10000, mean 5", dense)
-- the kernels' own speed: the same correlator's pushes once its state of
-- every level is in memory (no result)
do
  local data = xpcs.poisson(512, 256, 256, 5, 42)
  local part = xpcs.partition{map = array.full({256, 256}, 1, "i32")}
  local ks = {xpcs.kernel()}
  if ks[1] == "avx512" then ks[2] = "avx2" end
  for _, k in ipairs(ks) do
    local c = xpcs.correlator{dynamic = part, progress = false, kernel = k}
    for _ = 1, 40 do c:push(data) end	-- every level of 20480 frames
    c:reset()
    for _ = 1, 8 do c:push(data) end
    local w0, c0 = sys.time(), os.clock()
    for _ = 1, 32 do c:push(data) end
    local pf = 32 * 512 * 65536
    print(string.format("%-36s %6.0f M px-frames/s wall, %5.0f M per CPU-s,"
      .. " %s kernel, load %s", "  warm state, pushes only",
      pf / (sys.time() - w0) / 1e6, pf / (os.clock() - c0) / 1e6,
      c:kernel(), loadavg()))
    c:close()
  end
end
-- the kernels of earlier sessions on the same stack
for _, k in ipairs{"avx2", "base"} do
  if k ~= xpcs.kernel() then
    run("  same, " .. k .. " kernel", with(dense, {kernel = k}))
  end
end
run("  same, pushed 64 frames at a time", with(dense, {chunk = 64}))
run("  same, uint32 frames", with(dense, {dtype = "u32"}))
run("  same, float32 frames", with(dense, {dtype = "f32"}))
run("sparse 256x256 x 10000, mean 0.05", with(dense, {mean = 0.05}))
local mpx = {rows = 1024, cols = 1024, mean = 5, pool = 128}
run("dense 1024x1024 x 1000, mean 5", with(mpx, {frames = 1000}))
run("dense 1024x1024 x 4000, mean 5", with(mpx, {frames = 4000}))

-- the path a user takes: frames read from an HDF5 file (uncompressed, one
-- chunk per frame, in the page cache after the first pass) by
-- xpcsio.correlate; the second of two passes is reported
local X = require "ionflow.xpcsio"
local base = os.tmpname()	-- (an empty file: removed below)
local path = base .. ".h5"
local rows, cols, frames = 256, 256, 2048
do
  local w <close> = h5.create(path)
  w:write("/entry/data/data", xpcs.poisson(frames, rows, cols, 5, 7),
    {chunks = {1, rows, cols}})
  w:close()
end
local part = xpcs.partition{map = array.full({rows, cols}, 1, "i32")}
local wall
for _ = 1, 2 do
  local w0 = sys.time()
  X.correlate{raw = path, dynamic = part, progress = false}
  wall = sys.time() - w0
end
local w0 = sys.time()
for _ in h5.frames(path, "/entry/data/data", {blocks = true}) do end
local rd = sys.time() - w0
os.remove(path)
os.remove(base)
print(string.format("%-36s %6.0f M px-frames/s wall (%.2f s with the"
  .. " result; reading the file alone %.2f s), load %s",
  "from HDF5 256x256 x 2048 (xpcsio)", rows * cols * frames / wall / 1e6,
  wall, rd, loadavg()))
