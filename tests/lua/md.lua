-- md: trajectory input and transport analysis from Lua. The same synthetic
-- trajectory goes through an H5MD file written here with the h5 module (in
-- Angstrom and fs, per-frame box and species, a scalar time step), LAMMPS
-- dumps (wrapped with images, wrapped, unwrapped) and the synthetic source
-- itself: every route must give the same numbers.
local t = require "ionflow.tap"

local dir = t.tmpdir()
local function p(name) return dir .. "/" .. name end
local exe = os.getenv("IONFLOW") or arg[-1]

local spec = {ncat = 12, nan = 12, nsolv = 6, frames = 240, dt = 2e-12,
  box = 2e-9, D_cat = 2e-10, D_an = 5e-10, D_common = 1e-10, s_common = 1,
  D_solv = 4e-10, seed = 5}
local opts = {cation = 1, anion = 2, solvent = 3, temperature = 363,
  masses = {[1] = 7, [2] = 280, [3] = 44}, blocks = 3}

-- info and next
local src = md.synthetic(spec)
local inf = src:info()
t.is(inf.natoms, 30, "synthetic: 30 particles")
t.is(inf.nframes, 240, "synthetic: 240 frames")
t.is(inf.types[1] .. inf.types[13] .. inf.types[30], "123", "types 1, 2, 3")
local i, time, x, box = src:next()
t.is(i, 1, "first frame index is 1")
t.is(time, 0, "first frame at t = 0")
t.is(tostring(x), "array(30x3 f64)", "positions are N x 3")
t.near(box[1], 2e-9, 0, "box edge in m")

-- an H5MD file written by hand: wrapped, Angstrom, fs, box per frame
local function write_h5md(path, with_images)
  local s = md.synthetic(spec)
  local n, nf = 30, spec.frames
  local pos = array.zeros({nf, n, 3})
  local img = array.zeros({nf, n, 3}, "i32")
  local edges = array.zeros({nf, 3})
  local species = array.zeros({nf, n}, "i32")
  local L = spec.box / 1e-10
  for k = 1, nf do
    local _, _, xk = s:next()
    for a = 1, n do
      for d = 1, 3 do
        local v = xk:get(a, d) / 1e-10
        pos:set(k, a, d, v - L * math.floor(v / L))
        img:set(k, a, d, math.floor(v / L))
      end
      species:set(k, a, s:info().types[a])
    end
    for d = 1, 3 do edges:set(k, d, L) end
  end
  local w = h5.create(path, {overwrite = true})
  w:write("/particles/ions/position/value", pos, {attrs = {unit = "Angstrom"}})
  w:write("/particles/ions/position/time", spec.dt / 1e-15, {attrs = {unit = "fs"}})
  w:write("/particles/ions/position/step", 1)
  w:write("/particles/ions/box/edges/value", edges)
  w:attr("/particles/ions/box", "boundary", {"periodic", "periodic", "periodic"})
  w:write("/particles/ions/species/value", species)
  if with_images then w:write("/particles/ions/image/value", img) end
  w:close()
end
write_h5md(p("t.h5"))
write_h5md(p("img.h5"), true)
md.write_lammps(p("img.dump"), md.synthetic(spec), {style = "images"})
md.write_lammps(p("wr.dump"), md.synthetic(spec), {style = "wrapped"})
md.write_lammps(p("un.dump"), md.synthetic(spec), {style = "unwrapped"})
md.write_h5md(p("own.h5"), md.synthetic(spec))

local ref = md.transport(md.synthetic(spec), opts)
t.ok(ref.t_plus and ref.t_plus_err and ref.D_cation_err, "synthetic: t+ with an error")
local keys = {"D_cation", "D_anion", "D_solvent", "L_pp", "L_mm", "L_pm", "sigma",
  "sigma_NE", "t_app", "t_plus", "ionicity", "t_plus_err"}
for _, f in ipairs{"t.h5", "img.h5", "img.dump", "wr.dump", "un.dump", "own.h5"} do
  local r = md.transport(p(f), opts)
  local worst = 0
  for _, k in ipairs(keys) do
    worst = math.max(worst, math.abs(r[k] - ref[k]) / math.abs(ref[k]))
  end
  t.ok(worst < 1e-8, string.format("%s gives the synthetic numbers (rel. diff %.2g)", f, worst))
end
local info = md.open(p("t.h5")):info()
t.is(info.format .. " " .. info.group .. " " .. info.unwrapping, "h5md ions minimum image",
  "H5MD: group found, unwrapped by minimum image")
t.is(md.open(p("img.dump")):info().unwrapping, "images", "LAMMPS with ix iy iz uses images")
t.is(md.open(p("img.h5")):info().unwrapping, "images", "H5MD with image/value uses images")

-- the frames and the curves that come back
t.is(ref.frames, 240, "all frames used")
t.is(ref.block_frames, 80, "3 blocks of 80 frames")
t.is(#ref.lag_s, 41, "lags 0 .. block/2")
t.near(ref.msd_cation[1], 0, 1e-30, "MSD at lag 0 is 0")
t.near(ref.volume_m3, 8e-27, 1e-40, "volume from the box")

-- D from the returned curve (a straight-line fit over the fit range)
do
  local lo = math.floor(ref.fit_lo_s / ref.dt_s + 0.5) + 1
  local hi = math.floor(ref.fit_hi_s / ref.dt_s + 0.5) + 1
  local sx, sy, sxx, sxy, n = 0, 0, 0, 0, 0
  for m = lo, hi do
    local xx, yy = ref.lag_s[m], ref.msd_cation[m]
    sx, sy, sxx, sxy, n = sx + xx, sy + yy, sxx + xx * xx, sxy + xx * yy, n + 1
  end
  local slope = (n * sxy - sx * sy) / (n * sxx - sx * sx)
  t.near(slope / 6, ref.D_cation, 1e-12 * ref.D_cation, "D+ = slope of msd_cation / 6")
end

-- md.msd against brute force
do
  local xs, n = {}, 50
  for k = 1, n do xs[k] = math.sin(k * 0.37) * k end
  local m = md.msd(xs)
  local worst = 0
  for lag = 0, n - 1 do
    local s = 0
    for k = 1, n - lag do s = s + (xs[k + lag] - xs[k]) ^ 2 end
    worst = math.max(worst, math.abs(m[lag + 1] - s / (n - lag)))
  end
  t.ok(worst < 1e-9, "md.msd == brute force (" .. worst .. ")")
end

-- pair dynamics: rigid bound pairs keep their partner and move as one
do
  local rigid = md.synthetic{ncat = 5, nan = 5, frames = 50, box = 100e-9,
    D_cat = 1e-10, D_an = 1e-10, D_common = 1e-10, pair_dist = 0.3e-9, seed = 2}
  local pr = md.pairs(rigid, {cation = 1, anion = 2, cutoff = 0.5e-9, max_lag = 10})
  t.is(#pr.lag_s, 11, "md.pairs: lags 0 .. max_lag")
  t.near(pr.same_nearest[11], 1, 0, "md.pairs: the partner stays the nearest anion")
  t.near(pr.corr[2], 1, 1e-9, "md.pairs: displacements fully correlated")
  t.near(pr.pairs, 5, 1e-12, "md.pairs: 5 pairs within the cutoff")
  t.near(pr.residence_s, 10e-12, 1e-22, "md.pairs: residence = the lag range")
  t.errors(function() md.pairs(md.synthetic(spec), {cation = 1, anion = 1, cutoff = 1e-9}) end,
    "both cation and anion", "md.pairs: a type on both sides")
  t.errors(function() md.pairs(md.synthetic(spec), {cation = 1, anion = 2}) end,
    "cutoff > 0", "md.pairs: cutoff required")
end

-- errors
t.errors(function() md.transport(p("t.h5"), {cation = 1}) end, "cation and anion",
  "anion is required")
t.errors(function() md.transport(p("t.h5"), {cation = 1, anion = 2, frame = "solvent"}) end,
  "needs option solvent", "solvent frame without solvent")
t.errors(function() md.transport(p("t.h5"), {cation = 1, anion = 2, frame = "moon"}) end,
  "invalid option 'moon'", "unknown frame")
t.errors(function() md.transport(p("t.h5"), {cation = 1, anion = 9}) end,
  "group 2 has no particles", "a type with no particles")
t.errors(function() md.transport(p("t.h5"), {cation = 1, anion = {1, 2}}) end,
  "type 1 is in two groups", "a type in two groups")
t.errors(function() md.transport(p("t.h5"), {cation = 1, anion = 2, blocks = 100}) end,
  "use fewer blocks", "blocks too short")
t.errors(function() md.transport(p("t.h5"), {cation = 1, anion = 2, fit = {1, 2}}) end,
  "fit range", "fit range outside the lags")
t.errors(function() md.open(p("nope.h5")) end, "nope.h5", "missing file named")
t.errors(function() md.open(p("t.h5"), {group = "x"}) end, "/particles/x/position/value",
  "missing group named")
t.errors(function() md.synthetic{ncat = 1, nan = 1, frames = 10, D_cat = 1, D_common = 2} end,
  "d_common", "impossible synthetic spec")
do
  local f = io.open(p("bad.dump"), "w")
  f:write("ITEM: TIMESTEP\n0\nITEM: NUMBER OF ATOMS\n1\nITEM: BOX BOUNDS pp pp pp\n",
    "0 1\n0 1\n0 1\nITEM: ATOMS id type x y z\n1 1 0 0 0\n",
    "ITEM: TIMESTEP\n0\nITEM: NUMBER OF ATOMS\n1\nITEM: BOX BOUNDS pp pp pp\n",
    "0 1\n0 1\n0 1\nITEM: ATOMS id type x y z\n1 1 0 0 0\n")
  f:close()
  local tr = md.open(p("bad.dump"))
  tr:next()
  t.errors(function() tr:next() end, "time must increase", "repeated timestep")
end
do
  local calls, last = 0, nil
  md.transport(md.synthetic(spec), {cation = 1, anion = 2, blocks = 3,
    progress = function(done, total) calls = calls + 1; last = {done, total} end})
  t.ok(calls >= 1 and last[1] == 240 and last[2] == 240, "progress callback sees all frames")
  t.errors(function()
    md.transport(md.synthetic(spec), {cation = 1, anion = 2, progress = function() return false end})
  end, "stopped by the progress callback", "progress callback can stop the analysis")
end
local closed = md.synthetic(spec)
closed:close()
t.errors(function() closed:next() end, "closed", "closed trajectory")

-- the script and the example run
do
  local h = io.popen(string.format("%q scripts/md-transport.lua %q --cation 1 --anion 2 " ..
    "--solvent 3 --temperature 363 --mass 1=7 --mass 2=280 --mass 3=44 --blocks 3 -o %q 2>&1",
    exe, p("img.dump"), p("out.h5")))
  local out = h:read("a")
  h:close()
  local tp = tonumber(out:match("t%+ %(Onsager, Wohde%-Roling%) ([%d.%-]+)"))
  t.ok(tp and math.abs(tp - ref.t_plus) < 1e-4, "md-transport.lua prints t+")
  local f = h5.open(p("out.h5"))
  t.near(f:read("/md/transport/t_plus"), ref.t_plus, 1e-12, "md-transport.lua writes t+")
  t.is(#f:read("/md/msd/lag_s"), 41, "and the MSD curves")
  f:close()
  h = io.popen(string.format("%q scripts/md-transport.lua %q --cation 1 2>&1; echo rc=$?",
    exe, p("img.dump")))
  out = h:read("a")
  h:close()
  t.ok(out:find("--cation and --anion are required", 1, true) and out:find("rc=1", 1, true),
    "md-transport.lua: missing option is a clear error")
  h = io.popen(string.format("%q examples/md-transference.lua 2>&1", exe))
  out = h:read("a")
  h:close()
  local n = 0
  for s, tp2, exact in out:gmatch("\n%s*([%+%-]%d)%s+[%d.]+%s+[%d.]+ %+%- [%d.]+%s+([%d.]+) %+%- [%d.]+%s+([%d.]+)") do
    n = n + 1
    if math.abs(tonumber(tp2) - tonumber(exact)) > 0.05 then n = -100 end
  end
  t.is(n, 4, "examples/md-transference.lua: four cases, t+ near the exact value")
end

-- F7, F16: counts are bounded integers, the bound in the message
t.errors(function() md.synthetic{ncat = 1e12, nan = 1, frames = 10} end,
  "'ncat' must be an integer in 0..100000000, not 1000000000000.0", "huge particle count refused")
t.errors(function() md.synthetic{ncat = 1, nan = 1, frames = 2.5} end,
  "'frames' must be an integer", "fractional frame count refused")
t.errors(function() md.transport(md.synthetic(spec), {cation = 1, anion = 2, blocks = -1}) end,
  "'blocks' must be an integer in 1..", "negative blocks refused")
t.errors(function() md.transport(md.synthetic(spec), {cation = 1, anion = 2, skip = -5}) end,
  "'skip' must be an integer in 0..", "negative skip refused, not read as 0")
t.errors(function() md.pairs(md.synthetic(spec), {cation = 1, anion = 2, cutoff = 1e-9,
  stride = 0}) end, "'stride' must be an integer in 1..", "md.pairs stride 0 refused")

-- F10's class: a fit window far outside the lags is an error before any
-- conversion to an integer lag (-5 s and 1e300 s were cast to size_t)
t.errors(function() md.transport(md.synthetic(spec), {cation = 1, anion = 2,
  fit = {-5, 1e300}}) end, "fit range -5 .. 1e+300 s must lie in", "absurd fit window refused")

-- F9: a dump cut mid-frame is refused by the script, or used up to the cut
-- with --truncated and a warning naming the cut
do
  local whole = t.slurp(p("wr.dump"))
  local f = io.open(p("cut.dump"), "w")
  f:write(whole:sub(1, math.floor(#whole * 0.63)))
  f:close()
  local h = io.popen(string.format("%q scripts/md-transport.lua %q --cation 1 --anion 2 " ..
    "--temperature 363 --blocks 3 2>&1; echo rc=$?", exe, p("cut.dump")))
  local out = h:read("a")
  h:close()
  t.ok(out:find("truncated", 1, true) and out:find("rc=1", 1, true),
    "md-transport.lua: a cut dump is an error")
  local nf = md.open(p("cut.dump"), {truncated = true}):info()
  t.ok(nf.nframes == math.floor(spec.frames * 0.63) and nf.warning and
    nf.warning:find("frames 1.." .. nf.nframes, 1, true),
    "truncated = true: the complete frames and a warning (" .. tostring(nf.warning) .. ")")
  h = io.popen(string.format("%q scripts/md-transport.lua %q --cation 1 --anion 2 " ..
    "--temperature 363 --blocks 3 --truncated 2>&1; echo rc=$?", exe, p("cut.dump")))
  out = h:read("a")
  h:close()
  t.ok(out:find("warning: .*cut%.dump: truncated at line") and out:find("rc=0", 1, true),
    "md-transport.lua --truncated warns and runs")
end

-- F8: a NaN position is an error naming the frame and atom, not a
-- missing value "(needs --temperature)"
do
  local whole = t.slurp(p("un.dump"))
  local n = 0
  local bad = whole:gsub("\n(7 %d+ )([^ ]+)", function(a, x)
    n = n + 1
    return n == 5 and ("\n" .. a .. "nan") or nil
  end)
  local f = io.open(p("nan.dump"), "w")
  f:write(bad)
  f:close()
  local h = io.popen(string.format("%q scripts/md-transport.lua %q --cation 1 --anion 2 " ..
    "--temperature 363 --blocks 3 2>&1; echo rc=$?", exe, p("nan.dump")))
  local out = h:read("a")
  h:close()
  t.ok(out:find("frame 5: atom id 7: x position is not finite", 1, true) and
    out:find("rc=1", 1, true), "md-transport.lua: NaN position names frame and atom")
end

-- a finite position too large to square (a damaged H5MD file: one
-- coordinate reads 1e200 nm) is an error naming the file and the block,
-- not NaN MSDs shown as missing values and zero error bars
do
  local src = md.synthetic(spec)
  local n, nf = 30, spec.frames
  local pos = array.zeros({nf, n, 3})
  for k = 1, nf do
    local _, _, xk = src:next()
    for a = 1, n do
      for d = 1, 3 do pos:set(k, a, d, xk:get(a, d) / 1e-9) end
    end
  end
  pos:set(100, 3, 1, 1e200)
  local w = h5.create(p("huge.h5"), {overwrite = true})
  w:write("/particles/all/position/value", pos)
  w:write("/particles/all/position/time", 2.0)
  w:write("/particles/all/species", array.from(src:info().types, "i32"))
  w:close()
  local o = {unwrapped = true}
  for k, v in pairs(opts) do o[k] = v end
  t.errors(function() md.transport(p("huge.h5"), o) end,
    "huge.h5: msd: block 2 (frames 81 to 160 after the skip): the mean squared " ..
    "displacement is not finite (a displacement of 9.98",
    "a position too large to square: an error naming the block")
end

t.done()
