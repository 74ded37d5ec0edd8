-- bench/mpi.lua: one raw file correlated by 1, 2 and 4 MPI ranks
-- (xpcs-correlate.lua under mpirun, the detector's rows split), with the
-- bytes each rank reads (its HDF5 row hyperslab) and reduces (the
-- corr_sums buffers, twice, plus the image). Needs ionflow built with
-- MPI=1 and mpirun; on a machine with fewer cores than ranks mpirun
-- oversubscribes (said in the output). Wall times include start-up.
if not mpi.built() then
  print("skipped: ionflow built without MPI (make MPI=1)")
  return
end
local exe, dir = arg[-1], (arg[0]:match("^(.*)/[^/]*$") or ".")
local top = dir .. "/.."
local tmp = os.tmpname()
os.remove(tmp)
sys.mkdir(tmp)
local raw = tmp .. "/bench.h5"
local FRAMES, SIZE = 3000, 128
local code, out = sys.run({exe, top .. "/scripts/make-sample.lua", "-o", raw,
  "--qmap", "", "--frames", tostring(FRAMES), "--size", tostring(SIZE)})
if code ~= 0 then error("make-sample: " .. out) end

local cores = sys.nproc()
print(string.format("raw: %d frames of %d x %d u16 (%.0f MB), 12 q x 4 phi, %d cores",
  FRAMES, SIZE, SIZE, FRAMES * SIZE * SIZE * 2 / 1e6, cores))
print(string.format("%5s %9s %14s %14s %14s  %s", "ranks", "wall (s)",
  "Mpix-frames/s", "read/rank MB", "reduce/rank kB", "note"))
-- with each rank's OpenMP threads (all cores each), then one thread a
-- rank (-x OMP_NUM_THREADS=1: the ranks alone share the cores)
for _, threads in ipairs{"all", "1"} do
print("OpenMP threads per rank: " .. threads)
local base
for _, n in ipairs{1, 2, 4} do
  local res = tmp .. "/out" .. n .. ".h5"
  local t0 = sys.time()
  local rc, o = sys.run({"mpirun", "--oversubscribe", "-n", tostring(n),
    "-x", "OMP_NUM_THREADS=" .. (threads == "all" and cores or 1), exe,
    top .. "/scripts/xpcs-correlate.lua", raw, "-o", res, "--q-bins", "12",
    "--phi-bins", "4"})
  local dt = sys.time() - t0
  if rc ~= 0 then error("mpirun -n " .. n .. ": " .. o) end
  local f <close> = h5.open(res)
  local ntau = f:read("/xpcs/multitau/delay_list").shape[1]
  local nstat = f:read("/ionflow/xpcs/static_bins")
  local nseg = f:read("/xpcs/temporal_mean/scattering_1d_segments").shape[1]
  f:close()
  -- corr_sums: step 1 (6 sums per delay and static bin, counts, image,
  -- dynamic bins, segments, frame sums) and step 2 (one per delay and bin)
  local doubles = ntau * 6 * nstat + 3 * nstat + nseg * nstat + FRAMES + 1
    + ntau * nstat + SIZE * SIZE + 4
  local rows = (SIZE + n - 1) // n
  base = base or dt
  print(string.format("%5d %9.2f %14.1f %14.1f %14.1f  %s", n, dt,
    FRAMES * SIZE * SIZE / dt / 1e6, FRAMES * rows * SIZE * 2 / 1e6,
    n > 1 and doubles * 8 / 1e3 or 0, (n > cores and "oversubscribed, " or "")
    .. string.format("speed-up %.2f", base / dt)))
end
end
sys.rmtree(tmp)
