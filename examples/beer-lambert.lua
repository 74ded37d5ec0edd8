-- beer-lambert.lua: why X-ray absorption sees the salt in PEO-LiTFSI, and
-- how the sample thickness and the X-ray energy set the precision of a
-- concentration profile (teaching example; runs in a second).
--
--   ionflow examples/beer-lambert.lua
--
-- Beer-Lambert: a beam crossing a thickness d of a mixture holding c_i
-- mol/m^3 of species i is attenuated to I = I0 exp(-A), A = d sum_i c_i sigma_i,
-- with sigma_i the molar attenuation cross section (m^2/mol; xraylib gives
-- it from the formula). Salt added to the polymer pushes polymer out
-- (volumes add: c_salt V_salt + c_EO V_EO = 1), so one more mol/m^3 of salt
-- changes A by d k, with the contrast k = sigma_salt - (V_salt/V_EO) sigma_EO.
local chem = require "ionflow.chem"
local xam = require "ionflow.xam"

local A3 = 1e-30 * chem.AVOGADRO             -- A^3 per molecule -> m^3/mol
local Vs, Ve = 224 * A3, 66.4 * A3           -- the paper's molar volumes
local c0 = 1870                              -- r = 0.1: 1.87 mol/L = 1870 mol/m^3
local cEO = (1 - c0 * Vs) / Ve               -- EO units per m^3, about 18.7 mol/L

print("1. Cross sections per mole: TFSI's sulfur and fluorine absorb, EO does not")
print("   E/keV   sigma_LiTFSI   sigma_EO   (V_s/V_EO) sigma_EO   contrast k  (m^2/mol)")
for _, E in ipairs({8, 10, 15, 20, 30, 50}) do
  local _, ss = chem.attenuation("LiC2F6NO4S2", E)
  local _, se = chem.attenuation("C2H4O", E)
  print(string.format("   %5g   %12.4g   %8.4g   %19.4g   %10.4g", E, ss, se,
    Vs / Ve * se, xam.contrast(ss, se, Vs, Ve)))
end

-- 2. Precision. Counting N photons gives A an error of about 1/sqrt(N), and
-- a profile is the difference of two scans (now and the reference), so
-- sigma_c = sqrt(2) / (sqrt(N0 exp(-A)) d k). Thicker samples give more
-- contrast d k but fewer photons; the optimum is at A = 2 (d = 2 / mu).
-- (The monitor's own counting noise, windows and detector efficiency are
-- left out here; xam.convert propagates all counts it is given.)
local N0 = 1e6                               -- photons per point reaching the sample
print("\n2. Counting error of c at one point, " .. string.format("%.0e", N0) ..
  " incident photons per point")
print("   E/keV   mu/(1/mm)   best d/mm   sigma_c at best d   at d = 1 mm  (mol/L)")
for _, E in ipairs({8, 10, 15, 20, 30, 50}) do
  local _, ss = chem.attenuation("LiC2F6NO4S2", E)
  local _, se = chem.attenuation("C2H4O", E)
  local mu = c0 * ss + cEO * se              -- linear attenuation, 1/m
  local k = xam.contrast(ss, se, Vs, Ve)
  local function sigma_c(d) return math.sqrt(2 / (N0 * math.exp(-mu * d))) / (d * k) end
  print(string.format("   %5g   %9.3f   %9.2f   %17.4f   %11.4f", E, mu / 1e3,
    2 / mu * 1e3, sigma_c(2 / mu) / 1e3, sigma_c(1e-3) / 1e3))
end

-- 3. A round trip: a reference scan at c0 and a scan with a salt gradient,
-- made from the formula above (without noise), converted back by xam.convert.
print("\n3. Round trip through xam.convert (20 keV, d = 1 mm, no noise)")
local _, ss = chem.attenuation("LiC2F6NO4S2", 20)
local _, se = chem.attenuation("C2H4O", 20)
local d = 1e-3
local cols = {time_s = {}, x_m = {}, counts = {}, monitor = {}}
local want = {}
for scan = 0, 1 do
  for j = 0, 10 do
    local x = j * 0.3e-3                     -- 0 to 3 mm across the cell
    local c = scan == 0 and c0 or c0 + 600 * math.cos(math.pi * x / 3e-3)
    local A = d * (c * ss + (1 - c * Vs) / Ve * se)
    local i = #cols.x_m + 1
    cols.time_s[i], cols.x_m[i] = 600 * scan + 10 * j, x
    cols.monitor[i], cols.counts[i] = N0, N0 * math.exp(-A)
    want[i] = c
  end
end
local s = xam.convert{time_s = cols.time_s, x_m = cols.x_m, counts = cols.counts,
  monitor = cols.monitor, c0 = c0, thickness = d, contrast = xam.contrast(ss, se, Vs, Ve)}
local p = s:scan(2)
print("   x/mm   c true   c from Beer-Lambert   counting error  (mol/L)")
for j = 1, #p.x, 2 do
  print(string.format("   %4.1f   %6.3f   %19.3f   %14.3f", p.x[j] * 1e3,
    want[11 + j] / 1e3, p.c[j] / 1e3, p.sc[j] / 1e3))
end
print("   (exact: with volumes that add, Beer-Lambert is linear in c)")
