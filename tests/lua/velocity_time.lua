-- xpcsio.velocity_vs_time: v(t) per window of a windowed correlation, from
-- correlate's windows and from the APS g2_partial layout of a result file
local t = require "ionflow.tap"
local X = require "ionflow.xpcsio"
local A = units.A

-- 100 A/s, then 200 A/s, then at rest: 3 x 25 s of 0.05 s frames
local N, dt = 64, 0.05
local geo = {energy_keV = 10, distance = 1, pixel = 75e-6,
  center = {x = (N - 1) / 2, y = (N - 1) / 2}, shape = {N, N}}
local frames, truth = speckle.simulate{geometry = geo, frames = 1500,
  frame_time = dt, segments = {{t = 0, v = 100 * A}, {t = 25, v = 200 * A},
  {t = 50, v = 0}}, tau0 = 10, h = 0.5, modes = 4, mean_counts = 5, seed = 11}
local dir = t.tmpdir()
local raw = dir .. "/raw.h5"
do
  local w <close> = h5.create(raw, {overwrite = true})
  w:write("/entry/data/data", frames)
end
frames = nil
local g = xpcs.geometry(geo)
local qm = X.partitions(g, {q_bins = 6, phi_bins = 18})
local bins = X.bin_moments(qm.dynamic, qm.maps, nil, qm.static)
local res = X.correlate{raw = raw, dynamic = qm.dynamic, static = qm.static,
  window = 500, frame_time = dt}
local vt = X.velocity_vs_time{windows = res.windows, frame_time = dt,
  bins = bins}
t.is(#vt.v, 3, "one entry per window")
t.ok(vt.t_start[1] == 0 and vt.t_end[1] == 25 and vt.t_start[3] == 50 and
  vt.t_end[3] == 75, "window times in s")
t.diag("v(t): %s", table.concat({string.format("%.1f", vt.v[1] / A),
  string.format("%.1f", vt.v[2] / A), tostring(vt.resolved[3])}, ", "))
t.ok(vt.resolved[1] and math.abs(vt.v[1] / (100 * A) - 1) < 0.03,
  string.format("window 1: 100 A/s (%.1f +/- %.1f)", vt.v[1] / A, vt.v_err[1] / A))
t.ok(vt.resolved[2] and math.abs(vt.v[2] / (200 * A) - 1) < 0.03,
  string.format("window 2: 200 A/s (%.1f +/- %.1f)", vt.v[2] / A, vt.v_err[2] / A))
t.ok(vt.resolved[3] == false and vt.v[3] ~= vt.v[3] and vt.v_err[3] ~= vt.v_err[3],
  "window 3 (at rest): not resolved, no speed (" .. tostring(vt.reason[3]) .. ")")
t.ok(vt.velocity[1].rings ~= nil, "each window's fit.velocity result kept")

-- the same from a result file's g2_partial (n_win x n_tau x n_bins)
local out = dir .. "/res.h5"
X.write_result(out, res, {geometry = g, qmap = qm})
local f <close> = h5.open(out)
local vt2 = X.velocity_vs_time{g2_partial = f:read("/xpcs/multitau/normalized_g2_partial"),
  g2_partial_err = f:read("/xpcs/multitau/normalized_g2_partial_err"),
  tau = f:read("/xpcs/multitau/delay_list") * dt,
  t_start = f:read("/ionflow/xpcs/windows/start_time_s"):totable(),
  t_end = f:read("/ionflow/xpcs/windows/end_time_s"):totable(),
  frame_time = dt, bins = bins}
t.ok(vt2.resolved[1] and vt2.resolved[2] and not vt2.resolved[3] and
  math.abs(vt2.v[1] - vt.v[1]) < 1e-3 * vt.v[1] and
  math.abs(vt2.v[2] - vt.v[2]) < 1e-3 * vt.v[2],
  "g2_partial gives the windows' speeds")
t.errors(function() X.velocity_vs_time{windows = res.windows, bins = bins} end,
  "frame_time", "windows without frame_time refused")
t.errors(function() X.velocity_vs_time{bins = bins} end, "windows or g2_partial",
  "no data refused")
t.errors(function() X.velocity_vs_time{g2_partial = array.zeros{2, 3, 4},
  tau = {1, 2}, t_start = {0, 1}, t_end = {1, 2}, bins = bins} end, "tau",
  "delays of the wrong length refused")
t.done()
