-- bad input to the XPCS binding, the qmap reader, the CSV reader and the
-- scripts (issue 14, F6-F16): every case is an error that names what is
-- wrong (file, dataset, argument, pixel) and says the bound, never a
-- crash, a hang, a rounded value or a silently clamped range
local t = require "ionflow.tap"
local X = require "ionflow.xpcsio"

local dir = t.tmpdir()
local function p(name) return dir .. "/" .. name end
local exe = os.getenv("IONFLOW") or arg[-1]
local top = (arg[0]:match("^(.*)/tests/lua/[^/]*$")) or "."

-- run a script: ok, combined output
local function run(script, args)
  local h = io.popen(string.format("%q %q %s 2>&1", exe, top .. "/" .. script, args))
  local out = h:read("a")
  local ok = h:close()
  return ok, out
end

local R, C = 4, 6
local one = xpcs.partition{map = array.full({R, C}, 1, "i32")}

-- F6: a bin near 2^31 is an error naming the pixel and the bound, at once
do
  local m = array.full({R, C}, 1, "i32")
  m:set(2, 3, 2147483647)
  local t0 = os.clock()
  t.errors(function() xpcs.partition{map = m} end,
    "2147483647 at pixel (row 2, col 3) is beyond 65536", "bin 2^31 - 1 refused")
  t.ok(os.clock() - t0 < 1, "and at once")
  t.errors(function() xpcs.partition{map = array.full({R, C}, 1, "i32"), nbins = 2 ^ 40} end,
    "1099511627776 bins is beyond 65536", "nbins 2^40 refused")
end

-- F12: a fractional bin is an error, not rounded
do
  local m = array.full({R, C}, 1, "f64")
  m:set(1, 2, 1.5)
  t.errors(function() xpcs.partition{map = m} end,
    "1.5 at pixel (row 1, col 2) is not an integer", "fractional bin refused")
  m:set(1, 2, 0 / 0)
  t.errors(function() xpcs.partition{map = m} end, "not an integer", "NaN bin refused")
end

-- F7: size arguments bounded, the bound in the message
t.errors(function() xpcs.correlator{dynamic = one, threads = 100000} end,
  "'threads' must be an integer in 0..1024, not 100000", "threads = 100000 refused")
t.errors(function() xpcs.correlator{dynamic = one, threads = -1} end,
  "'threads' must be an integer in 0..1024, not -1", "threads = -1 refused")
t.errors(function() xpcs.correlator{dynamic = one, segment_frames = -1} end,
  "'segment_frames' must be an integer in 0..", "negative segment_frames refused")
t.errors(function() xpcs.correlator{dynamic = one, stride = 0} end,
  "'stride' must be an integer in 1..", "stride 0 refused")
t.errors(function() xpcs.twotime{partition = one, bins = {1}, downsample = 0} end,
  "'downsample' must be an integer in 1..", "twotime downsample 0 refused")
t.errors(function() xpcs.twotime{partition = one, bins = {2 ^ 32 + 1}} end,
  "bin -1 is not in 1..1", "twotime bin 2^32 + 1 is not bin 1")

-- F15: frames of the wrong rank say so and name the call
t.errors(function() xpcs.correlator{dynamic = one}:push_async(array.zeros({2, 1, R, C})) end,
  "correlator:push_async: frames are 4-D, expected rows x cols or frames x rows x cols",
  "rank-4 frames: a message that names the rank")

-- F14: a NaN dark frame is an error naming the dark and the pixel
do
  local dark = array.zeros({R, C})
  dark:set(3, 4, 0 / 0)
  t.errors(function() xpcs.correlator{dynamic = one, dark = dark} end, "the dark image is",
    "NaN dark named")
  t.errors(function() xpcs.correlator{dynamic = one, dark = dark} end,
    "nan at pixel (row 3, col 4)", "NaN dark refused")
  t.lives(function() xpcs.correlator{dynamic = one, dark = array.zeros({R, C})} end,
    "a finite dark is fine")
end

-- F16: a mask of the wrong shape (same size, transposed) and a grid in
-- which every bin is empty
do
  local g = xpcs.geometry{energy_keV = 12.4, distance = 2, pixel = 1e-4,
    center = {x = 2.5, y = 2}, shape = {R, C}}
  local maps = xpcs.maps(g)
  t.errors(function() xpcs.partition{q = maps.q, phi = maps.phi, q_bins = 2,
    mask = array.ones({C, R})} end, "'mask' is 6x4, the detector 4x6", "transposed mask refused")
  t.errors(function() xpcs.partition{q = maps.q, phi = maps.phi, q_bins = 2,
    q_min = 1e12, q_max = 2e12} end, "every bin is empty", "all-empty grid refused")
end

-- F6, F12, F15, F16 through a qmap file: errors name the file and the
-- dataset; grid metadata that disagrees is not copied into results
do
  local g = xpcs.geometry{energy_keV = 12.4, distance = 2, pixel = 1e-4,
    center = {x = 2.5, y = 2}, shape = {R, C}}
  local function qfile(name, map, extra)
    local w = h5.create(p(name), {overwrite = true})
    w:write("/qmap/dynamic_roi_map", map)
    for k, v in pairs(extra or {}) do w:write("/qmap/" .. k, v) end
    w:close()
    return p(name)
  end
  local good = array.full({R, C}, 1, "i32")
  t.lives(function() X.read_qmap(qfile("ok.h5", good, {dynamic_num_pts =
    array.from({1, 1}):astype("i32"), dynamic_v_list_dim0 = array.from({0.01})}), g) end,
    "a consistent qmap file reads")
  local frac = array.full({R, C}, 1, "f64")
  frac:set(2, 2, 0.5)
  t.errors(function() X.read_qmap(qfile("frac.h5", frac), g) end,
    "frac.h5: /qmap/dynamic_roi_map: xpcs.partition: qmap: bin number 0.5 at pixel (row 2, col 2)",
    "fractional bin in a file: names the file and dataset")
  local huge = array.full({R, C}, 1, "i32")
  huge:set(1, 1, 2147483647)
  t.errors(function() X.read_qmap(qfile("huge.h5", huge), g) end,
    "huge.h5: /qmap/dynamic_roi_map: xpcs.partition: qmap: bin number 2147483647",
    "bin near 2^31 in a file: names the map")
  t.errors(function() X.read_qmap(qfile("shape.h5", array.full({C, R}, 1, "i32")), g) end,
    "shape.h5: /qmap/dynamic_roi_map is 6x4, the detector 4x6",
    "a qmap of the wrong shape names the file, not 'q'")
  t.errors(function() X.read_qmap(qfile("mask.h5", good, {mask = array.ones({C, R})}), g) end,
    "mask.h5: /qmap/mask is 6x4, /qmap/dynamic_roi_map 4x6", "a mask of the wrong shape")
  t.errors(function() X.read_qmap(qfile("np.h5", good, {dynamic_num_pts =
    array.from({3, 1}):astype("i32"), dynamic_v_list_dim0 = array.from({0.01, 0.02})}), g) end,
    "np.h5: /qmap/dynamic_v_list_dim0 has 2 values, /qmap/dynamic_num_pts says 3",
    "v_list and num_pts that disagree")
  t.errors(function() X.read_qmap(qfile("im.h5", good, {dynamic_num_pts =
    array.from({2, 1}):astype("i32"), dynamic_index_mapping = array.from({5}):astype("i32")}), g) end,
    "im.h5: /qmap/dynamic_index_mapping[1] = 5 is not a grid index 0..1",
    "an index mapping outside the grid")
end

-- F11: a corrupt first row is not taken for a header; hex and 1e999 are
-- not numbers; csv.read on a directory names it
do
  local csv = require "ionflow.csv"
  local function w(name, text)
    local f = io.open(p(name), "w")
    f:write(text)
    f:close()
    return p(name)
  end
  t.errors(function() csv.read(w("typo.csv", "O.01,5\n0.02,6\n")) end,
    "typo.csv:1: column 1 is not a number: 'O.01'", "O.01 next to a number: a data row")
  t.errors(function() csv.read(w("typo2.csv", "O.01,S\n0.02,6\n")) end,
    "typo2.csv:1: column 1 is not a number: 'O.01' (the first row is not a header",
    "a row of typos is not a header")
  t.errors(function() csv.read(w("hex.csv", "a,b\n0x10,1\n")) end,
    "hex.csv:2: column a is not a number: '0x10'", "hex is not a number")
  t.errors(function() csv.read(w("big.csv", "a,b\n1,1e999\n")) end,
    "big.csv:2: column b is not a number: '1e999'", "1e999 is not a number")
  local h = csv.read(w("names.csv", "x_m,g2,H2O,T_K\n1,2,3,4\n-5e-3,.5,6.,+7\n"))
  t.ok(h.names and h.names[2] == "g2" and h.nrows == 2 and h.columns[1][2] == -5e-3 and
    h.columns[2][2] == 0.5, "names with digits are a header; decimal forms read")
  local d = csv.read(w("data.csv", "1,2\n3,4\n"))
  t.ok(d.names == nil and d.nrows == 2, "a numeric first row is data")
  t.errors(function() csv.read(dir) end, "cannot read " .. dir .. ": Is a directory",
    "csv.read on a directory names it")
end

-- F15, F16 through the scripts: errors name the file, dataset or option,
-- and nothing is clamped
do
  local geo = {energy_keV = 12.4, distance = 2, pixel_x = 1e-4, pixel_y = 1e-4,
    center_x = 3, center_y = 2, frame_time = 1e-3}
  local raw = p("raw.h5")
  X.write_raw(raw, array.ones({20, R, C}, "u16"), geo)
  local out = p("res.h5")
  local ok, msg = run("scripts/xpcs-correlate.lua", raw .. " -o " .. out .. " --frames 1:100000")
  t.ok(not ok and msg:find("frames 1..100000 asked, the file has 1..20", 1, true),
    "--frames past the end is an error, not clamped: " .. msg:match("[^\n]*"))
  t.ok(msg:find("raw.h5:/entry/data/data: frames", 1, true),
    "... naming the file and dataset (not 'nil')")
  ok, msg = run("scripts/xpcs-correlate.lua", raw .. " -o " .. out .. " --timing")
  local line = msg:match("timing %(s%): [^\n]*") or ""
  t.ok(ok and line:find("read [%d.]+ %(cpu [%d.]+%)") and
    line:find("write [%d.]+") and line:find("total [%d.]+"),
    "--timing prints each stage's seconds: " .. line)
  local mb = tonumber(line:match("peak memory ([%d.]+) MB"))
  t.ok(mb and mb >= 1 and mb < 1e6, "... and the process's peak memory: " .. line)
  ok, msg = run("scripts/xpcs-correlate.lua", raw .. " -o " .. out .. " --stride 0")
  t.ok(not ok and msg:find("--stride must be an integer 1..1000000000, got 0", 1, true),
    "--stride 0 names the option")
  ok, msg = run("scripts/xpcs-correlate.lua", raw .. " -o " .. out .. " --q-bins -3")
  t.ok(not ok and msg:find("--q-bins must be an integer 1..", 1, true), "negative --q-bins")
  ok, msg = run("scripts/xpcs-correlate.lua", raw .. " -o " .. out .. " --distance -2")
  t.ok(not ok and msg:find("--distance must be > 0", 1, true), "negative --distance")
  local function rawfile(name, fn)
    local w = h5.create(p(name), {overwrite = true})
    fn(w)
    for k, v in pairs{energy = 12.4, distance = 2} do
      w:write(k == "energy" and "/entry/instrument/incident_beam/incident_energy"
        or "/entry/instrument/detector_1/distance", v)
    end
    for _, k in ipairs{"x_pixel_size", "y_pixel_size"} do
      w:write("/entry/instrument/detector_1/" .. k, 1e-4)
    end
    w:write("/entry/instrument/detector_1/beam_center_x", 3)
    w:write("/entry/instrument/detector_1/beam_center_y", 2)
    w:close()
    return p(name)
  end
  local grp = rawfile("grp.h5", function(w) w:write("/entry/data/data/x", 1) end)
  ok, msg = run("scripts/xpcs-correlate.lua", grp .. " -o " .. out)
  t.ok(not ok and msg:find("grp.h5:/entry/data/data: a frame stack must be", 1, true),
    "/entry/data/data as a group names file and dataset")
  local r4 = rawfile("r4.h5", function(w) w:write("/entry/data/data", array.ones({2, 3, R, C})) end)
  ok, msg = run("scripts/xpcs-correlate.lua", r4 .. " -o " .. out)
  t.ok(not ok and msg:find("r4.h5:/entry/data/data: a frame stack must be", 1, true),
    "rank-4 frames name file and dataset")
  local sd = rawfile("sd.h5", function(w) w:write("/entry/data/data", array.ones({4, R, C})) end)
  local w = h5.create(p("sd2.h5"), {overwrite = true})
  do
    local f <close> = h5.open(sd)
    w:write("/entry/data/data", f:read("/entry/data/data"))
  end
  w:write("/entry/instrument/incident_beam/incident_energy", 12.4)
  w:write("/entry/instrument/detector_1/distance", "2 m")
  w:close()
  ok, msg = run("scripts/xpcs-correlate.lua", p("sd2.h5") .. " -o " .. out)
  t.ok(not ok and msg:find('sd2.h5: /entry/instrument/detector_1/distance is the string "2 m"',
    1, true), "a string distance names the file and dataset")
  ok, msg = run("scripts/polarize.lua", "--n-times 1e8")
  t.ok(not ok and msg:find("--n-times must be an integer 2..100000, got 100000000", 1, true),
    "polarize --n-times 1e8: the bound, at once")
  ok, msg = run("scripts/polarize.lua", "--minutes -5")
  t.ok(not ok and msg:find("--minutes must be > 0", 1, true), "negative duration refused")
  t.errors(function() cell.run{L = 3e-3, c0 = 1870, params = "tplus-0.2",
    protocol = {{t_end = 10, V = 0.1}}, t_end = 10, n_times = 1e12} end,
    "'n_times' must be an integer in 2..10000000", "cell.run n_times = 1e12: the bound")
  t.errors(function() cell.run{L = 3e-3, c0 = 1870, params = "tplus-0.2", tp = 1.5,
    protocol = {{t_end = 10, V = 0.1}}, t_end = 10, n_times = 3} end,
    "t+0 = 1.5 is outside [-1, 1]", "t+ outside [-1, 1] refused")
end

t.done()
