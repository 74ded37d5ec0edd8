-- bench/md.lua: MD transport analysis throughput. 1000 ions (500 cations,
-- 500 anions sharing a common step, D+ = 1e-10, D- = 3e-10, Dc = 0.5e-10
-- m^2/s) streamed from the synthetic source through md.transport: FFT
-- MSDs over all origins of each block, Onsager coefficients, t+.
--
--   ionflow bench/md.lua [FRAMES]     (default 20000; the issue's 100000
--                                      takes about 5x longer)
--
-- Reports the analysis time (inside the accumulator: unwrapped frames in,
-- FFTs per block) apart from the generation of the random walks, the
-- accumulator's memory against the size of the trajectory (N x T x 3
-- doubles), and the recovered D+, D-, t+ against the exact values.
local frames = tonumber(arg and arg[1]) or 20000
local nion, block = 1000, 2500
local Dp, Dm, Dc = 1e-10, 3e-10, 0.5e-10

local wall = sys.time   -- a monotonic wall clock

local src = md.synthetic{ncat = nion // 2, nan = nion // 2, frames = frames,
  dt = 1e-12, box = 5e-9, D_cat = Dp, D_an = Dm, D_common = Dc, seed = 3}
local w0, c0 = wall(), os.clock()
local r = md.transport(src, {cation = 1, anion = 2, frame = "lab",
  temperature = 300, blocks = frames // block, fit = {1e-12, 32e-12}})
local w1, c1 = wall(), os.clock()

local traj_bytes = nion * frames * 3 * 8
print(string.format("%d ions x %d frames (%d blocks of %d), OMP_NUM_THREADS=%s",
  nion, frames, r.blocks, r.block_frames, os.getenv("OMP_NUM_THREADS") or "(unset)"))
print(string.format("  total %.2f s wall (%.2f s CPU), of which analysis %.2f s wall",
  w1 - w0, c1 - c0, r.analysis_s))
print(string.format("  analysis throughput %.3g ion-frames/s",
  nion * frames / r.analysis_s))
print(string.format("  memory: accumulator %.1f MB, trajectory %.1f MB (%.1f %%)",
  r.memory_bytes / 1e6, traj_bytes / 1e6, 100 * r.memory_bytes / traj_bytes))
print(string.format("  D+ %.4g +- %.2g (exact %.4g), D- %.4g +- %.2g (exact %.4g)",
  r.D_cation, r.D_cation_err, Dp, r.D_anion, r.D_anion_err, Dm))
print(string.format("  t_app+ %.4f +- %.4f (exact %.4f), t+ %.4f +- %.4f (exact %.4f)",
  r.t_app, r.t_app_err, Dp / (Dp + Dm), r.t_plus, r.t_plus_err,
  (Dp - Dc) / (Dp + Dm - 2 * Dc)))
