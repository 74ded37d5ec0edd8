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

t.done()
