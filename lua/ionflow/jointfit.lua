-- ionflow.jointfit: one fit of the continuum model to everything a
-- polarization experiment measured (current, concentration profiles,
-- velocities), with per-series error models, the covariance of the free
-- parameters, the profile likelihood of t+0 and systematic variants.
--
--   local jf = require "ionflow.jointfit"
--   local data = jf.load("data/steinrueck2020")   -- any directory in its layout
--   local r = jf.fit(data, {drive = "V", base = "pnb"})
--   r.p.tp0, r.err.tp0, r.series[k].chi2_red, r.cov, r.corr
--   local pr = jf.profile(data, r)                -- chi2(t+0), the rest refitted
--   local v = jf.variants(data, r)                -- v.sys, v.rows
--   print(jf.tplus_line(r, v))                    -- t+ = ... (stat) ... (sys)
--
-- Model parameters (SI; all through fit.lsq, each free or fixed):
--   tp0    t+0 at c0 (the reference concentration)
--   tp1    t+0(c) = tp0 + tp1 (c - c0)/c0 (tp law "linear"; else 0)
--   sD     scale on the base set's D(c)
--   Tf0    thermodynamic factor: Tf law "const": Tf = Tf0; "linear":
--          Tf = Tf0 (1 + Tf1 (c - c0)/c0), at least 0.05; "set": Tf0 times
--          the base set's Tf(c)
--   Tf1    slope of the linear Tf law
--   sK     scale on the base set's conductivity kappa(c)
--   R_int  interfacial resistance, ohm m^2 (both electrodes together)
-- Anything else cell.run takes (an R_int(t) law, a kappa table...) passes
-- through opts.cell into every run unchanged.
--
-- Series and residuals: current (drive V): model/measured - 1; voltage
-- (drive I, the measured current replayed): model V(t) - the applied V;
-- profiles: c model - measured (mol/m^3); velocities: lab-frame EO
-- velocity model - measured (m/s). Each series has an error model: a
-- stated sigma (opts.sigma[name]) or one estimated from its residuals at
-- the fit (RMS with the series' share of the degrees of freedom), widened
-- by sqrt((1 + rho)/(1 - rho)) for a positive lag-1 correlation rho of
-- the residuals along the series (digitized curves and model
-- discrepancies are smooth, so neighbouring points are not independent).
-- The covariance is then (J^T J)^-1 of the residuals in units of sigma,
-- scaled by chi2/dof when that exceeds 1.

local cp = require "ionflow.cellparams"

local M = {}

M.catalogue = {
  {name = "tp0", p0 = 0.2, lo = -1, hi = 0.95, step = 2e-3, unit = "",
   what = "t+0 at c0"},
  {name = "tp1", p0 = 0, lo = -2, hi = 2, step = 2e-3, unit = "",
   what = "t+0 slope: t+0 = tp0 + tp1 (c - c0)/c0"},
  {name = "sD", p0 = 1, lo = 0.1, hi = 10, step = 2e-3, unit = "",
   what = "scale on the base set's D(c)"},
  {name = "Tf0", p0 = 1, lo = 0.1, hi = 20, step = 5e-3, unit = "",
   what = "thermodynamic factor (at c0, or scale on the set's Tf(c))"},
  {name = "Tf1", p0 = 0, lo = -5, hi = 5, step = 5e-3, unit = "",
   what = "Tf slope: Tf = Tf0 (1 + Tf1 (c - c0)/c0)"},
  {name = "sK", p0 = 1, lo = 0.05, hi = 20, step = 2e-3, unit = "",
   what = "scale on the base set's conductivity"},
  {name = "R_int", p0 = 0.005, lo = 0, hi = 0.5, step = 1e-4, unit = "ohm m^2",
   what = "interfacial resistance (both electrodes)"},
}
M.index = {}
for k, c in ipairs(M.catalogue) do M.index[c.name] = k end

M.series_names = {"current", "voltage", "profiles", "velocities"}
-- first guesses of the errors, replaced by the estimates after one pass
M.sigma_guess = {current = 0.02, voltage = 0.005, profiles = 50, velocities = 0.5e-9}
M.units = {current = "(relative)", voltage = "V", profiles = "mol/m^3",
           velocities = "m/s"}

-- ---------------------------------------------------------------- data

local function read2(path)
  local f = io.open(path, "r")
  if not f then return nil end
  local a, b, line = {}, {}, 0
  for l in f:lines() do
    line = line + 1
    if l:match("%S") then
      local x, y = l:match("^%s*([^,%s]+)%s*,%s*([^,%s]+)%s*$")
      x, y = tonumber(x), tonumber(y)
      if not x or not y then
        f:close()
        error(string.format("jointfit.load: %s line %d: expected two numbers " ..
          "separated by a comma", path, line), 0)
      end
      a[#a + 1], b[#b + 1] = x, y
    end
  end
  f:close()
  if #a == 0 then error("jointfit.load: " .. path .. " has no rows", 0) end
  return a, b
end

-- Read a directory in the layout of data/steinrueck2020: current_density.csv
-- (h, mA/cm^2), t=NNNN.csv (profile after NNNN min: mm, mol/L), x=X.XX.csv
-- (velocity at X.XX mm: h, nm/s); x from the electrode where salt
-- accumulates. The file names are probed (minutes 0..9999, positions
-- 0.00..99.99 mm), so no directory listing is needed. Returns the data in
-- SI as cellpaper.measured does, with dir.
function M.load(dir)
  dir = dir or (require("ionflow.cellpaper").datadir() .. "/steinrueck2020")
  local out = {dir = dir, profiles = {}, velocities = {}}
  local t, i = read2(dir .. "/current_density.csv")
  if t then
    out.current = {t = {}, i = {}}
    for k = 1, #t do
      out.current.t[k], out.current.i[k] = t[k] * 3600, i[k] * 10
    end
  end
  for m = 0, 9999 do
    local x, c = read2(string.format("%s/t=%04d.csv", dir, m))
    if x then
      local p = {minutes = m, t = m * 60, x = {}, c = {}}
      for k = 1, #x do p.x[k], p.c[k] = x[k] * 1e-3, c[k] * 1000 end
      out.profiles[#out.profiles + 1] = p
    end
  end
  for h = 0, 9999 do
    local lab = string.format("%d.%02d", h // 100, h % 100)
    local tt, v = read2(dir .. "/x=" .. lab .. ".csv")
    if tt then
      local ve = {label = lab, x = tonumber(lab) * 1e-3, t = {}, v = {}}
      for k = 1, #tt do ve.t[k], ve.v[k] = tt[k] * 3600, v[k] * 1e-9 end
      out.velocities[#out.velocities + 1] = ve
    end
  end
  if not out.current and #out.profiles == 0 and #out.velocities == 0 then
    error("jointfit.load: " .. dir .. " has no current_density.csv, t=NNNN.csv " ..
      "or x=X.XX.csv", 0)
  end
  return out
end

-- Write data (as load returns it) into dir in the same layout (the
-- directory must exist): for synthetic experiments
function M.save(data, dir)
  local function write(path, a, b)
    local tmp = path .. ".tmp"
    local f = assert(io.open(tmp, "w"))
    for k = 1, #a do f:write(string.format("%.10g,%.10g\n", a[k], b[k])) end
    f:close()
    assert(os.rename(tmp, path))
  end
  if data.current then
    local h, i = {}, {}
    for k, t in ipairs(data.current.t) do h[k], i[k] = t / 3600, data.current.i[k] / 10 end
    write(dir .. "/current_density.csv", h, i)
  end
  for _, p in ipairs(data.profiles) do
    local x, c = {}, {}
    for k = 1, #p.x do x[k], c[k] = p.x[k] * 1e3, p.c[k] / 1000 end
    write(string.format("%s/t=%04d.csv", dir, p.minutes), x, c)
  end
  for _, v in ipairs(data.velocities) do
    local h, u = {}, {}
    for k = 1, #v.t do h[k], u[k] = v.t[k] / 3600, v.v[k] * 1e9 end
    write(dir .. "/x=" .. v.label .. ".csv", h, u)
  end
end

-- ---------------------------------------------------------------- model

-- The times and positions of an experiment like the paper's, without
-- values: ncurrent current times over minutes, profiles at the given
-- minutes on npoints positions, velocities at the given positions (mm)
-- at nvel times. opts: minutes (600), ncurrent (25), profile_minutes,
-- npoints (11), positions_mm, nvel (8), L (m, the paper's).
function M.skeleton(opts)
  opts = opts or {}
  local minutes = opts.minutes or 600
  local L = opts.L or cp.paper.L
  local d = {current = {t = {}, i = {}}, profiles = {}, velocities = {}}
  local nc = opts.ncurrent or 25
  for k = 0, nc - 1 do
    d.current.t[k + 1], d.current.i[k + 1] = k * minutes * 60 / (nc - 1), 0
  end
  local np = opts.npoints or 11
  for _, m in ipairs(opts.profile_minutes or {30, 150, 300, 450, 600}) do
    local p = {minutes = m, t = m * 60, x = {}, c = {}}
    for j = 0, np - 1 do
      p.x[j + 1], p.c[j + 1] = L * (0.05 + 0.9 * j / (np - 1)), 0
    end
    d.profiles[#d.profiles + 1] = p
  end
  local nv = opts.nvel or 8
  for _, mm in ipairs(opts.positions_mm or {0.95, 1.65, 2.35}) do
    local v = {label = string.format("%.2f", mm), x = mm * 1e-3, t = {}, v = {}}
    for k = 0, nv - 1 do v.t[k + 1], v.v[k + 1] = k * minutes * 60 / (nv - 1), 0 end
    d.velocities[#d.velocities + 1] = v
  end
  return d
end

-- A synthetic experiment: the model with the named parameters truth
-- (and opts as for M.run: Tf_law, base, N...) at the skeleton's points,
-- with Gaussian noise noise = {current (relative), profiles (mol/m^3),
-- velocities (m/s)} from Lua's generator seeded with seed. Returns the
-- data (as load gives it).
function M.synthetic(truth, skel, opts, noise, seed)
  local r = M.run(truth, skel, opts)
  math.randomseed(seed or 1)
  local function gauss()
    return math.sqrt(-2 * math.log(1 - math.random())) * math.cos(2 * math.pi * math.random())
  end
  local d = {dir = "synthetic", profiles = {}, velocities = {}}
  if skel.current then
    d.current = {t = {}, i = {}}
    for k, t in ipairs(skel.current.t) do
      d.current.t[k] = t
      d.current.i[k] = r.i[r.ti[math.max(t, 0)]] * (1 + (noise.current or 0) * gauss())
    end
  end
  for _, p in ipairs(skel.profiles) do
    local q = {minutes = p.minutes, t = p.t, x = p.x, c = {}}
    for k, x in ipairs(p.x) do
      q.c[k] = r.c:get(r.ti[p.t], r.xi[x]) + (noise.profiles or 0) * gauss()
    end
    d.profiles[#d.profiles + 1] = q
  end
  for _, v in ipairs(skel.velocities) do
    local u = {label = v.label, x = v.x, t = v.t, v = {}}
    for k, t in ipairs(v.t) do
      u.v[k] = r.v0_lab:get(r.ti[math.max(t, 0)], r.xi[v.x]) + (noise.velocities or 0) * gauss()
    end
    d.velocities[#d.velocities + 1] = u
  end
  return d
end



-- a property scaled by s: number, table {c, v} or function of c
local function scaled(prop, s)
  if s == 1 then return prop end
  if type(prop) == "number" then return s * prop end
  if type(prop) == "function" then return function(c) return s * prop(c) end end
  local out = {c = prop.c, v = {}, extrapolate = prop.extrapolate}
  for k, v in ipairs(prop.v) do out.v[k] = s * v end
  return out
end

-- a law a + b (c - c0)/c0 as a table over 0.5 .. 6000 mol/m^3, held at
-- floor or above (a table runs in C; a Lua function would be called in
-- every cell at every step)
local function linear_table(a, b, c0, floor)
  local cs, vs = {0.5}, {}
  for c = 250, 6000, 250 do cs[#cs + 1] = c end
  for k, c in ipairs(cs) do
    local v = a + b * (c - c0) / c0
    vs[k] = floor and math.max(v, floor) or v
  end
  return {c = cs, v = vs, extrapolate = "constant"}
end

-- the full parameter vector (by name) with opts' fixed values over the
-- catalogue's starts
local function full_start(opts)
  local p = {}
  for _, c in ipairs(M.catalogue) do p[c.name] = c.p0 end
  -- a set that states its interfacial resistance: the start, and the
  -- value when R_int is held
  local base = opts.base_set or cp.get(opts.base or "pnb")
  if type(base.R_int) == "number" then p.R_int = base.R_int end
  for k, v in pairs(opts.start or {}) do p[k] = v end
  for k, v in pairs(opts.fixed or {}) do p[k] = v end
  return p
end

-- The parameter set (for cell.run) of the named parameters q
function M.set_of(q, opts)
  local base = opts.base_set or cp.get(opts.base or "pnb")
  local c0 = opts.c0 or cp.paper.c0
  local set = {}
  for k, v in pairs(base) do set[k] = v end
  set.name = "jointfit"
  set.D = scaled(base.D, q.sD)
  set.kappa = scaled(base.kappa, q.sK)
  if (opts.tp_law or "const") == "const" then
    set.tp = q.tp0
  else
    set.tp = linear_table(q.tp0, q.tp1, c0)
  end
  local tl = opts.Tf_law or "const"
  if tl == "const" then
    set.Tf = q.Tf0
  elseif tl == "linear" then
    set.Tf = linear_table(q.Tf0, q.Tf0 * q.Tf1, c0, 0.05)
  elseif tl == "set" then
    set.Tf = scaled(base.Tf or 1, q.Tf0)
  else
    error("jointfit: Tf law must be const, linear or set (got " .. tostring(tl) .. ")", 0)
  end
  return set
end

local function unique(xs)
  table.sort(xs)
  local out = {}
  for _, x in ipairs(xs) do
    if out[#out] ~= x then out[#out + 1] = x end
  end
  return out
end

-- the output times and positions of every measurement up to t_end
local function grid(data, t_end)
  local ts, xs = {0}, {}
  local function addt(t)
    t = math.max(t, 0)
    if t <= t_end then ts[#ts + 1] = t end
  end
  if data.current then for _, t in ipairs(data.current.t) do addt(t) end end
  for _, p in ipairs(data.profiles) do
    addt(p.t)
    for _, x in ipairs(p.x) do xs[#xs + 1] = x end
  end
  for _, v in ipairs(data.velocities) do
    xs[#xs + 1] = v.x
    for _, t in ipairs(v.t) do addt(t) end
  end
  ts, xs = unique(ts), unique(xs)
  if #xs == 0 then xs = {0} end
  local ti, xi = {}, {}
  for k, t in ipairs(ts) do ti[t] = k end
  for k, x in ipairs(xs) do xi[x] = k end
  return ts, xs, ti, xi
end

-- One model run at every measured time and position. opts: drive ("V":
-- opts.V volts, the current predicted; "I": the measured current
-- replayed), L, c0, T, V, N, rtol, minutes, cell (extra cell.run fields).
function M.run(q, data, opts)
  local P = cp.paper
  local t_end = (opts.minutes or P.minutes) * 60
  local ts, xs, ti, xi = grid(data, t_end)
  if #ts < 2 then ts[2] = t_end; ti[t_end] = 2 end
  local o = {L = opts.L or P.L, c0 = opts.c0 or P.c0, T = opts.T or P.T,
             params = M.set_of(q, opts), times = ts, positions = xs,
             N = opts.N or 100, rtol = opts.rtol, R_int = q.R_int}
  for k, v in pairs(opts.cell or {}) do o[k] = v end
  local drive = opts.drive or "V"
  if drive == "I" then
    if not data.current then error("jointfit: drive I needs the measured current", 0) end
    o.I = {t = data.current.t, v = data.current.i}
  elseif drive == "V" then
    o.V = opts.V or P.V
  else
    error("jointfit: drive must be V or I (got " .. tostring(drive) .. ")", 0)
  end
  local r = cell.run(o)
  r.ti, r.xi, r.t_end, r.drive = ti, xi, t_end, drive
  return r
end

-- the series a fit uses under opts (drive, opts.use)
function M.series_used(data, opts)
  local use = opts.use or {}
  local drive = opts.drive or "V"
  local s = {}
  local function want(n) return use[n] ~= false end
  if data.current and drive == "V" and want("current") then s[#s + 1] = "current" end
  if data.current and drive == "I" and want("voltage") then s[#s + 1] = "voltage" end
  if #data.profiles > 0 and want("profiles") then s[#s + 1] = "profiles" end
  if #data.velocities > 0 and want("velocities") then s[#s + 1] = "velocities" end
  return s
end

-- Raw residuals of run r per series: {name = {values in series order},
-- breaks = {name = {indices where a new curve starts}}}
function M.residuals(r, data, opts, names)
  local out, breaks = {}, {}
  for _, n in ipairs(names) do
    local res, br = {}, {}
    if n == "current" then
      for k, t in ipairs(data.current.t) do
        local j = r.ti[math.max(t, 0)]
        if j then res[#res + 1] = r.i[j] / data.current.i[k] - 1 end
      end
    elseif n == "voltage" then
      local V = opts.V or cp.paper.V
      for _, t in ipairs(data.current.t) do
        local j = r.ti[math.max(t, 0)]
        if j then res[#res + 1] = r.V[j] - V end
      end
    elseif n == "profiles" then
      for _, p in ipairs(data.profiles) do
        local j = r.ti[p.t]
        if j then
          br[#br + 1] = #res + 1
          for k, x in ipairs(p.x) do res[#res + 1] = r.c:get(j, r.xi[x]) - p.c[k] end
        end
      end
    elseif n == "velocities" then
      for _, v in ipairs(data.velocities) do
        br[#br + 1] = #res + 1
        local col = r.xi[v.x]
        for k, t in ipairs(v.t) do
          local j = r.ti[math.max(t, 0)]
          if j then res[#res + 1] = r.v0_lab:get(j, col) - v.v[k] end
        end
      end
    end
    out[n], breaks[n] = res, br
  end
  return out, breaks
end

-- lag-1 correlation of residuals within the curves of a series
local function lag1(res, br)
  local starts = {}
  for _, b in ipairs(br or {}) do starts[b] = true end
  local m = 0
  for _, v in ipairs(res) do m = m + v end
  m = m / #res
  local num, den = 0, 0
  for k, v in ipairs(res) do
    den = den + (v - m) ^ 2
    if k > 1 and not starts[k] then num = num + (v - m) * (res[k - 1] - m) end
  end
  return den > 0 and num / den or 0
end

-- ---------------------------------------------------------------- fit

-- which catalogue parameters are free under opts: opts.free[name] wins;
-- by default t+0, the D scale, and (when a current or voltage series
-- is fitted) Tf0 and R_int; tp1 and Tf1 with their linear laws
function M.free_names(opts, used)
  local electrical = false
  for _, s in ipairs(used) do
    if s == "current" or s == "voltage" then electrical = true end
  end
  local def = {tp0 = true, tp1 = opts.tp_law == "linear", sD = true,
               Tf0 = electrical, Tf1 = electrical and opts.Tf_law == "linear",
               sK = false, R_int = electrical}
  local names = {}
  for _, c in ipairs(M.catalogue) do
    local f = def[c.name]
    if opts.free and opts.free[c.name] ~= nil then f = opts.free[c.name] end
    if opts.fixed and opts.fixed[c.name] ~= nil then f = false end
    if f then names[#names + 1] = c.name end
  end
  return names
end

local function copy(t)
  local o = {}
  for k, v in pairs(t or {}) do o[k] = v end
  return o
end

-- fit.lsq with the catalogue's steps (forward differences: one model run
-- per free parameter per Jacobian)
local function fit_lsq(f, p0, lo, hi, step, names, opts, max_iter)
  return fit.lsq{f = f, p0 = p0, lower = lo, upper = hi, step = step, names = names,
    forward = opts.central ~= true, max_iter = max_iter or opts.max_iter or 40,
    xtol = opts.xtol or 1e-5, gtol = opts.gtol or 1e-8, ftol = opts.ftol,
    -- more scatter than the error models say (stated errors too small,
    -- or a model that does not describe the data): errors scaled up
    scale_errors = "up"}
end

-- the weighted residual function of the free parameters and the state it
-- keeps (runs, last raw residuals)
local function objective(data, opts, names, q0, sig)
  local st = {runs = 0, series = M.series_used(data, opts)}
  function st.f(p)
    local q = copy(q0)
    for k, n in ipairs(names) do q[n] = p[k] end
    st.runs = st.runs + 1
    local ok, r = pcall(M.run, q, data, opts)
    if not ok then
      -- a trial point the model cannot run (the salt depleted beyond the
      -- limiting current): NaN residuals, which the fit core takes as a
      -- step to reject; at the start there is nothing to fall back on
      if not st.n then error(r, 0) end
      st.failed, st.last_error = (st.failed or 0) + 1, r
      local out = {}
      for k = 1, st.n do out[k] = 0 / 0 end
      return out
    end
    local raw = M.residuals(r, data, opts, st.series)
    local out = {}
    for _, n in ipairs(st.series) do
      local s = sig[n]
      for _, v in ipairs(raw[n]) do out[#out + 1] = v / s end
    end
    st.n = #out
    return out
  end
  return st
end

-- per-series statistics of the raw residuals at q under the error models
local function series_stats(data, opts, q, used, sig, stated, nfree)
  local r = M.run(q, data, opts)
  local raw, br = M.residuals(r, data, opts, used)
  local ntot = 0
  for _, n in ipairs(used) do ntot = ntot + #raw[n] end
  local rows = {}
  for _, n in ipairs(used) do
    local res = raw[n]
    local ss = 0
    for _, v in ipairs(res) do ss = ss + v * v end
    local dof = #res * (1 - nfree / ntot)
    local rho = lag1(res, br[n])
    rows[#rows + 1] = {name = n, n = #res, rms = math.sqrt(ss / #res),
      sigma = sig[n], stated = stated[n] and true or false, rho = rho,
      chi2 = ss / sig[n] ^ 2, dof = dof, chi2_red = ss / sig[n] ^ 2 / dof,
      white = math.sqrt(ss / dof)}
  end
  return rows, r
end

-- The joint fit. opts: drive, base (set name) or base_set, tp_law ("const",
-- "linear"), Tf_law ("const", "linear", "set"), free = {name = bool},
-- fixed = {name = value}, start = {name = value}, use = {series = false},
-- sigma = {series = stated sigma}, correlated (default true: widen
-- estimated errors for lag-1 correlation), N, rtol, minutes, L, c0, V, T,
-- cell, max_iter, passes (error-model passes, default 2).
function M.fit(data, opts)
  opts = opts or {}
  local clock = sys.time()
  local used = M.series_used(data, opts)
  if #used == 0 then error("jointfit: no series to fit (check the data and use=)", 0) end
  local names = M.free_names(opts, used)
  if #names == 0 then error("jointfit: no free parameter", 0) end
  local q = full_start(opts)
  local stated, sig = {}, {}
  for _, n in ipairs(used) do
    stated[n] = opts.sigma and opts.sigma[n]
    sig[n] = stated[n] or (opts.sigma0 and opts.sigma0[n]) or M.sigma_guess[n]
  end
  local p0, lo, hi, step = {}, {}, {}, {}
  local function bounds()
    for k, n in ipairs(names) do
      local c = M.catalogue[M.index[n]]
      local b = opts.bounds and opts.bounds[n] or {c.lo, c.hi}
      lo[k], hi[k], step[k] = b[1], b[2], c.step
      p0[k] = math.min(math.max(q[n], b[1]), b[2])
    end
  end
  local runs, fit, rows = 0, nil, nil
  local passes = opts.passes or 2
  local estimated = false
  for _, n in ipairs(used) do if not stated[n] then estimated = true end end
  if not estimated then passes = 1 end
  for pass = 1, passes do
    bounds()
    local obj = objective(data, opts, names, q, sig)
    fit = fit_lsq(obj.f, p0, lo, hi, step, names, opts)
    runs = runs + obj.runs
    for k, n in ipairs(names) do q[n] = fit.p[k] end
    if pass < passes then
      -- the estimated series' error models from this pass's residuals;
      -- the last pass fits (and takes its covariance) under them
      local raw = series_stats(data, opts, q, used, sig, stated, #names)
      runs = runs + 1
      for _, row in ipairs(raw) do
        if not stated[row.name] then
          local w = row.white
          if opts.correlated ~= false and row.rho > 0 then
            w = w * math.sqrt((1 + row.rho) / (1 - math.min(row.rho, 0.98)))
          end
          sig[row.name] = w > 0 and w or sig[row.name]
        end
      end
    end
  end
  local r
  rows, r = series_stats(data, opts, q, used, sig, stated, #names)
  local res = {p = q, err = {}, names = names, series = rows, run = r, opts = opts,
    cov = {}, corr = {}, chi2 = fit.chi2, dof = fit.dof, chi2_red = fit.chi2_red,
    status = fit.status, niter = fit.niter, runs = runs + 1,
    seconds = sys.time() - clock, at_bound = {}, sigma = sig}
  for k, n in ipairs(names) do
    res.err[n] = fit.err[k]
    res.at_bound[n] = fit.at_bound[k]
    res.cov[k], res.corr[k] = fit.cov[k], fit.corr[k]
  end
  for _, c in ipairs(M.catalogue) do res.err[c.name] = res.err[c.name] or 0 end
  res.tp, res.tp_err = q.tp0, res.err.tp0
  res.set = M.set_of(q, opts)
  return res
end

-- ---------------------------------------------------------------- scans

-- The profile likelihood of t+0: values (default best +- 3 errors in 13
-- steps) each with t+0 fixed and the other free parameters refitted,
-- under the best fit's error models. Returns {tp = {...}, chi2 = {...},
-- dchi2 = {...}, lo, hi} (lo, hi: where dchi2 crosses 1, interpolated;
-- nil when the scan does not reach it).
function M.profile(data, best, values)
  local opts = best.opts
  if not values then
    values = {}
    local s = math.max(best.tp_err, 1e-3)
    for k = -6, 6 do values[#values + 1] = best.tp + 0.5 * k * s end
  end
  local names = best.names
  local j
  for k, n in ipairs(names) do if n == "tp0" then j = k end end
  if not j then error("jointfit.profile: t+0 is not free in this fit", 0) end
  local obj = objective(data, opts, names, best.p, best.sigma)
  local p0, lo, hi, step = {}, {}, {}, {}
  for k, n in ipairs(names) do
    local c = M.catalogue[M.index[n]]
    local b = opts.bounds and opts.bounds[n] or {c.lo, c.hi}
    p0[k], lo[k], hi[k], step[k] = best.p[n], b[1], b[2], c.step
  end
  -- upward and downward from the best fit, so that each refit starts near
  local up, down = {}, {}
  for _, v in ipairs(values) do
    if v >= best.tp then up[#up + 1] = v else table.insert(down, 1, v) end
  end
  local chi = {}
  local function scan(vs)
    if #vs == 0 then return end
    local pr = fit.profile{f = obj.f, p0 = p0, lower = lo, upper = hi, step = step,
      names = names, param = "tp0", values = vs, forward = opts.central ~= true,
      max_iter = opts.max_iter or 40, xtol = opts.xtol or 1e-5}
    for k, v in ipairs(vs) do chi[v] = pr.chi2[k] end
  end
  scan(up)
  scan(down)
  local out = {tp = {}, chi2 = {}, dchi2 = {}, runs = obj.runs}
  table.sort(values)
  local cmin = best.chi2
  for k, v in ipairs(values) do
    out.tp[k], out.chi2[k] = v, chi[v]
    if chi[v] and chi[v] == chi[v] then cmin = math.min(cmin, chi[v]) end
  end
  for k = 1, #values do out.dchi2[k] = out.chi2[k] - cmin end
  for k = 2, #values do
    local a, b = out.dchi2[k - 1], out.dchi2[k]
    if out.tp[k] <= best.tp and a >= 1 and b < 1 then
      out.lo = out.tp[k - 1] + (a - 1) / (a - b) * (out.tp[k] - out.tp[k - 1])
    elseif out.tp[k - 1] >= best.tp and a < 1 and b >= 1 then
      out.hi = out.tp[k - 1] + (1 - a) / (b - a) * (out.tp[k] - out.tp[k - 1])
    end
  end
  return out
end

-- The default systematic variants of a fit: the other drive, each series
-- left out, the other D base, the Tf laws, t+0 linear in c
function M.default_variants(data, opts)
  local v = {}
  local drive = opts.drive or "V"
  local other = drive == "V" and "I" or "V"
  if data.current then
    v[#v + 1] = {label = "drive " .. other, drive = other}
  end
  local used = M.series_used(data, opts)
  if #used > 1 then
    for _, s in ipairs(used) do
      local use = copy(opts.use)
      use[s] = false
      v[#v + 1] = {label = "without " .. s, use = use}
    end
  end
  local base = opts.base or "pnb"
  if not opts.base_set then
    v[#v + 1] = {label = "D of " .. (base == "pnb" and "diffec" or "pnb"),
                 base = base == "pnb" and "diffec" or "pnb"}
  end
  local tl = opts.Tf_law or "const"
  if tl ~= "linear" then v[#v + 1] = {label = "Tf linear in c", Tf_law = "linear"} end
  if tl ~= "const" then v[#v + 1] = {label = "Tf constant", Tf_law = "const"} end
  local bs = opts.base_set or cp.get(base)
  if tl ~= "set" and type(bs.Tf) ~= "number" and bs.Tf ~= nil then
    v[#v + 1] = {label = "Tf of the set, scaled", Tf_law = "set"}
  end
  if (opts.tp_law or "const") == "const" then
    v[#v + 1] = {label = "t+0 linear in c", tp_law = "linear"}
  else
    v[#v + 1] = {label = "t+0 constant", tp_law = "const"}
  end
  return v
end

-- Refit under each variant (a table of option overrides with a label).
-- The systematic error is the weighted RMS deviation of their t+0 from
-- the best fit's: a variant of the data (drive, a series left out) has
-- weight 1; a variant of the model fits the same data under the same
-- error models, so its weight is the likelihood ratio min(1, exp(-dchi2/2))
-- (a law the data reject does not count, one they cannot tell apart
-- counts fully). Returns {rows = {{label, kind, tp, tp_err, chi2, dchi2,
-- weight, chi2_red, status, series}}, sys, n}.
local MODEL_KEYS = {base = true, base_set = true, Tf_law = true, tp_law = true}

function M.variants(data, best, list)
  local opts = best.opts
  list = list or M.default_variants(data, opts)
  local rows, ss, sw, n = {}, 0, 0, 0
  for _, v in ipairs(list) do
    local o = copy(opts)
    o.start = copy(best.p)
    o.sigma0 = best.sigma
    o.free = copy(opts.free)
    local kind = "model"
    for k, x in pairs(v) do
      if k ~= "label" then
        o[k] = x
        if not MODEL_KEYS[k] then kind = "data" end
      end
    end
    -- one pass when the best fit has estimated every series' error
    local known = true
    for _, s in ipairs(M.series_used(data, o)) do
      if not best.sigma[s] then known = false end
    end
    if known then o.passes = 1 end
    if kind == "model" then o.sigma = best.sigma end
    local ok, r = pcall(M.fit, data, o)
    if ok then
      local dchi2 = kind == "model" and r.chi2 - best.chi2 or nil
      local w = dchi2 and math.min(1, math.exp(-dchi2 / 2)) or 1
      rows[#rows + 1] = {label = v.label, kind = kind, tp = r.tp, tp_err = r.tp_err,
        chi2 = r.chi2, dchi2 = dchi2, weight = w, chi2_red = r.chi2_red,
        status = r.status, series = r.series, fit = r}
      ss, sw, n = ss + w * (r.tp - best.tp) ^ 2, sw + w, n + 1
    else
      rows[#rows + 1] = {label = v.label, kind = kind, error = tostring(r)}
    end
  end
  return {rows = rows, sys = sw > 0 and math.sqrt(ss / sw) or 0, n = n}
end

-- ---------------------------------------------------------------- text

function M.tplus_line(best, var)
  local sys = var and var.sys or 0
  return string.format("t+ = %.3f +/- %.3f (stat) +/- %.3f (sys)", best.tp, best.tp_err, sys),
    math.sqrt(best.tp_err ^ 2 + sys ^ 2)
end

-- where parameter name of a fit comes from: "fitted" or "fixed", and
-- the base set's source of the quantity it scales
function M.source(best, name)
  local free = false
  for _, n in ipairs(best.names) do free = free or n == name end
  local o = best.opts
  local base = o.base_set or cp.get(o.base or "pnb")
  local src = base.sources or {}
  local setname = base.name or "the set"
  local how = free and "fitted" or "fixed"
  if name == "sD" then
    return string.format("%s, times D(c) of %s (%s)", how, setname, src.D or "its source")
  elseif name == "sK" then
    return string.format("%s, times kappa(c) of %s (%s)", how, setname, src.kappa or base.note or "")
  elseif name == "R_int" then
    if free then return "fitted" end
    return base.R_int == best.p.R_int and ("fixed: " .. (src.R_int or "the set's")) or "fixed (given)"
  elseif name == "Tf0" or name == "Tf1" then
    local law = o.Tf_law or "const"
    if law == "set" then return how .. ", times Tf(c) of " .. setname .. " (" .. (src.Tf or "") .. ")" end
    return how .. " (Tf law " .. law .. ")"
  end
  return how .. " (t+0 law " .. (o.tp_law or "const") .. ")"
end

-- the fit as text lines: parameters, covariance, correlation, series
function M.report_lines(best)
  local L = {}
  local function add(...) L[#L + 1] = string.format(...) end
  local o = best.opts
  add("joint fit (drive %s, D of %s, t+0 %s, Tf %s, N = %d): %s, %d iterations, %d model runs, %.1f s",
    o.drive or "V", o.base or (o.base_set and o.base_set.name) or "pnb", o.tp_law or "const",
    o.Tf_law or "const", o.N or 100, best.status, best.niter, best.runs, best.seconds)
  add("parameters (fitted: +/- statistical error; fixed: as given):")
  local free = {}
  for _, n in ipairs(best.names) do free[n] = true end
  for _, c in ipairs(M.catalogue) do
    if free[c.name] then
      add("  %-6s = %10.4g +/- %-9.3g %-8s %s (fitted)%s", c.name, best.p[c.name],
        best.err[c.name], c.unit, c.what, best.at_bound[c.name] and " AT A BOUND" or "")
    else
      add("  %-6s = %10.4g %-22s %s (fixed)", c.name, best.p[c.name], c.unit, c.what)
    end
  end
  add("sources:")
  for _, n in ipairs{"sD", "sK", "R_int", "Tf0"} do add("  %-6s %s", n, M.source(best, n)) end
  local hdr = "           "
  for _, n in ipairs(best.names) do hdr = hdr .. string.format("%11s", n) end
  add("covariance:")
  add("%s", hdr)
  for a, n in ipairs(best.names) do
    local s = string.format("  %-9s", n)
    for b = 1, #best.names do s = s .. string.format("%11.3g", best.cov[a][b]) end
    add("%s", s)
  end
  add("correlation:")
  add("%s", hdr)
  for a, n in ipairs(best.names) do
    local s = string.format("  %-9s", n)
    for b = 1, #best.names do s = s .. string.format("%11.3f", best.corr[a][b]) end
    add("%s", s)
  end
  add("series       n   error model                      lag-1 rho  RMS         chi2/dof")
  for _, s in ipairs(best.series) do
    add("  %-10s %4d  %-10.3g %-8s %-12s %8.2f  %-10.3g  %.2f", s.name, s.n, s.sigma,
      M.units[s.name], s.stated and "stated" or "estimated", s.rho, s.rms, s.chi2_red)
  end
  for _, s in ipairs(best.series) do
    if s.chi2_red > 2 then
      add("WARNING: %s: reduced chi2 %.1f, the model does not describe it within its %s error",
        s.name, s.chi2_red, s.stated and "stated" or "estimated")
    end
  end
  return L
end

return M
