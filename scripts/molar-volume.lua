-- molar-volume.lua: partial molar volumes of salt and solvent from
-- densities (paper Eq. 4), and what they give at one composition r:
-- the salt concentration, epsilon (Eq. 3) and kappa = 1/epsilon + 1.
--
--   ionflow scripts/molar-volume.lua DENSITY.csv [--r 0.1] [--rel-error 0.02]
--           [--salt LiC2F6NO4S2 --solvent C2H4O | --M-salt 287.08 --M-solvent 44.05]
--
-- DENSITY.csv: columns r and rho in g/cm^3 (header optional, '#' comments),
-- an optional third column with the density error in g/cm^3; without it
-- every density gets the relative error --rel-error (Pesko et al.: 2 %).
-- Molar masses: the paper's 287.08 and 44.05 g/mol unless --salt/--solvent
-- formulas or --M-salt/--M-solvent (g/mol) say otherwise.
local csv = require "ionflow.csv"
local chem = require "ionflow.chem"

local usage = [==[
usage: ionflow scripts/molar-volume.lua DENSITY.csv [--r R] [--rel-error F]
  [--salt FORMULA] [--solvent FORMULA] [--M-salt G_PER_MOL]
  [--M-solvent G_PER_MOL]

Fits the partial molar volumes of salt and solvent to densities (the
paper's Eq. 4) and prints them with their errors, and what they give at
the composition r = [Li]/[EO]: the salt concentration, epsilon (Eq. 3)
and kappa = 1/epsilon + 1. DENSITY.csv has columns r and rho in g/cm^3
(header optional, '#' comments) and optionally the density's error.

Options (defaults in brackets):
  --r R                 composition [Li]/[EO] to evaluate at [0.1]
  --rel-error F         relative density error when the file has none [0.02]
  --salt FORMULA        salt formula for its molar mass [LiC2F6NO4S2]
  --solvent FORMULA     solvent repeat unit [C2H4O]
  --M-salt G_PER_MOL    salt molar mass instead of a formula [287.08]
  --M-solvent G_PER_MOL solvent molar mass instead of a formula [44.05]

Example:
  ionflow scripts/molar-volume.lua data/density_peo_litfsi_90C.csv --r 0.1]==]

local function die(msg)
  io.stderr:write("molar-volume: ", msg, "\n")
  os.exit(1)
end

local function parse(argv)
  local o = require("ionflow.cli").parse(argv, {name = "molar-volume", usage = usage,
    numbers = {r = true, rel_error = true, M_salt = true, M_solvent = true},
    values = {salt = true, solvent = true}, positional = {"path"},
    defaults = {r = 0.1, rel_error = 0.02}})
  if not o.path then o:die("no density table") end
  o:bound("r", 0, math.huge, false, true)
  o:bound("M_salt", 0, math.huge, false, true)
  o:bound("M_solvent", 0, math.huge, false, true)
  if not (o.rel_error > 0) then o:die("--rel-error must be positive") end
  o.rel = o.rel_error
  o.M_salt = o.M_salt and o.M_salt / 1000
  o.M_solvent = o.M_solvent and o.M_solvent / 1000
  return o
end

local function molar_masses(o)
  local Ms, Me = chem.M_LITFSI, chem.M_EO
  if o.salt then Ms = chem.molar_mass(o.salt) end
  if o.solvent then Me = chem.molar_mass(o.solvent) end
  return o.M_salt or Ms, o.M_solvent or Me
end

-- densities in kg/m^3 with their errors
local function densities(o)
  local okk, tab = pcall(csv.read, o.path)
  if not okk then die(tostring(tab)) end
  if #tab.columns < 2 then die(o.path .. ": need columns r and rho (g/cm^3)") end
  local r, rho, s = {}, {}, {}
  for k = 1, tab.nrows do
    r[k] = tab.columns[1][k]
    rho[k] = tab.columns[2][k] * 1000
    s[k] = tab.columns[3] and tab.columns[3][k] * 1000 or o.rel * rho[k]
  end
  return r, rho, s, tab.columns[3] ~= nil
end

local o = parse(arg)
local Ms, Me = molar_masses(o)
local r, rho, s, has_err = densities(o)
local okk, fit = pcall(chem.fit_molar_volumes, r, rho, s, {M_salt = Ms, M_solvent = Me})
if not okk then die(o.path .. ": " .. tostring(fit)) end

local A3_per_cm3mol = 1e-30 * chem.AVOGADRO * 1e6
print(string.format("molar volumes from %d densities in %s (%s), M_salt = %.2f, " ..
  "M_solvent = %.2f g/mol", #r, o.path, has_err and "errors from the table" or
  string.format("%g %% relative errors", 100 * o.rel), Ms * 1e3, Me * 1e3))
print(string.format("chi2 = %.2f for %d degrees of freedom (errors below are from " ..
  "the stated density errors, not rescaled)", fit.chi2, fit.dof))
local sname, ename = o.salt or "LiTFSI", o.solvent or "EO"
print(string.format("V_%-8s = %.2f +/- %.2f A^3 per molecule = %.2f +/- %.2f cm^3/mol",
  ename, fit.V_solvent_A3, fit.sd_solvent_A3, fit.V_solvent * 1e6, fit.sd_solvent * 1e6))
print(string.format("V_%-8s = %.1f +/- %.1f A^3 per molecule = %.1f +/- %.1f cm^3/mol",
  sname, fit.V_salt_A3, fit.sd_salt_A3, fit.V_salt * 1e6, fit.sd_salt * 1e6))
print(string.format("correlation of the two volumes: %.3f",
  fit.cov / (fit.sd_salt * fit.sd_solvent)))
local c, sc = chem.concentration(fit, o.r)
local eps, seps = chem.epsilon(fit, o.r)
local kap, skap = chem.kappa(fit, o.r)
print(string.format("at r = %g:", o.r))
print(string.format("  rho     = %.4f g/cm^3 (fit)", chem.density(fit, o.r) / 1000))
print(string.format("  c       = %.3f +/- %.3f mol/L", c / 1000, sc / 1000))
print(string.format("  epsilon = %.3f +/- %.3f   (v_TFSI = -epsilon v_EO, Eq. 3)", eps, seps))
print(string.format("  kappa   = %.4f +/- %.4f  (v_TFSI - v_EO = kappa v_TFSI)", kap, skap))
print(string.format("paper (Steinrueck et al. 2020): V_EO = 66.4 +/- 0.73, V_LiTFSI = " ..
  "224 +/- 7 A^3, epsilon(0.1) = 2.95, c(0.1) = 1.87 mol/L (A^3 x %.4f = cm^3/mol)",
  A3_per_cm3mol))
