-- the homodyne model (issue 4: "a pure homodyne stack (h = 1) fits with
-- the homodyne model"): fit.eval and fit.curve with the correlator's
-- multi-tau averaging against a brute-force average, xpcsio.homodyne on
-- a simulated h = 1 stack against the simulator's truth, and
-- scripts/xpcs-velocity.lua on an h = 1 raw file.
local t = require "ionflow.tap"

-- brute force: the correlator's delays (xpcs.delays) and their levels
-- read off its list (2 dpl delays at level 0, then dpl per level), and at
-- level l the mean of the instantaneous homodyne g2 over the summed
-- frames, triangle weights B - |d| for B = 2^l (fit.h)
local function brute(p, dpl, dt, nframes)
  local d = xpcs.delays(nframes, {dpl = dpl}):totable()
  local taus, ref = {}, {}
  for i, k in ipairs(d) do
    local B = 2 ^ (i <= 2 * dpl and 0 or (i - 2 * dpl - 1) // dpl + 1)
    local s = 0
    for dd = -(B - 1), B - 1 do
      local tau = (k + dd) * dt
      s = s + (B - math.abs(dd)) *
        (p.baseline + p.beta * math.exp(-2 * (tau / p.tau0) ^ p.gamma))
    end
    taus[i], ref[i] = k * dt, s / (B * B)
  end
  return taus, ref
end

local function maxdiff(a, b)
  local m = 0
  for i = 1, #a do m = math.max(m, math.abs(a[i] - b[i])) end
  return m
end

-- fit.eval: exact for gamma = 1 (the decay is exponential within every
-- averaging window), for the delays of every level and two dpl
local p1 = {baseline = 1.02, beta = 0.25, tau0 = 3, gamma = 1}
for _, dpl in ipairs{4, 8} do
  local taus, ref = brute(p1, dpl, 0.05, 4000)
  local y = fit.eval("homodyne", p1, taus, {frame_time = 0.05, dpl = dpl})
  local y0 = fit.eval("homodyne", p1, taus)
  t.ok(maxdiff(y, ref) < 1e-12, string.format("fit.eval homodyne, frame_time, "
    .. "dpl %d: the brute-force multi-tau average at %d delays (max diff %.1e)",
    dpl, #taus, maxdiff(y, ref)))
  t.ok(maxdiff(y0, ref) > 1e-4, string.format("  which differs from the "
    .. "instantaneous g2 (max %.1e)", maxdiff(y0, ref)))
end
-- a stretched decay is taken as locally exponential within a window: an
-- approximation, closer than no averaging (measured: 6e-5 against 3e-4)
do
  local p7 = {baseline = 1, beta = 0.25, tau0 = 3, gamma = 0.7}
  local taus, ref = brute(p7, 4, 0.05, 4000)
  local d = maxdiff(fit.eval("homodyne", p7, taus, {frame_time = 0.05}), ref)
  local d0 = maxdiff(fit.eval("homodyne", p7, taus), ref)
  t.ok(d < 1e-4 and d < d0 / 3, string.format("gamma 0.7: within %.1e of the "
    .. "brute force (%.1e without the averaging)", d, d0))
end
-- no averaging asked (frame_time 0 or none): the closed form
t.near(fit.eval("homodyne", p1, {2}, {frame_time = 0})[1],
  1.02 + 0.25 * math.exp(-2 * 2 / 3), 1e-15, "frame_time = 0: no averaging")

-- fit.curve recovers the parameters of exactly averaged data; without
-- frame_time it cannot (tau0 = 1 s with 0.05 s frames: levels of 8 and
-- 16 frames span large parts of the decay)
do
  local pt = {baseline = 1, beta = 0.3, tau0 = 1, gamma = 1}
  local taus, y = brute(pt, 4, 0.05, 2000)
  local opts = {p0 = {baseline = 1, beta = 0.2, tau0 = 2, gamma = 1.2},
    lower = {beta = 0, tau0 = 0.01, gamma = 0.2}, upper = {gamma = 3},
    fixed = {"baseline"}, frame_time = 0.05}
  local f = fit.curve("homodyne", taus, y, opts)
  for _, k in ipairs{"beta", "tau0", "gamma"} do
    t.near(f[k], pt[k], 1e-7 * pt[k], "fit.curve homodyne with frame_time: " .. k)
  end
  opts.frame_time = nil
  local f0 = fit.curve("homodyne", taus, y, opts)
  t.ok(math.abs(f0.tau0 - 1) > 1e-3 or math.abs(f0.gamma - 1) > 1e-3,
    string.format("  without it: tau0 %.4f, gamma %.4f", f0.tau0, f0.gamma))
  -- scale_errors = "up": absolute errors, scaled up only when the
  -- scatter exceeds them (exact data: chi2_red ~ 0, errors absolute)
  local sig = {}
  for i = 1, #taus do sig[i] = 1e-3 end
  opts.frame_time, opts.sigma = 0.05, sig
  local fa = fit.curve("homodyne", taus, y, opts)
  opts.scale_errors = "up"
  local fu = fit.curve("homodyne", taus, y, opts)
  opts.scale_errors = true
  local fs = fit.curve("homodyne", taus, y, opts)
  t.ok(fu.tau0_err == fa.tau0_err and fs.tau0_err < 1e-3 * fa.tau0_err,
    "scale_errors \"up\": never scaled down (true: by chi2_red ~ 0)")
  -- ... and scaled up by sqrt(chi2_red) when the scatter exceeds them
  local yn = {}
  for i = 1, #y do yn[i] = y[i] + 5e-3 * math.sin(i * 12.9898) end
  opts.scale_errors = nil
  local na = fit.curve("homodyne", taus, yn, opts)
  opts.scale_errors = "up"
  local nu = fit.curve("homodyne", taus, yn, opts)
  t.ok(na.chi2_red > 1 and math.abs(nu.tau0_err / (na.tau0_err *
    math.sqrt(na.chi2_red)) - 1) < 1e-9, string.format("scale_errors \"up\": "
    .. "scaled up by sqrt(chi2_red) = %.2f", math.sqrt(na.chi2_red)))
end

-- bad options name themselves
local pp = {1, 0.2, 1, 1}
t.errors(function() fit.eval("homodyne", pp, {1}, {frame_time = -1}) end,
  "frame_time must be positive", "fit.eval homodyne: negative frame_time")
t.errors(function() fit.eval("homodyne", pp, {1}, {frame_time = 0.1, dpl = 0}) end,
  "dpl must be an integer 1..1024", "fit.eval homodyne: dpl 0")
t.errors(function() fit.curve("homodyne", {1, 2, 3, 4, 5}, {1, 1, 1, 1, 1},
  {p0 = pp, frame_time = 0.1, dpl = 2.5}) end, "dpl must be an integer",
  "fit.curve homodyne: fractional dpl")
t.errors(function() fit.curve("homodyne", {1, 2, 3, 4, 5}, {1, 1, 1, 1, 1},
  {p0 = pp, frame_time = "x"}) end, "'frame_time' must be a number",
  "fit.curve: frame_time not a number")
t.errors(function() fit.eval("homodyne", pp, {1}, {spread = 0.1}) end,
  "spread applies to the heterodyne model only", "homodyne refuses spread")
t.errors(function() fit.eval("double_exp", {0, 1, 1, 1, 2}, {1}, {frame_time = 0.1}) end,
  "frame_time and dpl apply to the native heterodyne and homodyne",
  "double_exp refuses frame_time")
t.errors(function() fit.curve(function(p, x) return p[1] end, {1, 2}, {1, 2},
  {p0 = {1}, frame_time = 0.1}) end, "apply to the native heterodyne and homodyne",
  "a Lua model refuses frame_time")
t.errors(function() fit.curve("homodyne", {1, 2, 3, 4, 5}, {1, 1, 1, 1, 1},
  {p0 = pp, scale_errors = 2}) end, "scale_errors must be true, false or \"up\"",
  "scale_errors: a number is refused")

-- a simulated pure homodyne stack (h = 1): the flow of 100 A/s moves the
-- whole speckle field, which g2 cannot see, so nothing oscillates. The
-- static bins are the dynamic ones: with 4x finer static bins (about 9
-- pixels each) the correlator's normalisation biases this short run's
-- g2 (T = 10 tau0) by a few errors (see xpcsio.homodyne).
local X = require "ionflow.xpcsio"
local A = units.A
local N, T, dt = 64, 2000, 0.05
local geo = {energy_keV = 10, distance = 0.6, pixel = 75e-6,
  center = {x = (N - 1) / 2, y = (N - 1) / 2}, shape = {N, N}}
local popts = {q_bins = 6, phi_bins = 18, static_q_bins = 6,
  q_min = 0.004 / A, q_max = 0.02 / A}
local r, truth, _, bins = X.simulated_run(geo, popts, {frames = T,
  frame_time = dt, velocity = 100 * A, tau0 = 10, h = 1, modes = 4,
  mean_counts = 5, seed = 1})
local tau = r.tau * dt
local fits, vel = X.velocity(tau, r.g2, r.g2_err, {bins = bins, frame_time = dt})
t.ok(#fits == 108 and not vel.resolved, "h = 1: no velocity (" .. vel.reason .. ")")
local H = vel.homodyne
t.ok(H and #H.bins == 108 and #H.rings == 6,
  "velocity.homodyne: a fit per bin and a mean per ring")
local nconv = 0
for _, f in ipairs(H and H.bins or {}) do if f.converged then nconv = nconv + 1 end end
t.ok(nconv >= 100, nconv .. " of 108 bins converged")
local worst = 0
for i, R in ipairs(H and H.rings or {}) do
  local zt, zb = (R.tau0 - truth.tau0) / R.tau0_err, (R.beta - truth.beta) / R.beta_err
  local zg = (R.gamma - truth.gamma) / R.gamma_err
  t.diag("ring %d, q %.4f 1/A, %d bins: tau0 %.3f +/- %.3f s (z %.2f), "
    .. "beta %.4f +/- %.4f (z %.2f), gamma %.3f +/- %.3f (z %.2f)", i,
    R.q * A, R.nbins, R.tau0, R.tau0_err, zt, R.beta, R.beta_err, zb, R.gamma,
    R.gamma_err, zg)
  worst = math.max(worst, math.abs(zt), math.abs(zb), math.abs(zg))
  t.ok(R.nbins >= 15 and R.tau0_err > 0 and R.tau0_err < 0.1 * R.tau0 and
    R.beta_err > 0 and R.beta_err < 0.05 * R.beta, string.format(
    "ring %d: informative means (tau0 to %.1f %%, beta to %.1f %%)", i,
    100 * R.tau0_err / R.tau0, 100 * R.beta_err / R.beta))
end
t.ok(worst > 0 and worst < 3, string.format("rings' tau0, beta and gamma "
  .. "within 3 errors of the truth (tau0 %g s, beta %g, gamma %g; largest |z| %.2f)",
  truth.tau0, truth.beta, truth.gamma, worst))

-- xpcsio.homodyne directly: a bin without data gets NaN and a reason, the
-- rest go on; without errors the fits are unweighted
do
  local g = r.g2:copy()
  for i = 1, g.shape[1] do g:set(i, 5, 0 / 0) end
  local Hn = X.homodyne(tau, g, r.g2_err, {bins = bins, frame_time = dt})
  local b5 = Hn.bins[5]
  t.ok(b5.tau0 ~= b5.tau0 and b5.beta ~= b5.beta and not b5.converged and
    b5.reason:find("0 usable points", 1, true), "an empty bin: NaN and why ("
    .. b5.reason .. ")")
  t.ok(Hn.rings[1].nbins == H.rings[1].nbins - 1 and Hn.bins[6].converged and
    Hn.rings[1].tau0 > 0, "  the other bins and the ring mean go on without it")
  local Hu = X.homodyne(tau, r.g2, nil, {bins = bins, frame_time = dt})
  t.ok(Hu.bins[6].converged and Hu.bins[6].tau0 ~= H.bins[6].tau0 and
    math.abs(Hu.rings[6].tau0 / truth.tau0 - 1) < 0.1,
    string.format("without errors: unweighted fits (ring 6 tau0 %.2f s)",
      Hu.rings[6].tau0))
  local Ho = X.homodyne(tau, r.g2, r.g2_err, {bins = bins, frame_time = dt,
    pool_errors = false})
  t.ok(Ho.bins[6].tau0 ~= H.bins[6].tau0, "pool_errors = false: each bin's own errors")
  local one = X.homodyne(tau, r.g2:slice(2, 7, 7), r.g2_err:slice(2, 7, 7),
    {frame_time = dt})
  t.ok(#one.bins == 1 and #one.rings == 1 and one.rings[1].tau0 == one.bins[1].tau0,
    "one bin, no bins table: one ring")
  local Hb = X.homodyne(tau, r.g2, r.g2_err, {bins = bins, frame_time = dt,
    fit_baseline = true})
  t.ok(Hb.bins[6].baseline ~= 1 and Hb.bins[6].baseline_err > 0 and
    H.bins[6].baseline == 1 and H.bins[6].baseline_err == 0,
    string.format("fit_baseline frees the baseline (bin 6: %.4f +/- %.4f)",
      Hb.bins[6].baseline, Hb.bins[6].baseline_err))
end

-- bad input names the argument
local g2, e2 = r.g2, r.g2_err
t.errors(function() X.homodyne(tau, g2:slice(1, 1, 10), e2) end,
  "g2 must be n_tau (38) x n_bins", "homodyne: g2 of another length")
t.errors(function() X.homodyne(tau, g2, e2:slice(2, 1, 10)) end,
  "err has 10 bins, g2 108", "homodyne: err of another shape")
t.errors(function() X.homodyne(tau, g2, e2, {frame_time = -0.05}) end,
  "xpcsio.homodyne: frame_time must be positive", "homodyne: negative frame_time")
t.errors(function() X.homodyne(tau, g2, e2, {frame_time = dt, dpl = 3.5}) end,
  "xpcsio.homodyne: dpl must be an integer", "homodyne: bad dpl")
t.errors(function() X.homodyne(tau, g2, e2, {bins = {ring = {1, 2}}}) end,
  "bins.ring has 2 entries, g2 108", "homodyne: rings of another length")
t.errors(function()
  local rg = {}
  for k = 1, 108 do rg[k] = 1 end
  rg[3] = 0.5
  X.homodyne(tau, g2, e2, {bins = {ring = rg}})
end, "ring of bin 3 must be a positive integer", "homodyne: a bad ring number")
t.errors(function() X.homodyne(nil, g2, e2) end, "tau (delays, s)",
  "homodyne: tau missing")

-- scripts/xpcs-velocity.lua on an h = 1 raw file: "not resolved", then
-- the homodyne table, and the fits in the output file
do
  local root = arg[0]:match("^(.*)/tests/lua/[^/]*$") or "."
  local exe = os.getenv("IONFLOW") or arg[-1]
  local dir = t.tmpdir()
  local raw, out = dir .. "/raw.h5", dir .. "/velocity.h5"
  local frames, tr = speckle.simulate{energy_keV = 10, distance = 1,
    pixel = 75e-6, shape = {64, 64}, frames = 2000, frame_time = 0.05,
    velocity = 100 * A, tau0 = 10, h = 1, modes = 4, mean_counts = 5, seed = 5}
  X.write_raw(raw, frames, tr)
  local gr = X.geometry_from_file(raw)
  t.ok(gr.distance == tr.distance and gr.frame_time == tr.frame_time and
    gr.center_x == tr.center_x and gr.rows == 64 and gr.nframes == 2000,
    "xpcsio.write_raw: the metadata geometry_from_file reads")
  t.errors(function() X.write_raw(dir .. "/bad.h5", frames, {energy_keV = 10}) end,
    "xpcsio.write_raw: distance is required", "write_raw: a missing field named")
  frames = nil
  collectgarbage()
  local p = io.popen(string.format("cd %q && %q scripts/xpcs-velocity.lua %q "
    .. "-o %q --q-range 0.006:0.012 --q-bins 6 2>&1", root, exe, raw, out))
  local o = p:read("a")
  local ok = p:close()
  t.ok(ok and o:find("\nvelocity not resolved: [^\n]*\nthe data show no "
    .. "resolvable heterodyne oscillation: fitted with the homodyne model"),
    "xpcs-velocity on h = 1: not resolved, fitted with the homodyne model")
  if not ok then t.diag("%s", o) end
  local rows = {}
  for ring, q, t0, t0e, be, bee, ga in o:gmatch("\n%s*(%d+)%s+([%d.]+)%s+"
      .. "([%d.]+)%+/%-([%d.]+)%s+([%d.]+)%+/%-([%d.]+)%s+([%d.]+)%+/%-[%d.]+%s+%d+") do
    -- half a unit of the last printed digit: the rounding of the table
    local function half(str) local d = str:match("%.(%d+)$") return 0.5 * 10 ^ -(d and #d or 0) end
    rows[#rows + 1] = {ring = tonumber(ring), q = tonumber(q), tau0 = tonumber(t0),
      tau0_err = tonumber(t0e), beta = tonumber(be), beta_err = tonumber(bee),
      gamma = tonumber(ga), dt0 = half(t0), dt0e = half(t0e), dbe = half(be),
      dbee = half(bee)}
  end
  t.is(#rows, 6, "  a row per ring: ring, q, tau0 +/- err, beta +/- err, gamma")
  local f <close> = h5.open(out)
  local H = "/ionflow/velocity/homodyne/"
  local nb = 0
  for _, k in ipairs{"beta", "beta_err", "tau0", "tau0_err", "gamma",
                     "gamma_err", "chi2_red"} do
    if f:exists(H .. "bins/" .. k) and #f:read(H .. "bins/" .. k) == 108 then
      nb = nb + 1
    end
  end
  t.is(nb, 7, "  per bin: beta, tau0, gamma, their errors and chi2_red written")
  local same = #rows == 6
  for _, k in ipairs{"q_per_m", "tau0_s", "tau0_err_s", "beta", "beta_err"} do
    same = same and f:exists(H .. "rings/" .. k)
  end
  if same then
    local q, t0, t0e = f:read(H .. "rings/q_per_m"), f:read(H .. "rings/tau0_s"),
      f:read(H .. "rings/tau0_err_s")
    local be, bee = f:read(H .. "rings/beta"), f:read(H .. "rings/beta_err")
    for i, R in ipairs(rows) do
      same = same and R.ring == i and math.abs(q[i] * A - R.q) < 1e-6 and
        math.abs(t0[i] - R.tau0) <= R.dt0 and math.abs(t0e[i] - R.tau0_err) <= R.dt0e
        and math.abs(be[i] - R.beta) <= R.dbe and math.abs(bee[i] - R.beta_err) <= R.dbee
    end
  end
  t.ok(same, "  per ring: q_per_m, tau0_s, tau0_err_s, beta, beta_err written, "
    .. "as printed")
  t.is(f:attrs("/ionflow/velocity/result").resolved, 0, "  the result says not resolved")
end

t.done()
