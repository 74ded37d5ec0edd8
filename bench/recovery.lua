-- bench/recovery.lua: velocimetry on the velocimetry issue's setup (128 x 128 px,
-- 4000 frames of 0.05 s, q up to 0.02 1/A, 8 rings x 18 sectors): speed and
-- master-curve parameters against the simulator's truth, as z-scores. A
-- measurement, not a test (the suite's tests/lua/recovery.lua runs a smaller
-- setup). Seeds per parameter set: the first argument (default 1; the man
-- page's figures are for 3); the second picks one parameter set (1-4), the
-- third the first seed (default 21).
--
--   ionflow bench/recovery.lua [seeds [case [first_seed]]]
local X = require "ionflow.xpcsio"
local A = units.A
local N, T, dt = 128, 4000, 0.05
local geo = {energy_keV = 10, distance = 1.2, pixel = 75e-6,
  center = {x = (N - 1) / 2, y = (N - 1) / 2}, shape = {N, N}}
local popts = {q_bins = 8, phi_bins = 18, q_max = 0.02 / A}
local cases = {
  {v = 20, h = 0.2, modes = 10, counts = 1}, {v = 100, h = 0.5, modes = 4, counts = 5},
  {v = 200, h = 0.8, modes = 3, counts = 10}, {v = 60, h = 0.35, modes = 5, counts = 2}}
local zb, zh, zg, zt, zv, dv = {}, {}, {}, {}, {}, {}
local function rms(t) local s = 0; for _, x in ipairs(t) do s = s + x * x end; return math.sqrt(s / #t) end
local function maxabs(t) local m = 0; for _, x in ipairs(t) do if math.abs(x) > math.abs(m) then m = x end end; return m end
local only, first = tonumber(arg[2]), tonumber(arg[3]) or 21
for ci, c in ipairs(cases) do if not only or ci == only then
for seed = first, first - 1 + (tonumber(arg[1]) or 1) do
  local r, truth, _, bins = X.simulated_run(geo, popts, {frames = T, frame_time = dt,
    velocity = c.v * A, tau0 = 10, h = c.h, modes = c.modes, mean_counts = c.counts, seed = seed})
  local _, vel = X.velocity(r.tau * dt, r.g2, r.g2_err, {bins = bins, frame_time = dt, master = true})
  local M = vel.master
  if not (vel.resolved and M and M.resolved) then
    print(string.format("v %d seed %d: not resolved (%s)", c.v, seed, tostring(vel.reason)))
  else
    zv[#zv + 1] = (vel.v - truth.v) / vel.v_err
    dv[#dv + 1] = 100 * (vel.v / truth.v - 1)
    zb[#zb + 1] = (M.beta - truth.beta) / M.beta_err
    zh[#zh + 1] = (M.h - truth.h) / M.h_err
    zg[#zg + 1] = (M.gamma - 1) / M.gamma_err
    for ring, t0 in pairs(M.tau0) do zt[#zt + 1] = (t0 - truth.tau0) / M.tau0_err[ring] end
    print(string.format("v %3d seed %d: %.2f +/- %.2f A/s (%.2f %%), beta %.4f+/-%.4f (%.4f), h %.3f+/-%.3f",
      c.v, seed, vel.v / A, vel.v_err / A, dv[#dv], M.beta, M.beta_err, truth.beta, M.h, M.h_err))
  end
end end end
print(string.format("runs %d; speed %% range %.2f..%.2f, z rms %.2f max %.2f; beta z rms %.2f max %.2f; h z rms %.2f max %.2f; gamma z rms %.2f max %.2f; tau0 z rms %.2f max %.2f (%d)",
  #zv, math.min(table.unpack(dv)), math.max(table.unpack(dv)), rms(zv), maxabs(zv), rms(zb), maxabs(zb), rms(zh), maxabs(zh), rms(zg), maxabs(zg), rms(zt), maxabs(zt), #zt))
