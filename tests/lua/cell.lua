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
  t.near(r.i[1], 9.05, 1e-9, "initial current is the paper's 0.905 mA/cm^2 (R_int from i0)")
  t.ok(r.salt_drift < 1e-10, "salt conserved (" .. r.salt_drift .. ")")
  local worst = 0
  for k = 1, 7 do worst = math.max(worst, math.abs(r.V[k] - 0.3)) end
  t.ok(worst < 1e-8, "V_ohm + V_int + V_conc = 0.3 V at every output")
  t.ok(r.i[7] < 0.8 * r.i[1], "the current decays")
  t.is(r.params, "tplus-0.2", "result names its parameter set")
  t.ok(r.note and r.note:find("estimate", 1, true), "result says kappa is an estimate")
  t.ok(r.note:find("assumption", 1, true), "result says Tf is an assumption")
  t.near(r.R_int[7], cp.get("tplus-0.2").R_int, 0, "the set's R_int is used")
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

-- R_int(t): a function, a table and the growth law give the same run; the
-- voltage parts stay consistent and the output carries R_int(t)
do
  local base = {L = 1e-3, c0 = 1000, V = 0.05, tp = 0.3, kappa = 0.05, D = 1e-11,
                V_salt = 0, times = {0, 5e3, 1e4, 2e4}, N = 40, rtol = 1e-11, atol = 1e-9}
  local function with(k, v)
    local o = {}
    for kk, vv in pairs(base) do o[kk] = vv end
    o[k] = v
    return o
  end
  local R0, dR, t1 = 2e-3, 1e-3, 1e4
  local law = cell.run(with("R_int", {R0 = R0, dR = dR, t1 = t1, p = 0.5}))
  local fn = cell.run(with("R_int", function(tt) return R0 + dR * math.sqrt(tt / t1) end))
  local ts, vs = {}, {}
  for k = 0, 400 do ts[k + 1] = 50 * k; vs[k + 1] = R0 + dR * 50 * k / t1 end
  local tab = cell.run(with("R_int", {t = ts, v = vs}))
  local lin = cell.run(with("R_int", {R0 = R0, dR = dR, t1 = t1, p = 1}))
  local const = cell.run(with("R_int", R0))
  local worst, worstv = 0, 0
  for k = 1, 4 do
    worst = math.max(worst, math.abs(law.R_int[k] - (R0 + dR * math.sqrt(base.times[k] / t1))))
    worstv = math.max(worstv, math.abs(law.V[k] - 0.05))
  end
  t.ok(worst < 1e-15, "growth law: the output R_int(t) is R0 + dR sqrt(t / t1)")
  t.ok(worstv < 1e-8, "growth law: V_ohm + V_int + V_conc = 0.05 V at every output")
  t.near(fn.i[4], law.i[4], 1e-9 * law.i[4], "R_int function equals the growth law")
  -- the table's rows are breakpoints (other steps): equal to the tolerance
  t.near(tab.i[4], lin.i[4], 1e-8 * lin.i[4], "R_int table equals the linear law")
  t.near(law.V_int[3], law.i[3] * law.R_int[3], 1e-15, "V_int = i R_int(t)")
  t.ok(law.i[4] < const.i[4], "a growing film lowers the current")
  t.near(law.i[1], 0.05 / (R0 + 1e-3 / 0.05), 1e-12, "i(0) = V / (R_int(0) + L / kappa)")
end

-- outputs inside steps are interpolated (cubic Hermite, the current made
-- consistent); land = true makes the steps end on every output instead
do
  local ts = {}
  for k = 0, 200 do ts[#ts + 1] = 100 * k end
  local o = {L = 1e-3, c0 = 1000, V = 0.1, tp = 0.3, kappa = 0.05, Tf = 2,
             D = function(c) return 1e-11 * (c / 1000)^0.5 end, times = ts,
             positions = {0, 0.5e-3, 1e-3}, N = 50, rtol = 1e-8, atol = 1e-6}
  local dense = cell.run(o)
  o.land = true
  local landed = cell.run(o)
  local fast = {}
  for k, v in pairs(o) do fast[k] = v end
  fast.rtol, fast.atol, fast.land = nil, nil, nil
  local fd = cell.run(fast)
  fast.land = true
  local fl = cell.run(fast)
  t.ok(fd.steps < 0.5 * fl.steps, string.format(
    "dense output, default tolerances: %d steps instead of %d", fd.steps, fl.steps))
  local wi, wc, wv = 0, 0, 0
  for k = 1, #ts do
    wi = math.max(wi, math.abs(dense.i[k] / landed.i[k] - 1))
    wv = math.max(wv, math.abs(dense.V[k] - 0.1))
    for m = 1, 3 do wc = math.max(wc, math.abs(dense.c:get(k, m) - landed.c:get(k, m))) end
  end
  t.ok(wi < 1e-5 and wc < 1e-3, string.format(
    "interpolated outputs agree with landed ones (i %.2g relative, c %.2g mol/m^3)", wi, wc))
  t.ok(wv < 1e-10, "and hold V exactly (" .. wv .. ")")
  t.ok(dense.salt_drift < 1e-12, "and conserve salt (" .. dense.salt_drift .. ")")
  -- a protocol table's rows are breakpoints: no step crosses a kink
  local I = cell.run{L = 1e-3, c0 = 1000, tp = 0.3, kappa = 0.05, D = 1e-11, N = 30,
                     I = {t = {0, 1000, 1001, 3000}, v = {1, 1, 3, 3}}, times = {0, 3000}}
  local If = cell.run{L = 1e-3, c0 = 1000, tp = 0.3, kappa = 0.05, D = 1e-11, N = 30,
                      I = function(tt) return tt <= 1000 and 1 or tt >= 1001 and 3 or 1 + 2 * (tt - 1000) end,
                      times = {0, 3000}}
  t.ok(I.rejected < If.rejected / 2, string.format("a kinked current table costs %d rejected "
    .. "steps, the same current as a function %d", I.rejected, If.rejected))
  t.near(I.i[2], 3, 0, "and ends at 3 A/m^2")
end

-- scales, and a linear law as a two-row table continued linearly
do
  local base = {L = 1e-3, c0 = 1000, V = 0.05, tp = 0.3, kappa = 0.05, D = 1e-11,
                V_salt = 0, t_end = 2e4, n_times = 3, N = 40}
  local function with(ch)
    local o = {}
    for kk, vv in pairs(base) do o[kk] = vv end
    for kk, vv in pairs(ch) do o[kk] = vv end
    return o
  end
  local a = cell.run(with{Tf = 2.5, D = 2e-11, kappa = 0.1})
  local b = cell.run(with{Tf_scale = 2.5, D = function(c) return 1e-11 end, D_scale = 2,
                          kappa = {c = {1, 5000}, v = {0.05, 0.05}}, kappa_scale = 2})
  t.near(b.i[3], a.i[3], 1e-10 * a.i[3], "Tf_scale, D_scale and kappa_scale multiply the property")
  local tpf = cell.run(with{tp = function(c) return 0.1 + 2e-4 * c end})
  local tpt = cell.run(with{tp = {c = {1000, 1001}, v = {0.3, 0.3002}, extrapolate = "linear"}})
  t.near(tpt.i[3], tpf.i[3], 1e-9 * tpf.i[3], "extrapolate = 'linear' continues the end slope")
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

-- the classic measurements simulated: constant properties give the closed
-- forms, a named set gives what each method would report
do
  local D, tp, c0, L, T, Tf, kap = 1e-11, 0.3, 1000, 1e-3, 363.15, 2, 0.05
  local o = {L = L, c0 = c0, D = D, tp = tp, kappa = kap, Tf = Tf, V_salt = 0,
             R_int = 0.01, dV = 1e-4, rtol = 1e-9}
  local bv = cell.bruce_vincent(o)
  local Rb, Rc = L / kap, 2 * R * T / F * (1 - tp)^2 * Tf * L / (F * D * c0)
  t.near(bv.tp, Rb / (Rb + Rc), 1e-3 * Rb / (Rb + Rc), "cell.bruce_vincent: t+_BV = Rb / (Rb + Rc)")
  t.near(bv.ratio, (0.01 + Rb) / (0.01 + Rb + Rc), 1e-3, "and Iss / I0 with R_int in both")
  local bn = cell.balsara_newman(o)
  t.near(bn.tp, tp, 1e-3, "cell.balsara_newman recovers t+0 = 0.3")
  t.near(bn.D, D, 1e-3 * D, "restricted diffusion recovers D")
  local set = cp.get("pnb")
  local r = cell.bruce_vincent{L = P.L, c0 = P.c0, params = set}
  t.near(r.tp_true, cell.interp(set.tp.c, set.tp.v, P.c0), 1e-12, "tp_true is t+0(c0) of the set")
  t.near(r.dV, 0.01, 0, "dV defaults to 10 mV")
  t.near(r.R0, set.R_int, 0, "R0 is the set's R_int")
  t.is(r.params, "pnb", "the result names its set")
  t.errors(function() cell.bruce_vincent{L = P.L, c0 = P.c0, params = "pnb", dV = 0} end,
    "dV", "dV = 0")
  t.errors(function() cell.balsara_newman{L = P.L, c0 = P.c0, params = "pnb", window = 3} end,
    "window", "a window that is not a pair")
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
  -- functions are called for all faces in one protected batch: a failure
  -- part-way (only where the salt has moved) still names the function
  t.errors(function() cell.run(with{D = function(c)
      if c > 1010 then error("too salty") end
      return 1e-11
    end}) end, "too salty",
    "a Lua error part-way through the faces")
  t.errors(function() cell.run(with{D = function(c) return c > 1010 and "x" or 1e-11 end}) end,
    "D(c = 1.01 mol/L) is not a finite number: D returned a non-number",
    "a non-number part-way through the faces")
  t.errors(function() cell.run(with{kappa = function(c) return c < 990 and -1 or 0.05 end}) end,
    "kappa(c = 0.99 mol/L) = -1 is not positive", "kappa negative part-way")
  t.errors(function() cell.run(with{tp = {c = {900, 1000, 1100}, v = {0.2, 0 / 0, 0.2}}}) end,
    "gap", "a gap in a t+0 table")
  t.errors(function() cell.run(with{D = {c = {990, 1000, 1010}, v = {1e-11, 1e-11, 1e-11}}}) end,
    "outside the D table", "c leaves a table")
  t.errors(function() cell.run(with{D = {c = {990, 1000}, v = {1e-11, 1e-11}, extrapolate = "cubic"}}) end,
    "extrapolate", "unknown extrapolation")
  t.errors(function() cell.run(with{R_int = function(tt) return -1 end}) end,
    "R_int(t = 0 s) = -1", "negative R_int(t)")
  t.errors(function() cell.run(with{R_int = function(tt) error("no film") end}) end,
    "no film", "a Lua error inside R_int(t) is reported")
  t.errors(function() cell.run(with{R_int = {R0 = 0, dR = 1e-3, t1 = -1}}) end,
    "growth law", "a growth law with t1 < 0")
  t.errors(function() cell.run(with{R_int = {t = {0, 10}, v = {0, 1e-3}}}) end,
    "outside the protocol table", "R_int table shorter than the run")
  t.errors(function() cell.run(with{R_int = "x"}) end, "R_int must be", "R_int of the wrong type")
  t.errors(function() cell.run(with{D_scale = 0}) end, "D_scale", "zero D scale")
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
  -- an output inside a step cannot be interpolated there: the step is
  -- redone to land on it, and the failure is reported, not skipped
  t.errors(function() cell.run(with{times = {0, 550, 3000}, t_end = false,
    V = function(tt) if tt > 540 and tt < 560 then return 0 / 0 end return 0.05 end}) end,
    "voltage of protocol segment 1 at t = 5", "NaN voltage at an output time only")
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
  local set = cp.get("tplus-0.2")
  local k = set.kappa
  -- independent reference: Nernst-Einstein from the NMR row at r = 0.1
  local d = csv.read(top .. "/data/nmr_self_diffusion_90C.csv")
  local row
  for j = 1, d.nrows do if d.columns[1][j] == 0.1 then row = j end end
  local kne = F * F * cp.c_of_r(0.1) * (d.columns[2][row] + d.columns[3][row]) / (R * P.T)
  t.ok(kne > 0.12 and kne < 0.2, "NMR at r = 0.1 gives kappa_NE = " .. kne .. " S/m (m^2/s data)")
  t.near(cell.interp(k.c, k.v, P.c0), kne, 0.05 * kne, "kappa(c0) is the NMR Nernst-Einstein value (5 %)")
  t.near(set.R_int, P.V / P.i0 - P.L / cell.interp(k.c, k.v, P.c0), 1e-15,
    "R_int = V / i0 - L / kappa(c0)")
  t.ok(set.R_int > 0.005 and set.R_int < 0.02, "R_int about 0.01 ohm m^2 (" .. set.R_int .. ")")
  t.near(cell.interp(set.Tf.c, set.Tf.v, P.c0), cp.Tf0, 1e-12, "Tf(c0) = Tf0")
  t.ok(set.sources.Tf:find("assumption", 1, true) and set.sources.kappa:find("estimate", 1, true),
    "sources label Tf an assumption and kappa an estimate")
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
