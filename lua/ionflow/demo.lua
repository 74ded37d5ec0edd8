-- ionflow.demo: the steps of `make demo` (scripts/demo.lua), on the data
-- shipped in data/ only. Each step returns plain tables (SI units) that
-- the later steps, the figures and the report use.
--
--   local demo = require "ionflow.demo"
--   local cfg = demo.config{quick = false, seed = 1}
--   local mv = demo.molar_volumes(cfg)           -- Eq. 4 on the densities
--   local mod = demo.models(cfg)                 -- continuum model vs paper
--   local xp = demo.xpcs(cfg, mod, mv, progress) -- simulated XPCS, recovered v
--   demo.write_results(dir, cfg, mv, mod, xp)   -- HDF5 files
--   local figs = demo.figures(dir, mod, xp)      -- SVG (+ PNG with gnuplot)
--
-- The simulated XPCS experiments: the electrolyte (EO) moves at the
-- continuum model's lab-frame solvent velocity v0_lab (the quantity the
-- paper's XPCS measures, see ionflow.cellpaper) at the paper's positions
-- and chosen times; each experiment lasts a few minutes of beam time, over
-- which the model velocity changes by much less than the measurement
-- error, so it is simulated as constant.

local csv = require "ionflow.csv"
local cp = require "ionflow.cellparams"
local pp = require "ionflow.cellpaper"
local cio = require "ionflow.cellio"
local X = require "ionflow.xpcsio"
local plot = require "ionflow.plot"
local plots = require "ionflow.plots"

local M = {}
local A = 1e-10

-- the paper's density-fit results (Steinrueck, Takacs et al. 2020)
M.paper = {V_EO_A3 = 66.4, V_EO_err_A3 = 0.73, V_salt_A3 = 224,
           V_salt_err_A3 = 7, epsilon = 2.95, r = 0.1}

-- Settings of a full or a quick (test) run. The XPCS numbers follow the
-- teaching example (10 keV, 1 m, 75 um pixels, beta = 1/4, h = 0.5), with
-- a frame time and tau0 long enough that a few A/s still oscillate within
-- the delays: omega = q v cos chi is 0.05 rad/s at 5 A/s and 0.01 1/A,
-- half a period takes 60 s. With tau0 = 40 s and 0.1 s frames the speed
-- was biased high below about 7 A/s; tau0 = 100 s and 0.2 s frames (400 s
-- per experiment) resolve 5 A/s without bias, at the same cost.
function M.config(o)
  o = o or {}
  local quick = o.quick and true or false
  return {
    quick = quick, seed = o.seed or 1,
    datadir = o.datadir or pp.datadir(),
    sets = o.sets or cp.names,
    truth_set = o.truth_set,            -- nil: the best-fitting set
    N = quick and 100 or 200,
    minutes = cp.paper.minutes,
    fit_N = quick and 30 or 60,         -- cells of the joint fit's runs
    fit_scans = not quick,              -- its profile likelihood and variants
    pixels = quick and 40 or 64,
    frames = quick and 1000 or 2000,
    frame_time = 0.2, tau0 = 100, h = 0.5, modes = 4, mean_counts = 5,
    q_rings = quick and 4 or 6, phi_bins = 18,
    positions_mm = quick and {0.95, 2.35} or cp.paper.positions_mm,
    times_min = quick and {60} or {60, 300, 700},
  }
end

----------------------------------------------------------------------
-- 1. molar volumes (Eq. 4)
----------------------------------------------------------------------

-- The density fit on data/density_peo_litfsi_90C.csv (columns r, rho in
-- g/cm^3; 2 % relative error, as Pesko et al. state), and epsilon, kappa
-- and c at r = 0.1.
function M.molar_volumes(cfg)
  local path = cfg.datadir .. "/density_peo_litfsi_90C.csv"
  local tab = csv.read(path)
  local r, rho, s = {}, {}, {}
  for k = 1, tab.nrows do
    r[k] = tab.columns[1][k]
    rho[k] = tab.columns[2][k] * 1000
    s[k] = tab.columns[3] and tab.columns[3][k] * 1000 or 0.02 * rho[k]
  end
  local fit = chem.fit_molar_volumes(r, rho, s)
  local out = {fit = fit, path = path, r = r, rho = rho, sigma = s, r0 = M.paper.r}
  out.epsilon, out.epsilon_err = chem.epsilon(fit, out.r0)
  out.kappa, out.kappa_err = chem.kappa(fit, out.r0)
  out.c, out.c_err = chem.concentration(fit, out.r0)
  return out
end

----------------------------------------------------------------------
-- 2. continuum model against the paper's measurements
----------------------------------------------------------------------

-- the sorted union of two lists; a value of a within tol of one of b is
-- dropped (b's values are looked up exactly later; 0.95 mm is not exactly
-- 19 x 3 mm / 60 in floating point)
local function merge_sorted(a, b, tol)
  tol = tol or 0
  local out = {}
  for _, v in ipairs(b) do out[#out + 1] = v end
  for _, v in ipairs(a) do
    local dup = false
    for _, w in ipairs(b) do dup = dup or math.abs(v - w) <= tol end
    if not dup then out[#out + 1] = v end
  end
  table.sort(out)
  local uniq = {}
  for _, v in ipairs(out) do
    if uniq[#uniq] ~= v then uniq[#uniq + 1] = v end
  end
  return uniq
end

-- Each set: the comparison at the measured times and positions
-- (ionflow.cellpaper.compare, 0.3 V drive) and a dense run for the figures
-- (every 10 min; 61 positions plus the XPCS positions). The best set is
-- the one with the smallest profile RMS residual, as paper-figures.lua
-- ranks them; the current and velocity residuals are reported alongside.
function M.models(cfg)
  local P = cp.paper
  local m = pp.measured(cfg.datadir)
  local times = {}
  for k = 0, cfg.minutes // 10 do times[#times + 1] = k * 600 end
  local ptimes = {}
  for _, mm in ipairs(pp.profile_minutes) do ptimes[#ptimes + 1] = mm * 60 end
  for _, tm in ipairs(cfg.times_min) do ptimes[#ptimes + 1] = tm * 60 end
  times = merge_sorted(times, ptimes)
  local xs, vx = {}, {}
  for k = 0, 60 do xs[#xs + 1] = P.L * k / 60 end
  for _, mm in ipairs(P.positions_mm) do vx[#vx + 1] = mm * 1e-3 end
  xs = merge_sorted(xs, vx, 1e-9 * P.L)
  local out = {measured = m, sets = {}, byname = {}}
  for _, name in ipairs(cfg.sets) do
    local t0 = sys.time()
    local cmp = pp.compare(name, {m = m, N = cfg.N, minutes = cfg.minutes, drive = "V"})
    local run = cell.run{L = P.L, c0 = P.c0, T = P.T, V = P.V, params = name,
                         N = cfg.N, times = times, positions = xs}
    local s = {name = name, cmp = cmp, run = run, seconds = sys.time() - t0,
               xindex = {}, tindex = {}}
    for k = 1, #run.x do s.xindex[run.x[k]] = k end
    for k = 1, #run.t do s.tindex[run.t[k]] = k end
    out.sets[#out.sets + 1] = s
    out.byname[name] = s
  end
  if cfg.joint ~= false then
    local s = M.joint(cfg, m, times, xs)
    out.joint = s.joint
    out.sets[#out.sets + 1] = s
    out.byname[s.name] = s
  end
  local best
  for _, s in ipairs(out.sets) do
    if not best or s.cmp.summary.profile_rms < best.cmp.summary.profile_rms then best = s end
  end
  out.best = best
  for _, key in ipairs{"current_rms_rel", "profile_rms", "velocity_rms"} do
    local b
    for _, s in ipairs(out.sets) do
      if not b or s.cmp.summary[key] < b.cmp.summary[key] then b = s end
    end
    out["best_" .. key] = b.name
  end
  return out
end

-- The joint fit of the paper's current, profiles and velocities
-- (ionflow.jointfit, drive V, its default free parameters), with its
-- profile likelihood of t+0 and systematic variants unless cfg.fit_scans
-- is false, as a set named "jointfit" (comparison and dense run as the
-- shipped sets'). s.joint = {fit, data, profile, variants, line, total,
-- current = {worst, at} (model/measured over the fit), sets = {name =
-- worst}} for the shipped sets.
function M.joint(cfg, m, times, xs)
  local P = cp.paper
  local t0 = sys.time()
  local jf = require "ionflow.jointfit"
  local data = jf.load(cfg.datadir .. "/steinrueck2020")
  local best = jf.fit(data, {N = cfg.fit_N})
  local j = {fit = best, data = data}
  if cfg.fit_scans then
    j.profile = jf.profile(data, best)
    j.variants = jf.variants(data, best)
  end
  j.line, j.total = jf.tplus_line(best, j.variants)
  local cmp = pp.compare(best.set, {m = m, N = cfg.N, minutes = cfg.minutes, drive = "V",
    R_int = best.p.R_int})
  local run = cell.run{L = P.L, c0 = P.c0, T = P.T, V = P.V, params = best.set,
                       R_int = best.p.R_int, N = cfg.N, times = times, positions = xs}
  local s = {name = "jointfit", cmp = cmp, run = run, seconds = sys.time() - t0,
             xindex = {}, tindex = {}, joint = j}
  for k = 1, #run.x do s.xindex[run.x[k]] = k end
  for k = 1, #run.t do s.tindex[run.t[k]] = k end
  return s
end

-- the report's section on the joint fit (R: an ionflow.report)
function M.joint_report(R, mod, cfg)
  local jf = require "ionflow.jointfit"
  local j = mod.joint
  local b = j.fit
  R:h2("2b. Joint fit: the t+ the data support")
  R:p("One fit of the model (0.3 V, N = %d) to the paper's current, profiles and velocities "
    .. "together (`ionflow.jointfit`, as `scripts/fit-transference.lua`): t+0 constant, a "
    .. "scale on pnb's D(c), a constant thermodynamic factor Tf, the interfacial resistance; "
    .. "the conductivity is the set's (an estimate) and fixed. Each series' error "
    .. "is estimated from its residuals and widened for their lag-1 correlation (digitized "
    .. "curves are smooth); the statistical error is from the covariance, the systematic "
    .. "error the RMS deviation of t+0 over the variants below.", cfg.fit_N)
  R:p("**%s** (total %.3f)%s", j.line, j.total,
    j.variants and "" or "; statistical only: the variants are skipped in `--quick`")
  local function away(x)
    local z = math.abs(x - b.tp) / j.total
    return string.format("%.1f total standard uncertainties away (%s)", z,
      z <= 2 and "consistent" or "not supported")
  end
  R:p("The data support t+0 = %.2f +/- %.2f (total). The paper's 0.2 is %s; DiffEC's "
    .. "-0.04 at c0 is %s.", b.tp, j.total, away(0.2), away(-0.04))
  local rows = {}
  local free = {}
  for _, n in ipairs(b.names) do free[n] = true end
  for _, c in ipairs(jf.catalogue) do
    local src = jf.source(b, c.name) .. (b.at_bound[c.name] and " (at a bound)" or "")
    rows[#rows + 1] = {c.name, c.what, string.format("%.4g", b.p[c.name]),
      free[c.name] and string.format("%.2g", b.err[c.name]) or "", c.unit, src}
  end
  R:table({"parameter", "meaning", "value", "stat. error", "unit", "source"}, rows,
    {"l", "l", "r", "r", "l", "l"})
  local sr = {}
  for _, x in ipairs(b.series) do
    sr[#sr + 1] = {x.name, tostring(x.n), string.format("%.3g %s", x.sigma, jf.units[x.name]),
      x.stated and "stated" or "estimated", string.format("%.2f", x.rho),
      string.format("%.3g", x.rms), string.format("%.2f", x.chi2_red)}
  end
  R:table({"series", "points", "error", "error model", "lag-1 rho", "RMS residual",
    "reduced chi2"}, sr, {"l", "r", "r", "l", "r", "r", "r"})
  local cr = {}
  for a, n in ipairs(b.names) do
    local row = {n}
    for c = 1, #b.names do row[#row + 1] = string.format("%.2f", b.corr[a][c]) end
    cr[#cr + 1] = row
  end
  local hdr, al = {"correlation"}, {"l"}
  for _, n in ipairs(b.names) do hdr[#hdr + 1] = n; al[#al + 1] = "r" end
  R:table(hdr, cr, al)
  -- the current: which parameters reconcile it
  local cur = {}
  for _, s in ipairs(mod.sets) do
    local w, at = M.current_worst(s.cmp)
    local ratio = s.cmp.current.ratio[#s.cmp.current.ratio]
    cur[#cur + 1] = {s.name, string.format("%.1f", 100 * w), string.format("%.0f", at / 60),
      string.format("%.3f", ratio), w <= 0.10 and "yes" or "no"}
  end
  R:table({"set", "worst |model/measured - 1| (%)", "at (min)", "model/measured at the end",
    "within 10 %"}, cur, {"l", "r", "r", "r", "l"})
  local jw = M.current_worst(mod.byname.jointfit.cmp)
  R:p("The shipped sets have Tf = 1 and miss the late current; the joint fit reconciles it "
    .. "(worst %.1f %% over %d min) with Tf = %.2f +/- %.2f, D scaled by %.2f +/- %.2f and "
    .. "R_int = %.3g +/- %.1g ohm m^2 (fitted), at the set's conductivity (an estimate).",
    100 * jw, cfg.minutes, b.p.Tf0, b.err.Tf0, b.p.sD, b.err.sD, b.p.R_int, b.err.R_int)
  if j.profile then
    local pr = {}
    for k, v in ipairs(j.profile.tp) do
      pr[#pr + 1] = {string.format("%.4f", v), string.format("%.2f", j.profile.dchi2[k])}
    end
    R:p("Profile likelihood of t+0 (t+0 held, the rest refitted): 68 %% interval %s to %s.",
      j.profile.lo and string.format("%.3f", j.profile.lo) or "below the scan",
      j.profile.hi and string.format("%.3f", j.profile.hi) or "above the scan")
    R:table({"t+0", "delta chi2"}, pr, {"r", "r"})
  end
  if j.variants then
    local vr = {{"best fit", "", string.format("%.3f", b.tp), string.format("%.3f", b.tp_err),
      "", ""}}
    for _, r in ipairs(j.variants.rows) do
      vr[#vr + 1] = r.error and {r.label, r.kind, "failed", r.error, "", ""} or {r.label, r.kind,
        string.format("%.3f", r.tp), string.format("%.3f", r.tp_err),
        r.dchi2 and string.format("%.1f", r.dchi2) or "", string.format("%.2f", r.weight)}
    end
    R:table({"variant", "kind", "t+0", "stat. error", "delta chi2", "weight"}, vr,
      {"l", "l", "r", "r", "r", "r"})
    R:p("Systematic error %.3f: the weighted RMS deviation of the variants' t+0 from the best "
      .. "fit. A variant of the data (drive, a series left out) has weight 1; a variant of the "
      .. "model (D, Tf or t+0 law) is weighted by its likelihood ratio to the best fit, "
      .. "min(1, exp(-delta chi2/2)), so a law the data reject does not count.", j.variants.sys)
  end
end

-- the largest |model/measured - 1| of a comparison's current, and when
function M.current_worst(cmp)
  local worst, at = 0, 0
  for k, r in ipairs(cmp.current.ratio) do
    if math.abs(r - 1) > worst then worst, at = math.abs(r - 1), cmp.current.t[k] end
  end
  return worst, at
end

-- the model's value of field (an array time x position) at time t (s) and
-- position x (m), both on the dense run's grid
function M.model_at(set, field, t, x)
  local k, j = set.tindex[t], set.xindex[x]
  if not (k and j) then
    error(string.format("demo.model_at: t = %g s, x = %g m not on the run's grid", t, x), 2)
  end
  return set.run[field]:get(k, j)
end

----------------------------------------------------------------------
-- 3. simulated heterodyne XPCS
----------------------------------------------------------------------

-- the detector of the simulated experiments and its q rings: from half to
-- 98 % of the q at the edge of the largest inscribed circle
local function detector(cfg)
  local n = cfg.pixels
  local g = {energy_keV = 10, distance = 1, pixel = 75e-6,
             center = {x = (n - 1) / 2, y = (n - 1) / 2}, shape = {n, n}}
  local geo = xpcs.geometry(g)
  local theta = 0.5 * math.atan((n / 2) * g.pixel / g.distance)
  local qhi = 0.98 * 4 * math.pi / geo.wavelength * math.sin(theta)
  local edges = {}
  for i = 0, cfg.q_rings do
    edges[#edges + 1] = qhi * (0.5 + 0.5 * i / cfg.q_rings)
  end
  geo.frame_time = cfg.frame_time
  return g, geo, edges
end

-- median of the finite values of a list (NaN when there is none)
function M.median(xs)
  local t = {}
  for _, v in ipairs(xs) do if v == v then t[#t + 1] = v end end
  if #t == 0 then return 0 / 0 end
  table.sort(t)
  local n = #t
  return n % 2 == 1 and t[(n + 1) // 2] or 0.5 * (t[n // 2] + t[n // 2 + 1])
end

-- Eq. 1 at the delays tau with a fit's parameters (for drawing fits):
-- the fit module's own model, a list in, a list out; opts as fit.eval's
-- (spread, frame_time: the model the fits used)
function M.eq1(f, tau, opts)
  return fit.eval("heterodyne", f, tau, opts)
end

-- One experiment at speed v (m/s, along +x on the detector): simulate,
-- correlate (q rings x 18 sectors), fit Eq. 1 per bin, speed from
-- omega(q, chi) with the master-curve fit. keep = true keeps the frames'
-- correlation result and partition for the figures and the APS file.
function M.experiment(cfg, v, seed, keep)
  local g, geo, edges = detector(cfg)
  local frames, truth = speckle.simulate{geometry = g, frames = cfg.frames,
    frame_time = cfg.frame_time, velocity = v, flow_angle_deg = 0,
    tau0 = cfg.tau0, h = cfg.h, modes = cfg.modes,
    mean_counts = cfg.mean_counts, seed = seed}
  local qm = X.partitions(geo, {q_edges = edges, phi_bins = cfg.phi_bins})
  local part, maps = qm.dynamic, qm.maps
  local corr = xpcs.correlator{dynamic = part, static = qm.static, progress = false}
  corr:push(frames)
  local res = corr:result()
  corr:close()
  frames = nil
  res.frame_time, res.stride = cfg.frame_time, 1
  local tau = res.tau * cfg.frame_time
  -- Eq. 1 with the bins' spread of q cos chi and the correlator's
  -- multi-tau averaging (xpcsio.velocity)
  local bins = X.bin_moments(part, maps, nil, qm.static)
  local fits, vel = X.velocity(tau, res.g2, res.g2_err, {bins = bins,
    flow_angle_deg = 0, frame_time = cfg.frame_time, master = keep})
  local ring = bins.ring
  local nres, periods = 0, {}
  for _, f in ipairs(fits) do
    if f.resolved then nres = nres + 1; periods[#periods + 1] = f.periods end
  end
  -- periods of the oscillation inside the delay range, median over the
  -- resolved bins: below about 1 the speed is at the resolution limit
  local e = {truth = truth, vel = vel, nbins = #fits, nresolved = nres,
             periods = M.median(periods)}
  if keep then
    e.res, e.tau, e.fits, e.part, e.ring, e.qm = res, tau, fits, part, ring, qm
    e.eq1_opts = {spread = X.bin_spread(bins, 0), frame_time = cfg.frame_time}
    e.geometry = geo
  end
  return e
end

-- All experiments: at each position and time, the truth is the model's
-- v0_lab of the truth set; the recovered speed gets the model's sign
-- (only the speed is observable) and is converted to the TFSI velocity
-- with epsilon(0.1) (Eq. 3: v_TFSI = -epsilon v_EO). progress(k, n, row)
-- is called after each experiment.
function M.xpcs(cfg, mod, mv, progress)
  local set = mod.best
  if cfg.truth_set then
    set = mod.byname[cfg.truth_set]
    if not set then
      error(string.format("demo.xpcs: the truth set '%s' is not among the sets run (%s)",
        cfg.truth_set, table.concat(cfg.sets, ", ")), 2)
    end
  end
  local rows, keep = {}, nil
  local n = #cfg.positions_mm * #cfg.times_min
  local k = 0
  for _, tm in ipairs(cfg.times_min) do
    for _, xmm in ipairs(cfg.positions_mm) do
      k = k + 1
      local v = M.model_at(set, "v0_lab", tm * 60, xmm * 1e-3)
      local e = M.experiment(cfg, v, cfg.seed + k, k == 1)
      local row = {x = xmm * 1e-3, t = tm * 60, truth = v, resolved = e.vel.resolved,
                   reason = e.vel.reason, nresolved = e.nresolved, nbins = e.nbins,
                   periods = e.periods}
      if e.vel.resolved then
        local sgn = v < 0 and -1 or 1
        row.v, row.v_err = sgn * e.vel.v, e.vel.v_err
        row.dev_sigma = (e.vel.v - math.abs(v)) / e.vel.v_err
        row.v_tfsi = chem.anion_velocity(row.v, mv.epsilon)
        row.v_tfsi_err = math.sqrt((mv.epsilon * row.v_err) ^ 2 +
                                   (row.v * mv.epsilon_err) ^ 2)
      end
      row.v_tfsi_truth = chem.anion_velocity(v, mv.epsilon)
      rows[#rows + 1] = row
      if k == 1 then keep = e; keep.row = row end
      if progress then progress(k, n, row) end
    end
  end
  return {set = set, rows = rows, showcase = keep}
end

----------------------------------------------------------------------
-- 4. result files
----------------------------------------------------------------------

local function col(rows, key, scale)
  local out = {}
  for k, r in ipairs(rows) do
    local v = r[key]
    out[k] = v and v * (scale or 1) or 0 / 0
  end
  return out
end

-- demo-out/: model_<set>.h5 (cellio layout, one per set), xpcs_showcase.h5
-- (the first experiment in the APS 8-ID-I layout), results.h5 (molar
-- volumes, model residuals, the velocity table). Each file is written
-- atomically (h5.create); existing files are replaced.
function M.write_results(dir, cfg, mv, mod, xp)
  local files = {}
  for _, s in ipairs(mod.sets) do
    local p = string.format("%s/model_%s.h5", dir, s.name)
    os.remove(p)
    cio.write_h5(p, s.run, {drive = "V", V_V = cp.paper.V,
      profile_rms_mol_per_m3 = s.cmp.summary.profile_rms,
      velocity_rms_m_per_s = s.cmp.summary.velocity_rms,
      current_rms_rel = s.cmp.summary.current_rms_rel})
    files[#files + 1] = p
  end
  local e = xp.showcase
  local xpath = dir .. "/xpcs_showcase.h5"
  X.write_result(xpath, e.res, {geometry = e.geometry, qmap = e.qm,
    options = {simulated = true, truth_v_m_per_s = e.truth.v or 0 / 0,
      x_m = e.row.x, t_s = e.row.t, seed = e.truth.seed, tau0_s = e.truth.tau0,
      h = e.truth.h, beta = e.truth.beta, frame_time_s = cfg.frame_time}})
  files[#files + 1] = xpath

  local path = dir .. "/results.h5"
  local w <close> = h5.create(path, {overwrite = true})
  local f = mv.fit
  w:write("/molar_volumes/r", mv.r)
  w:write("/molar_volumes/rho", mv.rho, {attrs = {units = "kg/m^3"}})
  w:write("/molar_volumes/rho_err", mv.sigma, {attrs = {units = "kg/m^3"}})
  w:group("/molar_volumes", {V_EO_A3 = f.V_solvent_A3, V_EO_err_A3 = f.sd_solvent_A3,
    V_LiTFSI_A3 = f.V_salt_A3, V_LiTFSI_err_A3 = f.sd_salt_A3,
    V_EO_m3_per_mol = f.V_solvent, V_LiTFSI_m3_per_mol = f.V_salt,
    chi2 = f.chi2, dof = f.dof, r = mv.r0, epsilon = mv.epsilon,
    epsilon_err = mv.epsilon_err, kappa = mv.kappa, kappa_err = mv.kappa_err,
    c_mol_per_m3 = mv.c, c_err_mol_per_m3 = mv.c_err,
    source = (mv.path:gsub("^.*/data/", "data/"))})
  local names, prof, vel, cur = {}, {}, {}, {}
  for k, s in ipairs(mod.sets) do
    names[k] = s.name
    prof[k] = s.cmp.summary.profile_rms
    vel[k] = s.cmp.summary.velocity_rms
    cur[k] = s.cmp.summary.current_rms_rel
  end
  w:write("/model/sets", names)
  w:write("/model/profile_rms", prof, {attrs = {units = "mol/m^3"}})
  w:write("/model/velocity_rms", vel, {attrs = {units = "m/s",
    note = "measured XPCS velocity against the model's v0_lab"}})
  w:write("/model/current_rms_rel", cur)
  w:group("/model", {best = mod.best.name, ranked_by = "profile_rms", drive = "V 0.3 V"})
  local rows = xp.rows
  local V = "/velocity/"
  w:write(V .. "x", col(rows, "x"), {attrs = {units = "m"}})
  w:write(V .. "t", col(rows, "t"), {attrs = {units = "s"}})
  w:write(V .. "v_true", col(rows, "truth"), {attrs = {units = "m/s",
    description = "model v0_lab (EO, lab frame) used by the simulator"}})
  w:write(V .. "v_measured", col(rows, "v"), {attrs = {units = "m/s",
    description = "recovered speed with the model's sign; NaN: not resolved"}})
  w:write(V .. "v_err", col(rows, "v_err"), {attrs = {units = "m/s"}})
  w:write(V .. "dev_sigma", col(rows, "dev_sigma"))
  local res = {}
  for k, r in ipairs(rows) do res[k] = r.resolved and 1 or 0 end
  w:write(V .. "resolved", res)
  w:write(V .. "v_tfsi", col(rows, "v_tfsi"), {attrs = {units = "m/s",
    description = "Eq. 3: -epsilon(0.1) v_measured"}})
  w:write(V .. "v_tfsi_err", col(rows, "v_tfsi_err"), {attrs = {units = "m/s"}})
  w:write(V .. "v_tfsi_true", col(rows, "v_tfsi_truth"), {attrs = {units = "m/s"}})
  w:group(V, {truth_set = xp.set.name, frame = "lab", epsilon = mv.epsilon})
  w:close()
  files[#files + 1] = path
  return files
end

----------------------------------------------------------------------
-- 5. figures
----------------------------------------------------------------------

local function g2_figure(e, base)
  local part, fits, tau = e.part, e.fits, e.tau:totable()
  local nphi = part.nphi
  local r = (part.nq + 1) // 2
  local bins = plots.g2_bins(tau, e.res.g2, e.res.g2_err, part.q_mean,
                             part.phi_mean * (math.pi / 180)).bins
  -- resolved sectors of one ring with phi in [0, 90) degrees (|cos chi|
  -- >= 0.25, where fit.velocity uses them), at most four
  local sel = {}
  for j = 1, nphi do
    local b = (r - 1) * nphi + j
    local ph = part.phi_mean:get(b)
    if ph >= 0 and math.cos(math.rad(ph)) >= 0.25 and fits[b].resolved then
      sel[#sel + 1] = b
    end
  end
  while #sel > 4 do table.remove(sel, #sel // 2 + 1) end
  local ft = {}
  for i = 1, 200 do ft[i] = tau[1] * (tau[#tau] / tau[1]) ^ ((i - 1) / 199) end
  -- the fitted model, with the multi-tau window made smooth between the
  -- correlator's delays so the curve has no steps at the level changes
  for _, b in ipairs(sel) do
    local eo = e.eq1_opts and {spread = e.eq1_opts.spread[b],
      frame_time = e.eq1_opts.frame_time, window = "smooth"}
    bins[b].fit, bins[b].fit_tau = M.eq1(fits[b], ft, eo), ft
  end
  -- the legend top right, where the curves have settled to their baseline
  return plots.g2({tau = tau, bins = bins}, {bins = sel, shift = 0.25, legend = "topright",
    title = "Fig. 2a: g_{2} and Eq. 1 fits, multi-tau averaged (simulated, one q ring)"})
    :export(base)
end

local function omega_figure(e, base)
  local part, fits, vel = e.part, e.fits, e.vel
  local q, phi, om, err = {}, {}, {}, {}
  for b, f in ipairs(fits) do
    local R = vel.rings and vel.rings[e.ring[b]]
    if f.resolved and R and R.q then
      q[#q + 1] = R.q
      phi[#phi + 1] = math.rad(part.phi_mean:get(b))
      -- omega is |q.v|: the sign of cos chi is that of the flow projection
      om[#om + 1] = math.cos(phi[#phi]) < 0 and -f.omega or f.omega
      err[#err + 1] = f.omega_err
    end
  end
  local bq = {q = {}, omega = {}, err = {}}
  for _, R in ipairs(vel.rings or {}) do
    if R.q and R.qv then
      bq.q[#bq.q + 1], bq.omega[#bq.omega + 1], bq.err[#bq.err + 1] = R.q, R.qv, R.qv_err
    end
  end
  return plots.omega({q = q, phi = phi, omega = om, err = err, v = vel.v, by_q = bq},
    {title = "Fig. 2c/d: omega = q v cos chi (simulated)"}):export(base)
end

local function master_figure(e, base)
  local part, fits, tau = e.part, e.fits, e.tau:totable()
  local bins = plots.g2_bins(tau, e.res.g2, nil, part.q_mean,
                             part.phi_mean * (math.pi / 180)).bins
  local used, qc, p = {}, {}, {beta = {}, h = {}, tau0 = {}, gamma = {}}
  for b, f in ipairs(fits) do
    local c = math.abs(math.cos(math.rad(part.phi_mean:get(b))))
    if f.resolved and c >= 0.1 then
      used[#used + 1] = bins[b]
      qc[#qc + 1] = part.q_mean:get(b) * c
      for k in pairs(p) do p[k][#p[k] + 1] = f[k] end
    end
  end
  -- the line: Eq. 1 with omega = v x, the bins' median beta, h, gamma and
  -- tau0, its decay drawn for the median q |cos chi| (the decay does not
  -- scale with q |cos chi|, the oscillation does)
  local line = {x = {}, g2 = {}}
  local qm = M.median(qc)
  local fp = {baseline = 1, beta = M.median(p.beta), h = M.median(p.h),
              tau0 = M.median(p.tau0), gamma = M.median(p.gamma), omega = 0}
  for i = 1, 200 do
    local t = tau[1] * (tau[#tau] / tau[1]) ^ ((i - 1) / 199)
    fp.omega = e.vel.v * qm
    line.x[i] = qm * A * t
    line.g2[i] = M.eq1(fp, {t})[1]
  end
  return plots.master({tau = tau, bins = used, fit = line},
    {title = "Fig. 2e: master curve, all resolved bins (simulated)"}):export(base)
end

local function current_figure(mod, base)
  local m = mod.measured
  local models = {}
  for _, s in ipairs(mod.sets) do
    models[#models + 1] = {name = s.name, t = s.run.t, i = s.run.i}
  end
  return plots.current({t = m.current.t, i = m.current.i, models = models},
    {title = "Fig. 3: current at 0.3 V, paper (measured) and model"}):export(base)
end

local PROFILE_MIN = {20, 151, 412, 707, 1100}

-- one panel per parameter set, two columns from four sets on, all on one
-- concentration axis so the sets compare at a glance, named once
local function profiles_figure(mod, base)
  local n = #mod.sets
  local cols = n <= 3 and n or 2
  local rows = (n + cols - 1) // cols
  local fig = plot.figure{cols = cols, rows = rows, width = 470 * cols,
    height = 360 * rows + 30,
    title = "Fig. 4: concentration profiles, paper (markers) and model (lines)"}
  local lo, hi = math.huge, -math.huge
  local function range(c)
    for _, v in ipairs(c) do lo, hi = math.min(lo, v), math.max(hi, v) end
  end
  local all = {}
  for k, s in ipairs(mod.sets) do
    local profs = {}
    for _, p in ipairs(mod.measured.profiles) do
      for _, mm in ipairs(PROFILE_MIN) do
        if p.minutes == mm then
          local row = s.tindex[p.t]
          local c = {}
          for j = 1, #s.run.x do c[j] = s.run.c:get(row, j) end
          range(c); range(p.c)
          profs[#profs + 1] = {t = p.t, x = p.x, c = p.c,
                               model = {x = s.run.x, c = c}}
        end
      end
    end
    all[k] = profs
  end
  local ylim = {math.floor(lo * 4e-3) / 4, math.ceil(hi * 4e-3) / 4}
  for k, s in ipairs(mod.sets) do
    plots.draw.profiles(fig:panel(k), {profiles = all[k], model_name = s.name},
                        {legend = k == 1 and "topright" or false})
    fig:panel(k):set{ylim = ylim}
  end
  return fig:export(base)
end

local function velocity_figure(mod, xp, base)
  local pos = {}
  for k, v in ipairs(mod.measured.velocities) do
    local models = {}
    for _, s in ipairs(mod.sets) do
      local j = s.xindex[v.x]
      local mv = {}
      for i = 1, #s.run.t do mv[i] = s.run.v0_lab:get(i, j) end
      models[#models + 1] = {name = s.name, t = s.run.t, v = mv}
    end
    pos[k] = {x = v.x, t = v.t, v = v.v, models = models}
  end
  -- one panel per position (five positions and four models in one panel
  -- were a tangle), the ratio panel last
  local fig = plots.velocity_panels({positions = pos}, {title = "Fig. 5: EO velocity, "
    .. "paper (black), models (lines), recovered from simulated XPCS (open squares)"})
  local first = true -- the recovered squares named once
  for k, p in ipairs(pos) do
    local t, v, e = {}, {}, {}
    for _, r in ipairs(xp.rows) do
      if math.abs(r.x - p.x) < 1e-9 and r.resolved then
        t[#t + 1], v[#v + 1], e[#e + 1] = r.t / 3600, r.v * 1e9, r.v_err * 1e9
      end
    end
    local ax = fig:panel(k)
    if #t > 0 then
      ax:errorbar(t, v, e, {color = "gray", marker = "square", size = 8, fill = false,
        label = first and ("recovered (" .. xp.set.name .. " truth)") or nil})
      first = false
    end
    ax:set{xlim = {0, cp.paper.minutes / 60}}
  end
  fig:panel(#pos + 1):set{title = "measured / model, 200-400 min"}
  return fig:export(base)
end

-- on the run's uniform grids only (every 10 min, 61 positions), which
-- gnuplot draws as an image without seams between cells
local function map_figure(set, base)
  local r = set.run
  local ti, xi, t, x = {}, {}, {}, {}
  for k = 1, #r.t do
    if r.t[k] % 600 == 0 then ti[#ti + 1] = k; t[#t + 1] = r.t[k] end
  end
  for j = 1, #r.x do
    local f = r.x[j] / cp.paper.L * 60
    if math.abs(f - math.floor(f + 0.5)) < 1e-9 then xi[#xi + 1] = j; x[#x + 1] = r.x[j] end
  end
  local c = {}
  for a, k in ipairs(ti) do
    c[a] = {}
    for b, j in ipairs(xi) do c[a][b] = r.c:get(k, j) end
  end
  return plots.cxt_map({x = x, t = t, c = c},
    {title = "c(x, t), model " .. set.name .. " (0.3 V, 3 mm)"}):export(base)
end

-- the profile likelihood of t+0 of the joint fit, with the variants
local function tplus_figure(j, base)
  local pr = j.profile
  local fig = plot.figure{title = "t+0 from the joint fit: profile likelihood and variants"}
  local ax = fig:panel(1)
  ax:line(pr.tp, pr.dchi2, {label = "t+0 scanned, the rest refitted", marker = "circle"})
  ax:hline(1, {label = "\u{394}\u{3C7}^{2} = 1 (68 %)", dash = "dash"})
  if j.variants then
    local x, y = {}, {}
    for _, r in ipairs(j.variants.rows) do
      if r.tp then x[#x + 1], y[#y + 1] = r.tp, 0 end
    end
    if #x > 0 then ax:points(x, y, {label = "systematic variants", marker = "diamond"}) end
  end
  -- room above the curve for the legend and below zero for the variants'
  -- markers, which the legend and the axis hid
  local top = 1
  for _, v in ipairs(pr.dchi2) do if v == v then top = math.max(top, v) end end
  top = 1.35 * top
  ax:set{xlabel = "t_{+}^{0}", ylabel = "\u{394}\u{3C7}^{2}", legend = "topleft",
         ylim = {-0.04 * top, top}}
  return fig:export(base)
end

-- all figures into dir; returns {name = {paths}, order = {names}}
function M.figures(dir, mod, xp)
  local figs, order = {}, {}
  local function add(name, paths) figs[name] = paths; order[#order + 1] = name end
  local e = xp.showcase
  add("fig2a_g2", g2_figure(e, dir .. "/fig2a_g2"))
  if e.vel.resolved then
    add("fig2cd_omega", omega_figure(e, dir .. "/fig2cd_omega"))
    add("fig2e_master", master_figure(e, dir .. "/fig2e_master"))
  end
  add("fig3_current", current_figure(mod, dir .. "/fig3_current"))
  add("fig4_profiles", profiles_figure(mod, dir .. "/fig4_profiles"))
  add("fig5_velocity", velocity_figure(mod, xp, dir .. "/fig5_velocity"))
  add("figS9_cxt_map", map_figure(xp.set, dir .. "/figS9_cxt_map"))
  if mod.joint and mod.joint.profile then
    add("fig_tplus_profile", tplus_figure(mod.joint, dir .. "/fig_tplus_profile"))
  end
  figs.order = order
  return figs
end

return M
