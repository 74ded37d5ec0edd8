-- what-if-tplus.lua: what if the transference number were 1, 0.2, 0 or
-- negative? The paper's cell (3 mm, 0.3 V, 1.87 mol/L, 90 C) with the D(c)
-- of Pesko et al., the estimated conductivity and interfacial resistance,
-- the assumed thermodynamic factor (lua/ionflow/cellparams.lua), and t+0
-- set by hand.
--
--   ionflow examples/what-if-tplus.lua [--quick]
--
-- t+0 = 1: only Li+ carries current, no salt gradient, the current stays
--          at its initial value (a single-ion conductor).
-- t+0 = 0.2: the paper's conclusion. 0: the anion carries all of the
--          migration flux. Negative: Li+ moves on average against the field
--          (it is dragged by anions in clusters); polarization is stronger.
local cp = require "ionflow.cellparams"
local quick = arg and arg[1] == "--quick"
local P = cp.paper
local base = cp.get("tplus-0.2")
local minutes = quick and 100 or P.minutes

print(string.format("the paper's cell for %d min (kappa, R_int: estimates; Tf: an assumption)",
  minutes))
print("t+0    i(end)/i(0)   c(0) mol/L   c(L) mol/L   V_conc (V)   v_EO_lab(1.5 mm, 0 min) nm/s")
for _, tp in ipairs{1.0, 0.6, 0.2, 0.0, -0.3} do
  local r = cell.run{L = P.L, c0 = P.c0, V = P.V, D = base.D, kappa = base.kappa, tp = tp,
                     R_int = base.R_int, Tf = base.Tf,
                     times = {0, minutes * 60}, positions = {0, P.L / 2, P.L},
                     N = quick and 60 or 200}
  print(string.format("%5.2f  %11.4f   %10.4f   %10.4f   %10.4f   %8.3f", tp, r.i[2] / r.i[1],
    r.c:get(2, 1) / 1000, r.c:get(2, 3) / 1000, r.V_conc[2], r.v0_lab:get(1, 2) * 1e9))
end
print("At t+0 = 1 the electrolyte does not polarize and the solvent velocity is")
print("only the drift of the electrode interfaces, -(i/F) M_Li/rho_Li.")
