-- joint-fit.lua: how sure can one be of a transference number? A synthetic
-- polarization experiment with a known truth (t+0 = 0.15, D 1.2 times
-- pnb's, a thermodynamic factor Tf(c) = 2.5 (1 + 0.3 (c - c0)/c0), R_int
-- = 0.004 ohm m^2) and noise like the paper's data, fitted as
-- scripts/fit-transference.lua fits the paper: current, profiles and
-- velocities together.
--
--   ionflow examples/joint-fit.lua [--quick]
--
-- 1. With Tf free, t+0 comes back within its errors; the statistical
--    error alone is too small, the systematic variants (other drive, a
--    series left out, other laws) widen it honestly.
-- 2. With Tf fixed at 1 (what every shipped set assumes), the current can
--    only be matched by a wrong t+0: with stated errors the chi2 shows it,
--    with estimated ones the variants disagree and the total grows.
local jf = require "ionflow.jointfit"
local quick = arg and arg[1] == "--quick"

local truth = {tp0 = 0.15, tp1 = 0, sD = 1.2, Tf0 = 2.5, Tf1 = 0.3, sK = 0.8, R_int = 0.004}
local noise = {current = 0.01, profiles = 50, velocities = 0.6e-9}
local skel = jf.skeleton{minutes = 600}
local data = jf.synthetic(truth, skel, {Tf_law = "linear", N = 80, minutes = 600}, noise, 1)
-- the conductivity is taken as known (as if measured): sK fixed at the truth
local opts = {N = quick and 24 or 40, minutes = 600, fixed = {sK = truth.sK}}

local function show(title, o)
  local best = jf.fit(data, o)
  local var = not quick and jf.variants(data, best) or nil
  local line, total = jf.tplus_line(best, var)
  print(title)
  print("  " .. line .. string.format("   (truth %.2f, total %.3f%s)", truth.tp0, total,
    var and "" or "; --quick: no variants"))
  for _, s in ipairs(best.series) do
    print(string.format("  %-10s error %-9.3g %-10s reduced chi2 %.2f", s.name, s.sigma,
      s.stated and "(stated)" or "(estimated)", s.chi2_red))
  end
  print(string.format("  Tf0 = %.2f +/- %.2f%s", best.p.Tf0, best.err.Tf0,
    best.err.Tf0 == 0 and " (fixed)" or ""))
  return best
end

show("1. Tf free, errors estimated from the residuals", opts)
opts.fixed.Tf0 = 1
show("2. Tf fixed at 1, errors estimated", opts)
opts.sigma = noise
show("3. Tf fixed at 1, errors stated (the noise the data were made with)", opts)
print("A reduced chi2 far above 1 says the model is wrong: the errors are scaled up by it,")
print("and t+0 from such a fit is no answer.")
