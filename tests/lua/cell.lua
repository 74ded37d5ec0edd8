-- tests of the cell binding and the named parameter sets
local t = require "ionflow.tap"
local cp = require "ionflow.cellparams"
local csv = require "ionflow.csv"

local top = (arg and arg[0] and arg[0]:match("^(.*)/tests/lua/[^/]*$")) or "."
local F, R = cell.F, cell.R
local P = cp.paper

-- the paper's cell with a named set: initial current, salt, voltage parts
do
  local r = cell.run{L = P.L, c0 = P.c0, V = P.V, params = "tplus-0.2",
                     t_end = 300 * 60, n_times = 7, N = 100}
  t.near(r.i[1], 9.05, 1e-9, "initial current is the paper's 0.905 mA/cm^2 (kappa scaled)")
  t.ok(r.salt_drift < 1e-10, "salt conserved (" .. r.salt_drift .. ")")
  local worst = 0
  for k = 1, 7 do worst = math.max(worst, math.abs(r.V[k] - 0.3)) end
  t.ok(worst < 1e-8, "V_ohm + V_int + V_conc = 0.3 V at every output")
  t.ok(r.i[7] < 0.8 * r.i[1], "the current decays")
  t.is(r.params, "tplus-0.2", "result names its parameter set")
  t.ok(r.note and r.note:find("estimate", 1, true), "result says kappa is an estimate")
  t.is(#r.t, 7, "seven output times")
  t.is(#r.x, 100, "positions default to the 100 cell centres")
  t.near(r.c:get(7, 1) > r.c0 and 1 or 0, 1, 0, "salt accumulates at x = 0")
  t.near(r.v0_lab:get(1, 50) - r.v0:get(1, 50), r.v_int[1], 1e-20, "lab = interface frame + v_int")
end

-- a Lua function, a constant and a flat table give the same run
do
  local base = {L = 1e-3, c0 = 1000, V = 0.05, tp = 0.3, kappa = 0.05, D = 1e-11,
                V_salt = 0, t_end = 2e4, n_times = 3, N = 40}
  local function with(k, v)
    local o = {}
    for kk, vv in pairs(base) do o[kk] = vv end
    o[k] = v
    return o
  end
  local a = cell.run(with("D", 1e-11))
  local b = cell.run(with("D", function(c) return 1e-11 end))
  local c = cell.run(with("D", {c = {500, 1000, 1500}, v = {1e-11, 1e-11, 1e-11}}))
  t.near(b.i[3], a.i[3], 1e-12 * a.i[3], "function D equals constant D")
  t.near(c.i[3], a.i[3], 1e-12 * a.i[3], "table D equals constant D")
  local v = cell.run(with("V", function(tt) return 0.05 end))
  t.near(v.i[3], a.i[3], 1e-12 * a.i[3], "V(t) function equals constant V")
end

-- Bruce-Vincent through the binding: ideal kappa, i_ss / i_0 = t+
do
  local D, tp, c0, L, T = 1e-11, 0.25, 1000, 1e-3, 363.15
  local kap = F * F * c0 * D / (2 * R * T * tp * (1 - tp))
  local r = cell.run{L = L, c0 = c0, V = 1e-4, D = D, tp = tp, kappa = kap,
                     V_salt = 0, times = {0, 4 * L * L / D}, N = 50, rtol = 1e-8}
  t.near(r.i[2] / r.i[1], tp, 2e-4, "Bruce-Vincent ratio equals t+ = 0.25")
  local iss = cell.steady_current{V = 1e-4, L = L, c0 = c0, T = T, D = D, tp = tp, kappa = kap}
  t.near(r.i[2] / iss, 1, 1e-5, "steady current equals cell.steady_current")
end

-- polarize then rest: zero current, the difference decays
do
  local r = cell.run{L = 1e-3, c0 = 1000, D = 1e-11, tp = 0.2, kappa = 0.05,
                     protocol = {{t_end = 3e4, I = 1}, {I = 0}},
                     times = {3e4, 5e4, 7e4}, positions = {0, 1e-3}}
  t.near(r.i[2], 0, 0, "no current at rest")
  local d1 = r.c:get(2, 1) - r.c:get(2, 2)
  local d2 = r.c:get(3, 1) - r.c:get(3, 2)
  t.ok(d1 > d2 and d2 > 0, "the gradient relaxes at rest")
end

-- errors are clear and name the parameter
do
  local base = {L = 1e-3, c0 = 1000, V = 0.3, tp = 0.2, kappa = 0.05, D = 1e-11, t_end = 1e4}
  local function with(changes)
    local o = {}
    for k, v in pairs(base) do o[k] = v end
    for k, v in pairs(changes) do o[k] = v end
    return o
  end
  t.errors(function() cell.run(with{D = -1e-11}) end, "not positive", "negative D")
  t.errors(function() cell.run(with{kappa = function(c) return -1 end}) end,
    "kappa(c = 1 mol/L) = -1 is not positive", "negative kappa function")
  t.errors(function() cell.run(with{D = function(c) error("no D here") end}) end,
    "no D here", "a Lua error inside D is reported")
  t.errors(function() cell.run(with{D = function(c) return "x" end}) end,
    "non-number", "a non-number D")
  t.errors(function() cell.run(with{tp = {c = {900, 1000, 1100}, v = {0.2, 0 / 0, 0.2}}}) end,
    "gap", "a gap in a t+0 table")
  t.errors(function() cell.run(with{D = {c = {990, 1000, 1010}, v = {1e-11, 1e-11, 1e-11}}}) end,
    "outside the D table", "c leaves a table")
  t.errors(function() cell.run(with{D = {c = {990, 1000}, v = {1e-11, 1e-11}, extrapolate = "linear"}}) end,
    "extrapolate", "unknown extrapolation")
  t.errors(function() cell.run(with{I = 1}) end, "exactly one of V and I", "both V and I")
  t.errors(function() cell.run(with{V = 40}) end, "depleted", "V beyond the limiting current")
  t.errors(function() cell.run(with{params = "nosuch"}) end, "unknown parameter set 'nosuch'",
    "unknown set")
  t.errors(function() cell.run{c0 = 1000, V = 0.3, params = "pnb", t_end = 1} end,
    "'L' is required", "missing L")
  t.errors(function() cell.run{L = 3e-3, c0 = 1870, V = 0.3, params = cp.get("pnb", {strict = true}),
    t_end = 1100 * 60} end, "outside the", "strict pnb set leaves its data in the paper's cell")
  t.errors(function() cell.run(with{positions = {2e-3}}) end, "positions[1]", "position outside")
  t.errors(function() cell.run(with{V = 0 / 0}) end, "not finite", "NaN voltage")
end

-- the embedded data equal the CSV copies in data/
do
  local function same(file, rows, ncol, scale)
    local d = csv.read(top .. "/data/" .. file)
    if d.nrows ~= #rows then return false end
    for k = 1, #rows do
      for j = 1, ncol do
        if math.abs(d.columns[j][k] - rows[k][j]) > 1e-15 * math.abs(rows[k][j]) then
          return false
        end
      end
    end
    return true
  end
  t.ok(same("pnb_points_90C.csv", cp.pnb_points, 3), "pnb points = data/pnb_points_90C.csv")
  t.ok(same("nmr_self_diffusion_90C.csv", cp.nmr_points, 3), "NMR points = data/nmr_self_diffusion_90C.csv")
  t.ok(same("diffec_g_relation_90C.csv", cp.diffec_g, 2), "DiffEC G = data/diffec_g_relation_90C.csv")
end

-- parameter sets: conversions and the diffec D formula
do
  t.near(cp.c_of_r(0.1), 1870, 1, "r = 0.1 is 1.87 mol/L with the paper's molar volumes")
  local set = cp.get("diffec")
  local c = 1870
  local tp = cp.diffec_tp.p0 + cp.diffec_tp.p1 * (c / 1000 - 1.87) / 1.87
  t.near(cell.interp(set.tp.c, set.tp.v, c), tp, 1e-12, "diffec t+0 line")
  local pnb = cp.get("pnb")
  t.near(cell.interp(pnb.D.c, pnb.D.v, 1856.4), 8.4410e-12, 1e-20, "pnb D passes its points (m^2/s)")
  local k = cp.get("tplus-0.2").kappa
  t.near(cell.interp(k.c, k.v, 1870), 0.0905, 1e-12, "kappa(c0) = i0 L / V = 0.0905 S/m")
  t.errors(function() cell.interp({1, 2, 3}, {1, 2, 3}, 4) end, "outside", "interp outside")
  local g = cell.grid(10, 1, 3)
  t.near(g[1], 0, 0, "grid starts at 0")
  t.near(g[11], 1, 0, "grid ends at L")
  t.ok(g[2] - g[1] < g[6] - g[5], "refined grid: finer at the electrodes")
end

-- a parameter file
do
  local name = os.tmpname() .. ".lua"
  local f = assert(io.open(name, "w"))
  f:write("return {D = function(c) return 1e-11 end, tp = 0.2, kappa = 0.05, V_salt = 0}\n")
  f:close()
  local r = cell.run{L = 1e-3, c0 = 1000, V = 0.01, params = name, t_end = 100, n_times = 2, N = 20}
  t.near(r.i[1], 0.01 * 0.05 / 1e-3, 1e-12, "a FILE.lua parameter set runs")
  t.near(r.V_salt, 0, 0, "and its V_salt is used")
  os.remove(name)
end

t.done()
