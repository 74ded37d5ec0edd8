-- make-sample.lua: a sample raw XPCS run to try ionflow on (the README's
-- tour and the XPCS scripts use it): a simulated heterodyne experiment,
-- electrolyte flowing at a known speed, written in the APS 8-ID-I raw
-- layout with its geometry, plus a qmap file for it.
local usage = [==[
usage: ionflow scripts/make-sample.lua [-o RAW.h5] [--qmap QMAP.h5]
  [--frames N] [--size PX] [--velocity A_PER_S] [--seed N]

Writes a simulated heterodyne XPCS run (speckle.simulate) in the APS
8-ID-I raw layout: frames in /entry/data/data (uint16, frames x rows x
cols) and the geometry under /entry/instrument, so that every XPCS
script and primitive reads it as it reads a beamline file. The truth
(the flow speed) is printed.

Options (defaults in brackets):
  -o RAW.h5             the raw file to write [scan_0042.h5]
  --qmap QMAP.h5        also write a partition (10 q rings x 4 sectors) in
                        the APS qmap layout [scan_0042_qmap.h5]; "" for none
  --frames N            number of frames, 0.05 s apart [2000]
  --size PX             detector rows and columns, 75 um pixels [64]
  --velocity A_PER_S    flow speed of the electrolyte, Angstrom/s [100]
  --seed N              random seed: the same seed gives the same file [42]

Example:
  ionflow scripts/make-sample.lua
  ionflow scripts/xpcs-velocity.lua scan_0042.h5 -o velocity.h5]==]

local X = require "ionflow.xpcsio"
local o = require("ionflow.cli").parse(arg, {name = "make-sample", usage = usage,
  values = {out = true, qmap = true, frames = true, size = true, velocity = true,
    seed = true}, short = {o = "out"}})
local out = o.out or "scan_0042.h5"
local qmap = o.qmap
if qmap == nil then qmap = (out:gsub("%.h5$", "")) .. "_qmap.h5" end
local frames = o:num("frames", true) or 2000
local size = o:num("size", true) or 64
local v = o:num("velocity") or 100
local seed = o:num("seed", true) or 42
if frames < 16 or frames > 100000 then o:die("--frames must be 16 to 100000") end
if size < 8 or size > 1024 then o:die("--size must be 8 to 1024") end
if not (v >= 0 and v <= 1e5) then o:die("--velocity must be 0 to 1e5 A/s") end

local geo = {energy_keV = 10, distance = 1, pixel = 75e-6,
  center = {(size - 1) / 2, (size - 1) / 2}, shape = {size, size}}
local stack, truth = speckle.simulate{geometry = geo, frames = frames,
  frame_time = 0.05, velocity = v * units.A, tau0 = 10, h = 0.5, modes = 4,
  mean_counts = 5, seed = seed}
X.write_raw(out, stack, truth)
print(string.format("wrote %s: %d frames of %d x %d pixels, 0.05 s apart, " ..
  "flow %g A/s", out, frames, size, size, v))
if qmap ~= "" then
  local qm = X.partitions(xpcs.geometry(geo), {q_bins = 10, phi_bins = 4})
  X.write_qmap(qmap, qm, qm.geometry)
  print("wrote " .. qmap .. ": 10 q rings x 4 sectors")
end
