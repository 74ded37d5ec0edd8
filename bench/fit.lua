-- fit: heterodyne fits per second (72 bins = 18 sectors x 4 rings, the
-- paper's Figure 2 set) and the speckle simulator's pixel-frames per
-- second. Wall clock from sys.time, CPU from os.clock (all threads).
-- 72 noisy Eq. 1 curves on a multi-tau grid of 4000 frames at 20 Hz
local tau = {}
for k = 1, 16 do tau[#tau + 1] = k * 0.05 end
local f = 18
while f <= 4000 do tau[#tau + 1] = math.floor(f) * 0.05; f = f * 2 ^ (1 / 8) end
local n, nb = #tau, 72
local g2, err = array.zeros{n, nb}, array.zeros{n, nb}
local seed = 1
local function noise()
  seed = (seed * 1103515245 + 12345) % 2147483648
  return (seed / 2147483648 - 0.5) * 0.006
end
for b = 1, nb do
  local q = (0.006 + 0.004 * ((b - 1) // 18)) * 1e10
  local chi = math.rad(-170 + 20 * ((b - 1) % 18))
  local om = math.abs(1e-8 * q * math.cos(chi))
  for i = 1, n do
    local x = tau[i] / 10
    g2:set(i, b, 1 + 0.2 * (0.25 + 0.25 * math.exp(-2 * x) +
      0.5 * math.cos(om * tau[i]) * math.exp(-x)) + noise())
    err:set(i, b, 0.003)
  end
end
local reps = 5
local w0, c0 = sys.time(), os.clock()
for _ = 1, reps do fit.heterodyne(tau, g2, err) end
local w, c = (sys.time() - w0) / reps, (os.clock() - c0) / reps
print(string.format("72 heterodyne fits (%d delays): %.3f s wall, %.3f s CPU "
  .. "(%.0f fits/s wall)", n, w, c, 72 / math.max(w, 1e-9)))
-- the same with the multi-tau averaging and a within-bin spread in Eq. 1
w0, c0 = sys.time(), os.clock()
for _ = 1, reps do fit.heterodyne(tau, g2, err, {frame_time = 0.05, spread = 0.1}) end
w, c = (sys.time() - w0) / reps, (os.clock() - c0) / reps
print(string.format("72 heterodyne fits with frame_time and spread: %.3f s wall, "
  .. "%.3f s CPU", w, c))

-- the simulator: 128 x 128 pixels, 1000 frames, 5 modes, Poisson counts
local shape, T = {128, 128}, 1000
w0, c0 = sys.time(), os.clock()
speckle.simulate{energy_keV = 10, distance = 1, pixel = 75e-6, shape = shape,
  frames = T, frame_time = 0.05, velocity = 1e-8, tau0 = 10, h = 0.5,
  modes = 5, mean_counts = 5, seed = 1}
w, c = sys.time() - w0, os.clock() - c0
local pf = shape[1] * shape[2] * T
print(string.format("speckle.simulate 128x128x%d, 5 modes, Poisson: %.2f s wall, "
  .. "%.2f s CPU (%.1f M pixel-frames/s wall, %.1f M per CPU second)", T, w, c,
  pf / math.max(w, 1e-9) / 1e6, pf / math.max(c, 1e-9) / 1e6))

-- the whole velocity analysis a script runs on the velocimetry issue's
-- setup reduced to 4 rings x 18 sectors (72 bins): per-bin Eq. 1 fits with
-- each bin's pixel distribution of q cos chi, then the master curve
do
  local X = require "ionflow.xpcsio"
  local A = units.A
  local N, F, dt = 128, 4000, 0.05
  local geo = {energy_keV = 10, distance = 1.2, pixel = 75e-6,
    center = {x = (N - 1) / 2, y = (N - 1) / 2}, shape = {N, N}}
  local r, _, _, bins = X.simulated_run(geo, {q_bins = 4, phi_bins = 18,
    q_max = 0.02 / A}, {frames = F, frame_time = dt, velocity = 100 * A,
    tau0 = 10, h = 0.5, modes = 4, mean_counts = 5, seed = 21})
  for _, master in ipairs{false, true} do
    w0, c0 = sys.time(), os.clock()
    local _, vel = X.velocity(r.tau * dt, r.g2, r.g2_err, {bins = bins,
      frame_time = dt, master = master})
    print(string.format("xpcsio.velocity, 72 bins with pixel distributions%s:"
      .. " %.2f s wall, %.2f s CPU (v = %.2f +/- %.2f A/s, truth 100)",
      master and " + master curve" or "", sys.time() - w0, os.clock() - c0,
      vel.v / A, vel.v_err / A))
  end
end
