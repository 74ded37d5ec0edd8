-- bench/cell.lua: continuum model throughput. The paper's cell (3 mm, 0.3 V,
-- 1100 minutes, N = 200, 101 output times) per parameter set, in model runs
-- per second, and a sweep of 100 runs over t+0 (what a teaching exercise or
-- a fit does). CPU time of this process (the model is single-threaded).
-- Reference: a scipy BDF method-of-lines solution of the same cell with an
-- analytic sparse Jacobian takes about 0.1 s (shared/DESIGN.md).
local cp = require "ionflow.cellparams"
local P = cp.paper

local function paper_run(params, N)
  return cell.run{L = P.L, c0 = P.c0, V = P.V, T = P.T, params = params,
                  t_end = P.minutes * 60, n_times = 101, N = N or 200}
end

print("paper cell, 1100 min at 0.3 V, N = 200 (rtol 1e-6):")
for _, name in ipairs(cp.names) do
  local set = cp.get(name)
  paper_run(set)                       -- warm up
  local n, t0 = 0, os.clock()
  local r
  repeat
    r = paper_run(set)
    n = n + 1
  until os.clock() - t0 > 0.5
  local dt = (os.clock() - t0) / n
  print(string.format("  %-10s %7.1f runs/s (%.2f ms per run, %d steps, %d rejected, %d Newton)",
    name, 1 / dt, dt * 1e3, r.steps, r.rejected, r.newton))
end

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
  local n, t1, r = 0, os.clock()
  repeat
    r = pap.run("tplus-0.2", {m = m, drive = drive})
    n = n + 1
  until os.clock() - t1 > 0.5
  print(string.format("paper data run, drive %s (%d times x %d positions): %.2f ms (%d steps)",
    drive, #r.times, #r.xs, (os.clock() - t1) / n * 1e3, r.steps))
end

-- Lua-function properties cost two calls per face and cell and Newton
-- iteration (the value and a forward difference)
local fset = {D = function(c) return 8.4e-12 end, tp = function(c) return 0.2 end,
              kappa = function(c) return 0.0905 * c / P.c0 end}
t0 = os.clock()
local r = paper_run(fset)
print(string.format("Lua-function properties: %.1f ms per paper run (%d steps)",
  (os.clock() - t0) * 1e3, r.steps))

-- the classic measurements simulated (a step to steady state, then a rest)
t0 = os.clock()
local bv = cell.bruce_vincent{L = P.L, c0 = P.c0, params = "pnb"}
local t1 = os.clock()
local bn = cell.balsara_newman{L = P.L, c0 = P.c0, params = "pnb"}
print(string.format("pnb: Bruce-Vincent %.1f ms (t+ %.3f), Balsara-Newman %.1f ms (t+ %.3f; true %.3f)",
  (t1 - t0) * 1e3, bv.tp, (os.clock() - t1) * 1e3, bn.tp, bv.tp_true))
