-- classic-methods.lua: what the classic transference measurements would
-- report if the electrolyte were exactly the model, and why they differ
-- from the model's true t+0.
--
-- Bruce-Vincent: a small step dV, initial and steady currents, corrected
-- for the interfacial resistances. For small steps it measures
-- R_bulk / (R_bulk + R_conc), the share of the bulk resistance in the
-- steady-state resistance, with R_conc = (2RT/F^2) t-^2 Tf (1 - c V_salt)
-- L / (D c). That equals t+0 only when kappa = kappa_ideal = F^2 D c /
-- (2RT t+ t- Tf (1 - c V_salt)): an ideal electrolyte whose ions move
-- independently. Balsara-Newman adds D (restricted diffusion), the
-- concentration-cell slope dU/dln m and kappa, and recovers t+0 whatever
-- kappa and Tf are (for constant properties and small steps).
--
--   ionflow examples/classic-methods.lua [--quick]
local quick = arg and arg[1] == "--quick"
local cp = require "ionflow.cellparams"
local N = quick and 60 or 200

-- 1. One electrolyte, t+0 = 0.3, with different conductivities and Tf;
-- kappa in units of the ideal one of Tf = 1 (Nernst-Einstein-like)
local L, c0, D, tp = 1e-3, 1000, 1e-11, 0.3
print("1. t+0 = 0.3, D = 1e-11 m^2/s, 1 mm, step 0.1 mV: what each method reports")
print("kappa/kappa_id(Tf=1)  Tf    t+_BV   closed form   t+_BN   true")
local base = {L = L, c0 = c0, D = D, tp = tp, Tf = 1, V_salt = 0, kappa = 1, dV = 1e-4}
local ideal1 = cell.bruce_vincent(base).kappa_ideal
for _, tf in ipairs{1, 2.5} do
  for _, f in ipairs{0.5, 1, 2} do
    local o = {L = L, c0 = c0, D = D, tp = tp, Tf = tf, V_salt = 0, kappa = f * ideal1,
               dV = 1e-4, N = N, rtol = 1e-9}
    local bv, bn = cell.bruce_vincent(o), cell.balsara_newman(o)
    print(string.format("%20.2f  %3.1f  %7.4f  %11.4f  %7.4f  %5.2f", f, tf, bv.tp,
      bv.tp_bv_small, bn.tp, bv.tp_true))
  end
end
print("Bruce-Vincent equals t+0 only for the ideal electrolyte (kappa_id, Tf = 1);")
print("Balsara-Newman recovers t+0 in every row.")

-- 2. The shipped parameter sets in the paper's cell, a 10 mV step
local P = cp.paper
print()
print("2. The paper's cell (3 mm, c0 = 1.87 mol/L), step 10 mV, each parameter set")
print("set         true t+0  t+_BV  t+_BN   D_BN/D   kappa/kappa_ideal")
for _, name in ipairs(cp.names) do
  local o = {L = P.L, c0 = P.c0, params = name, dV = 0.01, N = N}
  local bv, bn = cell.bruce_vincent(o), cell.balsara_newman(o)
  local ki = bv.kappa_ideal == bv.kappa_ideal and
    string.format("%.2f", bv.kappa_c0 / bv.kappa_ideal) or "(t+0 < 0)"
  print(string.format("%-10s  %8.3f  %5.3f  %6.3f  %7.4f  %s", name, bv.tp_true, bv.tp, bn.tp,
    bn.D / bn.D_true, ki))
end
print("The sets' kappa is the Nernst-Einstein estimate, about twice kappa_ideal:")
print("Bruce-Vincent then reports about half of t+0, and a positive number even")
print("where t+0 is negative (diffec). Balsara-Newman recovers t+0 at c0.")

-- 3. Larger steps probe more of the concentration dependence
print()
print("3. pnb set, Balsara-Newman t+0 against the step (true t+0(c0) above)")
print("  dV (mV)   rho+    t+_BN")
for _, dV in ipairs{0.005, 0.02, 0.05} do
  local bn = cell.balsara_newman{L = P.L, c0 = P.c0, params = "pnb", dV = dV, N = N}
  print(string.format("%9.0f  %6.4f  %7.4f", dV * 1e3, bn.rho, bn.tp))
end
