-- xam-profile.lua: salt concentration profiles c(x, t) from X-ray absorption
-- raster scans (Beer-Lambert), as in Fig. 4 of Steinrueck, Takacs et al. 2020.
--
--   ionflow scripts/xam-profile.lua SCANS.csv|SCANS.h5 --energy-keV E
--           --thickness M --c0 MOL_PER_L [--reference N] [--gap M]
--           [--salt LiC2F6NO4S2] [--solvent C2H4O] [--V-salt 224] [--V-solvent 66.4]
--           [--contrast M2_PER_MOL] [--origin centre|left|right]
--           [--at-min T1,T2,...] -o OUT.h5 [--csv OUT.csv]
--
-- Input columns (CSV header or HDF5 datasets of these names): time_s, x_m,
-- counts, monitor and optionally dark, one row per point in acquisition
-- order. Scans are recognised by the reversal or restart of x. Scan N
-- (default 1) is the reference, taken before polarization at uniform c0.
-- The contrast per mol/m^3 of salt comes from xraylib cross sections and
-- the molar volumes (A^3 per molecule; defaults are the paper's), or is
-- given directly with --contrast. Electrode edges come from the reference
-- scan (lithium absorbs far less); --gap M is used when the scan does not
-- reach both electrodes (the scan range is then taken as centred on the
-- cell). Output: the points inside the cell with positions from the centre
-- (or an electrode), c and its counting error in mol/L; the salt balance
-- per profile on stdout; with --at-min, profiles interpolated to common
-- times (minutes on the time_s axis of the input). HDF5 output (group
-- /xam: points/, at/, edges/, parameters/) needs the h5 module; without it
-- the result is written as CSV next to OUT (OUT with .csv) and a message
-- says so.
local csv = require "ionflow.csv"
local chem = require "ionflow.chem"
local xam = require "ionflow.xam"

local usage = [==[
usage: ionflow scripts/xam-profile.lua SCANS.csv|SCANS.h5 --energy-keV E
  --thickness M --c0 MOL_PER_L [--reference N] [--gap M] [--salt F]
  [--solvent F] [--V-salt A3] [--V-solvent A3] [--contrast M2_PER_MOL]
  [--origin centre|left|right] [--at-min T1,T2,...] [-o OUT.h5]
  [--csv OUT.csv]

Turns X-ray absorption raster scans into salt concentration profiles
c(x, t) (Beer-Lambert, as in the paper's Fig. 4). SCANS has columns (CSV
header or HDF5 datasets) time_s, x_m, counts, monitor and optionally
dark, one row per point in acquisition order; a scan ends where x turns
back. Writes the points inside the cell with c and its counting error in
mol/L, and prints the salt balance of each profile.

Options (defaults in brackets):
  --energy-keV E        photon energy, keV (for xraylib's cross sections)
  --thickness M         cell thickness along the beam, metres
  --c0 MOL_PER_L        uniform salt concentration of the reference scan
  --reference N         the scan taken before polarization [1]
  --gap M               electrode gap, when the scans do not reach both
                        electrodes [from the reference scan]
  --salt F, --solvent F formulas for the cross sections [LiC2F6NO4S2, C2H4O]
  --V-salt A3, --V-solvent A3  molar volumes, A^3 per molecule [224, 66.4]
  --contrast M2_PER_MOL absorption contrast per mol/m^3 of salt, instead of
                        the formulas and volumes [computed]
  --origin O            positions from the centre, left or right electrode
                        [centre]
  --at-min T1,T2,...    also profiles interpolated to these times, minutes
  -o OUT.h5             HDF5 output (/xam: points, at, edges, parameters)
  --csv OUT.csv         CSV output (and OUT-at.csv with --at-min)

Example:
  ionflow scripts/xam-profile.lua scans.csv --energy-keV 20 \
      --thickness 1e-3 --c0 1.87 --at-min 40,60 --csv profiles.csv]==]

local function die(msg)
  io.stderr:write("xam-profile: ", msg, "\n")
  os.exit(1)
end

local function parse(argv)
  local o = require("ionflow.cli").parse(argv, {name = "xam-profile", usage = usage,
    numbers = {energy_keV = true, thickness = true, c0 = true, reference = true,
      gap = true, V_salt = true, V_solvent = true, contrast = true},
    values = {salt = true, solvent = true, out = true, csv = true, origin = true,
      at_min = true},
    positional = {"path"}, short = {o = "out"},
    defaults = {reference = 1, salt = "LiC2F6NO4S2", solvent = "C2H4O",
      V_salt = 224, V_solvent = 66.4, origin = "centre"}})
  if not o.path then o:die("no scan file") end
  for _, k in ipairs{"energy_keV", "thickness", "c0", "V_salt", "V_solvent"} do
    o:bound(k, 0, math.huge, false, true)
  end
  o:bound("reference", 1, 1e9, true)
  o:bound("gap", 0, math.huge, false, true)
  for _, k in ipairs({"energy_keV", "thickness", "c0"}) do
    if not o[k] and not (k == "energy_keV" and o.contrast) then
      o:die("missing --" .. k:gsub("_", "-"))
    end
  end
  if not (o.out or o.csv) then o:die("give -o OUT.h5 and/or --csv OUT.csv") end
  if not ({centre = 1, center = 1, left = 1, right = 1})[o.origin] then
    o:die("--origin must be centre, left or right")
  end
  return o
end

local columns = {"time_s", "x_m", "counts", "monitor", "dark"}

local function read_csv(path)
  local okk, tab = pcall(csv.read, path, {header = true})
  if not okk then die(tostring(tab)) end
  local d = {}
  for k, name in ipairs(columns) do
    for j, n in ipairs(tab.names or {}) do
      if n == name then d[name] = tab.columns[j] end
    end
    if not d[name] and k <= 4 then
      die(string.format("%s: missing column '%s' (need time_s,x_m,counts,monitor[,dark])",
        path, name))
    end
  end
  return d
end

-- datasets of the same names; needs the h5 module
local function read_h5(path)
  if type(h5) ~= "table" then
    die(path .. ": reading HDF5 needs the h5 module, which this ionflow lacks; " ..
      "give the scans as CSV (time_s,x_m,counts,monitor[,dark])")
  end
  local okk, f = pcall(h5.open, path)
  if not okk then die(tostring(f)) end
  local d = {}
  for k, name in ipairs(columns) do
    local ok2, v = pcall(f.read, f, name)
    if ok2 then d[name] = v
    elseif k <= 4 then die(string.format("%s: missing dataset '%s': %s", path, name, v)) end
  end
  f:close()
  return d
end

local function contrast(o)
  if o.contrast then return o.contrast, "given" end
  local A3 = 1e-30 * chem.AVOGADRO
  local okk, _, ss = pcall(chem.attenuation, o.salt, o.energy_keV)
  if not okk then die("--salt/--energy-keV: " .. tostring(_)) end
  local ok2, _, se = pcall(chem.attenuation, o.solvent, o.energy_keV)
  if not ok2 then die("--solvent/--energy-keV: " .. tostring(_)) end
  return xam.contrast(ss, se, o.V_salt * A3, o.V_solvent * A3),
    string.format("%s vs %s at %g keV, V = %g and %g A^3", o.salt, o.solvent,
      o.energy_keV, o.V_salt, o.V_solvent)
end

-- electrode edges from the reference scan, or the scan range and --gap
local function edges(o, s)
  local okk, l, r = pcall(s.edges, s, o.reference)
  local ref = s:scan(o.reference)
  local lo, hi = math.min(ref.x[1], ref.x[#ref.x]), math.max(ref.x[1], ref.x[#ref.x])
  local step = (hi - lo) / math.max(#ref.x - 1, 1)
  if okk then
    if o.gap and math.abs((r - l) - o.gap) > step then
      io.stderr:write(string.format("xam-profile: warning: detected gap %.4g m differs " ..
        "from --gap %.4g m by more than a step\n", r - l, o.gap))
    end
    return l, r, "detected in scan " .. o.reference
  end
  if not o.gap then die(tostring(l) .. "; give --gap to use the scan range") end
  local mid = 0.5 * (lo + hi)
  return mid - o.gap / 2, mid + o.gap / 2, "from --gap, centred on the scan range"
end

local o = parse(arg)
local is_h5 = o.path:match("%.h5$") or o.path:match("%.hdf5?$")
local d = is_h5 and read_h5(o.path) or read_csv(o.path)
local k, how = contrast(o)
local okk, s = pcall(xam.convert, {time_s = d.time_s, x_m = d.x_m, counts = d.counts,
  monitor = d.monitor, dark = d.dark, c0 = o.c0 * 1000, thickness = o.thickness,
  contrast = k, reference = o.reference})
if not okk then die(o.path .. ": " .. tostring(s)) end
local left, right, where = edges(o, s)
print(string.format("%s: %d points in %d scans; reference scan %d at c0 = %g mol/L",
  o.path, #d.time_s, s:nscans(), o.reference, o.c0))
print(string.format("contrast %.5g m^2/mol (%s); thickness %g m", k, how, o.thickness))
print(string.format("electrodes at %.6g and %.6g m (%s): gap %.4g mm", left, right,
  where, (right - left) * 1e3))

-- the salt in a profile; at the scan's mean time when later and earlier
-- scans allow interpolation (c changes while a scan runs), else the raw scan
local function balance(sc_k, t_mean)
  local okk2, c, sc, x = pcall(s.at, s, t_mean)
  local kind = "at mean time"
  if not okk2 then
    x, c, sc, kind = sc_k.x, sc_k.c, sc_k.sc, "raw scan"
  end
  local ok3, b = pcall(xam.salt_balance, x, c, sc, left, right, o.c0 * 1000)
  if not ok3 then return nil, tostring(b) end
  return b, kind
end

local cols = {scan = {}, time_s = {}, t_mean_s = {}, x_m = {}, position_m = {},
              c_mol_per_L = {}, sc_mol_per_L = {}}
print("scan  t_mean_min  points  salt_mol_per_m2  expected  excess +/- error  (profile)")
for n = 1, s:nscans() do
  if n ~= o.reference then
    local sc_k = s:scan(n)
    for i = 1, #sc_k.x do
      local x = sc_k.x[i]
      if x > left and x < right then
        local j = #cols.scan + 1
        cols.scan[j], cols.time_s[j], cols.t_mean_s[j] = n, sc_k.t[i], sc_k.t_mean
        cols.x_m[j] = x
        cols.position_m[j] = xam.position(x, left, right, o.origin)
        cols.c_mol_per_L[j] = sc_k.c[i] / 1000
        cols.sc_mol_per_L[j] = sc_k.sc[i] / 1000
      end
    end
    local b, kind = balance(sc_k, sc_k.t_mean)
    if b then
      print(string.format("%4d  %10.2f  %6d  %15.5f  %8.5f  %+.5f +/- %.5f  (%s)", n,
        sc_k.t_mean / 60, b.used, b.total, b.expected, b.excess, b.sd_total, kind))
    else
      print(string.format("%4d  %10.2f  no salt balance: %s", n, sc_k.t_mean / 60, kind))
    end
  end
end
if #cols.scan == 0 then die("no point lies inside the cell") end

local names = {"scan", "time_s", "t_mean_s", "x_m", "position_m", "c_mol_per_L",
               "sc_mol_per_L"}
local function columns_of(t, keys)
  local out = {}
  for i, key in ipairs(keys) do out[i] = t[key] end
  return out
end

-- profiles at common times (minutes), on the reference scan's positions
local at
if o.at_min then
  at = {time_s = {}, x_m = {}, position_m = {}, c_mol_per_L = {}, sc_mol_per_L = {}}
  for field in o.at_min:gmatch("[^,]+") do
    local tm = tonumber(field) or die("--at-min: not a number: '" .. field .. "'")
    local ok4, c, sc, x = pcall(s.at, s, tm * 60)
    if not ok4 then die("--at-min " .. field .. ": " .. tostring(c)) end
    for i = 1, #x do
      if x[i] > left and x[i] < right then
        local j = #at.time_s + 1
        at.time_s[j], at.x_m[j] = tm * 60, x[i]
        at.position_m[j] = xam.position(x[i], left, right, o.origin)
        at.c_mol_per_L[j], at.sc_mol_per_L[j] = c[i] / 1000, sc[i] / 1000
      end
    end
  end
end
local at_names = {"time_s", "x_m", "position_m", "c_mol_per_L", "sc_mol_per_L"}

local function write_csv(path)
  csv.write(path, names, columns_of(cols, names))
  if at then
    local p = path:gsub("%.csv$", "") .. "-at.csv"
    csv.write(p, at_names, columns_of(at, at_names))
    print("profiles at common times: " .. p)
  end
  print("wrote " .. path)
end

local function write_h5(path)
  local f = h5.create(path, {overwrite = true})
  for _, n in ipairs(names) do f:write("/xam/points/" .. n, array.from(cols[n])) end
  if at then
    for _, n in ipairs(at_names) do f:write("/xam/at/" .. n, array.from(at[n])) end
  end
  f:write("/xam/edges/left_m", left)
  f:write("/xam/edges/right_m", right)
  f:write("/xam/edges/origin", o.origin)
  f:write("/xam/parameters/contrast_m2_per_mol", k)
  f:write("/xam/parameters/thickness_m", o.thickness)
  f:write("/xam/parameters/c0_mol_per_L", o.c0)
  f:write("/xam/parameters/reference_scan", o.reference)
  f:write("/xam/parameters/source", o.path)
  f:close()
  print("wrote " .. path)
end

if o.csv then write_csv(o.csv) end
if o.out then
  if type(h5) == "table" and h5.create then
    write_h5(o.out)
  else
    local p = o.out:gsub("%.h5$", ""):gsub("%.hdf5?$", "") .. ".csv"
    io.stderr:write("xam-profile: the h5 module is not built in, so " .. o.out ..
      " cannot be written; writing CSV to " .. p .. " instead\n")
    if p ~= o.csv then write_csv(p) end
  end
end
