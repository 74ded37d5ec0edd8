-- tests of the xpcs binding, ionflow.xpcsio (APS files) and the script
local t = require "ionflow.tap"
local X = require "ionflow.xpcsio"

local dir = t.tmpdir()

math.randomseed(7)
local function stack(n, rows, cols, lo, hi)
  local s = {}
  for f = 1, n do
    local fr = {}
    for r = 1, rows do
      local row = {}
      for c = 1, cols do row[c] = math.random(lo, hi) end
      fr[r] = row
    end
    s[f] = fr
  end
  return s
end

-- geometry
local G = {energy_keV = 12.39841984, distance = 2, pixel = 1e-4,
           center = {x = 7.5, y = 5.5}, shape = {12, 16}}
local g = xpcs.geometry(G)
t.near(g.wavelength, 1e-10, 1e-22, "wavelength 1 A")
t.errors(function() xpcs.geometry{energy_keV = 10, distance = 0, pixel = 1e-4,
  center = {0, 0}, shape = {4, 4}} end, "distance", "zero distance is an error")
t.errors(function() xpcs.geometry{distance = 1, pixel = 1e-4,
  center = {0, 0}, shape = {4, 4}} end, "energy_keV", "missing energy")
local px = xpcs.pixel(g, 6.5, 8.5 + 10)   -- 1-based: 10 pixels right of centre
t.near(px.phi, 0, 1e-12, "phi 0 to the right")
t.near(px.q, 2 * (2 * math.pi / 1e-10) * math.sin(math.atan(1e-3 / 2) / 2),
  1e-6 * px.q, "q of a pixel, exact formula")

-- the maps: ux and uy made when first read, equal to xpcs.pixel's
do
  local m = xpcs.maps(g)
  t.ok(rawget(m, "ux") == nil and rawget(m, "uy") == nil and m.q and m.phi,
    "xpcs.maps: q and phi made, ux and uy not yet")
  local ok = true
  for _, rc in ipairs{{1, 1}, {7, 9}, {12, 16}, {6, 14}} do
    local px1 = xpcs.pixel(g, rc[1], rc[2])
    ok = ok and m.ux:get(rc[1], rc[2]) == px1.ux and
      m.uy:get(rc[1], rc[2]) == px1.uy and m.q:get(rc[1], rc[2]) == px1.q
      and m.phi:get(rc[1], rc[2]) == px1.phi
  end
  t.ok(ok and rawget(m, "uy") ~= nil, "xpcs.maps: ux, uy when read, "
    .. "equal to xpcs.pixel's, then kept")
  t.is(m.nothing, nil, "xpcs.maps: other keys are nil")
end

-- partitions
local maps = xpcs.maps(g)
local p = xpcs.partition{q = maps.q, phi = maps.phi, q_bins = 3, phi_bins = 2}
t.is(p.nbins, 6, "3 q x 2 phi bins")
t.is(p.count:sum(), 12 * 16, "every pixel in a bin")
t.is(#p.q_edges, 4, "q edges")
t.errors(function() xpcs.partition{q = maps.q, phi = maps.phi,
  q_edges = {3, 2, 1}} end, "increase", "bad edges")
local mask = xpcs.mask({12, 16}, {rects = {{1, 12, 1, 8}}})
local pm = xpcs.partition{q = maps.q, phi = maps.phi, mask = mask, q_bins = 3}
t.is(pm.count:sum(), 12 * 8, "masked half")

-- correlator against the definition, evaluated here in Lua
local N, R, C = 45, 3, 4
local st = stack(N, R, C, 0, 20)
local a = array.from(st, "u16")
local one = xpcs.partition{map = array.full({R, C}, 1, "i32")}
local c = xpcs.correlator{dynamic = one}
for f = 1, N, 7 do c:push(a, f, math.min(7, N - f + 1)) end
local r = c:result()
local function brute(level, k)
  local series = {}
  for p = 1, R * C do
    local s = {}
    for f = 1, N do s[f] = st[f][(p - 1) // C + 1][(p - 1) % C + 1] end
    for _ = 1, level do
      local s2 = {}
      for j = 1, #s // 2 do s2[j] = s[2 * j - 1] + s[2 * j] end
      s = s2
    end
    series[p] = s
  end
  local M = #series[1]
  local G2, IP, IF = 0, 0, 0
  for p = 1, R * C do
    local s = series[p]
    for i = 1, M - k do
      G2 = G2 + s[i] * s[i + k]
      IP = IP + s[i]
      IF = IF + s[i + k]
    end
  end
  local n = (M - k) * R * C
  return (G2 / n) / ((IP / n) * (IF / n))
end
local worst = 0
for i = 1, #r.tau do
  local lev = math.tointeger(r.level:get(i))
  local k = math.tointeger(r.tau:get(i)) >> lev
  worst = math.max(worst, math.abs(r.g2:get(i, 1) - brute(lev, k)))
end
t.ok(worst < 1e-12, string.format("g2 = definition at all %d delays (%.2g)",
  #r.tau, worst))
t.is(r.nframes, N, "frames")
t.near(r.image:get(2, 3), (function()
  local s = 0 for f = 1, N do s = s + st[f][2][3] end return s / N end)(),
  1e-12, "time-averaged image")
t.errors(function() c:push(array.zeros{5, 4}) end, "5x4", "frame shape mismatch")
local c1 = xpcs.correlator{dynamic = one}
c1:push(array.zeros{R, C})
t.errors(function() c1:result() end, "first delay", "one frame is too few")
local cf = xpcs.correlator{dynamic = one}
local bad = array.ones({2, R, C})
bad:set(2, 1, 2, 0 / 0)
t.errors(function() cf:push(bad) end, "non-finite", "NaN frame is an error")
local dm = xpcs.partition{map = array.full({R, C}, 1, "i32"), nbins = 2}
local ce = xpcs.correlator{dynamic = dm}
ce:push(a)
local re = ce:result()
t.ok(re.g2:get(1, 2) ~= re.g2:get(1, 2) and re.g2:get(1, 1) == re.g2:get(1, 1),
  "empty bin 2 is NaN, bin 1 a number")
t.errors(function() xpcs.correlator{dynamic = xpcs.partition{
  map = array.zeros({R, C}, "i32"), nbins = 1}} end, "masked",
  "fully masked partition")
t.is(#xpcs.delays(10000), 48, "48 APS delays for 10000 frames")

-- two-time against its definition
local tt = xpcs.twotime{partition = one, bins = {1}}
tt:push(a)
local rt = tt:result(1)
do
  local s, m3, m7 = 0, 0, 0
  for r = 1, R do for cc = 1, C do
    s = s + st[3][r][cc] * st[7][r][cc]
    m3, m7 = m3 + st[3][r][cc], m7 + st[7][r][cc]
  end end
  local n = R * C
  t.near(rt.C:get(3, 7), (s / n) / ((m3 / n) * (m7 / n)), 1e-13,
    "two-time C(3, 7) = definition")
  local d = 0
  for i = 1, N - 4 do d = d + rt.C:get(i, i + 4) end
  t.near(rt.g2:get(5), d / (N - 4), 1e-13, "two-time g2(4) = diagonal mean")
end
-- two parts of the rows (MPI ranks), their sums added by reduce: the map
-- of the whole detector
do
  local h = R // 2
  local function part(r0, r1)
    local p = xpcs.partition{map = one.map:slice(1, r0, r1):copy(), nbins = 1}
    local u = xpcs.twotime{partition = p, bins = {1}}
    u:push(a:slice(2, r0, r1):copy())
    return u
  end
  local lo, hi, other = part(1, h), part(h + 1, R), nil
  hi:result(1, {reduce = function(b) other = b return b end})
  local calls = 0
  local rp = lo:result(1, {age = {2, N - 1}, reduce = function(b)
    calls = calls + 1
    return b + other
  end})
  local rw = tt:result(1, {age = {2, N - 1}})
  local worst = 0
  for i = 1, N do
    for j = 1, N do
      local x, y = rp.C:get(i, j), rw.C:get(i, j)
      worst = math.max(worst, math.abs(x - y) / math.abs(y))
    end
    worst = math.max(worst, math.abs(rp.g2:get(i) - rw.g2:get(i)) /
      math.abs(rw.g2:get(i)))
  end
  t.ok(calls == 1 and worst < 1e-12, "two-time from two parts' reduced sums "
    .. "= the whole map and aged g2 (" .. worst .. ")")
  t.errors(function() lo:result(1, {reduce = function() return array.zeros{3} end}) end,
    "reduce must return", "two-time: a reduce of the wrong length")
end
-- normalisation and rejection by given frame means (corr_push_means):
-- a correlator given its own means, made from c:frame_sums and c:pixels,
-- is the one that takes them itself; a part of the rows given the whole
-- detector's rejects the whole detector's frames (test_mpi.py: the full
-- result across ranks)
do
  local dk = array.full({R, C}, 0.25)
  local function corr(p, d)
    return xpcs.correlator{dynamic = p, dark = d, normalize = true,
      reject_sigma = 1.5}
  end
  local whole, given = corr(one, dk), corr(one, dk)
  whole:push(a)
  local means = given:frame_sums(a) / given:pixels()
  t.ok(given:pixels() == R * C, "c:pixels: the used pixels")
  t.near(means:get(4), (a:slice(1, 4, 4):astype("f64"):sum() - 0.25 * R * C)
    / (R * C), 1e-12, "c:frame_sums: dark-subtracted sums")
  given:push(a, 1, 20, means)
  given:push(a, 21, N - 20, means)
  local rw, rg = whole:result(), given:result()
  local worst = 0
  for i = 1, rw.g2.shape[1] do
    worst = math.max(worst, math.abs(rg.g2:get(i, 1) - rw.g2:get(i, 1)) /
      rw.g2:get(i, 1))
  end
  t.ok(#rw.rejected > 0 and #rg.rejected == #rw.rejected and worst < 1e-12,
    string.format("its own means given: the same g2 (%.2g), the same %d "
      .. "frames rejected", worst, #rw.rejected))
  local pm = xpcs.partition{map = one.map:slice(1, 1, 1):copy(), nbins = 1}
  local fp = a:slice(2, 1, 1):copy()
  local own, lo = corr(pm, dk:slice(1, 1, 1):copy()), corr(pm, dk:slice(1, 1, 1):copy())
  own:push(fp)
  lo:push(fp, nil, nil, means)
  local function same(x, y)
    if #x ~= #y then return false end
    for k = 1, #x do if x[k] ~= y[k] then return false end end
    return true
  end
  t.ok(same(lo:result().rejected, rw.rejected) and
    not same(own:result().rejected, rw.rejected),
    "a part given the whole detector's means rejects its frames (its own "
    .. "means, others)")
  t.errors(function() lo:push(fp, 1, 2, array.zeros{3}) end, "means must be",
    "means of the wrong length")
end
t.errors(function() xpcs.twotime{partition = one, bins = {9}} end, "bin 9",
  "two-time: unknown bin")
local tb = xpcs.twotime{partition = one, bins = {1}, downsample = 5, max_frames = 4}
t.errors(function() tb:push(a) end, "downsample more", "two-time memory bound")

-- raw file with APS metadata, windows, result and qmap files
local raw = dir .. "/raw.h5"
local NF, RR, CC = 160, 12, 16
local big = array.from(stack(NF, RR, CC, 0, 9), "u16")
do
  local w <close> = h5.create(raw)
  w:write("/entry/data/data", big)
  w:write("/entry/instrument/incident_beam/incident_energy", G.energy_keV)
  local det = "/entry/instrument/detector_1/"
  w:write(det .. "distance", 2.0)
  w:write(det .. "x_pixel_size", 1e-4)
  w:write(det .. "y_pixel_size", 1e-4)
  w:write(det .. "beam_center_x", 7.5)
  w:write(det .. "beam_center_y", 5.5)
  w:write(det .. "frame_time", 0.002)
  w:close()
end
local gf = X.geometry_from_file(raw)
t.is(gf.rows, RR, "rows from the dataset")
t.near(gf.frame_time, 0.002, 0, "frame time from metadata")
local qm = X.partitions(gf, {q_bins = 2, phi_bins = 2})
do -- st:nest(dyn): each static bin's dynamic bin, against the pixels
  local s2d, ok = qm.static:nest(qm.dynamic), true
  local sm, dm = qm.static.map, qm.dynamic.map
  for r = 1, RR do for c = 1, CC do
    local s = sm:get(r, c)
    if s >= 1 and s2d:get(s) ~= dm:get(r, c) then ok = false end
  end end
  t.ok(ok and s2d.dtype == "i32" and #s2d == qm.static.nbins,
    "st:nest(dyn) gives the dynamic bin of every static bin's pixels")
  t.errors(function() return qm.dynamic:nest(qm.static) end,
    "spans dynamic bins", "nest: a bin spanning two is an error naming it")
end
local res = X.correlate{raw = raw, dynamic = qm.dynamic, static = qm.static,
  window = 64, overlap = 32, segments = 4, frame_time = gf.frame_time,
  twotime = {bins = {2, 3}, downsample = 2}}
t.is(#res.windows, 4, "4 windows of 64 with overlap 32 in 160 frames")
t.is(res.windows[2].first, 33, "window 2 starts at frame 33")
do -- window 2 equals a correlator fed frames 33..96 directly
  local cw = xpcs.correlator{dynamic = qm.dynamic, static = qm.static}
  cw:push(big, 33, 64)
  local rw = cw:result()
  t.near(res.windows[2].g2:get(3, 2), rw.g2:get(3, 2), 1e-13,
    "window g2 = direct correlation of its frames")
end
t.is(res.iq_segments.shape[1], 4, "4 I(q) segments")
do -- timing: a table of stages, the numbers unchanged
  local tm = {}
  local rt = X.correlate{raw = raw, dynamic = qm.dynamic, static = qm.static,
    window = 64, overlap = 32, segments = 4, frame_time = gf.frame_time,
    timing = tm}
  local good = true
  for _, k in ipairs{"read", "wait", "windows", "result"} do
    local v = tm[k]
    good = good and type(v) == "table" and v[1] >= 0 and v[2] >= 0
  end
  t.ok(good, "correlate{timing}: wall and CPU seconds per stage")
  t.is(rt.g2:get(3, 2), res.g2:get(3, 2), "correlate{timing}: same g2")
  local sw, got = {}, X.stopwatch(nil)
  got("x")   -- (nil: nothing kept, no error)
  local lap = X.stopwatch(sw)
  lap("a"); lap("a"); lap("b")
  t.ok(#sw.a == 2 and sw.b[1] >= 0 and sw.c == nil,
    "stopwatch: laps add up per key")
end
do -- read in blocks of 23 frames, so that windows and batches span blocks
  -- (and frames wait between pushes): the same numbers
  local rb = X.correlate{raw = raw, dynamic = qm.dynamic, static = qm.static,
    window = 64, overlap = 32, segments = 4, frame_time = gf.frame_time,
    twotime = {bins = {2, 3}, downsample = 2}, block = 23}
  local same = #rb.windows == #res.windows and rb.nframes == res.nframes
  local function eq(a, b)
    for i = 1, a.shape[1] do for k = 1, a.shape[2] do
      local x, y = a:get(i, k), b:get(i, k)
      if x ~= y and not (x ~= x and y ~= y) then return false end
    end end
    return true
  end
  same = same and eq(rb.g2, res.g2) and eq(rb.g2_err, res.g2_err)
  for k = 1, #res.windows do
    same = same and rb.windows[k].first == res.windows[k].first and
      eq(rb.windows[k].g2, res.windows[k].g2)
  end
  same = same and eq(rb.twotime.C[1], res.twotime.C[1])
  t.ok(same, "blocks of 23 frames: g2, windows and two-time identical")
end
do -- push_async: the same numbers; the frames are held; errors come later
  local a = xpcs.correlator{dynamic = qm.dynamic, static = qm.static}
  local b = xpcs.correlator{dynamic = qm.dynamic, static = qm.static}
  for f = 1, NF, 37 do
    local n = math.min(37, NF - f + 1)
    a:push(big, f, n)
    b:push_async(big:slice(1, f, f + n - 1):copy())	-- only b holds it
    collectgarbage()
  end
  local ra, rb = a:result(), b:result()
  local same = true
  for i = 1, ra.g2.shape[1] do for k = 1, ra.g2.shape[2] do
    local x, y = ra.g2:get(i, k), rb.g2:get(i, k)
    same = same and (x == y or (x ~= x and y ~= y))
  end end
  t.ok(same and a:frames() == b:frames(), "push_async = push (frames held by the correlator)")
  b:push_async(array.zeros({2, RR + 1, CC}, "u16"))
  t.errors(function() b:result() end, "frames are 13x16 but the partition is 12x16",
    "push_async: a bad push's error comes with the next call")
  t.ok(b:frames() == a:frames(), "push_async: after its error the correlator still works")
  b:push_async(big, 1, 10)
  b:close()	-- waits for it
  t.errors(function() b:frames() end, "closed", "closed after push_async")
end
do -- a correlator reads blocks of its batch length in place
  local c = xpcs.correlator{dynamic = qm.dynamic, static = qm.static}
  t.ok(math.type(c:batch()) == "integer" and c:batch() >= 16,
    "c:batch(): frames per batch (" .. c:batch() .. ")")
  c:close()
end

local out = dir .. "/result.h5"
X.write_result(out, res, {geometry = gf, qmap = qm})
local back = X.read_result(out)
-- measured values are stored as float32 (as the facility's files): they
-- read back as the correlator's numbers rounded to float32, exactly
local g2f = res.g2:astype("f32")
local same = back.g2.dtype == "f32"
for i = 1, #res.tau do
  for b = 1, 4 do
    local x, y = g2f:get(i, b), back.g2:get(i, b)
    if not (x == y or (x ~= x and y ~= y)) then same = false end
  end
end
t.ok(same and #back.tau == #res.tau,
  "result file reads back the same g2 (float32)")
t.is(back.g2_partial.shape[1], 4, "partial g2 of 4 windows")
t.near(back.q_list:get(1), 0.5 * (qm.dynamic.q_edges:get(1) +
  qm.dynamic.q_edges:get(2)) * 1e-10, 1e-18, "q list in 1/A")
t.is(back.ivt.shape[2], NF, "intensity vs time")
t.is(back.twotime_g2.shape[1], NF // 2, "two-time g2 of 80 downsampled frames")
t.near(back.twotime_g2:get(3, 2), res.twotime.g2[2]:astype("f32"):get(3), 0,
  "two-time g2 read back (float32)")
do -- the round trip gives the correlator's numbers back
  local function same_arr(a, b)
    if a == nil or b == nil then return false end
    local function size(z) local m = 1; for _, d in ipairs(z.shape) do m = m * d end; return m end
    if size(a) ~= size(b) then return false end
    local x, y = a:contiguous():reshape{size(a)}, b:contiguous():reshape{size(b)}
    for i = 1, #x do
      local u, v = x:get(i), y:get(i)
      if not (u == v or (u ~= u and v ~= v)) then return false end
    end
    return true
  end
  t.ok(same_arr(back.tau, res.tau), "delays read back (used frames)")
  local function f32(a) return a:astype("f32") end
  t.ok(same_arr(back.iq, f32(res.iq)) and
    same_arr(back.iq_segments, f32(res.iq_segments)),
    "I(q) and its segments read back per static bin (float32)")
  t.ok(same_arr(back.twotime.C[2], f32(res.twotime.C[2])),
    "two-time map read back whole from its stored triangle (float32)")
  t.ok(same_arr(back.frame_index, res.frame_index), "frame numbers read back")
end

local qf = dir .. "/qmap.h5"
X.write_qmap(qf, qm, gf)
local q2 = X.read_qmap(qf, gf)
local mapsame = true
local m1, m2 = qm.static.map, q2.static.map
for i = 1, RR do for j = 1, CC do
  if m1:get(i, j) ~= m2:get(i, j) then mapsame = false end
end end
t.ok(mapsame, "qmap round trip: static map")
t.near(q2.dynamic.q_mean:get(3), qm.dynamic.q_mean:get(3), 0,
  "qmap round trip: bin mean q")
t.is(q2.dynamic.count:get(4), qm.dynamic.count:get(4), "qmap round trip: counts")

-- the script
local exe = arg[-1] or os.getenv("IONFLOW")
local script = (arg[0]:match("^(.*)/tests/lua/") or ".") .. "/scripts/xpcs-correlate.lua"
local cmd = string.format("%q %q %q -o %q --q-bins 3 --phi-bins 2 --window 80 2>&1",
  exe, script, raw, dir .. "/s.h5")
local pipe = io.popen(cmd)
local text = pipe:read("a")
local okx = pipe:close()
t.ok(okx and text:find("g2%(tau1%)") and text:find("wrote"), "script runs")
t.ok(h5.open(dir .. "/s.h5"):exists("/xpcs/multitau/normalized_g2_partial"),
  "script wrote the windows")
local p2 = io.popen(string.format("%q %q %q 2>&1", exe, script, raw))
local msg = p2:read("a")
t.ok(not p2:close() and msg:find("no output file"), "script: missing -o")

-- geometry from a sidecar file; a raw file without metadata is an error
do
  local side, bare = dir .. "/side.h5", dir .. "/bare.h5"
  local w <close> = h5.create(side)
  w:write("/entry/instrument/incident_beam/incident_energy", 8.0)
  local det = "/entry/instrument/detector_1/"
  for k, v in pairs{distance = 3.0, x_pixel_size = 1e-4, y_pixel_size = 1e-4,
                    beam_center_x = 7.5, beam_center_y = 5.5} do
    w:write(det .. k, v)
  end
  w:close()
  local w2 <close> = h5.create(bare)
  w2:write("/entry/data/data", xpcs.poisson(40, 12, 16, 3))
  w2:close()
  local pp = io.popen(string.format("%q %q %q --meta %q -o %q 2>&1", exe,
    script, bare, side, dir .. "/m.h5"))
  local txt = pp:read("a")
  t.ok(pp:close() and txt:find("wrote"), "script: geometry from --meta")
  t.errors(function() X.geometry_from_file(bare) end, "energy_keV",
    "no metadata: the missing field is named")
end

-- the integer kernel (levels 0-8): same numbers as the double one, and it
-- runs; every kernel this CPU has gives the same numbers
do
  local frames = xpcs.poisson(2600, 16, 40, 4, 7) -- several batches
  local part = xpcs.partition{map = array.full({16, 40}, 1, "i32")}
  local a = xpcs.correlator{dynamic = part, progress = false}
  local b = xpcs.correlator{dynamic = part, progress = false}
  a:push(frames)
  b:push(frames:astype("f64"))
  local ra, rb = a:result(), b:result()
  -- g2 from sums of integers: identical; its error sums floating-point
  -- terms bin by bin in runs of pixels that a tile (whose width follows
  -- the kernel) cuts, so only to rounding
  local function same(r1, r2)
    local s = #r1.tau == #r2.tau
    for i = 1, #r1.tau do
      local e1, e2 = r1.g2_err:get(i, 1), r2.g2_err:get(i, 1)
      s = s and r1.g2:get(i, 1) == r2.g2:get(i, 1) and
        math.abs(e1 - e2) <= 1e-13 * math.abs(e1)
    end
    return s
  end
  t.ok(a:int_share() > 0.5 and b:int_share() == 0, string.format(
    "c:int_share: uint16 %.2f, f64 %.2f", a:int_share(), b:int_share()))
  -- levels 0..8 get pairs of frames from every batch of 512
  t.ok(a:batch() == 512 and a:int_share(1) > 0.5 and a:int_share(8) > 0.5 and
    b:int_share(2) == 0 and a:int_share(9) == 0, string.format(
    "c:int_share(level): levels 1 and 8 %.2f %.2f, level 9 %.2f",
    a:int_share(1), a:int_share(8), a:int_share(9)))
  t.ok(same(ra, rb), "uint16 (integer kernel) and f64 frames: identical g2")
  t.is(a:kernel(), xpcs.kernel(), "c:kernel(): the best of this CPU by default")
  local order = {"base", "avx2", "avx512"}
  for _, k in ipairs(order) do
    local c = xpcs.correlator{dynamic = part, progress = false, kernel = k}
    c:push(frames)
    t.ok(same(c:result(), ra) and c:kernel() == k and
      (k == "base") == (c:int_share() == 0), "kernel " .. k .. ": identical g2, errors to rounding")
    c:close()
    if k == xpcs.kernel() then break end
  end
  local best = xpcs.kernel()
  if best ~= "avx512" then
    t.errors(function() xpcs.correlator{dynamic = part, kernel = "avx512"} end,
      "kernel avx512 needs a CPU that has it", "a kernel the CPU lacks is refused")
  end
  t.errors(function() xpcs.correlator{dynamic = part, kernel = "fast"} end,
    "kernel must be", "an unknown kernel is refused")
  a:close(); b:close()
end

-- c:reset(): a correlator reused after other frames gives exactly what a
-- fresh one gives (integer and double kernels, windows of odd length)
do
  local part = xpcs.partition{map = array.full({16, 40}, 1, "i32")}
  local A = xpcs.poisson(2600, 16, 40, 4, 3)
  local B = xpcs.poisson(1501, 16, 40, 3, 4)
  for _, dt in ipairs{"u16", "f64"} do
    local a, b = A:astype(dt), B:astype(dt)
    local c = xpcs.correlator{dynamic = part, progress = false}
    c:push(a)
    c:result()
    c:push(a, 1, 7)      -- frames left waiting in the stage
    t.is(c:reset(), c, "c:reset() returns the correlator")
    t.is(c:frames(), 0, "no frames after c:reset()")
    c:push(b)
    local fresh = xpcs.correlator{dynamic = part, progress = false}
    fresh:push(b)
    local r1, r2 = c:result(), fresh:result()
    local same = #r1.tau == #r2.tau and r1.nframes == r2.nframes
    for i = 1, #r1.tau do
      same = same and r1.tau[i] == r2.tau[i] and
        r1.g2:get(i, 1) == r2.g2:get(i, 1) and
        (r1.g2_err:get(i, 1) == r2.g2_err:get(i, 1) or
         r1.g2_err:get(i, 1) ~= r1.g2_err:get(i, 1))
    end
    for i = 1, #r1.ivt do same = same and r1.ivt[i] == r2.ivt[i] end
    t.ok(same, dt .. " frames after c:reset(): the numbers of a fresh correlator")
    c:close(); fresh:close()
  end
end

-- the sparse level 0: photon-counting frames, the same g2 and errors to
-- the last bit whichever path; the option's values
do
  local ph = xpcs.poisson(1100, 24, 40, 0.001, 11)
  local part = xpcs.partition{map = array.full({24, 40}, 1, "i32")}
  local res, share = {}, {}
  for i, sp in ipairs{false, true, "auto"} do
    local cc = xpcs.correlator{dynamic = part, progress = false, sparse = sp}
    for f = 1, 1100, 100 do cc:push(ph, f, 100) end
    res[i], share[i] = cc:result(), cc:sparse_share()
    cc:close()
  end
  local same = #res[1].tau == #res[2].tau and #res[1].tau == #res[3].tau
  for i = 1, #res[1].tau do
    for k = 2, 3 do
      same = same and res[k].g2[i][1] == res[1].g2[i][1] and
        (res[k].g2_err[i][1] == res[1].g2_err[i][1] or
         res[1].g2_err[i][1] ~= res[1].g2_err[i][1])
    end
  end
  t.ok(same, "sparse = false, true, auto: identical g2 and errors")
  t.ok(share[1] == 0 and share[2] > 0.5 and share[3] > 0.5, string.format(
    "c:sparse_share: off %.2f, on %.2f, auto at 0.001 photons %.2f",
    share[1], share[2], share[3]))
  t.errors(function() xpcs.correlator{dynamic = part, sparse = "yes"} end,
    "sparse must be", "an unknown sparse value is refused")
  -- the sparse path's scratch is made when a batch first takes it: dense
  -- frames never pay for it
  local dense = xpcs.poisson(200, 24, 40, 3, 12)
  local mem = {}
  for i, sp in ipairs{false, "auto"} do
    local cc = xpcs.correlator{dynamic = part, progress = false, sparse = sp}
    cc:push(dense)
    mem[i] = cc:memory()
    for f = 1, 1100, 100 do cc:push(ph, f, 100) end
    mem[i + 2] = cc:memory()
    cc:close()
  end
  t.ok(mem[1] == mem[2] and mem[4] > mem[3],
    string.format("sparse scratch only once used: dense frames %d, %d "
      .. "bytes (off, auto); then sparse ones %d, %d", mem[1], mem[2],
      mem[3], mem[4]))
end

-- photons pushed as events (c:push_events, xpcs.events): the numbers of
-- the dense frames to the last bit, frame by frame or many at once; the
-- sparse levels above 0 (sparse_levels, c:sparse_share(level))
do
  local ph = xpcs.poisson(1030, 24, 40, 0.02, 12)
  local part = xpcs.partition{map = array.full({24, 40}, 1, "i32")}
  local px, ct, per = xpcs.events(ph)
  local nsum, nz = 0, 0
  for f = 1, #per do nsum = nsum + per[f] end
  for f = 1, 1030 do for r = 1, 24 do for c = 1, 40 do
    if ph[f][r][c] > 0 then nz = nz + 1 end end end end
  t.ok(#per == 1030 and nsum == #px and #px == #ct and nsum == nz,
    string.format("xpcs.events: %d events in %d frames, the nonzero pixels",
      #px, #per))
  local function corr(o, feed)
    o.dynamic, o.progress = part, false
    local cc = xpcs.correlator(o)
    feed(cc)
    local r, sh = cc:result(), {cc:sparse_share(0), cc:sparse_share(1)}
    cc:close()
    return r, sh
  end
  local rd = corr({sparse = false}, function(cc) cc:push(ph) end)
  local ra, sha = corr({}, function(cc) cc:push_events(px, ct, per) end)
  local r1, sh1 = corr({sparse = true, sparse_levels = 2}, function(cc)
    local k = 1
    for f = 1, #per do
      local n = per[f]
      cc:push_events(array.slice(px, 1, k, k + n - 1),
        array.slice(ct, 1, k, k + n - 1))
      k = k + n
    end
  end)
  local function same(a, b)
    if #a.tau ~= #b.tau then return false end
    for i = 1, #a.tau do
      local x, y = a.g2[i][1], b.g2[i][1]
      if x ~= y and (x == x or y == y) then return false end
      x, y = a.g2_err[i][1], b.g2_err[i][1]
      if x ~= y and (x == x or y == y) then return false end
    end
    for i = 1, #a.ivt do if a.ivt[i] ~= b.ivt[i] then return false end end
    return #a.ivt == #b.ivt
  end
  t.ok(same(rd, ra) and same(rd, r1), "c:push_events at once and frame by "
    .. "frame: the g2, errors and frame means of the dense frames")
  -- events = true: batches of 1024 frames (1030: one and a part), the
  -- same numbers, also from frames pushed dense into such a correlator
  local re = corr({events = true}, function(cc) cc:push_events(px, ct, per) end)
  local re2 = corr({events = true, sparse = true, sparse_levels = 2},
    function(cc)
      cc:push_events(px, ct, per)
    end)
  local rf = corr({events = true}, function(cc) cc:push(ph) end)
  t.ok(same(rd, re) and same(rd, re2) and same(rd, rf), "events = true: "
    .. "the same g2, errors and frame means, from events and from frames")
  local b0 = xpcs.correlator{dynamic = part, progress = false}
  local b1 = xpcs.correlator{dynamic = part, progress = false, events = true}
  t.ok(b0:batch() == 512 and b1:batch() == 1024, string.format("batches "
    .. "of %d frames, %d with events = true", b0:batch(), b1:batch()))
  b0:close()
  b1:close()
  t.ok(sha[1] > 0.5 and sh1[1] > 0.5 and sh1[2] > 0.5, string.format(
    "events: level 0 sparse %.2f (auto), levels 0 and 1 %.2f, %.2f (2 levels)",
    sha[1], sh1[1], sh1[2]))
  local cc = xpcs.correlator{dynamic = part, progress = false}
  local p1 = array.slice(px, 1, 1, 3)
  t.errors(function() cc:push_events(p1, array.slice(ct, 1, 1, 2)) end,
    "3 pixels but 2 counts", "push_events: pixels and counts must match")
  t.errors(function() cc:push_events(p1, array.slice(ct, 1, 1, 3), {1, 1}) end,
    "per_frame adds up to 2 events, but 3", "push_events: per_frame must "
    .. "add up")
  t.errors(function() cc:push_events(p1:astype("i32"), array.slice(ct, 1,
    1, 3)) end, "pixels must be a contiguous 1", "push_events: "
    .. "pixels are u32")
  local bad = array.zeros({1}, "u32")
  bad[1] = 24 * 40 + 1
  t.errors(function() cc:push_events(bad, array.ones({1}, "u16")) end,
    "outside the 24x40 frame", "push_events: a pixel past the frame")
  t.ok(cc:frames() == 0, "push_events: nothing taken after an error")
  cc:close()
end

t.done()
