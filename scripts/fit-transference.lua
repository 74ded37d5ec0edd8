-- fit-transference.lua: the transference number t+0 of a polarization
-- experiment from one joint fit of the continuum model to its current,
-- concentration profiles and velocities, with per-series error models,
-- the covariance of the free parameters, the profile likelihood of t+0
-- and systematic variants (ionflow.jointfit).
local jf = require "ionflow.jointfit"
local csv = require "ionflow.csv"

local usage = [[
usage: ionflow scripts/fit-transference.lua [--data DIR] [options]

Fits t+0 (constant, or linear in c), a D scale, the thermodynamic factor,
the conductivity scale and the interfacial resistance of the continuum
model to a polarization experiment: current, concentration profiles and
velocities together. Prints the line
  t+ = 0.123 +/- 0.012 (stat) +/- 0.020 (sys)
the parameters with their sources, the covariance and correlation of the
free parameters, reduced chi2 per series, the profile likelihood of t+0
(t+0 scanned, the rest refitted) and a table of systematic variants
(other drive, each series left out, other D base, Tf and t+0 laws) whose
RMS deviation from the best fit is the systematic error.

data (--data DIR, default the paper's data/steinrueck2020): files
  current_density.csv (h, mA/cm^2), t=NNNN.csv (profile after NNNN min:
  mm, mol/L), x=X.XX.csv (velocity at X.XX mm: h, nm/s), x from the
  electrode where salt accumulates.
model:
  --drive V|I        V: hold --V volts, fit the current (default); I: replay
                     the measured current, fit the voltage
  --base NAME        D(c), kappa(c), Tf(c) from set pnb (default), diffec,
                     tplus-0.2 or FILE.lua
  --tp-law const|linear   t+0 = tp0 [+ tp1 (c - c0)/c0] (--linear: linear)
  --Tf-law const|linear|set   Tf = Tf0, Tf0 (1 + Tf1 (c - c0)/c0), or Tf0
                     times the set's Tf(c) (default const)
  --fix NAME=VALUE   hold a parameter (tp0 tp1 sD Tf0 Tf1 sK R_int; R_int
                     in ohm m^2); repeatable
  --free NAME        free a parameter that is fixed by default (sK);
                     repeatable
  --start NAME=VALUE start value; repeatable (--tp X: --start tp0=X)
data and errors:
  --no-current --no-voltage --no-profiles --no-velocities   leave a series out
  --sigma SERIES=VALUE  stated error of a series (current: relative;
                     voltage: V; profiles: mol/L; velocities: nm/s);
                     otherwise estimated from the residuals (default)
  --sigma-c X, --sigma-v X   the same for profiles (mol/L), velocities (nm/s)
  --white            estimated errors not widened for correlated residuals
cell: --L-mm 3 --c0 1.87 (mol/L) --V 0.3 --T 363.15 (K)
numerics: -N 100 (cells) --minutes 1100 (fit up to) --central
output:
  --no-scan          skip the profile likelihood
  --no-variants      skip the systematic variants
  --csv DIR          fit.csv (parameters), fit-names.txt, series.csv,
                     profile.csv, variants.csv (the directory is made)
  --plot FILE        the profile likelihood as SVG (or PNG/PDF via gnuplot)
  --quiet            only the t+ line
Example:
  ionflow scripts/fit-transference.lua -N 60 --no-variants --plot tp.svg]]

local o = require("ionflow.cli").parse(arg, {name = "fit-transference", usage = usage,
  flags = {linear = true, fit_D = true, no_current = true, no_voltage = true,
    no_profiles = true, no_velocities = true, no_scan = true, no_variants = true,
    quiet = true, white = true, central = true},
  values = {data = true, drive = true, base = true, tp_law = true, Tf_law = true,
    csv = true, plot = true},
  repeated = {fix = true, free = true, start = true, sigma = true},
  numbers = {tp = true, sigma_c = true, sigma_v = true, N = true, minutes = true,
    L_mm = true, c0 = true, V = true, T = true},
  short = {N = "N"}})
o:bound("N", 3, 100000, true)
o:bound("minutes", 0, math.huge, false, true)
o:bound("sigma_c", 0, math.huge, false, true)
o:bound("sigma_v", 0, math.huge, false, true)

local say = o.quiet and function() end or print

local function pairs_of(list, what)
  local t = {}
  for _, s in ipairs(list or {}) do
    local k, v = s:match("^([%w_]+)=(.+)$")
    if not k or not tonumber(v) then o:die(string.format("--%s %s: expected NAME=NUMBER", what, s)) end
    t[k] = tonumber(v)
  end
  return t
end

o:bound("tp", -1, 1, false, true)   -- a start inside (-1, 1]
local opts = {drive = o.drive or "V", base = o.base or "pnb", N = o.N or 100,
  minutes = o.minutes, tp_law = o.tp_law or (o.linear and "linear" or "const"),
  Tf_law = o.Tf_law or "const", correlated = not o.white, central = o.central,
  L = o.L_mm and o.L_mm * 1e-3, c0 = o.c0 and o.c0 * 1000, V = o.V, T = o.T,
  fixed = pairs_of(o.fix, "fix"), start = pairs_of(o.start, "start"),
  free = {}, use = {}, sigma = {}}
if o.tp then opts.start.tp0 = o.tp end
for _, n in ipairs(o.free or {}) do
  if not jf.index[n] then o:die("--free " .. n .. ": no such parameter") end
  opts.free[n] = true
end
for n in pairs(opts.fixed) do
  if not jf.index[n] then o:die("--fix " .. n .. ": no such parameter") end
end
for n in pairs(opts.start) do
  if not jf.index[n] then o:die("--start " .. n .. ": no such parameter") end
end
if opts.drive ~= "V" and opts.drive ~= "I" then o:die("--drive must be V or I") end
if opts.tp_law ~= "const" and opts.tp_law ~= "linear" then o:die("--tp-law must be const or linear") end
if not ({const = 1, linear = 1, set = 1})[opts.Tf_law] then o:die("--Tf-law must be const, linear or set") end
for _, s in ipairs(jf.series_names) do
  if o["no_" .. s] then opts.use[s] = false end
end
-- stated errors, from the data's units to SI
local to_si = {current = 1, voltage = 1, profiles = 1000, velocities = 1e-9}
for k, v in pairs(pairs_of(o.sigma, "sigma")) do
  if not to_si[k] then o:die("--sigma " .. k .. ": series are current, voltage, profiles, velocities") end
  if not (v > 0) then o:die("--sigma " .. k .. ": must be positive") end
  opts.sigma[k] = v * to_si[k]
end
if o.sigma_c then opts.sigma.profiles = o.sigma_c * 1000 end
if o.sigma_v then opts.sigma.velocities = o.sigma_v * 1e-9 end

local ok, data = pcall(jf.load, o.data)
if not ok then io.stderr:write("fit-transference: ", tostring(data), "\n") os.exit(1) end

local okf, best = pcall(jf.fit, data, opts)
if not okf then
  io.stderr:write("fit-transference: ", tostring(best), "\n")
  os.exit(1)
end
say("data: " .. data.dir)
for _, l in ipairs(jf.report_lines(best)) do say(l) end
local cur = best.run
if opts.drive == "V" and data.current then
  local worst, tw = 0, 0
  for k, t in ipairs(data.current.t) do
    local j = cur.ti[math.max(t, 0)]
    if j then
      local d = math.abs(cur.i[j] / data.current.i[k] - 1)
      if d > worst then worst, tw = d, t end
    end
  end
  say(string.format("model/measured current: worst %.1f %% (at %.0f min), %s within 10 %% over the fit",
    100 * worst, tw / 60, worst <= 0.10 and "everywhere" or "NOT"))
end

local scan
if not o.no_scan then
  local oks
  oks, scan = pcall(jf.profile, data, best)
  if not oks then
    say("profile likelihood failed: " .. tostring(scan))
    scan = nil
  else
    say("profile likelihood of t+0 (the other free parameters refitted):")
    say("   t+0      chi2       delta chi2")
    for k, v in ipairs(scan.tp) do
      say(string.format("  %7.4f  %10.4f  %8.3f", v, scan.chi2[k], scan.dchi2[k]))
    end
    say(string.format("  68 %% interval (delta chi2 = 1): %s to %s",
      scan.lo and string.format("%.4f", scan.lo) or "below the scan",
      scan.hi and string.format("%.4f", scan.hi) or "above the scan"))
  end
end

local var
if not o.no_variants then
  var = jf.variants(data, best)
  say("systematic variants (refitted; sys = weighted RMS deviation of t+0 from the best fit;")
  say("  model variants weighted by min(1, exp(-dchi2/2)) against the best fit, data variants by 1):")
  say(string.format("  %-22s %-5s %8s %8s %9s %7s  %s", "variant", "kind", "t+0", "stat", "dchi2",
    "weight", "status"))
  say(string.format("  %-22s %-5s %8.4f %8.4f %9s %7s  %s", "best fit", "", best.tp, best.tp_err,
    "", "", best.status))
  for _, r in ipairs(var.rows) do
    if r.error then
      say(string.format("  %-22s failed: %s", r.label, r.error))
    else
      say(string.format("  %-22s %-5s %8.4f %8.4f %9s %7.3f  %s", r.label, r.kind, r.tp, r.tp_err,
        r.dchi2 and string.format("%.2f", r.dchi2) or "-", r.weight, r.status))
    end
  end
end
local line, total = jf.tplus_line(best, var)
print(line)
say(string.format("total uncertainty %.3f%s", total, var and "" or " (statistical only: no variants)"))

if o.csv then
  local d = o.csv
  local okd, why = pcall(sys.mkdir, d)
  if not okd then o:die("--csv: " .. tostring(why):gsub("^sys%.mkdir: ", "")) end
  local names, vals, errs, free = {}, {}, {}, {}
  for k, c in ipairs(jf.catalogue) do
    names[k], vals[k], errs[k] = k, best.p[c.name], best.err[c.name]
    free[k] = best.err[c.name] > 0 and 1 or 0
  end
  csv.write(d .. "/fit.csv", {"param_index", "value", "error", "free"}, {names, vals, errs, free})
  local f = assert(io.open(d .. "/fit-names.txt", "w"))
  for k, c in ipairs(jf.catalogue) do f:write(k, " ", c.name, "\n") end
  f:write(string.format("chi2 %.10g\nchi2_red %.10g\ndof %d\nstatus %s\n", best.chi2,
    best.chi2_red, best.dof, best.status))
  f:close()
  local sn, sv = {}, {{}, {}, {}, {}, {}}
  for k, s in ipairs(best.series) do
    sn[k] = s.name
    sv[1][k], sv[2][k], sv[3][k], sv[4][k], sv[5][k] = s.n, s.sigma, s.rho, s.rms, s.chi2_red
  end
  local fs = assert(io.open(d .. "/series.csv", "w"))
  fs:write("series,n,sigma_SI,lag1_rho,rms_SI,chi2_red\n")
  for k = 1, #sn do
    fs:write(string.format("%s,%d,%.6g,%.4f,%.6g,%.4f\n", sn[k], sv[1][k], sv[2][k], sv[3][k],
      sv[4][k], sv[5][k]))
  end
  fs:close()
  if scan then
    csv.write(d .. "/profile.csv", {"tp0", "chi2", "delta_chi2"}, {scan.tp, scan.chi2, scan.dchi2})
  end
  if var then
    local fv = assert(io.open(d .. "/variants.csv", "w"))
    fv:write("variant,kind,tp0,stat,dchi2,weight\n")
    fv:write(string.format("best fit,,%.6f,%.6f,,\n", best.tp, best.tp_err))
    for _, r in ipairs(var.rows) do
      if not r.error then
        fv:write(string.format("%s,%s,%.6f,%.6f,%s,%.4f\n", r.label, r.kind, r.tp, r.tp_err,
          r.dchi2 and string.format("%.4f", r.dchi2) or "", r.weight))
      end
    end
    fv:close()
  end
  say("wrote " .. d .. "/fit.csv, fit-names.txt, series.csv" .. (scan and ", profile.csv" or "") ..
    (var and ", variants.csv" or ""))
end

if o.plot and scan then
  local plot = require "ionflow.plot"
  local fig = plot.figure{title = "profile likelihood of t+0"}
  local ax = fig:panel(1)
  ax:line(scan.tp, scan.dchi2, {label = "refitted", marker = "circle"})
  ax:hline(1, {label = "68 %"})
  ax:set{xlabel = "t_{+}^{0}", ylabel = "\u{394}\u{3C7}^{2}"}
  local okp, why = pcall(fig.save, fig, o.plot)
  if not okp then o:die("--plot: " .. tostring(why)) end
  say("wrote " .. o.plot)
end
