-- bench/corr.lua: multi-tau correlator throughput in pixel-frames per
-- second (not a timed test). Frames are Poisson uint16 counts made in C; a
-- pool larger than the L3 cache is pushed repeatedly, so the frames stream
-- from memory as they would from a file read ahead. Times are wall clock
-- and process CPU; on a shared machine the CPU figure per thread is the
-- steadier one.
--
--   ionflow bench/corr.lua [quick]
local quick = arg[1] == "quick"

local function loadavg()
  local p = io.open("/proc/loadavg")
  local s = p and p:read("l") or "?"
  if p then p:close() end
  return s:match("^(%S+)") or "?"
end

local function run(name, rows, cols, frames, mean, pool, chunk)
  local data = xpcs.poisson(pool, rows, cols, mean, 42)
  local part = xpcs.partition{map = array.full({rows, cols}, 1, "i32")}
  local c = xpcs.correlator{dynamic = part, progress = false}
  chunk = chunk or c:batch()	-- whole batches are read in place
  local w0, c0 = sys.time(), os.clock()
  local done = 0
  while done < frames do
    local first = (done % pool) + 1
    local n = math.min(chunk, frames - done, pool - first + 1)
    c:push(data, first, n)
    done = done + n
  end
  local w1 = sys.time()
  local r = c:result()
  local wall, cpu = sys.time() - w0, os.clock() - c0
  local pf = rows * cols * frames
  print(string.format("%-34s %6.0f M px-frames/s wall (%.2f s, result %.2f"
    .. " s), %6.0f M per CPU-s, %d delays, %d MB state, integer kernel"
    .. " %.0f %%, load %s", name, pf / wall / 1e6, wall, sys.time() - w1,
    pf / cpu / 1e6, #r.tau, c:memory() >> 20, 100 * c:int_share(),
    loadavg()))
  c:close()
end

print(string.format("kernel %s, OMP_NUM_THREADS=%s", xpcs.kernel(),
  os.getenv("OMP_NUM_THREADS") or "(all cores)"))
if quick then
  run("dense 256x256 x 2000, mean 5", 256, 256, 2000, 5, 512, 64)
else
  -- pushed a batch at a time (read in place, as xpcsio.correlate does)
  -- and 64 frames at a time (copied into the correlator's stage first)
  run("dense 256x256 x 10000, mean 5", 256, 256, 10000, 5, 512)
  run("  same, pushed 64 frames at a time", 256, 256, 10000, 5, 512, 64)
  run("dense 1024x1024 x 1000, mean 5", 1024, 1024, 1000, 5, 128)
  run("  same, pushed 16 frames at a time", 1024, 1024, 1000, 5, 48, 16)
  run("sparse 256x256 x 10000, mean 0.05", 256, 256, 10000, 0.05, 512)
end

-- the path a user takes: frames read from an HDF5 file (uncompressed, one
-- chunk per frame, in the page cache after the first pass) by
-- xpcsio.correlate; the second of two passes is reported
if not quick then
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
  os.remove(path)
  os.remove(base)
  print(string.format("%-34s %6.0f M px-frames/s wall (%.2f s with the"
    .. " result), load %s", "from HDF5 256x256 x 2048 (xpcsio)",
    rows * cols * frames / wall / 1e6, wall, loadavg()))
end
