-- jointfit: one joint fit of the paper's current, profiles and velocities
-- (ionflow.jointfit with the defaults of scripts/fit-transference.lua:
-- drive V, N = 100, t+0, D scale, Tf and R_int free), wall and CPU time
-- and model runs; the goal is under 10 s on two cores. The coverage study
-- on synthetic experiments (20 seeds) is the long form of the test:
-- IONFLOW_LONG=1 ionflow tests/lua/jointfit.lua.
local jf = require "ionflow.jointfit"
local data = jf.load()
for _, N in ipairs{60, 100} do
  local w0, c0 = sys.time(), os.clock()
  local r = jf.fit(data, {N = N})
  local w, c = sys.time() - w0, os.clock() - c0
  print(string.format("joint fit N = %3d: %5.2f s wall, %5.2f s CPU, %d model runs " ..
    "(%.0f ms each), t+0 = %.4f +/- %.4f", N, w, c, r.runs, 1000 * w / r.runs, r.tp, r.tp_err))
end
