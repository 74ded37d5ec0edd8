-- fit.lsq and fit.profile: least squares over any residual function, with
-- covariance, bounds, fixed/free parameters and finite differences owned
-- by the fit core; checked against the normal equations of a straight line
local t = require "ionflow.tap"

-- a straight line with stated errors: the closed form of weighted linear
-- least squares (normal equations, solved by hand) is the reference
local xs, ys, sg = {}, {}, {}
for i = 1, 12 do
  xs[i] = i - 1
  sg[i] = 0.1 + 0.02 * i
  ys[i] = 1.5 - 0.4 * xs[i] + ((i * 7919) % 13 - 6) * 0.03   -- fixed scatter
end
local function resid(p)
  local r = {}
  for i = 1, #xs do r[i] = (p[1] + p[2] * xs[i] - ys[i]) / sg[i] end
  return r
end
local S, Sx, Sxx, Sy, Sxy = 0, 0, 0, 0, 0
for i = 1, #xs do
  local w = 1 / sg[i] ^ 2
  S, Sx, Sxx = S + w, Sx + w * xs[i], Sxx + w * xs[i] ^ 2
  Sy, Sxy = Sy + w * ys[i], Sxy + w * xs[i] * ys[i]
end
local det = S * Sxx - Sx * Sx
local a, b = (Sxx * Sy - Sx * Sxy) / det, (S * Sxy - Sx * Sy) / det
local va, vb, cab = Sxx / det, S / det, -Sx / det
local chi2 = 0
for _, r in ipairs(resid{a, b}) do chi2 = chi2 + r * r end

local f = fit.lsq{f = resid, p0 = {0, 0}, names = {"a", "b"}}
t.near(f.a, a, 1e-9, "fit.lsq: intercept as the normal equations")
t.near(f.b, b, 1e-9, "fit.lsq: slope as the normal equations")
t.near(f.err[1], math.sqrt(va), 1e-6 * math.sqrt(va), "fit.lsq: error of a = sqrt((J^T J)^-1)")
t.near(f.err[2], math.sqrt(vb), 1e-6 * math.sqrt(vb), "fit.lsq: error of b")
t.near(f.cov[1][2], cab, 1e-6 * math.abs(cab), "fit.lsq: covariance of a and b")
t.near(f.corr[1][2], cab / math.sqrt(va * vb), 1e-6, "fit.lsq: correlation of a and b")
t.near(f.corr[2][2], 1, 0, "fit.lsq: correlation diagonal is 1")
t.near(f.chi2, chi2, 1e-9 * chi2, "fit.lsq: chi2 at the solution")
t.is(f.dof, 10, "fit.lsq: 12 residuals, 2 free parameters")
t.is(f.n, 12, "fit.lsq: n residuals")

-- errors scaled by the reduced chi-square when asked
local fs = fit.lsq{f = resid, p0 = {0, 0}, scale_errors = true}
t.near(fs.err[2], math.sqrt(vb * chi2 / 10), 1e-6 * math.sqrt(vb), "scale_errors: times sqrt(chi2_red)")

-- "up": scaled only when chi2/dof exceeds 1 (regression: without weights
-- the core scaled by chi2/dof below 1 too, shrinking the errors)
local small = fit.lsq{f = function(p)
  local r = resid(p)
  for i = 1, #r do r[i] = r[i] / 10 end
  return r
end, p0 = {0, 0}, scale_errors = "up"}
t.near(small.err[2], 10 * math.sqrt(vb), 1e-5 * math.sqrt(vb), "scale_errors up: not scaled below chi2/dof 1")
local big = fit.lsq{f = function(p)
  local r = resid(p)
  for i = 1, #r do r[i] = r[i] * 10 end
  return r
end, p0 = {0, 0}, scale_errors = "up"}
t.near(big.err[2], math.sqrt(vb * chi2 / 10), 1e-5 * math.sqrt(vb), "scale_errors up: scaled above 1")

-- forward differences with a large step: exact for a linear model
local ff = fit.lsq{f = resid, p0 = {0, 0}, forward = true, step = {0.5, 0.5}}
t.near(ff.p[2], b, 1e-9, "forward differences with a large step: same slope")
t.near(ff.err[2], math.sqrt(vb), 1e-6 * math.sqrt(vb), "and the same error")

-- a fixed parameter: the one-parameter closed form
local fx = fit.lsq{f = resid, p0 = {1.0, 0}, names = {"a", "b"}, free = {"b"}}
t.near(fx.a, 1.0, 0, "free = {'b'}: a stays at p0")
t.near(fx.b, (Sxy - 1.0 * Sx) / Sxx, 1e-9, "free = {'b'}: slope with a fixed")
t.near(fx.err[2], math.sqrt(1 / Sxx), 1e-6 / math.sqrt(Sxx), "and its error 1/sqrt(Sxx)")
t.ok(fx.err[1] == 0 and fx.free[1] == false and fx.free[2] == true, "the fixed one: error 0, free false")
local fx2 = fit.lsq{f = resid, p0 = {1.0, 0}, free = {false, true}}
t.near(fx2.p[2], fx.b, 1e-12, "free as a list of booleans")

-- bounds: the slope held at its upper bound
local fb = fit.lsq{f = resid, p0 = {0, -0.6}, names = {"a", "b"}, bounds = {b = {-1, -0.5}}}
t.ok(fb.b <= -0.5 and fb.b > -0.5 - 1e-6 and fb.at_bound[2], "bounds: slope at its upper bound, flagged")
t.ok(fb.b >= -1, "bounds: inside")

-- a bound at zero that the data push against is flagged (regression:
-- |p - lo| <= 1e-7 |p| never held near a zero bound)
local fz = fit.lsq{f = function(p) return {(p[1] + 0.3) / 0.1, (p[1] + 0.2) / 0.1} end,
  p0 = {0.005}, bounds = {{0, 0.2}}, forward = true, step = {1e-4}}
t.ok(fz.p[1] >= 0 and fz.p[1] < 1e-6, "zero bound: the parameter ends at 0")
t.ok(fz.at_bound[1], "zero bound: flagged at its bound")

-- NaN residuals at a trial point (a model that cannot run there): the
-- step is rejected and the fit goes on (jointfit relies on it)
local nan_calls = 0
local fn = fit.lsq{f = function(p)
  if p[1] > 1 then nan_calls = nan_calls + 1; return {0 / 0, 0 / 0} end
  return {(p[1] ^ 3 - 0.9) / 0.01, (p[1] ^ 3 - 0.95) / 0.01}
end, p0 = {0.1}}
t.near(fn.p[1], 0.925 ^ (1 / 3), 1e-6, "NaN at trial points: the fit converges next to them")
t.ok(nan_calls > 0, string.format("the NaN region was visited (%d calls)", nan_calls))

-- profile likelihood of a linear problem: chi2(b) = chi2_min + (b - b^)^2 / var(b)
local vals = {b - 2 * math.sqrt(vb), b, b + 1.5 * math.sqrt(vb)}
local pr = fit.profile{f = resid, p0 = {0, b}, param = 2, values = vals}
t.near(pr.chi2[1] - chi2, 4, 1e-6, "profile: chi2 rises by 4 at 2 sigma")
t.near(pr.chi2[2], chi2, 1e-6 * chi2, "profile: the minimum at the fitted value")
t.near(pr.chi2[3] - chi2, 2.25, 1e-6, "profile: by 2.25 at 1.5 sigma")
t.near(pr.p[1][2], vals[1], 0, "profile: the scanned parameter held")
t.near(pr.p[1][1], (Sy - vals[1] * Sx) / S, 1e-9, "profile: the others refitted")
local prn = fit.profile{f = resid, p0 = {0, b}, names = {"a", "b"}, param = "b", values = vals}
t.near(prn.chi2[3], pr.chi2[3], 1e-9, "profile: the parameter by name")

-- a nonlinear problem: an exponential decay
local ex = {}
for i = 1, 20 do ex[i] = 3 * math.exp(-(i - 1) / 4) end
local fe = fit.lsq{f = function(p)
  local r = {}
  for i = 1, 20 do r[i] = p[1] * math.exp(-(i - 1) / p[2]) - ex[i] end
  return r
end, p0 = {1, 1}, lower = {0, 0.1}}
t.near(fe.p[1], 3, 1e-7, "nonlinear: amplitude")
t.near(fe.p[2], 4, 1e-7, "nonlinear: decay")
t.is(fe.status, "ok", "nonlinear: status ok")
t.is(fe.solver, "converged", "nonlinear: the solver converged")

-- least squares over model runs: recover D from a model-made profile
do
  local base = {L = 1e-3, c0 = 1000, I = 1, tp = 0.3, kappa = 0.05, V_salt = 0,
                times = {2e4}, positions = {0, 0.25e-3, 0.5e-3, 0.75e-3, 1e-3}, N = 40}
  local function profile(D)
    base.D = D
    local r = cell.run(base)
    local out = {}
    for m = 1, 5 do out[m] = r.c:get(1, m) end
    return out
  end
  local target = profile(1.3e-11)
  local fit = fit.lsq{f = function(p)
    local c, res = profile(p[1] * 1e-11), {}
    for m = 1, 5 do res[m] = c[m] - target[m] end
    return res
  end, p0 = {1.0}, lower = {0.1}, upper = {10}, names = {"D"}, step = {1e-3}, forward = true}
  t.near(fit.p[1], 1.3, 1e-4, "fit.lsq recovers D from a model profile")
  t.is(fit.status, "ok", "over model runs: status ok")
  t.is(fit.solver, "converged", "over model runs: the solver converged")
end

-- bad input names itself
t.errors(function() fit.lsq{f = function() error("bad model") end, p0 = {1}} end,
  "bad model", "the residual function's error")
local calls = 0
t.errors(function() fit.lsq{f = function(p)
  calls = calls + 1
  return calls == 1 and {1, 2, 3} or {1, 2}
end, p0 = {1}} end, "returned 3 values, then 2", "a changing number of residuals")
t.errors(function() fit.lsq{f = resid} end, "p0", "p0 required")
t.errors(function() fit.lsq{p0 = {1}} end, "f must be a function", "f required")
t.errors(function() fit.lsq{f = resid, p0 = {0, 0}, free = {"c"}} end, "no parameter c",
  "free names an unknown parameter")
t.errors(function() fit.lsq{f = resid, p0 = {0, 0}, bounds = {{1, 0}}} end, "bounds",
  "empty bounds")
t.errors(function() fit.profile{f = resid, p0 = {0, 0}, param = 3, values = {1}} end,
  "param", "profile of a parameter that does not exist")
t.errors(function() fit.lsq{f = function() return {} end, p0 = {1}} end,
  "non-empty", "no residuals")

t.done()
