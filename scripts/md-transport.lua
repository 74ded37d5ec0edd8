-- md-transport.lua: self-diffusion, Onsager coefficients, conductivity and
-- the two transference numbers (apparent from self-diffusion, and t+ with
-- ion-ion correlations, Wohde-Roling) from an MD trajectory.
--
--   ionflow scripts/md-transport.lua TRAJ.h5|DUMP --cation TYPE --anion TYPE
--       [--solvent TYPE] [--temperature K] [--frame barycentric|solvent|lab]
--       [--mass TYPE=M ...] [--blocks N] [--skip FRAMES] [--fit LO_S,HI_S]
--       [--group NAME] [--length-unit M] [--time-unit S] [--unwrapped]
--       [--truncated] [--type-column NAME] [-o OUT.h5]
--
-- TYPE is a LAMMPS atom type or an H5MD species number; several types
-- join with commas (--solvent 3,4,5). Masses (any unit, per type) define
-- the barycentric and solvent centres of mass; without them every atom
-- weighs 1. Errors come from --blocks blocks of the trajectory (default 5).
-- OUT.h5 gets /md/transport/<quantity> (SI) and /md/msd/* curves.
local usage = [==[
usage: ionflow scripts/md-transport.lua TRAJ --cation TYPE --anion TYPE
  [--solvent TYPE] [--temperature K] [--frame barycentric|solvent|lab]
  [--mass TYPE=M ...] [--blocks N] [--skip N] [--fit LO_S,HI_S]
  [--group NAME] [--length-unit M] [--time-unit S] [--unwrapped]
  [--truncated] [--type-column NAME] [-o OUT.h5]

Reads an MD trajectory (H5MD file or LAMMPS dump, frame by frame) and
prints the self-diffusion coefficients, the Onsager coefficients, the
conductivity, and the two transference numbers: t_app from
self-diffusion and t+ with ion-ion correlations (Wohde-Roling), each with
an error from blocks of the trajectory.

Options (defaults in brackets):
  --cation TYPE, --anion TYPE  atom types (LAMMPS) or species (H5MD) of
                        the ions; several join with commas (3,4,5)
  --solvent TYPE        the solvent's types, for the solvent frame [none]
  --temperature K       temperature in kelvin; needed for conductivity
                        and Onsager coefficients in SI [none]
  --frame F             reference frame: barycentric, solvent or lab
                        [barycentric]
  --mass TYPE=M         mass of a type, any unit, repeatable [all 1]
  --blocks N            blocks for the error bars [5]
  --skip N              frames left out at the start (equilibration) [0]
  --fit LO_S,HI_S       lag window of the diffusive fit, seconds [automatic]
  --group NAME          H5MD particle group [the only one]
  --length-unit M       metres per length unit of the file [H5MD: its
                        own; LAMMPS: 1e-10, units real]
  --time-unit S         seconds per time unit (LAMMPS: per timestep)
                        [H5MD: its own; LAMMPS: 1e-15]
  --unwrapped           positions are already unwrapped [wrapped]
  --truncated           a dump cut mid-frame: use its complete frames, with
                        a warning naming the cut [an error]
  --type-column NAME    LAMMPS: the integer column that gives the types,
                        for dumps without a type column [type]
  -o OUT.h5             write /md/transport/* (SI) and /md/msd/* curves

Example:
  ionflow scripts/md-transport.lua run.h5 --cation 1 --anion 2 \
      --temperature 363 -o transport.h5]==]

local function die(msg)
  io.stderr:write("md-transport: ", msg, "\n")
  os.exit(1)
end

-- "1" -> 1, "3,4,5" -> {3, 4, 5}
local function types(o, s, name)
  local l = {}
  for w in s:gmatch("[^,]+") do
    local v = math.tointeger(tonumber(w))
    if not v then o:die(name .. " needs integer types, got '" .. s .. "'") end
    l[#l + 1] = v
  end
  if #l == 0 then o:die(name .. " needs a type") end
  return #l == 1 and l[1] or l
end

-- "LO_S,HI_S" -> {lo, hi}; "TYPE=M" ... -> {[type] = m}
local function fit_window(o)
  local lo, hi = o.fit:match("^([^,]+),([^,]+)$")
  if not (tonumber(lo) and tonumber(hi)) then o:die("--fit needs LO_S,HI_S") end
  return {tonumber(lo), tonumber(hi)}
end

local function masses(o)
  local m = {}
  for _, s in ipairs(o.mass) do
    local ty, v = s:match("^(%-?%d+)=(.+)$")
    if not (ty and tonumber(v)) then o:die("--mass needs TYPE=MASS") end
    m[tonumber(ty)] = tonumber(v)
  end
  return m
end

local function parse(argv)
  local o = require("ionflow.cli").parse(argv, {name = "md-transport", usage = usage,
    values = {cation = true, anion = true, solvent = true, frame = true, group = true,
      fit = true, out = true, type_column = true},
    numbers = {temperature = true, blocks = true, skip = true, length_unit = true,
      time_unit = true},
    repeated = {mass = true}, flags = {unwrapped = true, truncated = true}, positional = {"path"},
    short = {o = "out"}, defaults = {blocks = 5}})
  if not o.path then o:die("no trajectory") end
  o:bound("blocks", 1, 1e9, true)
  o:bound("skip", 0, 1e9, true)
  o:bound("temperature", 0, math.huge, false, true)
  o:bound("length_unit", 0, math.huge, false, true)
  o:bound("time_unit", 0, math.huge, false, true)
  local op = {temperature = o.temperature, frame = o.frame, blocks = o.blocks,
    skip = o.skip, group = o.group, length_unit = o.length_unit,
    time_unit = o.time_unit, unwrapped = o.unwrapped, truncated = o.truncated,
    type_column = o.type_column}
  for _, k in ipairs{"cation", "anion", "solvent"} do
    if o[k] then op[k] = types(o, o[k], "--" .. k) end
  end
  if o.fit then op.fit = fit_window(o) end
  if o.mass then op.masses = masses(o) end
  if not (op.cation and op.anion) then die("--cation and --anion are required") end
  return {path = o.path, out = o.out, opts = op}
end

local have_T   -- a temperature was given: a missing value is not its fault
local function pm(r, k, scale, fmt)
  local v, e = r[k], r[k .. "_err"]
  if v == nil then
    return have_T and "(not computed)" or "(needs --temperature)"
  end
  fmt = fmt or "%.4g"
  local s = string.format(fmt, v * scale)
  if e then s = s .. " +- " .. string.format(fmt, e * scale) end
  return s
end

local function report(o, r)
  have_T = o.opts.temperature ~= nil
  print(string.format("%s: %d frames in %d blocks of %d, dt %.4g ps, fit %.4g .. %.4g ps",
    o.path, r.frames, r.blocks, r.block_frames, r.dt_s * 1e12, r.fit_lo_s * 1e12,
    r.fit_hi_s * 1e12))
  if not r.fit_diffusive then
    print("warning: no diffusive regime (log-log slope near 1) within a quarter " ..
      "block: the fit is doubtful; use longer blocks (--blocks) or --fit")
  end
  print(string.format("frame %s (masses: %s); %d cations, %d anions%s", r.frame, r.masses,
    r.n_cation, r.n_anion, r.n_solvent and (", " .. r.n_solvent .. " solvent") or ""))
  print("D+       (1e-11 m^2/s)  " .. pm(r, "D_cation", 1e11))
  print("D-       (1e-11 m^2/s)  " .. pm(r, "D_anion", 1e11))
  if r.D_solvent then print("D_solv   (1e-11 m^2/s)  " .. pm(r, "D_solvent", 1e11)) end
  print("t_app+ = D+/(D+ + D-)    " .. pm(r, "t_app", 1, "%.4f"))
  print("t+ (Onsager, Wohde-Roling) " .. pm(r, "t_plus", 1, "%.4f"))
  print("sigma    (mS/cm)        " .. pm(r, "sigma", 10))
  print("sigma_NE (mS/cm)        " .. pm(r, "sigma_NE", 10))
  print("ionicity sigma/sigma_NE  " .. pm(r, "ionicity", 1, "%.4f"))
  print("L++, L--, L+- (1/(J m s)) " .. pm(r, "L_pp", 1) .. ", " .. pm(r, "L_mm", 1) ..
    ", " .. pm(r, "L_pm", 1))
end

local function save(path, r)
  local w = h5.create(path, {overwrite = true})
  for k, v in pairs(r) do
    if type(v) == "number" or type(v) == "string" then w:write("/md/transport/" .. k, v) end
  end
  w:write("/md/msd/lag_s", r.lag_s)
  for _, k in ipairs{"cation", "anion", "solvent", "coll_pp", "coll_mm", "coll_pm"} do
    if r["msd_" .. k] then w:write("/md/msd/" .. k, r["msd_" .. k]) end
  end
  w:close()
end

local o = parse(arg)
local ok, r = pcall(md.transport, o.path, o.opts)
if not ok then die(tostring(r)) end
if r.warning then io.stderr:write("md-transport: warning: ", r.warning, "\n") end
report(o, r)
if o.out then
  local ok2, e = pcall(save, o.out, r)
  if not ok2 then die(tostring(e)) end
  print("wrote " .. o.out)
end
