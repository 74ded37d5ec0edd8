-- fit.curve, fit.heterodyne, fit.velocity; and the whole chain
-- speckle.simulate -> xpcs.correlator -> fit.heterodyne -> fit.velocity
local t = require "ionflow.tap"

-- fit.curve with a Lua model: an exponential, exact data
local xs, ys = {}, {}
for i = 1, 30 do
  xs[i] = (i - 1) * 0.2
  ys[i] = 2.5 * math.exp(-xs[i] / 1.7) + 0.3
end
local r = fit.curve(function(p, x) return p[1] * math.exp(-x / p[2]) + p[3] end,
  xs, ys, {p0 = {1, 1, 0}, names = {"a", "tau", "c"}})
t.near(r.a, 2.5, 1e-8, "Lua model: amplitude")
t.near(r.tau, 1.7, 1e-8, "Lua model: decay time")
t.near(r.p[3], 0.3, 1e-8, "Lua model: offset by index")
t.is(r.status, "converged", "status converged")
t.ok(r.converged and r.dof == 27, "converged with 27 degrees of freedom")

-- vectorized Lua model: called once per evaluation with the whole x
local calls = 0
local rv = fit.curve(function(p, x)
  calls = calls + 1
  local y = {}
  for i = 1, #x do y[i] = p[1] * math.exp(-x[i] / p[2]) + p[3] end
  return y
end, xs, ys, {p0 = {1, 1, 0}, vectorized = true})
t.near(rv.p[2], 1.7, 1e-8, "vectorized Lua model")
t.ok(calls < 200, "vectorized model called per evaluation, not per point (" .. calls .. ")")

-- bounds, fixed parameters by name, weights
local rb = fit.curve(function(p, x) return p[1] * math.exp(-x / p[2]) + p[3] end,
  xs, ys, {p0 = {1, 1, 0.3}, upper = {2, 10, 1}, names = {"a", "tau", "c"},
           fixed = {"c"}})
t.ok(rb.a <= 2 and rb.at_bound[1], "upper bound respected and flagged")
t.is(rb.c, 0.3, "fixed parameter kept")
t.is(rb.c_err, 0, "fixed parameter has no error")

-- native heterodyne model (paper Eq. 1), noiseless
local tau, g2 = {}, {}
local truth = {baseline = 1, beta = 0.2, h = 0.4, tau0 = 8, gamma = 1, omega = 1.3}
for i = 1, 100 do
  tau[i] = 0.05 * 1.08 ^ (i - 1)
  local x = (tau[i] / truth.tau0) ^ truth.gamma
  g2[i] = 1 + 0.2 * (0.36 + 0.16 * math.exp(-2 * x) + 0.48 * math.cos(1.3 * tau[i]) * math.exp(-x))
end
local rn = fit.curve("heterodyne", tau, g2, {p0 = {baseline = 1, beta = 0.15, h = 0.5,
  tau0 = 5, gamma = 1, omega = 1.25}, lower = {h = 0, beta = 0, tau0 = 0, omega = 0},
  upper = {h = 1}, fixed = {baseline = true}})
for k, v in pairs(truth) do t.near(rn[k], v, 1e-6 * v, "native Eq. 1: " .. k) end
t.is(fit.models.heterodyne[6], "omega", "fit.models lists parameter names")

-- fit.heterodyne: omega from the scan, whatever the start
local h1 = fit.heterodyne(tau, g2)
t.near(h1.omega, 1.3, 1e-6, "fit.heterodyne finds omega without a start value")
t.ok(h1.resolved and h1.reason == "resolved", "resolved")
local h2 = fit.heterodyne(tau, g2)
t.ok(h2.omega == h1.omega and h2.tau0 == h1.tau0, "same g2, same answer")
-- v = 0: no oscillation to resolve
local g0 = {}
for i = 1, 100 do
  local e = math.exp(-tau[i] / 8)
  g0[i] = 1 + 0.2 * (0.36 + 0.16 * e * e + 0.48 * e) + 0.002 * math.sin(i * 12.9898)
end
local h0 = fit.heterodyne(tau, g0, {gamma = 1})
t.ok(not h0.resolved, "v = 0: omega not resolved (" .. h0.reason .. ")")
-- several bins at once (n_tau x n_bins) with errors, and a global fit
local gm, em = {}, {}
for i = 1, 100 do
  gm[i], em[i] = {}, {}
  for k = 1, 3 do
    local om, x = 0.6 * k, tau[i] / 8
    gm[i][k] = 1 + 0.2 * (0.36 + 0.16 * math.exp(-2 * x) + 0.48 * math.cos(om * tau[i]) * math.exp(-x))
    em[i][k] = 0.001
  end
end
local hb = fit.heterodyne(tau, gm, em)
t.is(#hb, 3, "one fit per bin")
t.near(hb[3].omega, 1.8, 1e-5, "bin 3 omega")
local hg = fit.heterodyne(tau, gm, em, {global = {share = {"beta", "h", "tau0", "gamma"}}})
t.near(hg[2].beta, 0.2, 1e-5, "global fit: shared beta")
t.ok(hg[1].beta == hg[3].beta and hg[1].omega ~= hg[3].omega, "beta shared, omega per bin")
t.errors(function() fit.heterodyne(tau, gm, em, {global = {share = {"omega"}}}) end,
  "cannot be shared", "omega cannot be shared")

-- fit.velocity from synthetic omegas (4 rings x 18 sectors, v = 100 A/s)
local q, phi, om, oe, ring = {}, {}, {}, {}, {}
for rg = 1, 4 do
  for s = 1, 18 do
    local k = (rg - 1) * 18 + s
    q[k] = (0.002 + 0.004 * rg) * 1e10
    phi[k] = -170 + 20 * (s - 1)
    om[k] = math.abs(1e-8 * q[k] * math.cos(math.rad(phi[k] - 30)))
    oe[k] = 0.01
    ring[k] = rg
  end
end
local vv = fit.velocity{omega = om, omega_err = oe, q = q, phi_deg = phi, ring = ring,
  flow_angle_deg = 30}
t.near(vv.v_A_per_s, 100, 1e-6, "velocity from exact omegas")
t.is(#vv.rings, 4, "one entry per ring")
t.near(vv.rings[2].qv, 1e-8 * q[19], 1e-9, "ring 2: slope of omega vs cos chi is q v")
t.near(vv.v_q, 1e-8, 1e-16, "omega(q) with zero intercept")
t.ok(vv.note:find("only the speed", 1, true), "says that only the speed is observable")
local va = fit.velocity{omega = om, omega_err = oe, q = q, phi_deg = phi, ring = ring,
  flow_angle_deg = 10, fit_angle = true}
t.near(va.flow_angle_deg, 30, 1e-4, "flow angle fitted")
t.errors(function() fit.velocity{omega = om, omega_err = oe, q = q, ring = ring} end,
  "phi_deg", "bin directions are required")

-- bad input names what is wrong
t.errors(function() fit.curve("nope", xs, ys, {p0 = {1}}) end, "unknown model", "unknown model")
t.errors(function() fit.curve(function() return 1 end, xs, ys, {}) end, "p0", "p0 required")
t.errors(function() fit.curve(function() error("model broke") end, xs, ys, {p0 = {1}}) end,
  "model broke", "a Lua error in the model is reported")
t.errors(function() fit.curve(function() end, xs, ys, {p0 = {1}}) end,
  "returned nil, not a number", "a model returning nil")
t.errors(function() fit.curve(function() return {1} end, xs, ys, {p0 = {1}, vectorized = true}) end,
  "30 numbers", "a vectorized model returning too few values")
t.errors(function() fit.curve(function(p, x) return p[1] end, xs, {1, 2}, {p0 = {1}}) end,
  "30 points", "x and y lengths differ")
t.errors(function() fit.curve("homodyne", xs, ys, {p0 = {1, 0.2, 1, 1}, lower = {2}}) end,
  "outside its bounds", "start outside bounds")
t.errors(function() fit.heterodyne({1, 2, 3}, {1, 1, 1}) end, "usable points", "too few points")

-- end to end: simulate -> correlate -> fit -> velocity, v within 2 %
local N, T, dt = 80, 2000, 0.05
local geo = {energy_keV = 10, distance = 1, pixel = 75e-6,
  center = {x = 39.5, y = 39.5}, shape = {N, N}}
local frames = speckle.simulate{geometry = geo, frames = T, frame_time = dt,
  velocity = 1e-8, flow_angle_deg = 20, tau0 = 10, h = 0.5, modes = 4,
  mean_counts = 5, seed = 2020}
local m = xpcs.maps(xpcs.geometry(geo))
local edges = {}
for i = 0, 7 do edges[#edges + 1] = (0.006 + 0.001 * i) * 1e10 end
local p = xpcs.partition{q = m.q, phi = m.phi, q_edges = edges, phi_bins = 18}
local c = xpcs.correlator{dynamic = p}
c:push(frames)
local res = c:result()
local fits = fit.heterodyne(res.tau * dt, res.g2, res.g2_err)
local bins = {fits = fits, q = p.q_mean, qx = p:bin_mean(m.q * m.ux),
  qy = p:bin_mean(m.q * m.uy), ring = {}, flow_angle_deg = 20}
for k = 1, p.nbins do bins.ring[k] = (k - 1) // p.nphi + 1 end
local v = fit.velocity(bins)
t.diag("end to end: v = %.2f +/- %.2f A/s (truth 100) from %d bins",
  v.v_A_per_s, v.v_err_A_per_s, v.nused)
t.ok(math.abs(v.v_A_per_s / 100 - 1) < 0.02, "end to end: speed within 2 %")
t.ok(math.abs(v.v_A_per_s - 100) < 4 * v.v_err_A_per_s, "end to end: within 4 errors of the truth")
t.ok(math.abs(v.v_rings - 1e-8) < 4 * v.v_rings_err, "end to end: spread between rings covers the truth")
bins.master = {tau = res.tau * dt, g2 = res.g2, err = res.g2_err}
local vm = fit.velocity(bins)
t.diag("master curve: v = %.2f +/- %.2f A/s, beta %.3f, h %.3f", vm.master.v_A_per_s,
  vm.master.v_err_A_per_s, vm.master.beta, vm.master.h)
t.ok(math.abs(vm.master.v_A_per_s / 100 - 1) < 0.02, "master-curve fit: speed within 2 %")

-- no flow: per bin, cosines fitted to the smooth correlated noise of a
-- finite measurement can pass the per-bin tests, but their omegas do not
-- grow with |q cos chi| (Eq. 2), so no velocity is reported
local still = speckle.simulate{geometry = geo, frames = 2000, frame_time = dt,
  velocity = 0, tau0 = 10, h = 0.5, modes = 4, mean_counts = 5, seed = 7}
local c0 = xpcs.correlator{dynamic = p}
c0:push(still)
local r0 = c0:result()
local f0 = fit.heterodyne(r0.tau * dt, r0.g2, r0.g2_err)
local nres = 0
for k = 1, #f0 do if f0[k].resolved then nres = nres + 1 end end
t.ok(nres < #f0 // 4, "v = 0: few bins pass the per-bin tests (" .. nres .. " of " .. #f0 .. ")")
bins.fits, bins.master = f0, nil
local v0 = fit.velocity(bins)
t.ok(not v0.resolved and v0.v == nil and v0.v_A_per_s == nil,
  "v = 0: no velocity is reported (" .. v0.reason .. ")")
t.ok(v.resolved and v.slope_z > 20, string.format(
  "v = 100 A/s: omega grows with |q cos chi| (slope %.0f standard errors)", v.slope_z))
t.done()
