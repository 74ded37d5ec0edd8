-- bench/cell.lua: continuum model throughput. The paper's cell (3 mm, 0.3 V,
-- 1100 minutes, N = 200, 101 output times) per parameter set against the
-- goals of issue 18 (under 10 ms per run with tabulated properties, under
-- 50 ms with Lua-function properties), a sweep of 100 runs over t+0 (what a
-- teaching exercise or a fit does), the fits' runs on the paper's data and
-- the classic measurements simulated.
-- Times are CPU time of this process (the model is single-threaded). Each
-- figure is the median of the runs made in half a second (at least 5),
-- with the fastest and slowest, and the load average is printed beside
-- them: the machine may be shared.
-- Reference: a scipy BDF method-of-lines solution of the same cell with an
-- analytic sparse Jacobian takes about 0.1 s (shared/DESIGN.md).
local cp = require "ionflow.cellparams"
local P = cp.paper

local function loadavg()
  local f = io.open("/proc/loadavg")
  local s = f and f:read("l") or "?"
  if f then f:close() end
  return s:match("^(%S+)") or "?"
end

local function paper_run(params, N)
  return cell.run{L = P.L, c0 = P.c0, V = P.V, T = P.T, params = params,
                  t_end = P.minutes * 60, n_times = 101, N = N or 200}
end

-- CPU times (ms) of the runs of f made in half a second, at least 5, after
-- a warm-up run: median, fastest, slowest, the last result, the count
local function timed(f)
  local ts, r = {}, f()
  local t_all = os.clock()
  repeat
    local t0 = os.clock()
    r = f()
    ts[#ts + 1] = (os.clock() - t0) * 1e3
  until #ts >= 5 and os.clock() - t_all > 0.5
  table.sort(ts)
  local n = #ts
  local med = n % 2 == 1 and ts[(n + 1) // 2] or 0.5 * (ts[n // 2] + ts[n // 2 + 1])
  return med, ts[1], ts[n], r, n
end

local function report(label, goal, params)
  local med, lo, hi, r, n = timed(function() return paper_run(params) end)
  print(string.format("  %-24s %6.2f ms (%5.2f-%5.2f, %3d runs): %s; " ..
    "%d steps, %d rejected, %d Newton", label, med, lo, hi, n,
    med < goal and "meets the goal" or "MISSES THE GOAL", r.steps, r.rejected,
    r.newton))
end

print(string.format("paper cell, 1100 min at 0.3 V, N = 200 (rtol 1e-6), CPU time " ..
  "per run: median (fastest-slowest); load average %s", loadavg()))
print("tabulated properties (goal < 10 ms):")
for _, name in ipairs(cp.names) do report(name, 10, cp.get(name)) end

-- Lua-function properties cost a call per face or cell and Newton
-- iteration, and another for the slope (a forward difference): constant
-- functions measure the calls alone, the laws add arithmetic of their own
print("Lua-function properties (goal < 50 ms):")
report("D, t+0, kappa", 50,
  {D = function(c) return 8.4e-12 end, tp = function(c) return 0.2 end,
   kappa = function(c) return 0.0905 * c / P.c0 end})
do
  local k0 = cp.kappa_ne(P.c0)
  local b = math.log(cp.kappa_ne(2 * P.c0) / (2 * k0)) / P.c0
  local exp = math.exp
  report("laws of D, t+0, kappa, Tf", 50,
    {D = function(c) return 8.4e-12 * (1 + 0.2 * (c / P.c0 - 1)) end,
     tp = function(c) return 0.2 - 0.05 * (c / P.c0 - 1) end,
     kappa = function(c) return k0 * (c / P.c0) * exp(b * (c - P.c0)) end,
     Tf = function(c) return 1 + 2 * c / P.c0 end})
end
print(string.format("(load average %s)", loadavg()))

local N = 200
local set = cp.get("tplus-0.2")
local t0 = os.clock()
for k = 0, 99 do
  set.tp = -0.5 + 1.49 * k / 99
  paper_run(set, N)
end
print(string.format("t+0 sweep, 100 runs from -0.5 to 0.99 (N = %d): %.2f s", N, os.clock() - t0))

-- the fits' run: outputs at every measured time and position of the paper's
-- data (interpolated inside steps; a replayed current table's rows are
-- breakpoints)
local pap = require "ionflow.cellpaper"
local m = pap.measured()
for _, drive in ipairs{"V", "I"} do
  local med, lo, hi, r = timed(function()
    return pap.run("tplus-0.2", {m = m, drive = drive})
  end)
  print(string.format("paper data run, drive %s (%d times x %d positions): %.2f ms " ..
    "(%.2f-%.2f; %d steps)", drive, #r.times, #r.xs, med, lo, hi, r.steps))
end

-- the classic measurements simulated (a step to steady state, then a rest)
t0 = os.clock()
local bv = cell.bruce_vincent{L = P.L, c0 = P.c0, params = "pnb"}
local t1 = os.clock()
local bn = cell.balsara_newman{L = P.L, c0 = P.c0, params = "pnb"}
print(string.format("pnb: Bruce-Vincent %.1f ms (t+ %.3f), Balsara-Newman %.1f ms (t+ %.3f; true %.3f)",
  (t1 - t0) * 1e3, bv.tp, (os.clock() - t1) * 1e3, bn.tp, bv.tp_true))
