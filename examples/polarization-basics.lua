-- polarization-basics.lua: the Bruce-Vincent experiment in the model.
--
--   ionflow examples/polarization-basics.lua [--quick]
--
-- A symmetric Li | salt | Li cell with constant, ideal properties is held at
-- a small voltage. At first the current is ohmic, i_0 = V kappa / L; then
-- the anions pile up at x = 0 and deplete at x = L, a concentration
-- overpotential builds up, and the current falls to a steady value. For an
-- ideal binary salt (kappa = F^2 c D / (2 R T t+ t-), Nernst-Einstein) the
-- ratio i_ss / i_0 equals the cation transference number t+: that is how
-- Bruce and Vincent measure it. The steady profile is a straight line.
-- For a real (non-ideal) electrolyte the ratio is something else: see
-- classic-methods.lua.
local quick = arg and arg[1] == "--quick"
local F, R = cell.F, cell.R
local L, c0, T, D, V = 1e-3, 1000, 363.15, 1e-11, 1e-3   -- m, mol/m^3, K, m^2/s, V
local N = quick and 40 or 200
local tau = L * L / D                                     -- diffusion time, s

print("t+     i_0 (A/m^2)   i_ss (A/m^2)   i_ss/i_0   linear profile?")
local tps = quick and {0.1, 0.5, 0.9} or {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0}
for _, tp in ipairs(tps) do
  -- the ideal conductivity; at t+ = 1 any value works (no polarization)
  local kappa = tp < 1 and F * F * c0 * D / (2 * R * T * tp * (1 - tp)) or 0.1
  local r = cell.run{L = L, c0 = c0, T = T, V = V, D = D, tp = tp, kappa = kappa,
                     V_salt = 0, times = {0, 3 * tau}, positions = {0.25 * L, 0.5 * L, 0.75 * L},
                     N = N, rtol = 1e-8}
  -- a straight line: the midpoint is the mean of the quarter points
  local a, b, c = r.c:get(2, 1), r.c:get(2, 2), r.c:get(2, 3)
  local straight = math.abs(b - (a + c) / 2) < 1e-6 * c0
  print(string.format("%.1f   %10.5f   %12.5f   %8.4f   %s", tp, r.i[1], r.i[2],
    r.i[2] / r.i[1], straight and "yes" or "no"))
end
print("The ratio i_ss / i_0 reproduces t+ (exactly in the limit V -> 0).")
