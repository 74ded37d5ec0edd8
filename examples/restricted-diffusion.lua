-- restricted-diffusion.lua: polarize, switch the current off, and watch the
-- salt gradient relax. Long after switching off, the difference
-- c(0) - c(L) decays as exp(-pi^2 D t / L^2): its slope on a log scale
-- measures the salt diffusion coefficient D (the restricted-diffusion
-- method of Newman and Chapman).
--
--   ionflow examples/restricted-diffusion.lua [--quick]
local quick = arg and arg[1] == "--quick"
local L, c0, D = 1e-3, 1000, 1e-11
local tau = L * L / D
local t_off = 0.2 * tau
local times = {}
for k = 0, 10 do times[#times + 1] = t_off + (0.3 + 0.03 * k) * tau end
local r = cell.run{L = L, c0 = c0, D = D, tp = 0.3, kappa = 0.05,
                   protocol = {{t_end = t_off, I = 1.0}, {I = 0}},
                   times = times, positions = {0, L}, N = quick and 50 or 200, rtol = 1e-9,
                   atol = 1e-9 * c0}
print(" t/tau    c(0)-c(L) (mol/m^3)   current (A/m^2)")
local xs, ys = {}, {}
for k = 1, #times do
  local d = r.c:get(k, 1) - r.c:get(k, 2)
  xs[k], ys[k] = times[k], math.log(d)
  print(string.format("%6.3f  %18.6f   %g", times[k] / tau, d, r.i[k]))
end
-- least-squares slope of ln(difference) against time
local n, sx, sy, sxx, sxy = #xs, 0, 0, 0, 0
for k = 1, n do sx, sy, sxx, sxy = sx + xs[k], sy + ys[k], sxx + xs[k]^2, sxy + xs[k] * ys[k] end
local slope = (n * sxy - sx * sy) / (n * sxx - sx * sx)
local D_fit = -slope * L * L / math.pi^2
print(string.format("decay rate %.6g 1/s; D = -slope L^2/pi^2 = %.6g m^2/s (input %.3g)", -slope,
  D_fit, D))
