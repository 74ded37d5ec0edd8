-- bench/mpi.lua: one raw file correlated by 1, 2 and 4 MPI ranks (the
-- detector's rows split, xpcsio.correlate_ranks as xpcs-correlate.lua
-- runs it), on dense HDF5 and on a Rigaku 3M set. Measured per rank: the
-- bytes it read (rchar of /proc/self/io: every read(2)/pread(2), the
-- HDF5 hyperslabs or Rigaku words, a few hundred kB of scripts and
-- metadata included) and the bytes it handed to MPI's reductions
-- (res.reduced_bytes). Wall time: the whole mpirun, start-up included.
-- Needs ionflow built with MPI=1 and mpirun; on a machine with fewer
-- cores than ranks mpirun oversubscribes (said in the output).
if not mpi.built() then
  print("skipped: ionflow built without MPI (make MPI=1)")
  return
end
local X = require "ionflow.xpcsio"
local exe, dir = arg[-1], (arg[0]:match("^(.*)/[^/]*$") or ".")
local top = dir .. "/.."
local tmp = os.tmpname()
os.remove(tmp)
sys.mkdir(tmp)

-- what every rank runs: the correlation, then one line of its numbers
local RANK = [==[
local X = require "ionflow.xpcsio"
local raw, out, det = arg[1], arg[2], load("return " .. arg[3])()
local g = X.raw_geometry(raw, {detector = det})
local qm = X.partitions(g, {q_bins = 12, phi_bins = 4})
local t0 = sys.time()
local res = X.correlate_ranks{raw = raw, dynamic = qm.dynamic,
  static = qm.static, segments = 10, detector = det}
local t = sys.time() - t0
if res and res.writer then
  X.write_result(out, res, {geometry = g, qmap = qm, commit = X.ranks_agree})
else
  X.ranks_agree()
end
local io_ = io.open("/proc/self/io"):read("a")
print(string.format("RANK %d %d %d %.4f %.4f", mpi.rank(),
  math.tointeger(io_:match("rchar: (%d+)")), res and res.reduced_bytes or 0,
  t, res and res.reduce_seconds or 0))
]==]
local script = tmp .. "/rank.lua"
do
  local f <close> = assert(io.open(script, "w"))
  f:write(RANK)
end

-- dense: the simulated sample run, frames smaller than HDF5's 64 kB
-- sieve buffer (128 x 128 u16) and larger ones (512 x 512)
local function sample(name, frames, size)
  local path = tmp .. "/" .. name
  local code, out = sys.run({exe, top .. "/scripts/make-sample.lua", "-o",
    path, "--qmap", "", "--frames", tostring(frames), "--size", tostring(size)})
  if code ~= 0 then error("make-sample: " .. out) end
  return path
end
local FRAMES, SIZE = 3000, 128
local dense = sample("small.h5", FRAMES, SIZE)
local BF, BS = 300, 512
local large = sample("large.h5", BF, BS)

-- Rigaku 3M: six modules of 128 x 256 with gaps 10, 8 (398 x 520), 2000
-- frames, about 0.005 photons per pixel and frame, words written here
local MR, MC, GR, GC, RF, P = 128, 256, 10, 8, 2000, 0.005
local base = tmp .. "/r3m_00001"
local words = 0
math.randomseed(7)
for m = 0, 5 do
  local f <close> = assert(io.open(string.format("%s.bin.%03d", base, m), "wb"))
  local per = P * MR * MC
  for fr = 0, RF - 1 do
    local n = math.floor(per + (math.random() - 0.5) * 2 * math.sqrt(per) + 0.5)
    local t = {}
    for k = 1, n do
      local pix = math.random(0, MR * MC - 1)
      t[k] = string.pack("<I8", fr << 40 | pix << 16 | 1)
    end
    f:write(table.concat(t))
    words = words + n
  end
end
local g0 = X.raw_geometry(dense)
X.write_raw(tmp .. "/r3m_metadata.hdf", array.zeros({1, 1, 1}, "u16"),
  {energy_keV = g0.energy_keV, distance = g0.distance, pixel_x = g0.pixel_x,
   pixel_y = g0.pixel_y, center_x = 250, center_y = 190, frame_time = 1e-3})

local cores = sys.nproc()
local cases = {
  {name = string.format("dense HDF5: %d frames of %d x %d u16 (%.0f MB)",
     FRAMES, SIZE, SIZE, FRAMES * SIZE * SIZE * 2 / 1e6),
   raw = dense, det = "nil", pixframes = FRAMES * SIZE * SIZE},
  {name = string.format("dense HDF5: %d frames of %d x %d u16 (%.0f MB)",
     BF, BS, BS, BF * BS * BS * 2 / 1e6),
   raw = large, det = "nil", pixframes = BF * BS * BS},
  {name = string.format("Rigaku 3M: %d frames of %d x %d (6 modules of "
     .. "%d x %d), %d words (%.0f MB)", RF, 3 * MR + 2 * GR, 2 * MC + GC, MR,
     MC, words, words * 8 / 1e6),
   raw = base .. ".bin.000", pixframes = RF * (3 * MR + 2 * GR) * (2 * MC + GC),
   det = string.format("{frames = %d, module = {%d, %d}, gap = {%d, %d}}",
     RF, MR, MC, GR, GC)},
}
print(string.format("12 q x 4 phi bins; %d cores. wall: the whole mpirun "
  .. "(start-up included); corr: the slowest rank's correlate_ranks (its "
  .. "reductions included), which the rate is of; reduce: its longest time "
  .. "in the reductions (waiting for the others included)", cores))
for _, c in ipairs(cases) do
  print(c.name)
  print(string.format("%3s %5s %6s %6s %9s %22s %8s %7s  %s", "thr", "ranks",
    "wall", "corr", "Mpixfr/s", "read/rank MB", "red. kB", "reduce", "note"))
  -- with each rank's OpenMP threads (all cores each), then one thread a
  -- rank (the ranks alone share the cores)
  for _, threads in ipairs{cores, 1} do
    local base_t
    for _, n in ipairs{1, 2, 4} do
      local res = tmp .. "/out" .. n .. ".h5"
      local t0 = sys.time()
      local rc, o = sys.run({"mpirun", "--oversubscribe", "-n", tostring(n),
        "-x", "OMP_NUM_THREADS=" .. threads, exe, script, c.raw, res, c.det})
      local dt = sys.time() - t0
      if rc ~= 0 then error("mpirun -n " .. n .. ": " .. o) end
      local rd, kb, tc, tr = {}, 0, 0, 0
      for r, b, k, t, w in o:gmatch("RANK (%d+) (%d+) (%d+) ([%d.]+) ([%d.]+)") do
        rd[tonumber(r) + 1] = string.format("%.1f", b / 1e6)
        kb = math.max(kb, k / 1e3)
        tc = math.max(tc, tonumber(t))
        tr = math.max(tr, tonumber(w))
      end
      base_t = base_t or tc
      print(string.format("%3d %5d %6.2f %6.2f %9.1f %22s %8.1f %7.3f  %s",
        threads, n, dt, tc, c.pixframes / tc / 1e6, table.concat(rd, " "), kb,
        tr, (n > cores and "oversubscribed, " or "")
        .. string.format("speed-up %.2f", base_t / tc)))
    end
  end
end
sys.rmtree(tmp)
