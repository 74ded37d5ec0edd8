-- ionflow.cellio: writing continuum-model runs (cell.run results) as CSV
-- and HDF5 (the cell scripts parse their command lines with ionflow.cli).
--
--   local cio = require "ionflow.cellio"
--   cio.write_csv(dir, r, {positions = {...}})   -- current.csv, profiles.csv, velocities.csv
--   cio.write_h5("run.h5", r)                   -- needs the h5 module
--
-- Units in the files are the paper's (minutes, mm, mA/cm^2, mol/L, nm/s)
-- and named in every column; HDF5 datasets are SI with a `units` attribute.

local csv = require "ionflow.csv"

local M = {}

local function mkdir(dir)
  local ok, err = pcall(sys.mkdir, dir)
  if not ok then error("cellio: " .. tostring(err):gsub("^sys%.mkdir: ", ""), 3) end
end

-- current.csv: time and the voltage parts; profiles.csv: c(x) at every
-- output time (one column per time); velocities.csv: the velocities at
-- opts.positions (m, default all), long format
function M.write_csv(dir, r, opts)
  opts = opts or {}
  mkdir(dir)
  local nt, nx = #r.t, #r.x
  local cols = {{}, {}, {}, {}, {}, {}, {}, {}}
  for k = 1, nt do
    cols[1][k] = r.t[k] / 60
    cols[2][k] = r.i[k] / 10
    cols[3][k], cols[4][k], cols[5][k], cols[6][k] =
      r.V[k], r.V_ohm[k], r.V_int[k], r.V_conc[k]
    cols[7][k] = r.salt[k]
    cols[8][k] = r.v_int[k] * 1e9
  end
  csv.write(dir .. "/current.csv", {"t_min", "i_mA_per_cm2", "V_V", "V_ohm_V",
    "V_int_V", "V_conc_V", "salt_mol_per_m2", "v_interface_lab_nm_per_s"}, cols)
  local names, pc = {"x_mm"}, {{}}
  for m = 1, nx do pc[1][m] = r.x[m] * 1e3 end
  for k = 1, nt do
    names[#names + 1] = string.format("c_mol_per_L_at_%.6g_min", r.t[k] / 60)
    local col = {}
    for m = 1, nx do col[m] = r.c:get(k, m) / 1000 end
    pc[#pc + 1] = col
  end
  csv.write(dir .. "/profiles.csv", names, pc)
  local want = {}
  if opts.positions then
    for _, x in ipairs(opts.positions) do
      local best, bd = nil, math.huge
      for m = 1, nx do
        local d = math.abs(r.x[m] - x)
        if d < bd then best, bd = m, d end
      end
      want[#want + 1] = best
    end
  else
    for m = 1, nx do want[m] = m end
  end
  local vc = {{}, {}, {}, {}, {}, {}, {}, {}}
  for k = 1, nt do
    for _, m in ipairs(want) do
      local j = #vc[1] + 1
      vc[1][j], vc[2][j] = r.t[k] / 60, r.x[m] * 1e3
      vc[3][j] = r.c:get(k, m) / 1000
      vc[4][j] = r.v0:get(k, m) * 1e9
      vc[5][j] = r.vm:get(k, m) * 1e9
      vc[6][j] = r.v0_lab:get(k, m) * 1e9
      vc[7][j] = r.vm_lab:get(k, m) * 1e9
      vc[8][j] = r.vm_rel:get(k, m) * 1e9
    end
  end
  csv.write(dir .. "/velocities.csv", {"t_min", "x_mm", "c_mol_per_L",
    "v_EO_interface_nm_per_s", "v_TFSI_interface_nm_per_s", "v_EO_lab_nm_per_s",
    "v_TFSI_lab_nm_per_s", "v_TFSI_rel_solvent_nm_per_s"}, vc)
end

-- the h5 module when this binary has it (nil otherwise)
function M.h5()
  return rawget(_G, "h5")
end

local H5_FIELDS = {
  {"t", "s", "output times"},
  {"x", "m", "output positions, from the electrode where salt accumulates"},
  {"i", "A/m^2", "current density (positive: from x = 0 to x = L)"},
  {"V", "V", "cell voltage"}, {"V_ohm", "V", "bulk ohmic drop i int dx/kappa"},
  {"V_int", "V", "interfacial overpotential (R_int, Butler-Volmer)"},
  {"V_conc", "V", "concentration overpotential (2RT/F) int t-0 Tf dln c"},
  {"salt", "mol/m^2", "salt per electrode area, int c dx"},
  {"v_int", "m/s", "lab-frame velocity of the electrode interfaces"},
  {"c", "mol/m^3", "salt concentration (time x position)"},
  {"J", "mol/(m^2 s)", "anion flux relative to the solvent"},
  {"v0", "m/s", "solvent (EO) velocity, electrode-interface frame"},
  {"vm", "m/s", "anion (TFSI) velocity, electrode-interface frame"},
  {"v0_lab", "m/s", "solvent (EO) velocity, lab frame"},
  {"vm_lab", "m/s", "anion (TFSI) velocity, lab frame"},
  {"vm_rel", "m/s", "anion velocity relative to the solvent, J/c"},
}

-- /cell/<group>/<field> datasets with units; meta: attributes of the group
function M.write_h5(path, r, meta, group)
  local h5 = M.h5()
  if not h5 then
    error("cellio.write_h5: this ionflow has no h5 module; use --csv DIR", 2)
  end
  group = group or "/cell/run"
  local w = h5.create(path)
  local ok, msg = pcall(function()
    for _, f in ipairs(H5_FIELDS) do
      w:write(group .. "/" .. f[1], r[f[1]], {attrs = {units = f[2], description = f[3]}})
    end
    local attrs = {params = tostring(r.params), note = r.note or "",
                   L_m = r.L, c0_mol_per_m3 = r.c0, T_K = r.T, N = r.N,
                   V_salt_m3_per_mol = r.V_salt, V_EO_m3_per_mol = r.V_EO,
                   salt_drift = r.salt_drift}
    for k, v in pairs(meta or {}) do attrs[k] = v end
    w:attr(group, attrs)
  end)
  if not ok then
    w:abort()
    error(msg, 2)
  end
  w:close()
end

return M
