-- the master-curve fit (fit.velocity's master): its starts, its refusal
-- of another minimum, and the slow-flow case that used to end in one.
local t = require "ionflow.tap"
local X = require "ionflow.xpcsio"
local A = units.A

-- 1. a simulated slow flow where the shared fit went wrong: 64 x 64 px,
-- 2000 frames of 0.05 s, 20 A/s, h 0.2, beta 0.1, 8 rings x 18 sectors,
-- seed 6. The inner rings hold less than a period; the master fit started
-- a ring's tau0 at the median of its resolved bins, there one sound
-- (about 15 s) and one degenerate (a long flat decay standing in for the
-- homodyne term), and ended at beta 0.047 +/- 0.001, h 0.52 +/- 0.02,
-- z = -48 and 14: a confident wrong number. The issue's own setup (128 x
-- 128 px, 4000 frames) did the same at seeds 23 and 27.
do
  local N, T, dt = 64, 2000, 0.05
  local geo = {energy_keV = 10, distance = 0.6, pixel = 75e-6,
    center = {x = (N - 1) / 2, y = (N - 1) / 2}, shape = {N, N}}
  local r, truth, _, bins = X.simulated_run(geo, {q_bins = 8, phi_bins = 18,
    q_max = 0.02 / A}, {frames = T, frame_time = dt, velocity = 20 * A,
    tau0 = 10, h = 0.2, modes = 10, mean_counts = 1, seed = 6})
  local _, vel = X.velocity(r.tau * dt, r.g2, r.g2_err, {bins = bins,
    frame_time = dt, master = true})
  local M = vel.master
  t.ok(vel.resolved and M, "20 A/s, 64 x 64 px, seed 6: speed resolved, "
    .. "master fit ran (" .. tostring(vel.reason) .. ")")
  if M and M.resolved then
    t.diag("master: beta %.4f +/- %.4f, h %.3f +/- %.3f (truth %.2f, %.2f)%s",
      M.beta, M.beta_err, M.h, M.h_err, truth.beta, truth.h,
      M.warning and "; " .. M.warning or "")
    t.ok(math.abs(M.beta - truth.beta) < 3 * M.beta_err and
      math.abs(M.h - truth.h) < 3 * M.h_err,
      "  beta and h within 3 errors of the truth")
    t.ok(M.beta_err < M.beta / 3 or (M.warning and M.warning:find("not separated")),
      "  beta and h either measured or said not to be")
  else
    t.ok(M and M.reason and M.beta == nil, "  not resolved, no number ("
      .. tostring(M and M.reason) .. ")")
  end
end

-- 2. Eq. 1 curves made by fit.eval with Gaussian noise on the issue's
-- geometry (128 x 128 px, 8 rings, 20 A/s, beta 0.1, h 0.2), and the
-- per-bin fits handed to fit.velocity edited
local geo = {energy_keV = 10, distance = 1.2, pixel = 75e-6,
  center = {x = 63.5, y = 63.5}, shape = {128, 128}}
local qm = X.partitions(xpcs.geometry(geo), {q_bins = 8, phi_bins = 18,
  q_max = 0.02 / A})
local bins = X.bin_moments(qm.dynamic, qm.maps)
local nb = #bins.q
local truth = {baseline = 1, beta = 0.1, h = 0.2, tau0 = 10, gamma = 1}
local v = 20 * A

-- the delays of a multi-tau correlator (4 per level) of 4000 frames of
-- 0.05 s
local tau = {}
for k = 1, 8 do tau[#tau + 1] = k * 0.05 end
for l = 1, 9 do for k = 4, 7 do tau[#tau + 1] = k * 2 ^ l * 0.05 end end

-- g2 (n_tau x n_bins) with noise sig: Box-Muller on a seeded generator
math.randomseed(7)
local sig = 0.002
local rows, erows = {}, {}
for i = 1, #tau do rows[i], erows[i] = {}, {} end
for k = 1, nb do
  local p = {}
  for name, x in pairs(truth) do p[name] = x end
  p.omega = v * math.abs(bins.qx[k])
  local y = fit.eval("heterodyne", p, tau)
  for i = 1, #tau do
    local u1, u2 = 1 - math.random(), math.random()
    rows[i][k] = y[i] + sig * math.sqrt(-2 * math.log(u1)) * math.cos(2 * math.pi * u2)
    erows[i][k] = sig
  end
end
local g2, err = array.from(rows), array.from(erows)
local fits = fit.heterodyne(tau, g2, err)

local function master(fs)
  local vel = fit.velocity{fits = fs, q = bins.q, qx = bins.qx, qy = bins.qy,
    ring = bins.ring, master = {tau = tau, g2 = g2, err = err}}
  return vel, vel.master
end
local function copy(fs)
  local out = {}
  for k = 1, nb do
    out[k] = {}
    for key, x in pairs(fs[k]) do out[k][key] = x end
  end
  return out
end
-- the innermost ring with a resolved bin away from chi = 90 degrees
local R = 99
for k = 1, nb do
  if fits[k].resolved and math.abs(bins.qx[k]) > 0.5 * bins.q[k] then
    R = math.min(R, bins.ring[k])
  end
end
local function within(M, n, label)
  local z = {math.abs(M.beta - truth.beta) / M.beta_err,
    math.abs(M.h - truth.h) / M.h_err, math.abs(M.gamma - 1) / M.gamma_err}
  for r = 1, 8 do z[#z + 1] = math.abs(M.tau0[r] - truth.tau0) / M.tau0_err[r] end
  local worst = math.max(table.unpack(z))
  t.ok(worst < n, string.format("%s: beta %.4f +/- %.4f, h %.4f +/- %.4f, "
    .. "tau0[%d] %.3f +/- %.3f, largest |z| %.2f < %d", label, M.beta,
    M.beta_err, M.h, M.h_err, R, M.tau0[R], M.tau0_err[R], worst, n))
end

local vel, M = master(fits)
t.ok(vel.resolved and M.resolved, "master fit of the per-bin fits resolved ("
  .. tostring(M and M.reason) .. ")")
if M.resolved then within(M, 4, "as fitted") end

-- ring R keeps two resolved bins, one of them degenerate (h 0.96, tau0
-- 3e4 s, gamma 0.24, as in the simulated failure): the ring's start must
-- not be the median of the two
local edited, keep = copy(fits), {}
for k = 1, nb do
  local c = edited[k]
  if bins.ring[k] == R and c.resolved then
    if #keep < 2 and math.abs(bins.qx[k]) > 0.5 * bins.q[k] then
      keep[#keep + 1] = k
    else
      c.resolved = false
    end
  end
end
t.is(#keep, 2, "two resolved bins left in ring " .. R)
local d = edited[keep[2]]
d.beta, d.h, d.tau0, d.gamma = 0.11, 0.96, 3e4, 0.24
local vel2, M2 = master(edited)
t.ok(vel2.resolved and M2.resolved, "a degenerate bin among ring " .. R
  .. "'s two: master fit resolved (" .. tostring(M2.reason) .. ")")
if M2.resolved then within(M2, 4, "degenerate bin in ring " .. R) end
local _, M3 = master(edited)
t.ok(M2.resolved and M3.resolved and M3.beta == M2.beta and M3.h == M2.h
  and M3.tau0[R] == M2.tau0[R] and M3.v == M2.v,
  "the same g2 and fits twice give the same master fit")

-- every resolved bin claims beta 0.4 (four times the truth): the joint
-- fit's beta cannot agree with them, and it says so instead of a number
local liar = copy(fits)
for k = 1, nb do
  if liar[k].resolved then liar[k].beta = 0.4 + 0.001 * (k % 7) end
end
local _, M4 = master(liar)
t.ok(not M4.resolved and M4.reason:find("outside the spread", 1, true) and
  M4.beta == nil and M4.v == nil, "shared beta outside the bins' spread: "
  .. "not resolved, no number (" .. tostring(M4.reason) .. ")")

-- 3. the within-bin distribution of q cos chi. Noise-free g2 built as
-- the exact mixture of Eq. 1 over each bin's pixels (multi-tau averaging
-- included), each static bin weighing once as in the correlator's g2:
-- with the Gaussian envelope (spread) the bins' omegas come out low, as
-- the envelope of a bounded distribution damps too much at long delays
-- (-0.16 % on the issue's setup at 200 A/s); with the pixels as
-- weighted nodes the speed is exact.
do
  local N, dt, vt = 64, 0.05, 200 * A
  local g64 = {energy_keV = 10, distance = 0.6, pixel = 75e-6,
    center = {x = 31.5, y = 31.5}, shape = {N, N}}
  local q6 = X.partitions(xpcs.geometry(g64), {q_bins = 6, phi_bins = 18,
    q_min = 0.004 / A, q_max = 0.02 / A})
  local b6 = X.bin_moments(q6.dynamic, q6.maps, nil, q6.static)
  local dmap = q6.dynamic.map:reshape{N * N}:totable()
  local qxp = b6.pixels.qx:reshape{N * N}:totable()
  local wp = b6.pixels.w:reshape{N * N}:totable()
  local td = {}
  for k = 1, 8 do td[#td + 1] = k * dt end
  for l = 1, 8 do for k = 4, 7 do td[#td + 1] = k * 2 ^ l * dt end end
  local nb6, acc, sw = #b6.q, {}, {}
  for k = 1, nb6 do acc[k], sw[k] = {}, 0; for i = 1, #td do acc[k][i] = 0 end end
  local P = {baseline = 1, beta = 0.3, h = 0.8, tau0 = 10, gamma = 1}
  for i = 1, N * N do
    local k = dmap[i]
    if k >= 1 and wp[i] > 0 then
      P.omega = vt * math.abs(qxp[i])
      local y = fit.eval("heterodyne", P, td, {frame_time = dt})
      for j = 1, #td do acc[k][j] = acc[k][j] + wp[i] * y[j] end
      sw[k] = sw[k] + wp[i]
    end
  end
  local rows, erows = {}, {}
  for j = 1, #td do
    rows[j], erows[j] = {}, {}
    for k = 1, nb6 do
      rows[j][k] = sw[k] > 0 and acc[k][j] / sw[k] or 0 / 0
      erows[j][k] = 1e-4
    end
  end
  local G, E = array.from(rows), array.from(erows)
  -- the envelope misses the mixture by far more than errors of 1e-4:
  -- its fits say so, and are taken as they are to show the bias
  local be = {q = b6.q, qx = b6.qx, qy = b6.qy, qxx = b6.qxx, qyy = b6.qyy,
    qxy = b6.qxy, ring = b6.ring}
  local fe = fit.heterodyne(td, G, E, {spread = X.bin_spread(be, 0),
    frame_time = dt})
  local npoor = 0
  for _, f in ipairs(fe) do
    if f.status == "poor fit" then npoor = npoor + 1 end
    f.status = "ok"
  end
  t.ok(npoor > #fe / 2, string.format("the Gaussian envelope's misfit at "
    .. "errors of 1e-4 is flagged: %d of %d bins poor fits", npoor, #fe))
  be.fits = fe
  local ve = fit.velocity(be)
  local _, vn = X.velocity(td, G, E, {bins = b6, frame_time = dt})
  local de, dn = 100 * (ve.v / vt - 1), 100 * (vn.v / vt - 1)
  t.diag("exact mixture, 200 A/s: Gaussian envelope %+.3f %%, pixel nodes %+.4f %%", de, dn)
  t.ok(vn.resolved and math.abs(dn) < 0.02,
    "pixels as nodes: the speed of the exact mixture within 0.02 %")
  t.ok(ve.resolved and de < -0.05,
    "the Gaussian envelope alone: the speed low (the bias the nodes remove)")
  local fa = fit.heterodyne(td, G, E, {frame_time = dt, pixels = b6.pixels})
  local fb = fit.heterodyne(td, G, E, {frame_time = dt, pixels = b6.pixels})
  local same = true
  for k = 1, nb6 do
    for _, key in ipairs{"omega", "omega_err", "beta", "h", "tau0", "gamma"} do
      local x, y = fa[k][key], fb[k][key]
      if not (x == y or (x ~= x and y ~= y)) then same = false end
    end
  end
  t.ok(same, "per-bin fits with pixel nodes: the same g2 twice, the same answer")
end
t.done()
