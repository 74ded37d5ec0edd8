-- fit-transference.lua: fit the transference number t+0(c) (constant, or
-- linear in c) and optionally a scale on D to the paper's measured
-- concentration profiles and velocities, by GSL nonlinear least squares over
-- model runs (cell.lsq). Answers the paper's question: is a
-- concentration-independent t+0 of about 0.2 consistent with the data?
--
--   ionflow scripts/fit-transference.lua [--linear] [--fit-D] [--drive I|V]
--       [--base pnb|diffec] [--tp 0.2] [--sigma-c 0.05] [--sigma-v 0.5]
--       [--no-profiles] [--no-velocities] [-N 100] [--minutes 1100]
--       [--csv DIR] [--quiet]
--
-- Model: t+0(c) = tp0 + tp1 (c - c0)/c0 (tp1 = 0 unless --linear), D(c) =
-- sD * D_base(c) (sD = 1 unless --fit-D) with D_base from --base (pnb:
-- Pesko et al. 2017 points; diffec: DiffEC's D at its t+0 line), kappa the
-- estimate of lua/ionflow/cellparams.lua. drive I (default) replays the
-- measured current, so the fit does not depend on the kappa estimate;
-- drive V holds 0.3 V. Residuals: profiles (mol/L) / sigma-c and
-- velocities (nm/s, vs the lab-frame EO velocity) / sigma-v. Errors are
-- from the covariance scaled by the reduced chi-square.
local cp = require "ionflow.cellparams"
local pp = require "ionflow.cellpaper"
local csv = require "ionflow.csv"

local usage = "usage: ionflow scripts/fit-transference.lua [--linear] [--fit-D] " ..
  "[--drive I|V] [--base pnb|diffec] [--tp 0.2] [--sigma-c 0.05] [--sigma-v 0.5] " ..
  "[--no-profiles] [--no-velocities] [-N 100] [--minutes 1100] [--csv DIR] [--quiet]"
local o = require("ionflow.cli").parse(arg, {name = "fit-transference", usage = usage,
  flags = {linear = true, fit_D = true, no_profiles = true, no_velocities = true,
    quiet = true},
  values = {drive = true, base = true, csv = true},
  numbers = {tp = true, sigma_c = true, sigma_v = true, N = true, minutes = true},
  short = {N = "N"}})
o:bound("N", 3, 100000, true)
o:bound("minutes", 0, math.huge, false, true)
o:bound("sigma_c", 0, math.huge, false, true)
o:bound("sigma_v", 0, math.huge, false, true)

local say = o.quiet and function() end or print
local sig_c, sig_v = (o.sigma_c or 0.05) * 1000, (o.sigma_v or 0.5) * 1e-9
local use_p, use_v = not o.no_profiles, not o.no_velocities
if not use_p and not use_v then
  o:die("nothing to fit (both --no-profiles and --no-velocities)")
end
local drive = o.drive or "I"
local base = cp.get(o.base or "pnb")
local c0 = cp.paper.c0
local m = pp.measured()

-- parameter vector -> a parameter set
local names = {"tp0"}
if o.linear then names[#names + 1] = "tp1" end
if o.fit_D then names[#names + 1] = "sD" end
local function set_of(p)
  local q = {}
  for k, n in ipairs(names) do q[n] = p[k] end
  local tp0, tp1, sD = q.tp0, q.tp1 or 0, q.sD or 1
  local D = {c = base.D.c, v = {}, extrapolate = "constant"}
  for k, v in ipairs(base.D.v) do D.v[k] = sD * v end
  local lo, hi = 0.5, 4500
  return {name = "fit", D = D, kappa = base.kappa, Tf = 1, V_salt = base.V_salt, V_EO = base.V_EO,
    tp = {c = {lo, hi}, v = {tp0 + tp1 * (lo - c0) / c0, tp0 + tp1 * (hi - c0) / c0},
          extrapolate = "constant"}}
end

local opts = {m = m, drive = drive, N = o.N or 100, minutes = o.minutes}
local function residuals(p)
  local cmp = pp.compare(set_of(p), opts)
  local out = {}
  if use_p then
    for _, pr in ipairs(cmp.profiles) do
      for _, r in ipairs(pr.resid) do out[#out + 1] = r / sig_c end
    end
  end
  if use_v then
    for _, v in ipairs(cmp.velocities) do
      for _, r in ipairs(v.resid) do out[#out + 1] = r / sig_v end
    end
  end
  return out, cmp
end

o:bound("tp", -1, 0.95, false, true)   -- a start inside the fit's bounds
local p0, lower, upper = {o.tp or 0.2}, {-1.0}, {0.95}
if o.linear then p0[#p0 + 1], lower[#lower + 1], upper[#upper + 1] = 0, -2, 2 end
if o.fit_D then p0[#p0 + 1], lower[#lower + 1], upper[#upper + 1] = 1, 0.2, 5 end

local clock = os.clock()
local ok, fit = pcall(cell.lsq, {f = function(p) return (residuals(p)) end, p0 = p0,
  lower = lower, upper = upper, names = names, step = nil, max_iter = 40})
if not ok then
  io.stderr:write("fit-transference: ", tostring(fit), "\n")
  os.exit(1)
end
local elapsed = os.clock() - clock

local _, best = residuals(fit.p)
say(string.format("fit of t+0%s%s to %s%s (drive %s, N = %d): %s after %d iterations, %d model runs, %.1f s CPU",
  o.linear and " (linear in c)" or " (constant)", o.fit_D and " and a D scale" or "",
  use_p and "profiles" or "", use_v and (use_p and " and velocities" or "velocities") or "",
  drive, opts.N, fit.status, fit.niter, fit.runs, elapsed))
say(string.format("D from the %s set; sigma_c = %.3g mol/L, sigma_v = %.3g nm/s; chi2 = %.4g, " ..
  "reduced %.4g (dof %d)", base.name, sig_c / 1000, sig_v * 1e9, fit.chi2, fit.chi2_red, fit.dof))
for k, n in ipairs(names) do
  say(string.format("  %-4s = %8.4f +- %.4f%s", n, fit.p[k], fit.err[k],
    fit.at_bound[k] and "  (at a bound)" or ""))
end
if o.linear then
  local tp1, e1 = fit.p[2], fit.err[2]
  say(string.format("t+0(c) = %.3f %+.3f (c - 1.87 mol/L)/1.87 mol/L: slope %s zero within 2 sigma",
    fit.p[1], tp1, math.abs(tp1) <= 2 * e1 and "is" or "is NOT"))
end
local s = best.summary
say(string.format("residuals: profiles RMS %.4f mol/L, velocities RMS %.3f nm/s",
  s.profile_rms / 1000, s.velocity_rms * 1e9))
for _, pr in ipairs(best.profiles) do
  say(string.format("  profile %4d min: RMS %.4f mol/L", pr.minutes, pr.rms / 1000))
end
for _, v in ipairs(best.velocities) do
  say(string.format("  velocity x = %s mm: RMS %.3f nm/s, measured/model (200-400 min) %.3f",
    v.label, v.rms * 1e9, v.ratio_200_400))
end

if o.csv then
  os.execute(string.format("mkdir -p %q", o.csv))
  local errs = {}
  for k = 1, #names do errs[k] = fit.err[k] end
  local idx = {}
  for k = 1, #names do idx[k] = k end
  csv.write(o.csv .. "/fit.csv", {"param_index", "value", "error"}, {idx, fit.p, errs})
  local f = assert(io.open(o.csv .. "/fit-names.txt", "w"))
  for k, n in ipairs(names) do f:write(k, " ", n, "\n") end
  f:write(string.format("chi2 %.10g\nchi2_red %.10g\ndof %d\nstatus %s\n", fit.chi2,
    fit.chi2_red, fit.dof, fit.status))
  f:close()
  pp.write_profiles_csv(o.csv .. "/profiles.csv", best.profiles)
  say("wrote " .. o.csv .. "/fit.csv, fit-names.txt, profiles.csv")
end
