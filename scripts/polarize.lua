-- polarize.lua: run the continuum model of a Li | PEO-LiTFSI | Li cell held
-- at constant voltage (or current), print the current, voltage parts,
-- concentrations and velocities, and write them as CSV and/or HDF5.
--
--   ionflow scripts/polarize.lua [--V 0.3 | --I MA_PER_CM2] [--L 3e-3]
--       [--T 363.15] [--c0 1870] [--params NAME|FILE.lua] [--minutes 1100]
--       [--rest MINUTES] [-N 200] [--R-int OHM_M2] [--R-growth OHM_M2]
--       [--growth-p 0.5] [--Tf TF | --Tf0 TF0] [--refine 1]
--       [--n-times 111] [-o RUN.h5] [--csv DIR] [--quiet]
--
-- Units: V in volts, I in mA/cm^2, L in m, T in K, c0 in mol/m^3 (1870 =
-- 1.87 mol/L = r 0.1), R-int in ohm m^2. NAME is pnb, tplus-0.2 or diffec
-- (lua/ionflow/cellparams.lua; their conductivity and interfacial
-- resistance are estimates, their Tf an assumption), FILE.lua returns
-- {kappa = f, D = f, tp = f, Tf = f, R_int =, V_salt =, V_EO =} (SI, f of c
-- in mol/m^3, numbers or tables {c =, v =} also allowed). --R-int replaces
-- the set's interfacial resistance; --R-growth makes it grow by that much
-- over the polarization, as (t / t_pol)^p with p = --growth-p (1 linear,
-- 0.5 parabolic film growth). --Tf gives a constant thermodynamic factor,
-- --Tf0 the law 1 + (TF0 - 1) c / c0 (the sets use TF0 = 3). --rest adds an
-- open-circuit rest (I = 0) after the polarization: restricted diffusion.
local cp = require "ionflow.cellparams"
local cio = require "ionflow.cellio"

local usage = [==[
usage: ionflow scripts/polarize.lua [--V 0.3 | --I MA_PER_CM2] [--L 3e-3]
  [--T 363.15] [--c0 1870] [--params NAME|FILE.lua] [--minutes 1100]
  [--rest MINUTES] [-N 200] [--R-int OHM_M2] [--R-growth OHM_M2]
  [--growth-p P] [--Tf TF | --Tf0 TF0] [--refine R] [--n-times N]
  [-o RUN.h5] [--csv DIR] [--quiet]

Runs the concentrated-solution model of the paper's Li | PEO-LiTFSI | Li
cell held at a constant voltage (or current), optionally followed by an
open-circuit rest (restricted diffusion), and prints the current, the
voltage's parts, the salt balance and the velocities at the paper's five
XPCS positions; writes them as CSV (current.csv, profiles.csv,
velocities.csv) and/or HDF5.

Options (defaults in brackets):
  --V VOLTS             cell voltage held [0.3]
  --I MA_PER_CM2        current density held instead of a voltage
  --L M                 electrolyte thickness, metres [3e-3]
  --T K                 temperature, kelvin [363.15]
  --c0 MOL_PER_M3       initial salt concentration [1870 = 1.87 mol/L]
  --params NAME|FILE    parameter set: pnb, tplus-0.2 or diffec, or a Lua
                        file returning {kappa=, D=, tp=, Tf=, R_int=, ...}
                        (SI; numbers, functions or tables of c) [tplus-0.2]
  --minutes M           length of the polarization [1100]
  --rest M              open-circuit rest after it, minutes [none]
  -N N                  finite volumes [200]
  --R-int OHM_M2        interfacial resistance [the set's]
  --R-growth OHM_M2     growth of R_int over the polarization [none]
  --growth-p P          growth law (t / t_pol)^P: 1 linear, 0.5 parabolic [1]
  --Tf TF               constant thermodynamic factor [the set's]
  --Tf0 TF0             Tf = 1 + (TF0 - 1) c / c0 [the set's: 3]
  --refine R            grid refinement near the electrodes [1]
  --n-times N           output times [111]
  -o RUN.h5             HDF5 output
  --csv DIR             CSV output directory (made if missing)
  --quiet               print only the summary

Example:
  ionflow scripts/polarize.lua --params diffec --minutes 600 --csv run]==]

local o = require("ionflow.cli").parse(arg, {name = "polarize", usage = usage,
  numbers = {V = true, I = true, L = true, T = true, c0 = true, minutes = true,
    rest = true, N = true, R_int = true, R_growth = true, growth_p = true, Tf = true,
    Tf0 = true, refine = true, n_times = true},
  values = {params = true, out = true, csv = true}, flags = {quiet = true},
  short = {N = "N", o = "out"}})

local P = cp.paper
-- every size and duration bounded, with the bound in the message: 1e8
-- output times took 3.7 GB before failing; a negative duration is refused
o:bound("n_times", 2, 100000, true)
o:bound("N", 3, 100000, true)
o:bound("minutes", 0, math.huge, false, true)
o:bound("rest", 0, math.huge)
o:bound("L", 0, math.huge, false, true)
o:bound("T", 0, math.huge, false, true)
o:bound("c0", 0, math.huge, false, true)
o:bound("refine", 0, math.huge, false, true)
o:bound("R_int", 0, math.huge)
if o.V and o.I then o:die("give --V or --I, not both") end
local L, minutes = o.L or P.L, o.minutes or P.minutes
local hold = o.I and {I = o.I * 10} or {V = o.V or P.V}
local t_pol, t_end = minutes * 60, (minutes + (o.rest or 0)) * 60
local protocol = {{t_end = t_pol, V = hold.V, I = hold.I}}
if o.rest and o.rest > 0 then protocol[2] = {I = 0} end

-- outputs every minutes / 110 and on a 121-point grid: the paper's five
-- XPCS positions (0.95 ... 2.35 mm of 3 mm) are grid points
local nt = math.floor(o.n_times or 111)
local times, positions = {}, {}
for k = 0, nt - 1 do times[#times + 1] = t_end * k / (nt - 1) end
for k = 0, 120 do positions[#positions + 1] = L * k / 120 end

if o.Tf and o.Tf0 then o:die("give --Tf or --Tf0, not both") end
local name = o.params or "tplus-0.2"
local R_int = o.R_int
if o.R_growth then
  local base = R_int
  if base == nil then
    local okset, set = pcall(cp.get, name)
    base = okset and set.R_int or 0
  end
  R_int = {R0 = base or 0, dR = o.R_growth, t1 = t_pol, p = o.growth_p or 1}
end
local Tf = o.Tf or (o.Tf0 and cp.Tf_linear(o.Tf0, o.c0 or P.c0))
local clock = os.clock()
local ok, r = pcall(cell.run, {L = L, c0 = o.c0 or P.c0, T = o.T or P.T,
  params = name, protocol = protocol, times = times, positions = positions,
  N = math.floor(o.N or 200), R_int = R_int, Tf = Tf, refine = o.refine})
if not ok then
  io.stderr:write("polarize: ", tostring(r), "\n")
  os.exit(1)
end
local elapsed = os.clock() - clock

local function at(list, x)
  local best, bd = 1, math.huge
  for k = 1, #list do
    local d = math.abs(list[k] - x)
    if d < bd then best, bd = k, d end
  end
  return best
end

if not o.quiet then
  print(string.format("parameter set %s, L = %.4g mm, c0 = %.4g mol/L, T = %.2f K, N = %d",
    tostring(r.params), L * 1e3, r.c0 / 1000, r.T, r.N))
  if r.note then print("note: " .. r.note) end
  if type(name) == "string" and not name:match("%.lua$") then
    print("source: " .. tostring(cp.get(name).source))
  end
  print(string.format("run: %.3f s CPU, %d steps (%d rejected), salt drift %.2g",
    elapsed, r.steps, r.rejected, r.salt_drift))
  print(string.format("R_int %.4g ohm m^2 at t = 0, %.4g at the end", r.R_int[1], r.R_int[nt]))
  print(" t_min   i_mA/cm2    V       V_ohm    V_int    V_conc   c(0)     c(L)  mol/L")
  local step = math.max(1, (nt - 1) // 10)
  for k = 1, nt, step do
    print(string.format("%6.0f  %8.4f  %7.4f  %7.4f  %7.4f  %7.4f  %7.4f  %7.4f",
      r.t[k] / 60, r.i[k] / 10, r.V[k], r.V_ohm[k], r.V_int[k], r.V_conc[k],
      r.c:get(k, 1) / 1000, r.c:get(k, #positions) / 1000))
  end
  print(string.format("current ratio i(end)/i(0) = %.4f", r.i[nt] / r.i[1]))
  print("velocities (nm/s; EO = solvent, TFSI = anion; lab frame = relative to the windows)")
  print("  x_mm   t_min  v_EO_lab  v_TFSI_lab  v_EO_iface  v_TFSI_rel_solvent")
  for _, xmm in ipairs(P.positions_mm) do
    local m = at(r.x, xmm * 1e-3 * L / P.L)
    for _, tm in ipairs{0, 300} do
      if tm * 60 <= t_end then
        local k = at(r.t, tm * 60)
        print(string.format("%6.3f  %6.0f  %8.3f  %10.3f  %10.3f  %10.3f", r.x[m] * 1e3,
          r.t[k] / 60, r.v0_lab:get(k, m) * 1e9, r.vm_lab:get(k, m) * 1e9,
          r.v0:get(k, m) * 1e9, r.vm_rel:get(k, m) * 1e9))
      end
    end
  end
end

if o.csv then
  local pos = {}
  for _, xmm in ipairs(P.positions_mm) do pos[#pos + 1] = xmm * 1e-3 * L / P.L end
  cio.write_csv(o.csv, r, {positions = pos})
  if not o.quiet then print("wrote " .. o.csv .. "/{current,profiles,velocities}.csv") end
end
if o.out then
  if not cio.h5() then
    io.stderr:write("polarize: this ionflow has no h5 module, cannot write " .. o.out ..
      (o.csv and "" or "; use --csv DIR") .. "\n")
    os.exit(o.csv and 0 or 1)
  end
  cio.write_h5(o.out, r, {protocol = o.I and "constant current" or "constant voltage",
    minutes = minutes, rest_minutes = o.rest or 0})
  if not o.quiet then print("wrote " .. o.out) end
end
