-- molar-volume-velocities.lua: why the polymer moves. With a partial molar
-- volume V_salt > 0, the salt that piles up at x = 0 pushes the solvent
-- (EO) away: v0 = -V_salt J in the electrode-interface frame, and the anion
-- velocity is vm = -eps v0 with eps = V_EO c_EO / (V_salt c) (paper Eq. 3).
-- With V_salt = 0 the solvent stays at rest (the classic dilute picture).
-- The lab frame (what XPCS sees against the windows) adds the drift of the
-- electrode interfaces, -(i/F) M_Li / rho_Li.
--
--   ionflow examples/molar-volume-velocities.lua [--quick]
local cp = require "ionflow.cellparams"
local quick = arg and arg[1] == "--quick"
local P = cp.paper
local NA = 6.02214076e23
print("V_salt (A^3)  v_EO iface  v_EO lab  v_TFSI iface  v_TFSI rel. solvent   (nm/s, x = 1.5 mm, t = 0)")
for _, vol in ipairs{0, 100, 224, 350} do
  local r = cell.run{L = P.L, c0 = P.c0, V = P.V, params = "tplus-0.2", V_salt = vol * 1e-30 * NA,
                     times = {0, 60}, positions = {P.L / 2}, N = quick and 60 or 200}
  print(string.format("%8.0f      %9.3f  %9.3f  %11.3f  %14.3f", vol, r.v0:get(1, 1) * 1e9,
    r.v0_lab:get(1, 1) * 1e9, r.vm:get(1, 1) * 1e9, r.vm_rel:get(1, 1) * 1e9))
end
local Vs, VEO, c = cp.V_salt, cp.V_EO, P.c0
local eps = (1 - c * Vs) / (Vs * c)
print(string.format("paper's molar volumes (224 and 66.4 A^3): eps = %.3f at 1.87 mol/L " ..
  "(paper: 2.95), kappa = 1/eps + 1 = %.3f", eps, 1 / eps + 1))
