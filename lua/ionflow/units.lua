-- ionflow.units: conversions between SI (used inside every primitive) and
-- the units the paper and the beamline speak.
--
--   units.A           1e-10 (metres per Angstrom):   q_SI = q_invA / units.A
--   x_m = 1.5 * units.mm;  t_s = 707 * units.min
--   units.to(0.905, "mA/cm^2")   -> 9.05 (A/m^2)     (value in that unit -> SI)
--   units.from(9.05, "mA/cm^2")  -> 0.905            (SI -> value in that unit)
--
-- Each named unit is its size in SI. Unknown unit names are errors.

local M = {
  -- length
  m = 1, cm = 1e-2, mm = 1e-3, um = 1e-6, nm = 1e-9, A = 1e-10,
  -- inverse length (scattering vectors)
  ["1/A"] = 1e10, ["1/nm"] = 1e9, ["1/m"] = 1,
  -- time
  s = 1, ms = 1e-3, min = 60, h = 3600,
  -- velocity
  ["m/s"] = 1, ["nm/s"] = 1e-9, ["A/s"] = 1e-10, ["um/h"] = 1e-6 / 3600,
  -- current density
  ["A/m^2"] = 1, ["mA/cm^2"] = 10,
  -- concentration
  ["mol/m^3"] = 1, ["mol/L"] = 1000, ["mmol/L"] = 1,
  -- volume per molecule and molar volume
  ["m^3"] = 1, ["A^3"] = 1e-30, ["cm^3/mol"] = 1e-6, ["m^3/mol"] = 1,
  -- energy
  eV = 1.602176634e-19, keV = 1.602176634e-16, J = 1,
  -- temperature offsets are not scale factors: use units.celsius()
}

-- physical constants (CODATA 2018 exact or recommended values)
M.const = {
  F = 96485.33212,        -- Faraday constant, C/mol
  R = 8.314462618,        -- gas constant, J/(mol K)
  NA = 6.02214076e23,     -- Avogadro constant, 1/mol
  h = 6.62607015e-34,     -- Planck constant, J s
  c = 299792458,          -- speed of light, m/s
  e = 1.602176634e-19,    -- elementary charge, C
  kB = 1.380649e-23,      -- Boltzmann constant, J/K
}

local function factor(unit)
  local f = rawget(M, unit)
  if type(f) ~= "number" then
    error(string.format("units: unknown unit '%s'", tostring(unit)), 3)
  end
  return f
end

-- a value given in `unit` expressed in SI
function M.to(value, unit) return value * factor(unit) end
-- an SI value expressed in `unit`
function M.from(value, unit) return value / factor(unit) end
-- kelvin from degrees Celsius
function M.celsius(t) return t + 273.15 end
-- X-ray wavelength (m) from photon energy (keV)
function M.wavelength(energy_keV)
  if type(energy_keV) ~= "number" or not (energy_keV > 0) then
    error("units.wavelength: energy_keV must be a positive number", 2)
  end
  return M.const.h * M.const.c / (energy_keV * M.keV)
end

return M
