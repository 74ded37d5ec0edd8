-- ionflow.velocity: flow velocities from correlated g2, on top of the
-- native `fit` module (paper Eqs. 1 and 2): the bins' q moments, Eq. 1
-- fits of every bin and the velocity with its error (velocity), v(t)
-- from the windows of a run (velocity_vs_time), homodyne fits when no
-- oscillation is resolved (homodyne), and a simulated run for tests.
--
--   local V = require "ionflow.velocity"
--   local bins = V.bin_moments(qm.dynamic, qm.maps, nil, qm.static)
--   local v = V.velocity(res.tau * dt, res.g2, res.g2_err,
--                        {bins = bins, frame_time = dt})
--
-- ionflow.xpcsio (files and correlation runs) re-exports these functions.
local X = require "ionflow.xpcsio"

local M = {}

-- per bin of partition p: mean |q|, the means of the in-plane components
-- qx, qy (1/m, so that <q cos chi> is the bin's mean and not its
-- centre's) and of their products qxx, qyy, qxy (1/m^2, the within-bin
-- spread of q cos chi), and the ring of each bin (nphi sectors per ring);
-- the fields fit.velocity takes. With the static partition st the g2 was
-- correlated with, a bin's moments are the plain means over its static
-- bins of their pixel means, as its g2 is the plain mean of theirs: a
-- mean over pixels weights the outer static rings (more pixels) more than
-- the g2 does, and made speeds up to 0.5 % low.
function M.bin_moments(p, maps, nphi, st)
  nphi = nphi or (p.nphi > 0 and p.nphi or 1)
  local qx, qy = maps.q * maps.ux, maps.q * maps.uy
  local mean = function(x) return p:bin_mean(x) end
  if st and st.nbins ~= p.nbins then
    -- static bins nest in dynamic ones (an error names one that does not)
    local s2d = st:nest(p):totable()
    mean = function(x)
      local sm, sum, n = st:bin_mean(x):totable(), {}, {}
      for d = 1, p.nbins do sum[d], n[d] = 0, 0 end
      for k, d in ipairs(s2d) do
        if d >= 1 and sm[k] == sm[k] then
          sum[d], n[d] = sum[d] + sm[k], n[d] + 1
        end
      end
      for d = 1, p.nbins do sum[d] = n[d] > 0 and sum[d] / n[d] or 0 / 0 end
      return array.from(sum)
    end
  end
  local ring = {}
  for b = 1, p.nbins do ring[b] = (b - 1) // nphi + 1 end
  return {q = st and mean(maps.q) or p.q_mean, qx = mean(qx), qy = mean(qy),
    qxx = mean(qx * qx), qyy = mean(qy * qy), qxy = mean(qx * qy),
    ring = ring, nphi = nphi, nq = (p.nbins + nphi - 1) // nphi,
    pixels = {bin = p.map:astype("f64"), qx = qx, qy = qy,
      w = st and M.static_weights(st) or nil}}
end

-- The bins of a result file (read_result's r) as the fits take them
-- (bin_moments' fields): the in-plane moments from pixel maps of the
-- qmap's own geometry and roi maps (the static map too, when it nests in
-- the dynamic one), or, without them, from each bin's q and phi alone (no
-- spread within a bin). Either way q is the file's: the qmap's q of each
-- bin (r.bins.q), which the pixel-mean q of the same geometry matches to
-- the bins' width. Also phi (deg) per bin and source: "pixels" or "grid".
function M.result_bins(r)
  local rb, nb = r.bins, r.g2.shape[2]
  local g, map = r.qmap_geometry, r.dynamic_roi_map
  local b
  if g and map and map.ndim == 2 then
    local maps = xpcs.maps(xpcs.geometry{energy_keV = g.energy_keV,
      distance = g.distance, pixel = g.pixel,
      center = {x = g.center_x, y = g.center_y}, shape = g.shape})
    local p = xpcs.partition{map = map, q = maps.q, phi = maps.phi, nbins = nb}
    local st = r.static_roi_map and xpcs.partition{map = r.static_roi_map,
      q = maps.q, phi = maps.phi}
    local ok, mo = pcall(M.bin_moments, p, maps, rb.nphi, st or nil)
    b = ok and mo or M.bin_moments(p, maps, rb.nphi)
    b.source = "pixels"
  else
    b = {qx = {}, qy = {}, qxx = {}, qyy = {}, qxy = {}, source = "grid"}
    for k = 1, nb do
      local a = math.rad(rb.phi[k])
      local qx, qy = rb.q[k] * math.cos(a), rb.q[k] * math.sin(a)
      b.qx[k], b.qy[k] = qx, qy
      b.qxx[k], b.qyy[k], b.qxy[k] = qx * qx, qy * qy, qx * qy
    end
    for _, k in ipairs{"qx", "qy", "qxx", "qyy", "qxy"} do
      b[k] = array.from(b[k])
    end
  end
  b.q = array.from(rb.q)
  b.phi = array.from(rb.phi)
  b.ring, b.nq, b.nphi = rb.ring, rb.nq, rb.nphi
  return b
end

-- a simulated heterodyne experiment, correlated: the geometry table geo
-- (as xpcs.geometry takes it), partition options popts (as partitions)
-- and simulator options sopts (speckle.simulate's without geometry).
-- Returns the correlator's result, the simulator's truth, the partitions
-- and the bins' moments (with the static partition), ready for
-- M.velocity(r.tau * dt, r.g2, r.g2_err, {bins = bins, frame_time = dt}).
-- For tests, benchmarks and exercises.
function M.simulated_run(geo, popts, sopts)
  local qm = X.partitions(xpcs.geometry(geo), popts)
  local bins = M.bin_moments(qm.dynamic, qm.maps, nil, qm.static)
  local so = {geometry = geo}
  for k, v in pairs(sopts) do so[k] = v end
  local frames, truth = speckle.simulate(so)
  local c = xpcs.correlator{dynamic = qm.dynamic, static = qm.static,
    progress = false}
  c:push(frames)
  local r = c:result()
  c:close()
  return r, truth, qm, bins
end

-- each pixel's weight in its bin's g2 with the static partition st: the
-- g2 is the plain mean over the static bins, so a pixel weighs 1 / the
-- pixels of its static bin (0 outside every static bin)
function M.static_weights(st)
  local n = 1
  for _, d in ipairs(st.map.shape) do n = n * d end
  local map, cnt, w = st.map:reshape{n}:totable(), st.count:totable(), {}
  for i = 1, n do
    local s = map[i]
    w[i] = (s >= 1 and (cnt[s] or 0) > 0) and 1 / cnt[s] or 0
  end
  return array.from(w):reshape(st.map.shape)
end

-- the relative spread of omega in each bin, sd(q cos chi) / |<q cos chi>|
-- along the flow (fit.heterodyne's spread option), from bin_moments;
-- bins without a projection get 0, wide ones at most 9
function M.bin_spread(b, flow_angle_deg)
  local a = math.rad(flow_angle_deg or 0)
  local ca, sa = math.cos(a), math.sin(a)
  local out = {}
  for k = 1, #b.q do
    local qx, qy = b.qx[k], b.qy[k]
    local m1 = math.abs(qx * ca + qy * sa)
    local var = ca * ca * (b.qxx[k] - qx * qx) + sa * sa * (b.qyy[k] - qy * qy)
      + 2 * ca * sa * (b.qxy[k] - qx * qy)
    out[k] = (m1 > 0 and var == var) and
      math.min(math.sqrt(math.max(var, 0)) / m1, 9) or 0
  end
  return out
end

-- ---- homodyne fits ----
-- With no resolved heterodyne oscillation (h = 1, or v = 0) the g2 is
-- fitted with the homodyne model, baseline + beta e^{-2 (tau/tau0)^gamma}
-- (fit.curve's "homodyne": Eq. 1 with h = 1), with the correlator's
-- multi-tau averaging when frame_time is given.

local HOM_MIN_POINTS = 8   -- as fit.heterodyne: fewer cannot judge a fit
local HOM_NAMES = {"baseline", "beta", "tau0", "gamma"}

-- rows of an n_tau x n_bins array or nested table (a vector: one bin)
local function hom_rows(a, n, what)
  if a == nil then return nil, 1 end
  if not array.isarray(a) then
    local ok, arr = pcall(array.from, a)
    if not ok then
      error(string.format("xpcsio.homodyne: %s must be an array or a "
        .. "table of numbers", what), 3)
    end
    a = arr
  end
  if a.ndim > 2 or a.shape[1] ~= n then
    error(string.format("xpcsio.homodyne: %s must be n_tau (%d) x n_bins "
      .. "(got %s)", what, n, table.concat(a.shape, " x ")), 3)
  end
  local t = a:totable()
  if a.ndim == 1 then
    for i = 1, n do t[i] = {t[i]} end
  end
  return t, a.ndim == 2 and a.shape[2] or 1
end

-- bin k's usable points in delay order: not missing data by the rule of
-- every g2 fitter (fit.missing: tau > 0, g2 finite and not 0, error
-- finite and > 0)
local function hom_points(tau, g2, err, k)
  local x, y, e = {}, {}, err and {} or nil
  for i = 1, #tau do
    local t, g, s = tau[i], g2[i][k], err and err[i][k]
    if not fit.missing(t, g, s) then
      x[#x + 1], y[#y + 1] = t, g
      if e then e[#e + 1] = s end
    end
  end
  return x, y, e
end

-- the weights of the fits when o.pool_errors is not false: per ring and
-- delay the geometric mean of the ring's bins' errors, the same for every
-- bin of the ring (where its own error is usable; elsewhere NaN, as its
-- own). A bin's own error at a delay comes from the same pixels as its g2
-- there and fluctuates with it, so weighting by it pulls the fit towards
-- low values (the master fit's het_pool_errors says the same): on
-- simulated h = 1 stacks (64 x 64 px, 2000 frames, T = 10 tau0, 4 seeds)
-- the rings' tau0 and beta came out 1.7 and 1.1 % low with the own
-- errors (z rms 1.47), 0.3 and 0.4 % high with the pooled ones (1.21).
local function hom_pool(g2, err, ring)
  local sum, cnt, out = {}, {}, {}
  local function usable(i, k)
    return not fit.missing(1, g2[i][k], err[i][k])
  end
  for i = 1, #err do
    sum[i], cnt[i] = {}, {}
    for k = 1, #err[i] do
      if usable(i, k) then
        local r = ring[k]
        sum[i][r] = (sum[i][r] or 0) + math.log(err[i][k])
        cnt[i][r] = (cnt[i][r] or 0) + 1
      end
    end
  end
  for i = 1, #err do
    out[i] = {}
    for k = 1, #err[i] do
      local r = ring[k]
      out[i][k] = usable(i, k) and math.exp(sum[i][r] / cnt[i][r]) or 0 / 0
    end
  end
  return out
end

-- deterministic starts: beta from the first delays' g2 - baseline, tau0
-- where g2 - baseline first falls to beta e^-2 (the geometric mean of
-- the delays around it; the longest delay if it never does), gamma 1
local function hom_start(x, y, b)
  local m = math.min(3, #y)
  local beta = 0
  for i = 1, m do beta = beta + (y[i] - b) / m end
  beta = math.max(beta, 1e-4)
  local tau0 = x[#x]
  for i = 1, #x do
    if y[i] - b <= beta * math.exp(-2) then
      tau0 = i > 1 and math.sqrt(x[i - 1] * x[i]) or x[1]
      break
    end
  end
  return {baseline = b, beta = beta, tau0 = tau0, gamma = 1}
end

-- lag-1 correlation of the weighted residuals in delay order, within
-- [0, 0.98]: multi-tau noise is smooth across delays, so n points count
-- as n (1 - rho) / (1 + rho) (fit.heterodyne inflates its errors alike)
local function hom_rho(f, x, y, e, mo)
  local ym = fit.eval("homodyne", f, x, mo)
  local num, den, prev = 0, 0, nil
  for i = 1, #x do
    local r = (ym[i] - y[i]) / (e and e[i] or 1)
    den = den + r * r
    if prev then num = num + r * prev end
    prev = r
  end
  local rho = den > 0 and num / den or 0
  return math.min(math.max(rho, 0), 0.98)
end

local function hom_failed(reason, n, status)
  local r = {converged = false, reason = reason, n = n, chi2_red = 0 / 0,
    rho = 0 / 0, status = status}
  for _, k in ipairs(HOM_NAMES) do r[k], r[k .. "_err"] = 0 / 0, 0 / 0 end
  return r
end

-- the status of a finished fit (fit.curve's) and why it is not to be
-- used, or nil
local function hom_judge(f)
  if f.status == "ok" then return "ok", nil end
  if f.status == "not converged" then
    return f.status, "not converged: " .. f.solver
  end
  for j, k in ipairs(HOM_NAMES) do
    if f.status == "at bound" and f.at_bound[j] then
      return f.status, k .. " at a bound of its range"
    end
    local s = f[k .. "_err"]
    if f.status == "poor fit" and f[k] and s ~= nil and s ~= 0 and
        not (s > 0 and s < math.huge) then
      return f.status, k .. " has no finite error"
    end
  end
  return f.status, string.format("%s: chi2_red %.3g, residual runs z %.1f",
    f.status, f.chi2_red, f.runs_z or 0 / 0)
end

-- one bin: the fit of its usable points, errors as fit.heterodyne's
-- (absolute with g2 errors, scaled up by chi2_red > 1 only, and by the
-- residuals' lag-1 correlation)
local function hom_fit(x, y, e, o)
  if #x < HOM_MIN_POINTS then
    return hom_failed(string.format("%d usable points (tau > 0, g2 finite "
      .. "and not 0, error > 0); %d needed", #x, HOM_MIN_POINTS), #x, "no data")
  end
  local fb = o.fit_baseline and true or false
  local mo = {frame_time = o.frame_time, dpl = o.dpl}
  local p0 = hom_start(x, y, 1)
  -- tau0 within what the delays can tell (as fit.heterodyne's bounds)
  local tlo, thi = x[1] / 20, 1000 * x[#x]
  p0.tau0 = math.min(math.max(p0.tau0, tlo), thi)
  p0.beta = math.min(p0.beta, 1)   -- contrast <= 1 (fit.curve's bound)
  local ok, f = pcall(fit.curve, "homodyne", x, y, {p0 = p0,
    lower = {baseline = 0.5, beta = 0, tau0 = tlo, gamma = 0.2},
    upper = {baseline = 1.5, beta = 1, tau0 = thi, gamma = 3},
    fixed = {baseline = not fb}, sigma = e, scale_errors = "up",
    frame_time = o.frame_time, dpl = o.dpl})
  if not ok then
    return hom_failed("fit failed: " .. tostring(f):gsub("^.-fit%.curve: ", ""),
      #x, "not converged")
  end
  local rho = hom_rho(f, x, y, e, mo)
  local r = {n = #x, chi2_red = f.chi2_red, rho = rho, solver = f.solver,
    chi2_q = f.chi2_q, runs_z = f.runs_z}
  local infl = math.sqrt((1 + rho) / (1 - rho))
  for _, k in ipairs(HOM_NAMES) do
    r[k], r[k .. "_err"] = f[k], f[k .. "_err"] * infl
  end
  local status, why = hom_judge(f)
  r.status, r.converged, r.reason = status, f.converged, why or "ok"
  return r
end

-- the weighted mean of field k over the fits, weighted by their relative
-- precision (value / error)^2, its error scaled up by the scatter between
-- them when that exceeds their errors (never down). A bin's tau0 error
-- grows with its tau0 (relative errors about alike), so 1 / error^2
-- would favour the bins whose tau0 came out short: in the runs above
-- (bins scattering ~20 %) it made the rings' tau0 4 % low (z rms 1.55).
local function hom_mean(fits, k)
  local sw, swx, sww = 0, 0, 0
  for _, f in ipairs(fits) do
    local s = f[k .. "_err"]
    local w = (f[k] / s) ^ 2
    sw, swx, sww = sw + w, swx + w * f[k], sww + (w * s) ^ 2
  end
  local m, chi2 = swx / sw, 0
  for _, f in ipairs(fits) do chi2 = chi2 + ((f[k] - m) / f[k .. "_err"]) ^ 2 end
  local scale = #fits > 1 and math.max(1, chi2 / (#fits - 1)) or 1
  return m, math.sqrt(scale * sww) / sw
end

-- the status of a ring without ok bins: no data when none of its bins
-- has any, else its bins' most frequent status (ties: the first in
-- "not converged", "at bound", "poor fit")
local function hom_ring_status(count)
  local best, n = "no data", 0
  for _, s in ipairs{"not converged", "at bound", "poor fit"} do
    if (count[s] or 0) > n then best, n = s, count[s] end
  end
  return best
end

-- per ring: the weighted means of tau0, beta and gamma over its bins of
-- status ok, and the mean q of those bins; the ring's status is ok when
-- it has one, else hom_ring_status
local function hom_rings(bins, ring, q)
  local by, nr = {}, 0
  for k, f in ipairs(bins) do
    local r = ring and ring[k] or 1
    nr = math.max(nr, r)
    by[r] = by[r] or {fits = {}, q = {}, count = {}}
    local t = by[r]
    t.count[f.status] = (t.count[f.status] or 0) + 1
    if f.status == "ok" then
      t.fits[#t.fits + 1] = f
      t.q[#t.q + 1] = q and q[k] or 0 / 0
    end
  end
  local rings = {}
  for r = 1, nr do
    local t = by[r] or {fits = {}, q = {}, count = {}}
    local R = {ring = r, nbins = #t.fits}
    if #t.fits == 0 then
      R.status = hom_ring_status(t.count)
      R.reason = "no bin fitted ok (" .. R.status .. ")"
      for _, k in ipairs{"q", "tau0", "tau0_err", "beta", "beta_err",
                         "gamma", "gamma_err"} do R[k] = 0 / 0 end
    else
      local sq = 0
      for _, v in ipairs(t.q) do sq = sq + v end
      R.q, R.status, R.reason = sq / #t.q, "ok", "ok"
      for _, k in ipairs{"tau0", "beta", "gamma"} do
        R[k], R[k .. "_err"] = hom_mean(t.fits, k)
      end
    end
    rings[r] = R
  end
  return rings
end

-- homodyne fits of one g2 table (n_tau x n_bins as the correlator gives
-- it, tau in s; err of the same shape or nil): per bin baseline + beta
-- e^{-2 (tau/tau0)^gamma}, the baseline fixed at 1 unless o.fit_baseline,
-- with the multi-tau averaging of o.frame_time (s between correlated
-- frames) and o.dpl; per ring of o.bins (bin_moments; none: one ring)
-- the weighted means of tau0, beta and gamma over its bins of status ok
-- (fit.curve's status: ok, at bound, poor fit, no data, not converged).
-- Returns {bins = {per-bin fits}, rings = {per-ring means}}; a bin that
-- cannot be fitted gets NaN and its reason, not an error.
-- The g2 itself is biased by the correlator's symmetric normalisation
-- by static-bin means (an offset of order -beta tau0 / (T n) for static
-- bins of n pixels over a run of T; see fit.velocity's master tau_max):
-- with simulated_run's default static partition (about 9 pixels per
-- static bin on 64 x 64 px) at T = 10 tau0 the rings' tau0 came out 5 %
-- low (z rms 2.1), with the static bins equal to the dynamic ones
-- 0.3 % high (z rms 1.2).
function M.homodyne(tau, g2, err, o)
  o = o or {}
  if array.isarray(tau) then tau = tau:totable() end
  if type(tau) ~= "table" then
    error("xpcsio.homodyne: tau (delays, s) must be an array or a table", 2)
  end
  local n = #tau
  local rows, nb = hom_rows(g2, n, "g2")
  if rows == nil then error("xpcsio.homodyne: g2 is required", 2) end
  local erows, nbe = hom_rows(err, n, "err")
  if err ~= nil and nbe ~= nb then
    error(string.format("xpcsio.homodyne: err has %d bins, g2 %d", nbe, nb), 2)
  end
  -- the model's options checked once, by the model (in the fits their
  -- errors would become every bin's reason)
  local ok, msg = pcall(fit.eval, "homodyne", {1, 0, 1, 1}, {1},
    {frame_time = o.frame_time, dpl = o.dpl})
  if not ok then
    error("xpcsio.homodyne: " .. tostring(msg):gsub("^.-fit%.eval: ", ""), 2)
  end
  local b = o.bins or {}
  local ring, q = b.ring, b.q
  if array.isarray(q) then q = q:totable() end
  if ring and #ring ~= nb then
    error(string.format("xpcsio.homodyne: bins.ring has %d entries, g2 %d "
      .. "bins", #ring, nb), 2)
  end
  for k = 1, ring and nb or 0 do
    if math.type(ring[k]) == nil or ring[k] < 1 or ring[k] % 1 ~= 0 then
      error(string.format("xpcsio.homodyne: ring of bin %d must be a "
        .. "positive integer (got %s)", k, tostring(ring[k])), 2)
    end
  end
  if erows and o.pool_errors ~= false then
    local one = {}
    for k = 1, nb do one[k] = 1 end
    erows = hom_pool(rows, erows, ring or one)
  end
  local out = {}
  for k = 1, nb do
    local x, y, e = hom_points(tau, rows, erows, k)
    out[k] = hom_fit(x, y, e, o)
  end
  return {bins = out, rings = hom_rings(out, ring, q)}
end

-- "v+/-e" with the error's two leading digits and the value to the same
-- decimal, in exponent form below 1e-3 or from 1e6 (a fast tau0 of
-- microseconds reads 2.300e-05+/-4.1e-07, never 0.000+/-0.000); without
-- a finite error above 1e-12 of the value "%.4g+/-e"
function M.plusminus(v, e)
  if not (e > 1e-12 * math.abs(v) and e < math.huge) or v ~= v then
    return string.format("%.4g+/-%s", v, tostring(e))
  end
  local ev = math.floor(math.log(e, 10))
  local av = v ~= 0 and math.floor(math.log(math.abs(v), 10)) or ev
  if av < -3 or av > 5 then
    local d = math.max(1, av - ev + 1)
    return string.format("%." .. d .. "e+/-%.1e", v, e)
  end
  local d = math.max(0, 1 - ev)
  return string.format("%." .. d .. "f+/-%." .. d .. "f", v, e)
end

-- the speed of one g2 table (n_tau x n_bins, tau in s): Eq. 1 fits with
-- the bins' spread and the correlator's multi-tau averaging, then
-- fit.velocity. o: bins (bin_moments), flow_angle_deg, fit_angle,
-- frame_time (s between correlated frames: the averaging of the
-- multi-tau levels; nil: none), dpl, master (true: the master-curve fit
-- too), fit_baseline (per-bin fits; default false: a free baseline
-- unbiases the bins' beta and h, see fit.velocity's master, but let the
-- g2 of a stack whose speed changes pass as one velocity and moved the
-- near-one-period speed further up). Returns fits, velocity; an unresolvable table gives velocity =
-- {resolved = false, reason = ...} rather than an error, with the
-- homodyne fits of the same g2 (M.homodyne) in velocity.homodyne.
function M.velocity(tau, g2, err, o)
  local b = o.bins
  local flow = o.flow_angle_deg or 0
  local fits = fit.heterodyne(tau, g2, err, {spread = M.bin_spread(b, flow),
    frame_time = o.frame_time, dpl = o.dpl,
    fit_baseline = o.fit_baseline, pixels = b.pixels, flow_angle_deg = flow})
  local arg = {fits = fits, q = b.q, qx = b.qx, qy = b.qy, qxx = b.qxx,
    qyy = b.qyy, qxy = b.qxy, ring = b.ring, flow_angle_deg = flow,
    fit_angle = o.fit_angle, pixels = b.pixels}
  if o.master then
    arg.master = {tau = tau, g2 = g2, err = err, frame_time = o.frame_time,
      dpl = o.dpl}
  end
  local ok, vel = pcall(fit.velocity, arg)
  if not ok then
    vel = {resolved = false,
      reason = tostring(vel):gsub("^.-fit%.velocity: ", "")}
  end
  -- no heterodyne oscillation to go by (h = 1, or v = 0): the decay is
  -- still there, described by the homodyne model
  if not vel.resolved then
    vel.homodyne = M.homodyne(tau, g2, err, {bins = b,
      frame_time = o.frame_time, dpl = o.dpl, fit_baseline = o.fit_baseline})
  end
  return fits, vel
end

-- v(t): the speed in every time window of a windowed correlation. o:
-- windows (the list of correlate's result: tau in frames, g2, g2_err,
-- first, last) with frame_time (s) and stride, or g2_partial (n_win x
-- n_tau x n_bins, as in write_result), g2_partial_err (same shape, or
-- nil), tau (n_tau delays in s), t_start and t_end (n_win, s); bins
-- (bin_moments), flow_angle_deg, fit_angle, dpl, frame_time (s between
-- correlated frames, for the multi-tau averaging; required with
-- windows). Returns {t_start, t_end, v, v_err (m/s; NaN when not
-- resolved), resolved (booleans), reason, velocity (each window's
-- fit.velocity result)}, one entry per window.
function M.velocity_vs_time(o)
  local out = {t_start = {}, t_end = {}, v = {}, v_err = {}, resolved = {},
    reason = {}, velocity = {}}
  if not o.bins then error("xpcsio.velocity_vs_time: bins is required", 2) end
  local wins, dt = {}, o.frame_time
  if o.windows then
    local ft = o.frame_time
    if not ft then
      error("xpcsio.velocity_vs_time: windows need frame_time", 2)
    end
    local st = o.stride or 1
    dt = st * ft
    for k, w in ipairs(o.windows) do
      wins[k] = {tau = w.tau * (st * ft), g2 = w.g2, err = w.g2_err,
        t0 = (w.first - 1) * ft, t1 = w.last * ft}
    end
  elseif o.g2_partial then
    local P, E = o.g2_partial, o.g2_partial_err
    if not (array.isarray(P) and #P.shape == 3) then
      error("xpcsio.velocity_vs_time: g2_partial must be n_win x n_tau x "
        .. "n_bins", 2)
    end
    local nw, nt = P.shape[1], P.shape[2]
    local tau = array.isarray(o.tau) and o.tau or array.from(o.tau or {})
    if #tau ~= nt or not o.t_start or not o.t_end then
      error(string.format("xpcsio.velocity_vs_time: tau (%d delays, s), "
        .. "t_start and t_end are needed with g2_partial (%d delays)",
        #tau, nt), 2)
    end
    for k = 1, nw do
      wins[k] = {tau = tau, g2 = P:slice(1, k, k):reshape{nt, P.shape[3]},
        err = E and E:slice(1, k, k):reshape{nt, P.shape[3]} or nil,
        t0 = o.t_start[k], t1 = o.t_end[k]}
    end
  else
    error("xpcsio.velocity_vs_time: give windows or g2_partial", 2)
  end
  for k, w in ipairs(wins) do
    local _, vel = M.velocity(w.tau, w.g2, w.err, {bins = o.bins,
      flow_angle_deg = o.flow_angle_deg, fit_angle = o.fit_angle,
      frame_time = dt, dpl = o.dpl})
    out.t_start[k], out.t_end[k] = w.t0, w.t1
    out.resolved[k] = vel.resolved and true or false
    out.v[k] = vel.resolved and vel.v or 0 / 0
    out.v_err[k] = vel.resolved and vel.v_err or 0 / 0
    out.reason[k] = vel.reason
    out.velocity[k] = vel
  end
  return out
end

return M
