-- fits that know when they fail: the status of fit.curve, fit.heterodyne,
-- xpcsio.homodyne and fit.velocity on g2 made to be good, impossible
-- (contrast above 1), flat, noise only and with missing points
local t = require "ionflow.tap"
local X = require "ionflow.xpcsio"

-- multi-tau delays (4 per level) and a seeded Gaussian generator
local tau = {}
for k = 1, 8 do tau[#tau + 1] = k * 0.05 end
for l = 1, 9 do for k = 4, 7 do tau[#tau + 1] = k * 2 ^ l * 0.05 end end
local n = #tau
math.randomseed(11)
local function gauss()
  local u1, u2 = 1 - math.random(), math.random()
  return math.sqrt(-2 * math.log(u1)) * math.cos(2 * math.pi * u2)
end

-- g2 = 1 + beta e^{-2 tau / tau0} with noise sig (errors sig)
local function curve(beta, tau0, sig)
  local y, e = {}, {}
  for i = 1, n do
    y[i] = 1 + beta * math.exp(-2 * tau[i] / tau0) + sig * gauss()
    e[i] = sig
  end
  return y, e
end

local function hom(y, e)
  return fit.curve("homodyne", tau, y, {p0 = {baseline = 1, beta = 0.2,
    tau0 = 5, gamma = 1}, fixed = {"baseline"}, sigma = e})
end

-- a good curve: ok, and the truth within the errors
local yg, eg = curve(0.25, 10, 0.003)
local fg = hom(yg, eg)
t.is(fg.status, "ok", "good curve: fit.curve status ok")
t.ok(math.abs(fg.beta - 0.25) < 4 * fg.beta_err and
  math.abs(fg.tau0 - 10) < 4 * fg.tau0_err, string.format(
  "good curve: beta %.4f +/- %.4f, tau0 %.3f +/- %.3f", fg.beta, fg.beta_err,
  fg.tau0, fg.tau0_err))
t.ok(fg.chi2_q > 1e-3 and fg.runs_z > -4, string.format(
  "good curve: chi2 tail %.3g, runs z %.2f", fg.chi2_q, fg.runs_z))

-- contrast 1.8 cannot be: beta stops at 1, at bound
local yb, eb = curve(1.8, 10, 0.003)
local fb = hom(yb, eb)
t.ok(fb.beta <= 1 and fb.at_bound[2] and fb.status == "at bound",
  string.format("beta 1.8: held at %.3f, status %s", fb.beta, fb.status))
local hb = fit.heterodyne(tau, yb, eb)
t.ok(hb.beta <= 1 and hb.status ~= "ok", string.format(
  "beta 1.8: fit.heterodyne beta %.3f, status %s", hb.beta, hb.status))

-- a flat curve: no decay to fit, not ok
local yf, ef = curve(0, 10, 0.003)
local ff = hom(yf, ef)
t.ok(ff.status ~= "ok", "flat curve: fit.curve status " .. ff.status)
local hf = fit.heterodyne(tau, yf, ef)
t.ok(hf.status ~= "ok", "flat curve: fit.heterodyne status " .. hf.status)

-- noise only, ten times the errors: poor fit
local yn = {}
for i = 1, n do yn[i] = 1 + 0.03 * gauss() end
local fn = hom(yn, eg)
t.ok(fn.status == "poor fit" or fn.status == "at bound", string.format(
  "noise only: status %s (chi2_red %.1f)", fn.status, fn.chi2_red))
t.ok(fn.status ~= "ok" and fit.heterodyne(tau, yn, eg).status ~= "ok",
  "noise only: fit.heterodyne not ok either")

-- a model that misses the shape: a decay fitted to a damped cosine
-- leaves long runs of one sign
local yc, ec = {}, {}
for i = 1, n do
  yc[i] = 1 + 0.2 * math.cos(0.5 * tau[i]) * math.exp(-tau[i] / 20) +
    0.003 * gauss()
  ec[i] = 0.003
end
local fc = hom(yc, ec)
t.ok(fc.status == "poor fit" and fc.runs_z < -2, string.format(
  "damped cosine as a decay: poor fit (runs z %.1f, chi2_red %.0f)",
  fc.runs_z, fc.chi2_red))

-- the solver's own word is kept apart
t.ok(fg.solver == "converged" and fg.converged, "solver: converged")

-- missing data: g2 = 0 with error 0 (no photon pairs), NaN, error 0 are
-- left out by every fitter alike
local ym, em = {}, {}
for i = 1, n do ym[i], em[i] = yg[i], eg[i] end
ym[2], em[2] = 0, 0
ym[5] = 0 / 0
em[9] = 0
ym[12], em[12] = 0, 0.003
local keep_x, keep_y, keep_e = {}, {}, {}
for i = 1, n do
  if i ~= 2 and i ~= 5 and i ~= 9 and i ~= 12 then
    keep_x[#keep_x + 1], keep_y[#keep_y + 1], keep_e[#keep_e + 1] = tau[i], ym[i], em[i]
  end
end
local fm = hom(ym, em)
local fk = fit.curve("homodyne", keep_x, keep_y, {p0 = {baseline = 1,
  beta = 0.2, tau0 = 5, gamma = 1}, fixed = {"baseline"}, sigma = keep_e})
t.ok(fm.n == n - 4 and fm.beta == fk.beta and fm.tau0 == fk.tau0,
  string.format("fit.curve: 4 missing points left out (%d used), the same "
  .. "fit as without them", fm.n))
local hm = fit.heterodyne(tau, ym, em)
t.is(hm.n, n - 4, "fit.heterodyne: the same 4 points left out")
local Hm = X.homodyne(tau, ym, em, {pool_errors = false})
t.is(Hm.bins[1].n, n - 4, "xpcsio.homodyne: the same 4 points left out")
t.ok(fit.missing(1, 0, 0) and fit.missing(1, 0 / 0) and fit.missing(1, 1.2, 0)
  and fit.missing(0, 1.2) and not fit.missing(1, 1.2, 0.01) and
  not fit.missing(1, 1.2), "fit.missing: the rule")

-- the global (shared) fit leaves them out alike: g2 = 0 and NaN give
-- the same fit, with and without errors
do
  local P = {baseline = 1, beta = 0.2, h = 0.4, tau0 = 10, gamma = 1}
  local function table3(missing)
    local rows, erows = {}, {}
    for i = 1, n do rows[i], erows[i] = {}, {} end
    for k = 1, 3 do
      P.omega = 0.5 * k
      local y = fit.eval("heterodyne", P, tau)
      for i = 1, n do
        rows[i][k] = y[i] + 0.002 * gauss()
        erows[i][k] = 0.002
      end
    end
    rows[6][2] = missing
    erows[6][2] = missing == missing and 0 or 0.002
    return array.from(rows), array.from(erows)
  end
  math.randomseed(3)
  local G0, E0 = table3(0)
  math.randomseed(3)
  local Gn, En = table3(0 / 0)
  local opts = {global = {share = {"beta", "h", "gamma"}}}
  local a, b = fit.heterodyne(tau, G0, E0, opts), fit.heterodyne(tau, Gn, En, opts)
  local c, d = fit.heterodyne(tau, G0, nil, opts), fit.heterodyne(tau, Gn, nil, opts)
  t.ok(a[2].n == n - 1 and a[2].tau0 == b[2].tau0 and a.chi2_red == b.chi2_red,
    string.format("global fit: g2 = 0 (error 0) left out as NaN (%d points)", a[2].n))
  t.ok(c[2].n == n - 1 and c[2].tau0 == d[2].tau0 and c.chi2_red == d.chi2_red,
    "global fit without errors: g2 = 0 left out as NaN")
end

-- too few points: no data
local ys, es = {}, {}
for i = 1, n do ys[i], es[i] = i <= 6 and yg[i] or 0, i <= 6 and eg[i] or 0 end
local Hs = X.homodyne(tau, ys, es, {pool_errors = false})
t.is(Hs.bins[1].status, "no data", "xpcsio.homodyne: 6 points are no data")
local ys2, es2 = {}, {}
for i = 1, n do ys2[i], es2[i] = {ys[i], ys[i]}, {es[i], es[i]} end
local hs = fit.heterodyne(tau, array.from(ys2), array.from(es2))
t.ok(hs[1].status == "no data" and hs[1].beta ~= hs[1].beta,
  "fit.heterodyne: 6 points are no data, NaN")

-- ring means over ok bins only: three bins of one ring, one impossible
local rows, erows = {}, {}
local y2, e2 = curve(0.25, 10, 0.003)
for i = 1, n do
  rows[i] = {yg[i], y2[i], yb[i]}
  erows[i] = {eg[i], e2[i], eb[i]}
end
local H = X.homodyne(tau, rows, erows, {bins = {ring = {1, 1, 1}},
  pool_errors = false})
local R = H.rings[1]
t.ok(H.bins[1].status == "ok" and H.bins[2].status == "ok" and
  H.bins[3].status == "at bound", "homodyne bins: ok, ok, at bound ("
  .. H.bins[3].status .. ")")
t.ok(R.nbins == 2 and R.status == "ok" and math.abs(R.beta - 0.25) <
  4 * R.beta_err, string.format("ring mean over the 2 ok bins: beta "
  .. "%.4f +/- %.4f", R.beta, R.beta_err))
local rb = {}
for i = 1, n do rb[i] = {yb[i]} end
local Hb = X.homodyne(tau, rb, nil, {bins = {ring = {1}}})
t.ok(Hb.rings[1].status ~= "ok" and Hb.rings[1].nbins == 0 and
  Hb.rings[1].beta ~= Hb.rings[1].beta, "a ring without an ok bin: "
  .. Hb.rings[1].status .. ", no number")

-- fit.velocity uses only ok bins: a bin's status takes it out
local fits, q, phi, ring = {}, {}, {}, {}
for k = 1, 36 do
  phi[k], q[k], ring[k] = (k - 1) * 10 + 5, 1e8, 1
  local om = 1e-8 * math.abs(q[k] * math.cos(math.rad(phi[k])))
  fits[k] = {omega = om, omega_err = 1e-3 * om, resolved = true,
    baseline = 1, beta = 0.2, h = 0.5, tau0 = 10, gamma = 1}
end
local v1 = fit.velocity{fits = fits, q = q, phi_deg = phi, ring = ring}
fits[1].status, fits[2].status = "poor fit", "at bound"
local v2 = fit.velocity{fits = fits, q = q, phi_deg = phi, ring = ring}
t.ok(v1.resolved and v2.resolved and v2.nused == v1.nused - 2 and
  v2.rings[1].status == "ok", string.format("fit.velocity: %d bins, %d "
  .. "without the two not ok", v1.nused, v2.nused))
fits[3].status = "fine"
t.errors(function() fit.velocity{fits = fits, q = q, phi_deg = phi,
  ring = ring} end, "status must be", "an unknown status is refused")

-- printed values keep their digits: a fast tau0 is not 0.000+/-0.000
t.is(X.plusminus(2.3e-5, 4.1e-7), "2.300e-05+/-4.1e-07", "plusminus: microseconds")
t.is(X.plusminus(10.123, 0.51), "10.12+/-0.51", "plusminus: two digits of the error")
t.is(X.plusminus(0.2543, 0.0074), "0.2543+/-0.0074", "plusminus: contrast")
t.is(X.plusminus(0.0042, 0.00013), "0.00420+/-0.00013", "plusminus: milliseconds")
t.is(X.plusminus(5, 0 / 0), "5+/-" .. tostring(0 / 0), "plusminus: no error")

t.done()
