-- speckle.simulate: frames, truth, velocity forms, determinism, errors
local t = require "ionflow.tap"

local base = {energy_keV = 10, distance = 1, pixel = 75e-6, shape = {32, 40},
  frames = 200, frame_time = 0.05, velocity = 1e-8, tau0 = 2, h = 0.5,
  modes = 4, mean_counts = 5, seed = 11}
local function with(over)
  local c = {}
  for k, v in pairs(base) do c[k] = v end
  for k, v in pairs(over or {}) do c[k] = v end
  return c
end

local f, truth = speckle.simulate(base)
t.is(tostring(f), "array(200x32x40 u16)", "frames x rows x cols of u16 counts")
t.is(truth.beta, 0.25, "truth: beta = 1/modes")
t.is(truth.h, 0.5, "truth: h")
t.is(truth.v, 1e-8, "truth: constant velocity")
t.is(truth.center_x, 19.5, "default beam centre is the detector centre (x)")
t.is(truth.center_y, 15.5, "default beam centre is the detector centre (y)")
t.near(truth.displacement[200], 199 * 0.05 * 1e-8, 1e-20, "displacement integrates v")
t.ok(truth.model:find("moving fraction", 1, true), "truth names the model")
local s = 0
for i = 1, 200 do
  local fr = f[i]
  for r = 1, 32, 7 do for c = 1, 40, 7 do s = s + fr[r][c] end end
end
t.near(s / (200 * 5 * 6), 5, 0.5, "mean counts about 5 per pixel per frame")

-- same seed, same frames; another seed, other frames
local f2 = speckle.simulate(base)
local same, other = true, false
local f3 = speckle.simulate(with{seed = 12})
for i = 1, 200, 13 do
  for r = 1, 32, 5 do for c = 1, 40, 5 do
    same = same and f[i][r][c] == f2[i][r][c]
    other = other or f[i][r][c] ~= f3[i][r][c]
  end end
end
t.ok(same, "same seed gives the same frames")
t.ok(other, "another seed gives other frames")

-- velocity as segments, as a function of time, as an array
local _, ts = speckle.simulate(with{velocity = false, segments = {{t = 0, v = 1e-8}, {t = 5, v = 3e-8}}})
t.is(ts.velocity[100], 1e-8, "segments: first velocity before t = 5 s")
t.is(ts.velocity[101], 3e-8, "segments: second velocity from t = 5 s")
t.is(ts.v, nil, "no single v for a varying velocity")
local _, tf = speckle.simulate(with{velocity = function(tt) return 1e-9 * tt end})
t.near(tf.velocity[11], 1e-9 * 0.5, 1e-22, "velocity(t) is called with the frame time")
local _, ta = speckle.simulate(with{frames = 3, velocity = {1e-8, 2e-8, 3e-8}})
t.near(ta.displacement[3], (1e-8 + 2e-8) * 0.05, 1e-20, "per-frame velocity array")

-- float output without counting noise, stretched exponential, beta
local opt = with{frames = 20, poisson = false, dtype = "f32", gamma = 0.6, beta = 0.5}
opt.modes = nil
local ff, tg = speckle.simulate(opt)
t.is(tostring(ff), "array(20x32x40 f32)", "f32 intensities without Poisson noise")
t.is(tg.modes, 2, "beta 0.5 means 2 modes")
t.ok(#tg.mixture.rates == 12 and tg.mixture.max_err < 2e-3,
  "gamma 0.6: OU mixture recorded with its accuracy")
t.ok(ff[1][1][1] ~= math.floor(ff[1][1][1]), "intensities are not integers")

-- errors name the parameter
t.errors(function() speckle.simulate(with{gamma = 1.5}) end, "gamma", "gamma > 1 refused")
t.errors(function() speckle.simulate(with{h = -0.1}) end, "h must be in [0, 1]", "h < 0 refused")
t.errors(function() speckle.simulate(with{beta = 0.3}) end, "whole number of modes", "beta not 1/modes")
t.errors(function() speckle.simulate(with{beta = 0.5}) end, "disagree", "beta and modes disagree")
t.errors(function() speckle.simulate(with{distance = 0}) end, "distance", "zero distance refused")
t.errors(function() speckle.simulate(with{frames = 0}) end, "frames", "zero frames refused")
t.errors(function() speckle.simulate(with{tau0 = false}) end, "tau0", "tau0 must be a number")
t.errors(function() speckle.simulate(with{velocity = function() return "x" end}) end,
  "must return a number", "velocity(t) returning a string")
t.errors(function() speckle.simulate(with{velocity = {1, 2}}) end, "2 values for 200 frames",
  "velocity array of the wrong length")
t.errors(function() speckle.simulate(with{mean_counts = 1e6}) end, "overflow", "u16 overflow")
t.errors(function() speckle.simulate(with{dtype = "int8"}) end, "int8", "unknown dtype")
t.errors(function() speckle.simulate(with{velocity = "fast"}) end, "velocity must be",
  "velocity of the wrong type")
-- a progress bar (or callback) while it runs; a callback may stop it
do
  local last, calls
  calls = 0
  local f = speckle.simulate{energy_keV = 10, distance = 1, pixel = 75e-6,
    shape = {64, 64}, frames = 200, frame_time = 0.05, velocity = 1e-8, tau0 = 10,
    h = 0.5, modes = 4, mean_counts = 5, seed = 2,
    progress = function(d, tot, label) calls = calls + 1; last = {d, tot, label} end}
  t.ok(f.shape[1] == 200 and calls >= 1 and last[1] == last[2] and last[3] == "speckle",
       "speckle.simulate reports progress up to its total")
  -- (long enough that the callback is asked before the end: it is first
  -- called after PROGRESS_DELAY, and a false at the end stops nothing)
  local calls2 = 0
  local ok2, err2 = pcall(speckle.simulate, {energy_keV = 10, distance = 1,
    pixel = 75e-6, shape = {128, 128}, frames = 3000, frame_time = 0.05,
    velocity = 1e-8, tau0 = 10, h = 0.5, modes = 4, mean_counts = 5, seed = 2,
    progress = function(d, tot) calls2 = calls2 + 1; return d == tot end})
  t.ok(not ok2 and tostring(err2):find("speckle.simulate", 1, true) and calls2 >= 1,
       "a progress callback returning false stops it")
end

t.done()
