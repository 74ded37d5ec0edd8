-- demo.lua: the whole paper in one command (`make demo`), on the data in
-- data/ only: the molar-volume fit (Eq. 4), the continuum model for each
-- parameter set against the paper's current, profiles and velocities
-- (Figs. 3-5), simulated heterodyne XPCS experiments whose electrolyte
-- moves as the best model says, correlated and fitted (Eq. 1, 2) to
-- recover the velocities, converted to TFSI velocities (Eq. 3); result
-- HDF5 files, figures and report.md in the output directory.
--
--   ionflow scripts/demo.lua [-o DIR] [--quick] [--seed N] [--truth SET]
--
-- -o DIR      output directory (default demo-out; created)
-- --quick     a reduced run of a few seconds (for the test suite)
-- --seed N    seed of the simulated experiments (default 1)
-- --truth SET the parameter set whose velocities the simulated XPCS
--             follows (default: the one that fits the paper's profiles best)
local demo = require "ionflow.demo"
local report = require "ionflow.report"

local usage = [==[
usage: ionflow scripts/demo.lua [-o DIR] [--quick] [--seed N] [--truth SET]

The whole paper on the data in data/ (what make demo runs): the molar
volumes (Eq. 4), the continuum model with each parameter set and the
joint t+ fit against the paper's current, profiles and velocities
(Figs. 3-5), and simulated heterodyne XPCS experiments whose electrolyte
moves as the best model says, correlated and fitted to recover the
velocities. Writes report.md (figures embedded), the figures as SVG (and
PNG through gnuplot) and the HDF5 results into DIR.

Options (defaults in brackets):
  -o DIR                output directory, made if missing [demo-out]
  --quick               a reduced run of a few seconds (the tests use it)
  --seed N              seed of the simulated experiments [1]
  --truth SET           the set whose velocities the simulated XPCS follows
                        [the one that fits the paper's profiles best]

Example:
  ionflow scripts/demo.lua --quick -o /tmp/demo]==]
local o = require("ionflow.cli").parse(arg, {name = "demo", usage = usage,
  values = {out = true, truth = true}, flags = {quick = true}, numbers = {seed = true},
  short = {o = "out"}})
local dir = o.out or "demo-out"
if o.seed and math.type(o.seed) ~= "integer" then o:die("--seed needs an integer") end

local function die(msg)
  io.stderr:write("demo: ", tostring(msg), "\n")
  os.exit(1)
end

local cfg = demo.config{quick = o.quick, seed = o.seed or 1, truth_set = o.truth}
if o.truth then
  local known = false
  for _, s in ipairs(cfg.sets) do known = known or s == o.truth end
  if not known then
    die(string.format("--truth: unknown parameter set '%s' (known: %s)", o.truth,
      table.concat(cfg.sets, ", ")))
  end
end
do
  local okd, why = pcall(sys.mkdir, dir)
  if not okd then die("-o: " .. tostring(why):gsub("^sys%.mkdir: ", "")) end
end

local A = 1e-10
local T0 = sys.time()
local timing = {}

-- run one step, print its line and time it
local function step(n, label, fn)
  io.stdout:write(string.format("[%d/6] %s ...\n", n, label))
  io.stdout:flush()
  local t0 = sys.time()
  local ok, a, b = pcall(fn)
  if not ok then die(label .. ": " .. tostring(a)) end
  timing[#timing + 1] = {label = label, seconds = sys.time() - t0}
  return a, b
end

local mv = step(1, "molar volumes from densities (Eq. 4)", function()
  return demo.molar_volumes(cfg)
end)
local f = mv.fit
print(string.format("      V_EO = %.2f +/- %.2f A^3, V_LiTFSI = %.1f +/- %.1f A^3, "
  .. "epsilon(0.1) = %.3f +/- %.3f (paper 66.4 +/- 0.73, 224 +/- 7, 2.95)",
  f.V_solvent_A3, f.sd_solvent_A3, f.V_salt_A3, f.sd_salt_A3, mv.epsilon, mv.epsilon_err))

local mod = step(2, "continuum model, " .. #cfg.sets .. " parameter sets vs the paper", function()
  return demo.models(cfg)
end)
for _, s in ipairs(mod.sets) do
  local S = s.cmp.summary
  print(string.format("      %-10s profiles %.3f mol/L, velocities %.2f nm/s, current %.1f %% rms",
    s.name, S.profile_rms / 1000, S.velocity_rms * 1e9, 100 * S.current_rms_rel))
end
print("      best fit to the paper's profiles: " .. mod.best.name)
if mod.joint then
  print("      joint fit of current, profiles and velocities: " .. mod.joint.line ..
    (mod.joint.variants and "" or " (no variants in --quick)"))
end

local nexp = #cfg.positions_mm * #cfg.times_min
local xp = step(3, string.format("simulated heterodyne XPCS, %d experiments (%dx%d px x %d frames)",
  nexp, cfg.pixels, cfg.pixels, cfg.frames), function()
  -- a bar on a terminal, under the per-experiment lines: erase it before
  -- each line, redraw it after
  local bar <close> = sys.progress("XPCS", nexp)
  local tty = sys.isatty(2)
  return demo.xpcs(cfg, mod, mv, function(k, n, r)
    if tty then io.stderr:write("\r\27[K") end
    local got = r.resolved and string.format("%7.2f +/- %4.2f A/s (%+.1f sigma)",
      math.abs(r.v) / A, r.v_err / A, r.dev_sigma) or ("not resolved: " .. r.reason)
    print(string.format("      %2d/%d x = %.2f mm, t = %4d min: truth %7.2f A/s, %s",
      k, n, r.x * 1e3, r.t // 60, math.abs(r.truth) / A, got))
    io.stdout:flush()
    bar:update(k)
  end)
end)

local files = step(4, "result files (HDF5)", function()
  return demo.write_results(dir, cfg, mv, mod, xp)
end)

local figs = step(5, "figures (SVG" .. (require("ionflow.plot").has_gnuplot() and " + PNG)" or ")"),
  function() return demo.figures(dir, mod, xp) end)

-- the report
local function fmt(v, f) return v == v and string.format(f, v) or "n/a" end

-- the master-curve speed, unless its fit gave no usable error (it can
-- fail near the resolution limit and still return numbers)
local function master_text(m)
  if not m then return "" end
  if m.v_err == m.v_err and m.v_err > 0 and m.v_err < 0.1 * m.v then
    return string.format("; master curve %.2f +/- %.2f A/s", m.v_A_per_s, m.v_err_A_per_s)
  end
  return "; the master-curve fit gave no usable value"
end

local reportpath = step(6, "report", function()
  local R = report.new("ionflow demo: Steinrueck, Takacs et al. 2020 on built-in data")
  R:p("Written by `ionflow scripts/demo.lua%s` (ionflow %s) on %s UTC, %d OpenMP threads "
    .. "(`sys.nproc()`). Everything below is computed from the files in `data/` and from "
    .. "simulations; nothing is downloaded.", cfg.quick and " --quick" or "", sys.version,
    os.date("!%Y-%m-%d %H:%M"), sys.nproc())

  local nres0, nin0 = 0, 0
  for _, r in ipairs(xp.rows) do
    if r.resolved then
      nres0 = nres0 + 1
      if math.abs(r.dev_sigma) <= 2 then nin0 = nin0 + 1 end
    end
  end
  R:h2("Summary")
  R:list{
    string.format("Molar volumes (Eq. 4): V_EO = %.2f +/- %.2f A^3, V_LiTFSI = %.1f +/- %.1f A^3, "
      .. "epsilon(0.1) = %.2f +/- %.2f; the paper: 66.4 +/- 0.73, 224 +/- 7, 2.95.",
      f.V_solvent_A3, f.sd_solvent_A3, f.V_salt_A3, f.sd_salt_A3, mv.epsilon, mv.epsilon_err),
    string.format("Continuum model: of %s, **%s** fits the paper's profiles best "
      .. "(RMS %.3f mol/L).", table.concat(cfg.sets, ", "), mod.best.name,
      mod.best.cmp.summary.profile_rms / 1000),
    mod.joint and string.format("Joint fit of current, profiles and velocities: **%s** "
      .. "(total %.3f)%s; the model current is within %.1f %% of the measured one at every "
      .. "time up to %d min.", mod.joint.line, mod.joint.total,
      mod.joint.variants and "" or " (statistical only: no variants in --quick)",
      100 * demo.current_worst(mod.byname.jointfit.cmp), cfg.minutes) or "",
    string.format("Simulated XPCS (truth: the %s model's EO velocity): %d of %d velocities "
      .. "resolved, %d of them within 2 standard errors of the truth.", xp.set.name, nres0,
      #xp.rows, nin0),
    string.format("Run time %.1f s on %d threads.", sys.time() - T0, sys.nproc()),
  }

  R:h2("1. Molar volumes (Eq. 4)")
  R:p("Weighted fit of rho(r) = (M_LiTFSI + M_EO/r) / (V_LiTFSI + V_EO/r) to %d densities of "
    .. "PEO-LiTFSI at 90 C (Pesko et al. 2017, 2 %% relative errors; `%s`), chi2 = %.2f for %d "
    .. "degrees of freedom.", #mv.r, mv.path:gsub("^.*/data/", "data/"), f.chi2, f.dof)
  R:table({"quantity", "ionflow", "paper"}, {
    {"V_EO (A^3)", string.format("%.2f +/- %.2f", f.V_solvent_A3, f.sd_solvent_A3), "66.4 +/- 0.73"},
    {"V_LiTFSI (A^3)", string.format("%.1f +/- %.1f", f.V_salt_A3, f.sd_salt_A3), "224 +/- 7"},
    {"epsilon(r = 0.1)", string.format("%.3f +/- %.3f", mv.epsilon, mv.epsilon_err), "2.95"},
    {"kappa(r = 0.1) = 1/epsilon + 1", string.format("%.4f +/- %.4f", mv.kappa, mv.kappa_err), ""},
    {"c(r = 0.1) (mol/L)", string.format("%.3f +/- %.3f", mv.c / 1000, mv.c_err / 1000), "1.87"},
  }, {"l", "r", "r"})

  R:h2("2. Continuum model against the paper's measurements")
  R:p("The 3 mm Li | PEO-LiTFSI (r = 0.1) | Li cell held at 0.3 V for %d min at 90 C, "
    .. "N = %d cells, for each parameter set (`ionflow.cellparams`), compared with the "
    .. "paper's digitized current, concentration profiles and XPCS velocities "
    .. "(`ionflow.cellpaper`; the velocity is compared with the model's lab-frame EO "
    .. "velocity v0_lab). The conductivity is an estimate (Nernst-Einstein from NMR), the "
    .. "interfacial resistance an estimate (from the measured initial current) and the "
    .. "thermodynamic factor an assumption (Tf = 1 + 2 c / c0, data/README.md), so the "
    .. "current tests them as much as the transport coefficients.", cfg.minutes, cfg.N)
  local rows = {}
  for _, s in ipairs(mod.sets) do
    local S = s.cmp.summary
    local ratio, n = 0, 0
    for _, v in ipairs(s.cmp.velocities) do
      if v.ratio_200_400 == v.ratio_200_400 then ratio, n = ratio + v.ratio_200_400, n + 1 end
    end
    rows[#rows + 1] = {s.name, string.format("%.3f", S.profile_rms / 1000),
      string.format("%.2f", S.velocity_rms * 1e9),
      n > 0 and string.format("%.2f", ratio / n) or "n/a",
      string.format("%.1f", 100 * S.current_rms_rel),
      string.format("%.3f", S.i0_model / 10), string.format("%.3f", S.i_end_model / 10),
      string.format("%.2f", s.seconds)}
  end
  R:table({"set", "profile RMS (mol/L)", "velocity RMS (nm/s)",
    "v paper/model, 200-400 min", "current RMS (%)", "i(0) (mA/cm^2)", "i(end) (mA/cm^2)",
    "run time (s)"}, rows, {"l", "r", "r", "r", "r", "r", "r", "r"})
  R:p("**Best fit to the paper's data: `%s`** (smallest profile residual; smallest velocity "
    .. "residual: `%s`; smallest current residual: `%s`).", mod.best.name,
    mod.best_velocity_rms, mod.best_current_rms_rel)

  if mod.joint then demo.joint_report(R, mod, cfg) end

  R:h2("3. Velocities recovered from simulated heterodyne XPCS")
  R:p("Each experiment simulates %dx%d pixels x %d frames of %.2f s (10 keV, 1 m, 75 um "
    .. "pixels; h = %.1f, beta = %.2f, tau0 = %g s, %g counts per pixel per frame, Poisson "
    .. "noise) with the electrolyte moving at the `%s` model's v0_lab at that position and "
    .. "time; correlated in %d q rings x %d sectors, Eq. 1 fitted per bin, the speed from "
    .. "omega = q v cos chi (Eq. 2). Only the speed is observable; the sign is the model's. "
    .. "TFSI velocity from Eq. 3, v_TFSI = -epsilon v_EO with epsilon(0.1) = %.3f.",
    cfg.pixels, cfg.pixels, cfg.frames, cfg.frame_time, cfg.h, 1 / cfg.modes, cfg.tau0,
    cfg.mean_counts, xp.set.name, cfg.q_rings, cfg.phi_bins, mv.epsilon)
  local vr, nres, nin = {}, 0, 0
  for _, r in ipairs(xp.rows) do
    vr[#vr + 1] = {string.format("%.2f", r.x * 1e3), string.format("%d", r.t // 60),
      string.format("%.3f", r.truth * 1e9),
      r.resolved and string.format("%.3f +/- %.3f", r.v * 1e9, r.v_err * 1e9) or "not resolved",
      r.resolved and string.format("%+.1f", r.dev_sigma) or "",
      r.resolved and string.format("%.2f +/- %.2f", r.v_tfsi * 1e9, r.v_tfsi_err * 1e9) or "",
      string.format("%.2f", r.v_tfsi_truth * 1e9),
      string.format("%d/%d", r.nresolved, r.nbins), fmt(r.periods, "%.1f")}
    if r.resolved then
      nres = nres + 1
      if math.abs(r.dev_sigma) <= 2 then nin = nin + 1 end
    end
  end
  R:table({"x (mm)", "t (min)", "true v_EO (nm/s)", "recovered v_EO (nm/s)", "deviation (sigma)",
    "v_TFSI (nm/s, Eq. 3)", "true v_TFSI (nm/s)", "bins resolved", "periods"}, vr,
    {"r", "r", "r", "r", "r", "r", "r", "r", "r"})
  R:p("Resolved in %d of %d experiments; %d of the resolved within 2 standard errors of "
    .. "the truth. *periods*: the median over the resolved bins of the number of "
    .. "oscillation periods inside the delay range over which the heterodyne term lives "
    .. "(`fit.heterodyne`'s `periods`); near 1 and below the speed is at the resolution "
    .. "limit of these experiments and the fits tend to overestimate it.", nres, #xp.rows, nin)
  local unres = {}
  for _, r in ipairs(xp.rows) do
    if not r.resolved then
      unres[#unres + 1] = string.format("x = %.2f mm, t = %d min (true %.1f A/s): %s",
        r.x * 1e3, r.t // 60, math.abs(r.truth) / A, r.reason)
    end
  end
  if #unres > 0 then
    R:p("Not resolved (the paper could not resolve velocities after about 550 min either):")
    R:list(unres)
  end
  local e = xp.showcase
  if e.vel.resolved then
    local m = e.vel.master
    R:p("Showcase experiment (x = %.2f mm, t = %d min; figures 2a-2e, `xpcs_showcase.h5`): "
      .. "truth %.1f A/s; omega versus q cos chi %.2f +/- %.2f A/s; omega versus q %.2f +/- "
      .. "%.2f A/s; spread between rings %.2f +/- %.2f A/s%s.", e.row.x * 1e3, e.row.t // 60,
      math.abs(e.row.truth) / A, e.vel.v_A_per_s, e.vel.v_err_A_per_s, e.vel.v_q / A,
      e.vel.v_q_err / A, (e.vel.v_rings or 0 / 0) / A, (e.vel.v_rings_err or 0 / 0) / A,
      master_text(m))
  end

  R:h2("Figures")
  local captions = {
    fig2a_g2 = "Fig. 2a: g2 of sectors of one q ring with their Eq. 1 fits (showcase "
      .. "experiment; offset 0.25 each; error bars: spread over the pixels, which includes the "
      .. "frozen static speckle common to all delays). Lines: the fitted Eq. 1 with the bin's "
      .. "spread of q cos chi and the correlator's multi-tau averaging, as fitted, on a fine "
      .. "delay grid; the averaging window, which doubles between levels, ramps smoothly "
      .. "between the last delay of a level and the first of the next",
    fig2cd_omega = "Fig. 2c/d: omega versus cos chi per ring, with q v cos chi; omega/cos chi versus q",
    fig2e_master = "Fig. 2e: all resolved bins against q |cos chi| tau, with Eq. 1 for the median bin",
    fig3_current = "Fig. 3: current density at 0.3 V, paper and models, and the ratio model/paper",
    fig4_profiles = "Fig. 4: concentration profiles, paper (markers) and model (lines), one "
      .. "panel per model on a common concentration axis",
    fig5_velocity = "Fig. 5: EO velocity, one panel per position: paper (black), each model "
      .. "in its own colour and dash, recovered from the simulated XPCS (open squares); last "
      .. "panel: paper/model averaged over 200-400 min",
    figS9_cxt_map = "c(x, t) of the " .. xp.set.name .. " model",
    fig_tplus_profile = "t+0 of the joint fit: chi2 with t+0 held and the rest refitted "
      .. "(profile likelihood), and the t+0 of each systematic variant (diamonds)",
  }
  for _, name in ipairs(figs.order) do R:figure(figs[name], captions[name] or name) end

  R:h2("Files")
  local fl = {}
  for _, p in ipairs(files) do fl[#fl + 1] = "`" .. p:gsub("^.*/", "") .. "`" end
  R:list{"results.h5: /molar_volumes, /model (residuals per set), /velocity (the table above, SI)",
    "model_<set>.h5: each model run, /cell/run/ (cellio layout: t, x, i, c, v0_lab, vm_lab, ...)",
    "xpcs_showcase.h5: the showcase experiment in the APS 8-ID-I result layout (xpcsio)",
    "written: " .. table.concat(fl, ", ")}

  R:h2("Timing")
  local tr = {}
  for _, t in ipairs(timing) do tr[#tr + 1] = {t.label, string.format("%.1f", t.seconds)} end
  tr[#tr + 1] = {"report", "(this step)"}
  R:table({"step", "wall time (s)"}, tr, {"l", "r"})
  R:p("Total before the report: %.1f s on %d threads.", sys.time() - T0, sys.nproc())
  return R:write(dir .. "/report.md")
end)

-- summary
local total = sys.time() - T0
local nres, worst = 0, 0
for _, r in ipairs(xp.rows) do
  if r.resolved then
    nres = nres + 1
    worst = math.max(worst, math.abs(r.dev_sigma))
  end
end
print("")
print(string.format("summary: V_EO = %.2f +/- %.2f A^3, V_LiTFSI = %.1f +/- %.1f A^3, epsilon = %.2f",
  f.V_solvent_A3, f.sd_solvent_A3, f.V_salt_A3, f.sd_salt_A3, mv.epsilon))
print(string.format("         best parameter set for the paper's data: %s", mod.best.name))
print(string.format("         XPCS: %d of %d velocities resolved, worst deviation %.1f sigma "
  .. "(truth: %s model)", nres, #xp.rows, worst, xp.set.name))
print(string.format("         %.1f s on %d threads; report: %s", total, sys.nproc(), reportpath))
