-- ionflow.jointfit and scripts/fit-transference.lua: data in the paper's
-- layout, and synthetic experiments with a known truth (t+0, D(c), a
-- concentration-dependent Tf(c), conductivity and R_int; noise like the
-- paper's data) on which the fitted t+0 must lie within 2 total standard
-- uncertainties (statistical and systematic) of the truth, with a total
-- below 0.05; and a wrong Tf (fixed at 1) must not give a tight wrong
-- answer. IONFLOW_LONG=1 runs 20 seeds (about a minute) instead of 5.
local t = require "ionflow.tap"
local jf = require "ionflow.jointfit"

local exe = os.getenv("IONFLOW") or arg[-1]
local top = (arg[0]:match("^(.*)/tests/lua/[^/]*$")) or "."
local tmp = t.tmpdir()

-- the paper's data: every file found by probing the names
local d = jf.load(top .. "/data/steinrueck2020")
t.is(#d.current.t, 340, "paper: 340 current points")
t.is(#d.profiles, 9, "paper: 9 profiles")
t.is(d.profiles[1].minutes, 20, "paper: first profile after 20 min")
t.is(d.profiles[9].minutes, 1100, "paper: last after 1100 min")
t.is(#d.velocities, 5, "paper: 5 velocity positions")
t.near(d.velocities[1].x, 0.95e-3, 1e-15, "paper: first position 0.95 mm")
t.near(d.current.i[1], 9.05, 0.2, "paper: initial current about 0.905 mA/cm^2")
t.errors(function() jf.load(tmp .. "/nothing-here") end, "has no current_density.csv",
  "an empty directory is named")

-- a synthetic experiment; the truth's Tf depends on c (the fit's default
-- law is a constant: the Tf variants must cover that)
local truth = {tp0 = 0.15, tp1 = 0, sD = 1.2, Tf0 = 2.5, Tf1 = 0.3, sK = 0.8, R_int = 0.004}
local gen = {Tf_law = "linear", N = 80, minutes = 600}
local noise = {current = 0.01, profiles = 50, velocities = 0.6e-9}
local skel = jf.skeleton{minutes = 600}
local fitopts = {N = 30, minutes = 600, fixed = {sK = 0.8}}

-- save and load: the same numbers
do
  local syn = jf.synthetic(truth, skel, gen, noise, 1)
  jf.save(syn, tmp)
  local back = jf.load(tmp)
  local worst = 0
  for k, i in ipairs(syn.current.i) do worst = math.max(worst, math.abs(back.current.i[k] / i - 1)) end
  for p, pr in ipairs(syn.profiles) do
    for k, c in ipairs(pr.c) do worst = math.max(worst, math.abs(back.profiles[p].c[k] / c - 1)) end
  end
  for p, v in ipairs(syn.velocities) do
    for k, u in ipairs(v.v) do worst = math.max(worst, math.abs(back.velocities[p].v[k] / u - 1)) end
  end
  t.ok(worst < 1e-9, "save then load gives the same numbers")
  t.is(#back.profiles, 5, "five profiles back")
  t.is(back.velocities[2].label, "1.65", "velocity labels back")
end

-- coverage of the total uncertainty
local seeds = tonumber(os.getenv("IONFLOW_SEEDS") or "") or (os.getenv("IONFLOW_LONG") == "1" and 20 or 5)
local inside, worst_total, first = 0, 0, nil
for seed = 1, seeds do
  local syn = jf.synthetic(truth, skel, gen, noise, seed)
  local best = jf.fit(syn, fitopts)
  local var = jf.variants(syn, best)
  local _, total = jf.tplus_line(best, var)
  if math.abs(best.tp - truth.tp0) <= 2 * total then inside = inside + 1 end
  worst_total = math.max(worst_total, total)
  t.diag(string.format("seed %2d: t+ = %.4f +/- %.4f (stat) +/- %.4f (sys), truth %.2f",
    seed, best.tp, best.tp_err, var.sys, truth.tp0))
  if seed == 1 then first = {best = best, total = total, syn = syn} end
end
t.ok(inside >= seeds - seeds // 20, string.format(
  "fitted t+0 within 2 total uncertainties of the truth in %d of %d seeds", inside, seeds))
t.ok(worst_total < 0.05, string.format("total uncertainty below 0.05 (largest %.4f)", worst_total))
t.ok(first.best.series[1].name == "current" and #first.best.series == 3,
  "drive V fits current, profiles and velocities")
for _, s in ipairs(first.best.series) do
  t.ok(s.chi2_red > 0.3 and s.chi2_red < 2, string.format(
    "%s: reduced chi2 %.2f near 1 under its estimated error", s.name, s.chi2_red))
end
t.ok(math.abs(first.best.p.Tf0 - 2.5) < 4 * first.best.err.Tf0 + 0.2,
  string.format("Tf0 found near the truth's 2.5 (%.2f +/- %.2f)", first.best.p.Tf0, first.best.err.Tf0))

-- Tf fixed at 1 when the truth's is 2.5: not a tight wrong answer
do
  local syn = first.syn
  local o = {N = 30, minutes = 600, fixed = {sK = 0.8, Tf0 = 1}}
  local best = jf.fit(syn, o)
  local var = jf.variants(syn, best)
  local _, total = jf.tplus_line(best, var)
  t.ok(total > first.total, string.format(
    "Tf = 1: the total uncertainty grows (%.4f, was %.4f)", total, first.total))
  t.ok(math.abs(best.tp - truth.tp0) <= 2 * total, string.format(
    "Tf = 1: t+0 = %.3f +/- %.3f still covers the truth", best.tp, total))
  -- with the errors stated (the noise the data were made with) the misfit
  -- shows as chi2
  o.sigma = noise
  local st = jf.fit(syn, o)
  local worst = 0
  for _, s in ipairs(st.series) do worst = math.max(worst, s.chi2_red) end
  t.ok(worst > 3, string.format("Tf = 1, stated errors: poor chi2 (worst series %.1f)", worst))
  local ok = jf.fit(syn, {N = 30, minutes = 600, fixed = {sK = 0.8}, sigma = noise})
  local good = 0
  for _, s in ipairs(ok.series) do good = math.max(good, s.chi2_red) end
  t.ok(good < 2, string.format("Tf free, stated errors: chi2 fine (worst series %.2f)", good))
end

-- drive I: the voltage series
do
  local best = jf.fit(first.syn, {N = 30, minutes = 600, drive = "I", fixed = {sK = 0.8}})
  t.is(best.series[1].name, "voltage", "drive I fits the voltage")
  t.ok(math.abs(best.tp - truth.tp0) < 3 * best.tp_err + 0.03, string.format(
    "drive I: t+0 = %.3f +/- %.3f", best.tp, best.tp_err))
end

-- the profile likelihood: its delta chi2 = 1 interval matches the error
do
  local pr = jf.profile(first.syn, first.best)
  t.ok(pr.lo and pr.hi, "profile: the scan brackets delta chi2 = 1")
  local half = (pr.hi - pr.lo) / 2
  t.ok(math.abs(half / first.best.tp_err - 1) < 0.3, string.format(
    "profile: half-width %.4f near the covariance error %.4f", half, first.best.tp_err))
end

-- the script on the synthetic directory
do
  local cmd = string.format("%q %q --data %q -N 30 --minutes 600 --fix sK=0.8 --no-scan " ..
    "--csv %q 2>&1", exe, top .. "/scripts/fit-transference.lua", tmp, tmp)
  local p = io.popen(cmd)
  local out = p:read("a")
  local ok = p:close()
  t.ok(ok, "fit-transference.lua --data DIR runs")
  local tp, st, sy = out:match("\nt%+ = (%-?[%d%.]+) %+/%- ([%d%.]+) %(stat%) %+/%- ([%d%.]+) %(sys%)")
  t.ok(tp and math.abs(tonumber(tp) - first.best.tp) < 1e-3, "it prints the t+ line of the same fit")
  t.ok(out:find("correlation:", 1, true) and out:find("without velocities", 1, true),
    "it prints the correlation matrix and the variants")
  local csvf = io.open(tmp .. "/variants.csv")
  t.ok(csvf ~= nil, "it writes variants.csv")
  if csvf then csvf:close() end
  p = io.popen(string.format("%q %q --fix nope=1 2>&1", exe, top .. "/scripts/fit-transference.lua"))
  out = p:read("a")
  t.ok(not p:close() and out:find("--fix nope", 1, true), "an unknown parameter is named")
end

t.done()
