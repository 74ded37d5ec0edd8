-- tests of the binding support (src/lbind.c) as every module shows it: the
-- options-table readers name the function and the option, state an integer
-- option's bounds, list an enum's choices, and refuse options that are not
-- a table; the core-error raiser prefixes the function
local t = require "ionflow.tap"


-- a number option of the wrong type: function, option and type named
t.errors(function() speckle.simulate{tau0 = {}} end,
  "speckle.simulate: option", "a number option: the function is named")
t.errors(function() md.synthetic{ncat = "x", nan = 1, frames = 2} end,
  "md.synthetic: option 'ncat' must be an integer in 0..100000000, not x",
  "a number option: option and type named")
-- a required option
t.errors(function() cell.steady_current{V = 0.1, L = 1e-3, c0 = 1000, D = 1e-11,
  tp = 0.3} end, "cell.steady_current: option 'kappa' is required",
  "a required option: its own function named, not cell.run")
-- an integer option's bounds, stated in the error
t.errors(function() xpcs.delays(100, {dpl = 0}) end,
  "xpcs.delays: option 'dpl' must be an integer in 1..16, not 0",
  "an integer option: both bounds named")
t.errors(function() xpcs.delays(100, {dpl = 2.5}) end,
  "option 'dpl' must be an integer in 1..16, not 2.5",
  "an integer option: a fraction refused, the value shown")
t.errors(function() xpcs.delays(100, {dpl = 2, lags0 = 5}) end,
  "option 'lags0' must be an integer in 1..4",
  "an integer option: a bound that depends on another option")
local q, phi = array.from({{1, 2}}), array.from({{0, 0}})
t.errors(function() xpcs.partition{q = q, phi = phi, q_bins = 0} end,
  "option 'q_bins' must be an integer in 1..1000000, not 0",
  "an integer option: the bin count's bounds")
-- an enum option
local d = t.tmpdir() .. "/x"
local tr = md.synthetic{ncat = 1, nan = 1, frames = 2}
t.errors(function() md.write_lammps(d .. ".lammps", tr, {style = "boxed"}) end,
  "md.write_lammps: option 'style' must be one of 'images', 'wrapped', " ..
  "'unwrapped', not 'boxed'", "an enum option: every choice listed")
-- an array option: its shape checked, function and option named
t.errors(function() xam.convert{time_s = {1, 2}, x_m = {1, 2},
  counts = {{1, 2}, {3, 4}}, monitor = {1, 2}} end,
  "xam.convert: option 'counts' must be 1-D (a list of numbers)",
  "an array option: a 2-D value refused by name")
-- options that are not a table
t.errors(function() h5.create(d .. ".h5", true) end,
  "h5.create: the options must be a table, not boolean",
  "options of the wrong type are refused")
-- a core's error: prefixed by the function
t.errors(function() array.zeros({1e9, 1e9, 1e9}) end, "array: ",
  "a core error carries the function's prefix")
-- the cell binding resolves a parameter-set name through cell.paramsets,
-- which the Lua layer installs; it requires no Lua module itself
local run = {L = 1e-3, c0 = 1000, V = 0.01, params = "mine", t_end = 10,
  n_times = 2, N = 20}
local saved, asked = cell.paramsets, nil
cell.paramsets = function(name)
  asked = name
  return {D = 1e-11, tp = 0.3, kappa = 0.1}
end
t.lives(function() cell.run(run) end, "a name goes to the installed resolver")
t.is(asked, "mine", "the resolver is given the name")
cell.paramsets = nil
t.errors(function() cell.run(run) end, "no resolver of names is installed",
  "without a resolver a name is a clear error")
cell.paramsets = function() return 1 end
t.errors(function() cell.run(run) end, "returned number, not a table",
  "a resolver's bad answer is named")
cell.paramsets = saved
t.is(cell.run{L = 1e-3, c0 = 1000, V = 0.01, params = "pnb", t_end = 10,
  n_times = 2, N = 20}.params, "pnb",
  "the program installs ionflow.cellparams as the resolver")
t.done()
