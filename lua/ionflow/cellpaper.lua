-- ionflow.cellpaper: the reference paper's measurements (Steinrueck, Takacs
-- et al. 2020, digitized by BattModels/DiffEC: data/steinrueck2020/) and
-- their comparison with the continuum model.
--
--   local pp = require "ionflow.cellpaper"
--   local m = pp.measured()              -- current, profiles, velocities (SI)
--   local cmp = pp.compare("tplus-0.2")  -- one model run against all of it
--   cmp.current.ratio, cmp.profiles[k].resid, cmp.velocities[k].ratio_200_400
--   cmp.summary                           -- the residual table row
--   pp.write_profiles_csv(path, cmp.profiles)  -- measured, model, residual
--
-- Velocity frame: the XPCS velocity is the speckle (polymer network, EO)
-- velocity relative to the windows and clamped electrodes, i.e. a lab-frame
-- solvent velocity. It is compared with the model's v0_lab (EO velocity in
-- the interface frame plus the interface velocity -(i/F) M_Li/rho_Li). The
-- magnitudes agree with that reading: at t = 0 the model gives
-- v0 = V_salt t-0 i / F, about 9 nm/s, as measured (8 to 13 nm/s), while the
-- anion velocities are 3 to 4 times larger (paper Eq. 3: vm = -eps v0,
-- eps = 2.95 at r = 0.1).

local csv = require "ionflow.csv"
local cp = require "ionflow.cellparams"

local M = {}

M.profile_minutes = {20, 151, 314, 412, 511, 609, 707, 871, 1100}
M.velocity_positions = {"0.95", "1.30", "1.65", "2.00", "2.35"}

-- the data directory: $IONFLOW_DATA, or data/ of the source tree that
-- holds this module (lua/ionflow/ -> ../../data)
function M.datadir()
  local env = os.getenv("IONFLOW_DATA")
  if env and env ~= "" then return env end
  local here = package.searchpath("ionflow.cellpaper", package.path)
  local root = here and here:match("^(.*)/lua/ionflow/cellpaper%.lua$")
  local dir = (root or ".") .. "/data"
  local f = io.open(dir .. "/steinrueck2020/current_density.csv", "r")
  if f then f:close() return dir end
  -- installed: share/ionflow/lua/ionflow -> share/ionflow/data
  return (root or ".") .. "/data"
end

-- The measurements in SI: current {t (s), i (A/m^2)}, profiles
-- {{minutes, t (s), x (m), c (mol/m^3)}}, velocities {{label, x (m), t (s),
-- v (m/s)}}. x is measured from the electrode where salt accumulates.
-- Read by jointfit.load, which takes any directory in this layout; the
-- paper's profile times and positions must all be there.
function M.measured(dir)
  dir = (dir or M.datadir()) .. "/steinrueck2020"
  local out = require("ionflow.jointfit").load(dir)
  local have = {}
  for _, p in ipairs(out.profiles) do have["t=" .. p.minutes] = true end
  for _, v in ipairs(out.velocities) do have["x=" .. v.label] = true end
  for _, m in ipairs(M.profile_minutes) do
    if not have["t=" .. m] then
      error(string.format("cellpaper: %s/t=%04d.csv is missing", dir, m), 0)
    end
  end
  for _, lab in ipairs(M.velocity_positions) do
    if not have["x=" .. lab] then
      error("cellpaper: " .. dir .. "/x=" .. lab .. ".csv is missing", 0)
    end
  end
  if not out.current then
    error("cellpaper: " .. dir .. "/current_density.csv is missing", 0)
  end
  return out
end

-- sorted unique values of a list
local function unique(xs)
  table.sort(xs)
  local out = {}
  for _, x in ipairs(xs) do
    if out[#out] ~= x then out[#out + 1] = x end
  end
  return out
end

local function index_of(list)
  local idx = {}
  for k, v in ipairs(list) do idx[v] = k end
  return idx
end

local function rms(xs)
  if #xs == 0 then return 0 / 0 end
  local s = 0
  for _, x in ipairs(xs) do s = s + x * x end
  return math.sqrt(s / #xs)
end

-- One model run of the paper's cell with outputs exactly at every
-- measured time and position. params: a set name or a set table; opts: N,
-- minutes, rtol, R_int, m (measured data), drive = "V" (0.3 V, as the
-- paper; the current is a prediction) or "I" (the measured current density
-- replayed, linearly interpolated: profiles and velocities then test the
-- transport coefficients alone, independently of the kappa estimate).
function M.run(params, opts)
  opts = opts or {}
  local P = cp.paper
  local m = opts.m or M.measured(opts.datadir)
  local t_end = (opts.minutes or P.minutes) * 60
  local ts, xs = {0, t_end}, {}
  for _, t in ipairs(m.current.t) do
    if t <= t_end then ts[#ts + 1] = t end
  end
  for _, p in ipairs(m.profiles) do
    if p.t <= t_end then ts[#ts + 1] = p.t end
    for _, x in ipairs(p.x) do xs[#xs + 1] = x end
  end
  for _, v in ipairs(m.velocities) do
    xs[#xs + 1] = v.x
    for _, t in ipairs(v.t) do
      local tt = math.max(t, 0)
      if tt <= t_end then ts[#ts + 1] = tt end
    end
  end
  ts, xs = unique(ts), unique(xs)
  local o = {L = P.L, c0 = P.c0, T = P.T, params = params,
             times = ts, positions = xs, N = opts.N or 200,
             rtol = opts.rtol, R_int = opts.R_int}
  if opts.drive == "I" then
    o.I = {t = m.current.t, v = m.current.i}
  elseif opts.drive == nil or opts.drive == "V" then
    o.V = P.V
  else
    error("cellpaper.run: drive must be 'V' or 'I'", 2)
  end
  local r = cell.run(o)
  r.drive = opts.drive or "V"
  r.tindex, r.xindex, r.m = index_of(ts), index_of(xs), m
  r.times, r.xs = ts, xs
  return r
end

-- Compare a run (from M.run) with the measurements: current ratio
-- model/measured, profile residuals model - measured (mol/m^3), velocity
-- ratio measured/model (v0_lab) averaged over 200 < t < 400 min per
-- position (the paper's Fig. 5 inset), and a summary row.
function M.compare_run(r)
  local m = r.m
  local out = {params = r.params, note = r.note, current = {t = {}, measured = {}, model = {}, ratio = {}},
               profiles = {}, velocities = {}}
  local t_end = r.times[#r.times]
  local crel = {}
  for k, t in ipairs(m.current.t) do
    if t <= t_end then
      local mod = r.i[r.tindex[t]]
      local c = out.current
      c.t[#c.t + 1], c.measured[#c.t + 1] = t, m.current.i[k]
      c.model[#c.t], c.ratio[#c.t] = mod, mod / m.current.i[k]
      crel[#crel + 1] = mod / m.current.i[k] - 1
    end
  end
  local allc = {}
  for _, p in ipairs(m.profiles) do
    if p.t <= t_end then
      local row = r.tindex[p.t]
      local pr = {minutes = p.minutes, x = p.x, measured = p.c, model = {}, resid = {}}
      for k, x in ipairs(p.x) do
        local mod = r.c:get(row, r.xindex[x])
        pr.model[k], pr.resid[k] = mod, mod - p.c[k]
        allc[#allc + 1] = mod - p.c[k]
      end
      pr.rms = rms(pr.resid)
      out.profiles[#out.profiles + 1] = pr
    end
  end
  local allv = {}
  for _, v in ipairs(m.velocities) do
    local col = r.xindex[v.x]
    local ve = {label = v.label, x = v.x, t = {}, measured = {}, model = {}, resid = {}}
    local rs, n = 0, 0
    for k, t in ipairs(v.t) do
      local tt = math.max(t, 0)
      if tt <= t_end then
        local mod = r.v0_lab:get(r.tindex[tt], col)
        local j = #ve.t + 1
        ve.t[j], ve.measured[j], ve.model[j] = t, v.v[k], mod
        ve.resid[j] = mod - v.v[k]
        allv[#allv + 1] = mod - v.v[k]
        if t > 200 * 60 and t < 400 * 60 then rs, n = rs + v.v[k] / mod, n + 1 end
      end
    end
    ve.ratio_200_400 = n > 0 and rs / n or 0 / 0
    ve.rms = rms(ve.resid)
    out.velocities[#out.velocities + 1] = ve
  end
  out.summary = {
    params = r.params, drive = r.drive,
    i0_model = r.i[1], i_end_model = r.i[#r.times],
    current_rms_rel = rms(crel),
    profile_rms = rms(allc), velocity_rms = rms(allv),
    n_profile = #allc, n_velocity = #allv,
  }
  return out
end

function M.compare(params, opts)
  return M.compare_run(M.run(params, opts))
end

-- the compared profiles (cmp.profiles) as one long CSV table in the
-- paper's units, one row per measured point: both scripts that compare
-- with the paper write it
function M.write_profiles_csv(path, profiles)
  local pc = {{}, {}, {}, {}, {}}
  for _, p in ipairs(profiles) do
    for k = 1, #p.x do
      local j = #pc[1] + 1
      pc[1][j], pc[2][j] = p.minutes, p.x[k] * 1e3
      pc[3][j], pc[4][j], pc[5][j] = p.measured[k] / 1000, p.model[k] / 1000, p.resid[k] / 1000
    end
  end
  csv.write(path, {"t_min", "x_mm", "c_measured_mol_per_L", "c_model_mol_per_L",
    "resid_mol_per_L"}, pc)
end

return M
