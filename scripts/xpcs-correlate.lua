-- xpcs-correlate.lua: multi-tau g2 of an XPCS frame file, in the APS
-- 8-ID-I result layout.
--
--   ionflow scripts/xpcs-correlate.lua RAW -o RESULT.h5
--       [--qmap QMAP.h5] [--dataset PATH] [--frames FIRST:LAST]
--       [--stride N] [--q-bins N] [--phi-bins N] [--fold] [--log]
--       [--window N] [--overlap N] [--segments N] [--normalize]
--       [--reject SIGMA] [--energy KEV] [--distance M] [--pixel M]
--       [--center X,Y] [--metadata FILE] [--twotime BIN,BIN,...]
--       [--downsample N] [--format FMT] [--nframes N|last]
--       [--gap ROWS,COLS] [--module-order A,B,C,D,E,F] [--module R,C]
--       [--timing]
--
-- RAW is any frame file detector reads: HDF5 (/entry/data/data or
-- --dataset), Rigaku 500k NAME.bin, Rigaku 3M NAME.bin.000 (with its five
-- sibling modules), APS IMM (dense or sparse); --format overrides the
-- choice. A Rigaku file does not hold its frame count (empty frames have
-- no words): give --nframes N, or --nframes last for the last word's.
-- The geometry comes from the APS metadata: --metadata FILE (--meta is
-- the same), else an HDF5 raw file's own, else NAME_metadata.hdf beside
-- the raw file; options on the command line win. The partition comes from
-- --qmap (pySimpleMask layout) or from --q-bins/--phi-bins. Prints a short
-- table (bin, q, phi, pixels, g2 at the first delay); a progress bar
-- appears when stderr is a terminal. Under mpirun (make MPI=1) the
-- detector's rows are split between the ranks and one result is written.
local X = require "ionflow.xpcsio"

local usage = [==[
usage: ionflow scripts/xpcs-correlate.lua RAW -o RESULT.h5 [--qmap QMAP.h5]
  [--q-bins N] [--phi-bins N] [--q-range QMIN:QMAX] [--fold] [--log]
  [--frames FIRST:LAST]
  [--stride N] [--window N] [--overlap N] [--segments N] [--normalize]
  [--reject SIGMA] [--twotime BIN,BIN,...] [--downsample N]
  [--metadata FILE] [--energy KEV] [--distance M] [--pixel M]
  [--center X,Y] [--dataset PATH] [--format FMT] [--nframes N|last]
  [--gap ROWS,COLS] [--module-order A,B,C,D,E,F] [--module ROWS,COLS]
  [--timing]

Correlates the frames of a raw XPCS file (multi-tau g2 per q bin, its
errors, intensities, optionally two-time maps of chosen bins) and writes
them in the APS 8-ID-I result layout that the community viewer reads.
RAW is HDF5 (frames at /entry/data/data), Rigaku 500k NAME.bin, Rigaku 3M
NAME.bin.000 (with its five sibling modules) or APS IMM, dense or sparse.
Memory does not grow with the number of frames. Prints a table of the
bins (q, phi, pixels, g2 at the first delay). Under mpirun -n N (ionflow
built with make MPI=1) the detector's rows are split between the ranks
(HDF5: each reads its rows only, Rigaku 3M the modules in them) and one
result is written, equal to one process's, two-time maps, --normalize
and --reject included. A rank that fails or is stopped ends the job with
no result.

Options (defaults in brackets):
  -o RESULT.h5          the result file (written atomically; never the input)
  --qmap QMAP.h5        the partition, in the APS qmap (pySimpleMask) layout
                        [rings from --q-bins and --phi-bins]
  --q-bins N            q rings [10]; --phi-bins N: sectors per ring [1]
  --q-range QMIN:QMAX   rings over this q range, 1/A [the detector's]
  --fold                sectors folded onto 0..180 deg [no]
  --log                 rings equally spaced in log q [linear]
  --frames FIRST:LAST   1-based inclusive frame range [all]
  --stride N            use every N-th frame [1]
  --window N            also correlate windows of N frames (v(t)) [none]
  --overlap N           frames shared by successive windows [0]
  --segments N          I(q) segments over the run [10]
  --normalize           divide each frame by its mean intensity [no]
  --reject SIGMA        drop frames whose intensity is SIGMA sd off [none]
  --twotime BINS        two-time maps of these dynamic bins [none]
  --downsample N        frames averaged per two-time step [1]
  --metadata FILE       APS metadata for the geometry [an HDF5 raw file's
                        own, else NAME_metadata.hdf beside RAW]
  --energy KEV, --distance M, --pixel M, --center X,Y  geometry overrides
                        (keV, metres, metres, pixels) [from the metadata]
  --dataset PATH        frames dataset of an HDF5 file [/entry/data/data]
  --format FMT          hdf5, rigaku, rigaku3m or imm [from the file]
  --nframes N|last      Rigaku: the run's frame count (empty frames have no
                        words), or "last": the last word's frame + 1
  --gap ROWS,COLS       Rigaku 3M gaps between modules [70,52]
  --module-order A,...  Rigaku 3M: file suffix (0-5) of each grid slot,
                        rows top to bottom, left then right [5,0,4,1,3,2]
  --module ROWS,COLS    Rigaku module shape [512,1024]
  --timing              print the seconds of each stage and the peak
                        memory to stderr [no]

Example:
  ionflow scripts/make-sample.lua
  ionflow scripts/xpcs-correlate.lua scan_0042.h5 --qmap scan_0042_qmap.h5 \
      -o result.h5]==]

local cli = require "ionflow.cli"
local o = cli.parse(arg, {name = "xpcs-correlate", usage = usage,
  flags = {fold = true, log = true, normalize = true, timing = true},
  values = {out = true, qmap = true, frames = true, center = true,
    metadata = true, meta = true, twotime = true, dataset = true,
    format = true, nframes = true, gap = true, module_order = true,
    module = true, q_bins = true, phi_bins = true, stride = true,
    window = true, overlap = true, segments = true, reject = true,
    downsample = true, energy = true, distance = true, pixel = true,
    q_range = true},
  positional = {"raw"}, short = {o = "out"}})
local function die(msg) o:die(msg) end
if not o.raw then die("no raw file") end
if not o.out then die("no output file (-o)") end
local function num(k, int) return o:num(k, int) end
-- sizes and lengths bounded, with the bound in the message (--stride 0
-- divided by zero; a negative count was taken)
for k, b in pairs{q_bins = 1, phi_bins = 1, stride = 1, window = 2,
    overlap = 0, segments = 0, downsample = 1} do
  o:bound(k, b, 1e9, true)
end
for _, k in ipairs{"energy", "distance", "pixel"} do
  o:bound(k, 0, math.huge, false, true)
end

local over = {energy_keV = num("energy"), distance = num("distance"),
  pixel_x = num("pixel"), pixel_y = num("pixel")}
if o.center then
  local x, y = o.center:match("^([^,]+),([^,]+)$")
  if not x or not tonumber(x) or not tonumber(y) then
    die("--center needs X,Y")
  end
  over.center_x, over.center_y = tonumber(x), tonumber(y)
end
local first, last
if o.frames then
  local a, b = o.frames:match("^(%d*):(%d*)$")
  if not a then die("--frames needs FIRST:LAST (1-based)") end
  first, last = tonumber(a), tonumber(b)
end

local twotime
if o.twotime then
  local bins = {}
  for b in o.twotime:gmatch("[^,]+") do
    local v = math.tointeger(tonumber(b))
    if not v then die("--twotime needs bin numbers, got " .. b) end
    bins[#bins + 1] = v
  end
  twotime = {bins = bins, downsample = num("downsample", true)}
end

local det = X.detector_cli(o)

local qmin, qmax
if o.q_range then
  local a, b = o.q_range:match("^([^:]*):([^:]*)$")
  qmin, qmax = tonumber(a), tonumber(b)
  if not a or (a ~= "" and not qmin) or (b ~= "" and not qmax) then
    die("--q-range needs QMIN:QMAX in 1/A")
  end
end

-- --timing: wall and CPU seconds per stage (reading and waiting overlap
-- the correlator's own work, which runs in threads of its own: their CPU
-- time is all of the process's)
local tm = o.timing and {} or nil
local lap = X.stopwatch(tm)
local function report()
  if not tm then return end
  local t, sum = {}, {0, 0}
  for _, k in ipairs{"geometry", "partition", "setup", "read", "wait",
      "windows", "result", "write"} do
    local v = tm[k]
    if v then
      t[#t + 1] = string.format("%s %.4f (cpu %.4f)", k, v[1], v[2])
      sum = {sum[1] + v[1], sum[2] + v[2]}
    end
  end
  local _, peak = sys.rss()
  io.stderr:write(string.format("timing (s): %s, total %.4f (cpu %.4f); "
    .. "peak memory %.0f MB\n", table.concat(t, ", "), sum[1], sum[2],
    peak / 2^20))
end

local ok, err = pcall(function()
  local g = X.raw_geometry(o.raw, {metadata = o.metadata or o.meta,
    dataset = o.dataset, over = over, detector = det})
  lap("geometry")
  local qm
  if o.qmap then
    qm = X.read_qmap(o.qmap, g)
  else
    qm = X.partitions(g, {q_bins = num("q_bins", true) or 10,
      phi_bins = num("phi_bins", true) or 1, fold = o.fold, log = o.log,
      q_min = qmin and qmin * 1e10, q_max = qmax and qmax * 1e10})
  end
  lap("partition")
  local t0 = os.clock()
  local ct = tm and {}
  local res = X.correlate_ranks{timing = ct, raw = o.raw,
    dataset = o.dataset,
    dynamic = qm.dynamic, static = qm.static, first = first, last = last,
    stride = num("stride", true), window = num("window", true),
    overlap = num("overlap", true), segments = num("segments", true) or 10,
    normalize = o.normalize, reject_sigma = num("reject"),
    frame_time = g.frame_time, twotime = twotime, detector = det}
  local cpu = os.clock() - t0
  lap("correlate")
  if tm then   -- the correlation's own stages; setup: what is left
    local su = tm.correlate
    for k, v in pairs(ct) do
      tm[k] = v
      su = {su[1] - v[1], su[2] - v[2]}
    end
    tm.setup, tm.correlate = su, nil
  end
  -- under mpirun the first rank with pixels writes the result, once
  -- every rank has said that it finished (X.ranks_agree: a rank that
  -- failed or was interrupted stops the write)
  if not (res and res.writer) then
    X.ranks_agree()
    return
  end
  X.write_result(o.out, res, {geometry = g, qmap = qm,
    commit = X.ranks_agree, options = {
    raw = o.raw, format = g.format, metadata = g.metadata,
    dataset = g.format == "hdf5" and (o.dataset or X.RAW_DATASET) or nil,
    first = res.first,
    last = res.last, stride = res.stride, window = num("window", true),
    normalize = o.normalize, reject_sigma = num("reject")}})
  lap("write")
  report()
  local d = qm.dynamic
  print(string.format("%s: %d frames, %d delays, %d bins, %.1f s CPU",
    o.raw, res.nframes, #res.tau, d.nbins, cpu))
  print(string.format("%5s %12s %8s %7s %9s", "bin", "q (1/A)", "phi",
    "pixels", "g2(tau1)"))
  local count, qmean, phim = d.count, d.q_mean, d.phi_mean
  for b = 1, d.nbins do
    local g2 = res.g2:get(1, b)
    print(string.format("%5d %12.6g %8.2f %7d %9s", b, qmean:get(b) * 1e-10,
      phim:get(b), math.tointeger(count:get(b)),
      g2 == g2 and string.format("%.4f", g2) or "NaN"))
  end
  if #res.rejected > 0 then
    print(string.format("%d frames rejected as outliers", #res.rejected))
  end
  print("wrote " .. o.out)
end)
if not ok then
  io.stderr:write("xpcs-correlate: ", tostring(err), "\n")
  os.exit(1)
end
