-- xpcs-correlate.lua: multi-tau g2 of an XPCS frame file, in the APS
-- 8-ID-I result layout.
--
--   ionflow scripts/xpcs-correlate.lua RAW.h5 -o RESULT.h5
--       [--qmap QMAP.h5] [--dataset PATH] [--frames FIRST:LAST]
--       [--stride N] [--q-bins N] [--phi-bins N] [--fold] [--log]
--       [--window N] [--overlap N] [--segments N] [--normalize]
--       [--reject SIGMA] [--energy KEV] [--distance M] [--pixel M]
--       [--center X,Y] [--meta SIDECAR.h5] [--twotime BIN,BIN,...]
--       [--downsample N]
--
-- The geometry comes from the raw file's APS metadata (or --meta, a
-- sidecar file in the same layout) unless given on the command line; the
-- partition from --qmap (pySimpleMask layout) or from --q-bins/--phi-bins.
-- Prints a short table (bin, q, phi, pixels, g2 at the first delay); a
-- progress bar appears when stderr is a terminal.
local X = require "ionflow.xpcsio"

local usage = [==[
usage: xpcs-correlate.lua RAW.h5 -o RESULT.h5 [--qmap QMAP.h5]
  [--dataset PATH] [--frames FIRST:LAST] [--stride N] [--q-bins N]
  [--phi-bins N] [--fold] [--log] [--window N] [--overlap N]
  [--segments N] [--normalize] [--reject SIGMA] [--energy KEV]
  [--distance M] [--pixel M] [--center X,Y] [--meta SIDECAR.h5]
  [--twotime BIN,BIN,...] [--downsample N]]==]

local cli = require "ionflow.cli"
local o = cli.parse(arg, {name = "xpcs-correlate", usage = usage,
  flags = {fold = true, log = true, normalize = true},
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

local ok, err = pcall(function()
  local g = o.meta and X.geometry_from_file(o.meta, o.dataset, over, o.raw)
    or X.geometry_from_file(o.raw, o.dataset, over)
  local qm
  if o.qmap then
    qm = X.read_qmap(o.qmap, g)
  else
    qm = X.partitions(g, {q_bins = num("q_bins", true) or 10,
      phi_bins = num("phi_bins", true) or 1, fold = o.fold, log = o.log})
  end
  local t0 = os.clock()
  local res = X.correlate{raw = o.raw, dataset = o.dataset,
    dynamic = qm.dynamic, static = qm.static, first = first, last = last,
    stride = num("stride", true), window = num("window", true),
    overlap = num("overlap", true), segments = num("segments", true) or 10,
    normalize = o.normalize, reject_sigma = num("reject"),
    frame_time = g.frame_time, twotime = twotime}
  local cpu = os.clock() - t0
  X.write_result(o.out, res, {geometry = g, qmap = qm, options = {
    raw = o.raw, dataset = o.dataset or X.RAW_DATASET, first = res.first,
    last = res.last, stride = res.stride, window = num("window", true),
    normalize = o.normalize, reject_sigma = num("reject")}})
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
