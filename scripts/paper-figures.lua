-- paper-figures.lua: the continuum model against the reference paper's
-- measurements (Steinrueck, Takacs et al. 2020; data/steinrueck2020/), for
-- each parameter set: current and model/measured ratio (Fig. 3),
-- concentration profiles at the measured times (Fig. 4), velocities at the
-- five XPCS positions with the measured/model ratio averaged over
-- 200 < t < 400 min (Fig. 5 inset), and a residual table.
--
--   ionflow scripts/paper-figures.lua [--csv DIR] [-o FIGS.h5] [-N 200]
--       [--minutes 1100] [--params pnb,tplus-0.2,diffec] [--drive V,I]
--       [--data DIR] [--quiet]
--
-- drive V: the cell held at 0.3 V as in the paper; the current is then a
-- prediction and depends on the conductivity, the interfacial resistance
-- and the thermodynamic factor: here estimates (kappa Nernst-Einstein from
-- NMR, R_int from the measured initial current) and an assumption (Tf =
-- 1 + 2 c / c0), see data/README.md.
-- drive I: the measured current density is replayed; profiles and
-- velocities then test the transport coefficients (D, t+0) alone.
-- The XPCS velocity is compared with the model's lab-frame solvent (EO)
-- velocity v0_lab (see lua/ionflow/cellpaper.lua for why).
local cp = require "ionflow.cellparams"
local pp = require "ionflow.cellpaper"
local cio = require "ionflow.cellio"
local csv = require "ionflow.csv"

local usage = [==[
usage: ionflow scripts/paper-figures.lua [--csv DIR] [-o FIGS.h5] [-N 200]
  [--minutes 1100] [--params LIST] [--drive V,I] [--data DIR] [--no-joint]
  [--variants] [--quiet]

Runs the continuum model with each parameter set against the paper's
measurements (data/steinrueck2020): the current and the model/measured
ratio (Fig. 3), the concentration profiles at the measured times
(Fig. 4), the velocities at the five XPCS positions (Fig. 5), and prints
a residual table. Drive V holds the cell at 0.3 V, so the current is a
prediction; drive I replays the measured current, so profiles and
velocities test D and t+0 alone. The joint fit (ionflow.jointfit) is
shown as the set "jointfit".

Options (defaults in brackets):
  --csv DIR             CSV of every curve and residuals.csv (made if missing)
  -o FIGS.h5            the same in one HDF5 file
  -N N                  finite volumes [200]
  --minutes M           length of the polarization [1100]
  --params LIST         sets, comma separated [every shipped set]
  --drive V,I           drives, comma separated [V,I]
  --data DIR            the measurements, in the layout of
                        data/steinrueck2020 [that directory]
  --no-joint            leave out the joint fit [with it]
  --variants            also the joint fit's systematic variants (slower)
  --quiet               only the residual table

Example:
  ionflow scripts/paper-figures.lua --csv figs -o figs.h5]==]

local o = require("ionflow.cli").parse(arg, {name = "paper-figures", usage = usage,
  values = {csv = true, out = true, params = true, drive = true, data = true},
  numbers = {N = true, minutes = true}, flags = {quiet = true, no_joint = true, variants = true},
  short = {o = "out", N = "N"}})
o:bound("N", 3, 100000, true)
o:bound("minutes", 0, math.huge, false, true)

local function split(s)
  local out = {}
  for w in s:gmatch("[^,]+") do out[#out + 1] = w end
  return out
end

local sets = split(o.params or table.concat(cp.names, ","))
local drives = split(o.drive or "V,I")
local m = pp.measured(o.data)
local say = o.quiet and function() end or print
local results = {}

say("Continuum model vs Steinrueck, Takacs et al. 2020 (0.3 V, 3 mm, r = 0.1, 90 C)")
for _, drive in ipairs(drives) do
  for _, name in ipairs(sets) do
    local clock = os.clock()
    local ok, cmp = pcall(pp.compare, name, {m = m, drive = drive, N = o.N,
      minutes = o.minutes})
    if not ok then
      io.stderr:write("paper-figures: ", name, " (drive ", drive, "): ", tostring(cmp), "\n")
      os.exit(1)
    end
    cmp.seconds = os.clock() - clock
    cmp.drive, cmp.name = drive, name
    results[#results + 1] = cmp
  end
end

-- the joint fit, compared as one more set
local joint
if not o.no_joint then
  local jf = require "ionflow.jointfit"
  local clock = os.clock()
  local data = jf.load((o.data or pp.datadir()) .. "/steinrueck2020")
  local okj, best = pcall(jf.fit, data, {N = math.min(o.N or 100, 100), minutes = o.minutes})
  if not okj then
    io.stderr:write("paper-figures: joint fit: ", tostring(best), "\n")
    os.exit(1)
  end
  local var = o.variants and jf.variants(data, best) or nil
  joint = {fit = best, variants = var, line = (jf.tplus_line(best, var)), lines = jf.report_lines(best)}
  for _, drive in ipairs(drives) do
    local cmp = pp.compare(best.set, {m = m, drive = drive, N = o.N, minutes = o.minutes,
      R_int = best.p.R_int})
    cmp.seconds = os.clock() - clock
    cmp.drive, cmp.name = drive, "jointfit"
    results[#results + 1] = cmp
  end
end

local noted = {}
for _, c in ipairs(results) do
  if c.note and not noted[c.note] then
    noted[c.note] = true
    say("note: " .. c.note)
  end
end

-- Fig. 3: current at a few times, model / measured
local function nearest(list, x)
  local best, bd = 1, math.huge
  for k, v in ipairs(list) do
    if math.abs(v - x) < bd then best, bd = k, math.abs(v - x) end
  end
  return best
end

say("\nFig. 3: current density (mA/cm^2) and model/measured ratio, drive V")
local marks = {0, 30, 100, 200, 400, 700, 1100}
local line = "  t_min  measured"
for _, c in ipairs(results) do
  if c.drive == "V" then line = line .. string.format("  %-16s", c.name) end
end
say(line)
for _, tm in ipairs(marks) do
  local k0 = nil
  local row = ""
  for _, c in ipairs(results) do
    if c.drive == "V" then
      local k = nearest(c.current.t, tm * 60)
      k0 = k0 or k
      row = row .. string.format("  %7.4f (%5.3f)", c.current.model[k] / 10, c.current.ratio[k])
    end
  end
  if k0 then
    local any = results[1]
    for _, c in ipairs(results) do if c.drive == "V" then any = c break end end
    say(string.format("  %5.0f  %8.4f%s", any.current.t[k0] / 60, any.current.measured[k0] / 10, row))
  end
end

say("\nFig. 3b: the largest |model/measured - 1| of the current over the run, drive V")
for _, c in ipairs(results) do
  if c.drive == "V" then
    local worst, at = 0, 0
    for k, r in ipairs(c.current.ratio) do
      if math.abs(r - 1) > worst then worst, at = math.abs(r - 1), c.current.t[k] end
    end
    say(string.format("  %-12s %6.1f %% (at %4.0f min): %s", c.name, 100 * worst, at / 60,
      worst <= 0.10 and "within 10 %" or "NOT within 10 %"))
  end
end
if joint then
  local b = joint.fit
  say(string.format("\njoint fit (current, profiles, velocities; drive V, N = %d): %s%s",
    b.opts.N, joint.line, joint.variants and "" or " (sys: run with --variants)"))
  say(string.format("  reconciles the current with Tf = %.2f +/- %.2f, D x %.2f +/- %.2f, " ..
    "R_int = %.2g +/- %.1g ohm m^2 (fitted), kappa of the set (an estimate, fixed)",
    b.p.Tf0, b.err.Tf0, b.p.sD, b.err.sD, b.p.R_int, b.err.R_int))
  for _, l in ipairs(joint.lines) do say("  " .. l) end
end

say("\nFig. 4: profile RMS residual (mol/L) per measured time")
line = "  set          drive"
for _, mm in ipairs(pp.profile_minutes) do line = line .. string.format(" %6d", mm) end
say(line .. "    all")
for _, c in ipairs(results) do
  local row = string.format("  %-12s %-5s", c.name, c.drive)
  for _, p in ipairs(c.profiles) do row = row .. string.format(" %6.3f", p.rms / 1000) end
  say(row .. string.format(" %6.3f", c.summary.profile_rms / 1000))
end

say("\nFig. 5 inset: measured/model velocity ratio, 200 < t < 400 min (model: v0_lab)")
line = "  set          drive"
for _, lab in ipairs(pp.velocity_positions) do line = line .. string.format("  x=%-5s", lab) end
say(line .. "   mean")
for _, c in ipairs(results) do
  local row, s = string.format("  %-12s %-5s", c.name, c.drive), 0
  for _, v in ipairs(c.velocities) do
    row = row .. string.format("  %7.3f", v.ratio_200_400)
    s = s + v.ratio_200_400
  end
  say(row .. string.format("  %6.3f", s / #c.velocities))
end

say("\nResidual table (model - measured)")
say("  set          drive  i0_mA/cm2  i_end   current_rms_rel  profile_rms_mol/L  velocity_rms_nm/s  run_s")
for _, c in ipairs(results) do
  local s = c.summary
  -- with the measured current replayed the current is an input, not a result
  local cur = c.drive == "I" and "        (input)" or string.format("%15.3f", s.current_rms_rel)
  say(string.format("  %-12s %-5s  %8.4f  %7.4f  %s  %17.4f  %17.3f  %5.3f", c.name, c.drive,
    s.i0_model / 10, s.i_end_model / 10, cur, s.profile_rms / 1000,
    s.velocity_rms * 1e9, c.seconds))
end
local best = {}
for _, c in ipairs(results) do
  local b = best[c.drive]
  if not b or c.summary.profile_rms < b.summary.profile_rms then best[c.drive] = c end
end
for _, d in ipairs(drives) do
  if best[d] then
    say(string.format("best profile fit (drive %s): %s", d, best[d].name))
  end
end

if o.csv then
  local okd, why = pcall(sys.mkdir, o.csv)
  if not okd then o:die("--csv: " .. tostring(why):gsub("^sys%.mkdir: ", "")) end
  local rows = {{}, {}, {}, {}, {}, {}, {}, {}}
  for i, c in ipairs(results) do
    local tag = c.name .. "_" .. c.drive
    local cur = c.current
    local t_min, meas, mod = {}, {}, {}
    for k = 1, #cur.t do
      t_min[k], meas[k], mod[k] = cur.t[k] / 60, cur.measured[k] / 10, cur.model[k] / 10
    end
    csv.write(o.csv .. "/current_" .. tag .. ".csv",
      {"t_min", "i_measured_mA_per_cm2", "i_model_mA_per_cm2", "ratio_model_over_measured"},
      {t_min, meas, mod, cur.ratio})
    pp.write_profiles_csv(o.csv .. "/profiles_" .. tag .. ".csv", c.profiles)
    local vc = {{}, {}, {}, {}, {}}
    for _, v in ipairs(c.velocities) do
      for k = 1, #v.t do
        local j = #vc[1] + 1
        vc[1][j], vc[2][j] = v.x * 1e3, v.t[k] / 60
        vc[3][j], vc[4][j], vc[5][j] = v.measured[k] * 1e9, v.model[k] * 1e9, v.resid[k] * 1e9
      end
    end
    csv.write(o.csv .. "/velocities_" .. tag .. ".csv",
      {"x_mm", "t_min", "v_measured_nm_per_s", "v0_lab_model_nm_per_s", "resid_nm_per_s"}, vc)
    local s = c.summary
    rows[1][i], rows[2][i] = i, (c.drive == "V") and 1 or 0
    rows[3][i], rows[4][i] = s.i0_model / 10, s.i_end_model / 10
    rows[5][i], rows[6][i] = s.current_rms_rel, s.profile_rms / 1000
    rows[7][i], rows[8][i] = s.velocity_rms * 1e9, c.seconds
  end
  csv.write(o.csv .. "/residuals.csv", {"run", "drive_V", "i0_mA_per_cm2", "i_end_mA_per_cm2",
    "current_rms_rel", "profile_rms_mol_per_L", "velocity_rms_nm_per_s", "cpu_s"}, rows)
  local f = assert(io.open(o.csv .. "/runs.txt", "w"))
  for i, c in ipairs(results) do f:write(string.format("%d %s %s\n", i, c.name, c.drive)) end
  f:close()
  say("wrote CSV files into " .. o.csv)
end

if o.out then
  if not cio.h5() then
    io.stderr:write("paper-figures: this ionflow has no h5 module, cannot write " .. o.out .. "\n")
    os.exit(o.csv and 0 or 1)
  end
  local h5 = cio.h5()
  local w = h5.create(o.out)
  for _, c in ipairs(results) do
    local g = "/cell/paper/" .. c.name .. "_" .. c.drive
    w:write(g .. "/current_t", c.current.t, {attrs = {units = "s"}})
    w:write(g .. "/current_model", c.current.model, {attrs = {units = "A/m^2"}})
    w:write(g .. "/current_measured", c.current.measured, {attrs = {units = "A/m^2"}})
    for _, p in ipairs(c.profiles) do
      local pg = string.format("%s/profile_%04d", g, p.minutes)
      w:write(pg .. "/x", p.x, {attrs = {units = "m"}})
      w:write(pg .. "/measured", p.measured, {attrs = {units = "mol/m^3"}})
      w:write(pg .. "/model", p.model, {attrs = {units = "mol/m^3"}})
    end
    for _, v in ipairs(c.velocities) do
      local vg = g .. "/velocity_x" .. v.label
      w:write(vg .. "/t", v.t, {attrs = {units = "s"}})
      w:write(vg .. "/measured", v.measured, {attrs = {units = "m/s"}})
      w:write(vg .. "/model_v0_lab", v.model, {attrs = {units = "m/s"}})
    end
    w:attr(g, {profile_rms = c.summary.profile_rms, velocity_rms = c.summary.velocity_rms,
      current_rms_rel = c.summary.current_rms_rel, note = c.note or ""})
  end
  w:close()
  say("wrote " .. o.out)
end
