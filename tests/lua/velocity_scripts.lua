-- scripts/xpcs-velocity.lua and examples/heterodyne-velocity.lua run on
-- simulated data: a stack whose speed doubles halfway gives both speeds
-- in the matching windows; a correlation result file works as input.
local t = require "ionflow.tap"
local X = require "ionflow.xpcsio"

local run = t.script

local dir = t.tmpdir()
local raw, res, out = dir .. "/raw.h5", dir .. "/result.h5", dir .. "/velocity.h5"

-- 64 x 64 pixels, 3000 frames at 20 Hz: 100 A/s, then 200 A/s from 75 s
local frames, truth = speckle.simulate{energy_keV = 10, distance = 1,
  pixel = 75e-6, shape = {64, 64}, frames = 3000, frame_time = 0.05,
  segments = {{t = 0, v = 100 * units.A}, {t = 75, v = 200 * units.A}},
  tau0 = 10, h = 0.5, modes = 4, mean_counts = 5, seed = 5}
X.write_raw(raw, frames, truth)
frames = nil
collectgarbage()

local ok, o = run("scripts/xpcs-velocity.lua", raw, "-o", out, "--q-range",
  "0.006:0.012", "--q-bins", "6", "--window", "1500")
t.ok(ok, "xpcs-velocity runs on raw frames with windows")
local w1 = tonumber(o:match("window 1 %([^)]*%): velocity = ([%d.]+) %+/%-"))
local w2 = tonumber(o:match("window 2 %([^)]*%): velocity = ([%d.]+) %+/%-"))
t.ok(w1 and math.abs(w1 / 100 - 1) < 0.02, "first half: 100 A/s within 2 % (" .. tostring(w1) .. ")")
t.ok(w2 and math.abs(w2 / 200 - 1) < 0.02, "second half: 200 A/s within 2 % (" .. tostring(w2) .. ")")
t.ok(o:find("only the speed is observable", 1, true), "says only the speed is observable")
t.ok(o:find("velocity = [%d.]+ %+/%- [%d.]+ A/s") ~= nil, "prints velocity = V +/- E A/s")
if not ok then t.diag("%s", o) end
do
  local f <close> = h5.open(out)
  local v = f:read("/ionflow/velocity/vt/v_m_per_s")
  t.is(#v, 2, "v(t) has one entry per window")
  t.ok(math.abs(v[2] / 2e-8 - 1) < 0.02, "v(t) in the file, SI")
  t.ok(f:exists("/ionflow/velocity/fits/omega") and
       f:exists("/ionflow/velocity/omega_q_chi/q_cos_chi_per_m"),
       "fits and omega(q, chi) written")
  -- the whole stack mixes two speeds: no single velocity fits it
  t.is(f:attrs("/ionflow/velocity/result").resolved, 0,
    "the whole two-speed stack is not reported as one velocity")
end

-- a correlation result as input (first half only: one speed)
ok, o = run("scripts/xpcs-correlate.lua", raw, "-o", res, "--frames", "1:1500",
  "--q-bins", "6", "--phi-bins", "18")
t.ok(ok, "xpcs-correlate makes a result file")
ok, o = run("scripts/xpcs-velocity.lua", res, "-o", out, "--fit-angle")
local v = tonumber(o:match("\nvelocity = ([%d.]+) %+/%-"))
t.ok(ok and v and math.abs(v / 100 - 1) < 0.02, "result file input: 100 A/s within 2 % (" .. tostring(v) .. ")")
t.ok(o:find("flow angle: ", 1, true), "flow angle fitted on request")
if not ok then t.diag("%s", o) end
do
  local f <close> = h5.open(out)
  t.is(f:attrs("/ionflow/velocity/result").resolved, 1, "result group says resolved")
  t.ok(f:exists("/ionflow/velocity/rings/v_m_per_s"), "per-ring speeds written")
  local fs, rs = f:read("/ionflow/velocity/fits/status"),
    f:read("/ionflow/velocity/rings/status")
  local nfit = #f:read("/ionflow/velocity/fits/omega")
  local known = {ok = true, ["at bound"] = true, ["poor fit"] = true,
    ["no data"] = true, ["not converged"] = true}
  local all_known = type(fs) == "table" and #fs == nfit
  for _, s in ipairs(type(fs) == "table" and fs or {}) do
    all_known = all_known and known[s] == true
  end
  local ring_ok = false
  for _, s in ipairs(type(rs) == "table" and rs or {}) do
    all_known = all_known and known[s] == true
    ring_ok = ring_ok or s == "ok"
  end
  t.ok(all_known and ring_ok, "a status per fit and per ring written next "
    .. "to the numbers (rings: " .. table.concat(type(rs) == "table" and rs
    or {}, ", ") .. ")")
  t.ok(o:find("bins  status", 1, true) and o:find("%(%d+ with an ok fit%)"),
    "the printed table shows the rings' status")
end

-- a windowed correlation result: v(t) from its g2_partial
local resw = dir .. "/resw.h5"
ok, o = run("scripts/xpcs-correlate.lua", raw, "-o", resw, "--q-range",
  "0.006:0.012", "--q-bins", "6", "--phi-bins", "18", "--window", "1500")
t.ok(ok, "xpcs-correlate with windows")
ok, o = run("scripts/xpcs-velocity.lua", resw, "-o", out)
local r1 = tonumber(o:match("window 1 %([^)]*%): velocity = ([%d.]+) %+/%-"))
local r2 = tonumber(o:match("window 2 %([^)]*%): velocity = ([%d.]+) %+/%-"))
t.ok(ok and r1 and r2 and math.abs(r1 / 100 - 1) < 0.02 and math.abs(r2 / 200 - 1) < 0.02,
  string.format("windowed result file: v(t) 100 and 200 A/s (%s, %s)", tostring(r1), tostring(r2)))
if not ok then t.diag("%s", o) end

-- errors
ok, o = run("scripts/xpcs-velocity.lua", raw)
t.ok(not ok and o:find("no output file", 1, true), "missing -o is an error")
ok, o = run("scripts/xpcs-velocity.lua", dir .. "/missing.h5", "-o", out)
t.ok(not ok and o:find("missing.h5", 1, true), "missing input named")
ok, o = run("scripts/xpcs-velocity.lua", res, "-o", out, "--window", "100")
t.ok(not ok and o:find("--window needs raw frames", 1, true), "--window on a result refused")

-- the teaching example
ok, o = run("examples/heterodyne-velocity.lua", "--quick")
t.ok(ok and o:find("truth: 100.0 A/s", 1, true), "examples/heterodyne-velocity.lua runs")
if not ok then t.diag("%s", o) end

t.done()
