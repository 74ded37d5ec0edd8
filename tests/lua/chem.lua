-- chem: molar masses, composition, attenuation and the Eq. 4 fit from Lua,
-- and scripts/molar-volume.lua on the project's copy of the Pesko table.
local t = require "ionflow.tap"
local chem = require "ionflow.chem"

t.near(chem.molar_mass("C2H4O") * 1e3, 44.05, 0.02, "M(EO)")
t.near(chem.molar_mass("LiC2F6NO4S2") * 1e3, 287.08, 0.05, "M(LiTFSI)")
t.errors(function() chem.molar_mass("C2H4Q") end, "C2H4Q", "bad formula named")
t.errors(function() chem.molar_mass({}) end, "string expected", "non-string formula")

-- r = 0.1 at 1.365 g/cm^3 (Pesko et al.): the paper's c of about 1.87 mol/L
local c = chem.molarity(0.1, 1365)
t.near(c, 136.5 / (0.028708 + 0.04405), 1e-9, "molarity, paper molar masses by default")
t.near(chem.r_from_molarity(c, 1365), 0.1, 1e-14, "molarity round trip")
t.near(chem.molality(0.1), 0.1 / 0.04405, 1e-12, "molality per kg of PEO")
t.errors(function() chem.molarity(0.1, -1) end, "rho", "negative density names rho")

local mu, sigma, M = chem.attenuation("H2O", 20)
t.near(mu, 0.08096, 0.0016, "water at 20 keV (NIST 0.8096 cm^2/g)")
t.near(sigma, mu * M, 1e-15, "molar cross section")
t.errors(function() chem.attenuation("H2O", 5000) end, "outside xraylib's tables",
  "energy outside the tables")

-- the fit on exact data made from chosen volumes, then on the shared table
local Vs, Ve = 2.3e-4, 4.0e-5
local r, rho, s = {}, {}, {}
for i = 1, 6 do
  r[i] = 0.03 * i
  rho[i] = (r[i] * chem.M_LITFSI + chem.M_EO) / (r[i] * Vs + Ve)
  s[i] = 0.02 * rho[i]
end
local fit = chem.fit_molar_volumes(r, rho, array.from(s))
t.near(fit.V_salt / Vs, 1, 1e-9, "V_salt recovered (tables and arrays in)")
t.near(fit.V_solvent / Ve, 1, 1e-9, "V_solvent recovered")
local eps = chem.epsilon(fit, 0.1)
t.near(eps, Ve / (0.1 * Vs), 1e-12, "epsilon = V_EO / (r V_salt)")
t.near(chem.kappa(fit, 0.1), 1 / eps + 1, 1e-12, "kappa = 1/epsilon + 1")
t.near(chem.concentration(fit, 0.1), 0.1 / (0.1 * Vs + Ve), 1e-9, "c from volumes")
t.near(chem.density(fit, 0.1), (0.1 * chem.M_LITFSI + chem.M_EO) /
  (0.1 * Vs + Ve), 1e-9, "density")
t.near(chem.anion_velocity(-2e-9, eps), 2e-9 * eps, 1e-22, "Eq. 3")
t.near(chem.epsilon({V_salt = 224, V_solvent = 66.4}, 0.1), 66.4 / 22.4, 1e-12,
  "a hand-made fit table (paper volumes)")
t.errors(function() chem.fit_molar_volumes({0.1, 0.2}, {1, 2, 3}, {1, 1, 1}) end,
  "r, rho and sigma", "length mismatch")
t.errors(function() chem.fit_molar_volumes({0.1, 0.2, 0.3}, {1300, 0, 1500}, {1, 1, 1}) end,
  "row 2", "bad density names its row")
t.errors(function() chem.epsilon({V_salt = 1}, 0.1) end, "V_solvent", "missing field")

-- the script, on the project's copy of Pesko et al. (paper: 66.4 +/- 0.73
-- and 224 +/- 7 A^3, epsilon(0.1) = 2.95)
local exe = os.getenv("IONFLOW") or arg[-1]
local function run(args)
  local p = io.popen(exe .. " scripts/molar-volume.lua " .. args .. " 2>&1")
  local out = p:read("a")
  local okk = p:close()
  return out, okk
end
local out, okk = run("data/density_peo_litfsi_90C.csv --r 0.1")
t.ok(okk, "molar-volume.lua runs")
local vo, svo = out:match("V_EO%s*=%s*([%d.]+) %+/%- ([%d.]+) A%^3")
local vs, svs = out:match("V_LiTFSI%s*=%s*([%d.]+) %+/%- ([%d.]+) A%^3")
vo, svo, vs, svs = tonumber(vo), tonumber(svo), tonumber(vs), tonumber(svs)
t.ok(vo and math.abs(vo - 66.4) < 0.73, "V_EO agrees with the paper: " .. tostring(vo))
t.ok(vs and math.abs(vs - 224) < 7, "V_LiTFSI agrees with the paper: " .. tostring(vs))
t.ok(svo and svo > 0.5 and svo < 1.0, "V_EO error comparable to the paper's 0.73")
local e = tonumber(out:match("epsilon%s*=%s*([%d.]+)"))
t.ok(e and math.abs(e - 2.95) < 0.05, "epsilon(0.1) close to 2.95: " .. tostring(e))
local cc = tonumber(out:match("c%s*=%s*([%d.]+) %+/%-"))
t.ok(cc and math.abs(cc - 1.87) < 0.01, "c(0.1) about 1.87 mol/L: " .. tostring(cc))
local out2, ok2 = run("/nonexistent/density.csv")
t.ok(not ok2 and out2:find("/nonexistent/density.csv", 1, true), "missing file named")
if not ok2 then t.diag("%s", out2:match("[^\n]*")) end
t.done()
