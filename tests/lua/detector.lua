-- detector: a simulated heterodyne run written as a Rigaku stack (with
-- an APS sidecar metadata file) gives the same g2 and velocity through
-- scripts/xpcs-velocity.lua as the same frames in HDF5; a 100 000-frame
-- Rigaku run streams with memory flat in the frame count; HDF5 through
-- detector.frames is h5.frames. (Format details: tests/xpcs/test_detector.py.)
local t = require "ionflow.tap"
local X = require "ionflow.xpcsio"

local run = t.script

-- Rigaku words from frames (n x rows x cols, counts < 4096), written by
-- the format notes: frame << 40 | pixel << 16 | count, little-endian
local function write_rigaku(path, frames)
  local n, rows, cols = frames.shape[1], frames.shape[2], frames.shape[3]
  local fh = assert(io.open(path, "wb"))
  for f = 1, n do
    local fr, buf = frames:frame(f), {}
    for r = 1, rows do
      for c = 1, cols do
        local v = math.tointeger(fr:get(r, c))
        if v > 0 then
          buf[#buf + 1] = string.pack("<I8", (f - 1) << 40 |
            ((r - 1) * cols + c - 1) << 16 | v)
        end
      end
    end
    fh:write(table.concat(buf))
  end
  fh:close()
end

local dir = t.tmpdir()

-- 1. velocity from Rigaku words = velocity from HDF5 ---------------------
local nf = 1500
local frames, truth = speckle.simulate{energy_keV = 10, distance = 1,
  pixel = 75e-6, shape = {48, 48}, frames = nf, frame_time = 0.05,
  velocity = 100 * units.A, tau0 = 10, h = 0.5, modes = 4, mean_counts = 5,
  seed = 9}
t.ok(frames:max() < 4096, "simulated counts fit a Rigaku word")
local h5raw = dir .. "/run.h5"
X.write_raw(h5raw, frames, truth)
local bin = dir .. "/run_00001.bin"
write_rigaku(bin, frames)
-- the sidecar: the same metadata, no frames (APS: NAME_metadata.hdf)
do
  local w <close> = h5.create(dir .. "/run_metadata.hdf", {overwrite = true})
  local D = "/entry/instrument/detector_1/"
  w:write("/entry/instrument/incident_beam/incident_energy", truth.energy_keV)
  w:write(D .. "distance", truth.distance)
  w:write(D .. "x_pixel_size", truth.pixel_x)
  w:write(D .. "y_pixel_size", truth.pixel_y)
  w:write(D .. "beam_center_x", truth.center_x)
  w:write(D .. "beam_center_y", truth.center_y)
  w:write(D .. "frame_time", truth.frame_time)
  w:close()
end
t.is(X.find_metadata(bin), dir .. "/run_metadata.hdf",
  "the sidecar of run_00001.bin is run_metadata.hdf")
local sums_equal = true
local it, st = detector.frames(bin, {frames = nf, module = {48, 48}})
for i, f in detector.frames(h5raw) do
  local _, g = it(st)
  if not g or g:sum() ~= f:sum() or (g * f):sum() ~= (f * f):sum() then
    sums_equal = false
  end
end
t.ok(sums_equal, "the Rigaku stack holds the HDF5 frames")
frames = nil
collectgarbage()

local args = {"--q-range", "0.006:0.012", "--q-bins", "4", "--phi-bins", "12"}
local ok1, o1 = run("scripts/xpcs-velocity.lua", h5raw, "-o",
  dir .. "/v1.h5", table.unpack(args))
local ok2, o2 = run("scripts/xpcs-velocity.lua", bin, "-o", dir .. "/v2.h5",
  "--nframes", tostring(nf), "--module", "48,48", table.unpack(args))
local v1 = o1:match("velocity = [%d.]+ %+/%- [%d.]+ A/s")
local v2 = o2:match("velocity = [%d.]+ %+/%- [%d.]+ A/s")
t.ok(ok1 and ok2 and v1 ~= nil, "xpcs-velocity runs on HDF5 and on Rigaku")
t.is(v2, v1, "the same velocity from the Rigaku stack as from HDF5")
t.ok(tonumber(v1 and v1:match("= ([%d.]+)") or "0") > 90,
  "and it is the simulated 100 A/s (" .. tostring(v1) .. ")")
if not (ok1 and ok2) then t.diag("%s\n%s", o1, o2) end
local ok3, o3 = run("scripts/xpcs-velocity.lua", bin, "-o", dir .. "/v3.h5",
  "--module", "48,48", table.unpack(args))
t.ok(not ok3 and o3:find("frame count", 1, true) and o3:find(bin, 1, true),
  "without --nframes a Rigaku run is refused, naming the file")
local ok4, o4 = run("scripts/xpcs-correlate.lua", bin, "-o", dir .. "/c.h5",
  "--nframes", "last", "--module", "48,48", "--q-bins", "3",
  "--metadata", dir .. "/run_metadata.hdf", "--format", "rigaku")
t.ok(ok4 and o4:find(nf .. " frames", 1, true),
  "xpcs-correlate: --nframes last, --metadata, --format")
if not ok4 then t.diag("%s", o4) end

-- 1b. xpcsio.correlate takes a photon-counting source as its events,
-- with the g2 of its dense frames to the last bit (a selection too),
-- in blocks of frames whose events detector.events gives at once
do
  local part = X.partitions(X.raw_geometry(bin, {detector = {frames = nf,
    module = {48, 48}}}), {q_bins = 3, phi_bins = 2})
  -- every element equal, to the bit (content keys of the arrays)
  local function identical(a, b) return a:hash() == b:hash() end
  local function corr(more)
    local o = {raw = bin, detector = {frames = nf, module = {48, 48}},
      dynamic = part.dynamic, static = part.static, progress = false}
    for k, v in pairs(more) do o[k] = v end
    return X.correlate(o)
  end
  for _, sel in ipairs{{}, {first = 7, last = 1400, stride = 3}} do
    local ev = corr(sel)
    local fr = corr{events = false, first = sel.first, last = sel.last,
      stride = sel.stride}
    local same = true
    for _, k in ipairs{"g2", "g2_err", "g2_static", "ivt", "iq"} do
      same = same and identical(ev[k], fr[k])
    end
    t.ok(ev.from_events and not fr.from_events and same and #ev.ivt ==
      ((sel.last or nf) - (sel.first or 1)) // (sel.stride or 1) + 1,
      "xpcsio.correlate of Rigaku by its events = by its frames, bit for "
      .. "bit (" .. (sel.first and "frames 7..1400 stride 3" or "all") .. ")")
  end
  local all = corr{}
  t.ok(not identical(all.ivt, corr{first = 2}.ivt) and
    not identical(all.g2, all.g2 * (1 + 2^-40)),
    "(the comparison sees a changed selection or a last bit)")
  local dn = corr{dark = array.zeros{48, 48}}
  t.ok(not dn.from_events, "a dark image needs the dense frames")
  -- blocks of events: the frames' own, one after the other
  local a, b = {}, {}
  local o = {frames = nf, module = {48, 48}, first = 5, step = 3}
  for i, p in detector.events(bin, o) do a[#a + 1] = i .. ":" .. #p .. ":"
    .. (#p > 0 and p:sum() or 0) end
  o.blocks, o.block = true, 37
  local sizes_ok = true
  for i, p, c, per in detector.events(bin, o) do
    sizes_ok = sizes_ok and #p == #c and #per <= 37
    local k = 0
    for f, n in ipairs(per) do
      b[#b + 1] = (i + 3 * (f - 1)) .. ":" .. n .. ":" ..
        (n > 0 and p:slice(1, k + 1, k + n):sum() or 0)
      k = k + n
    end
  end
  t.ok(sizes_ok and #a == #b and table.concat(a, " ") == table.concat(b, " "),
    "detector.events in blocks = frame by frame (first, step, block 37)")
  local prev
  local okv = pcall(function()
    for _, p in detector.events(bin, o) do
      if prev then local _ = prev:sum() end
      prev = p
    end
  end)
  t.ok(not okv, "a block's events kept past the next step are closed")
  -- frames without photons (an empty file of 5 frames): empty arrays
  local empty = dir .. "/empty.bin"
  assert(io.open(empty, "wb")):close()
  local shape = {}
  for i, p, c, per in detector.events(empty, {frames = 5, module = {48, 48},
      blocks = true}) do
    shape[#shape + 1] = i .. ":" .. #p .. ":" .. #c .. ":" ..
      table.concat(per, ",") .. ":" .. math.tointeger(p:sum())
  end
  t.is(table.concat(shape, " "), "1:0:0:0,0,0,0,0:0",
    "events in blocks of frames without photons: empty arrays, zero counts")
end

-- every element of a list option must be an integer (regression: "5,x,6"
-- was taken as {5, 6})
for _, bad in ipairs{"5,x,6", "5,,6", "5", "5,6,7", "5.5,6"} do
  local okb, ob = run("scripts/xpcs-correlate.lua", bin, "-o", dir .. "/x.h5",
    "--nframes", "last", "--gap", bad)
  t.ok(not okb and ob:find("--gap needs 2 integers", 1, true),
    "--gap " .. bad .. " is refused")
end

-- 2. HDF5 through detector is h5.frames --------------------------------
do
  local a, b = {}, {}
  for i, f in h5.frames(h5raw, X.RAW_DATASET, {first = 3, step = 7}) do
    a[#a + 1] = i .. ":" .. f:sum()
  end
  for i, f in detector.frames(h5raw, {first = 3, step = 7, blocks = true,
      block = 16}) do
    for k = 1, f.shape[1] do b[#b + 1] = (i + 7 * (k - 1)) .. ":" .. f:frame(k):sum() end
  end
  t.is(table.concat(b, " "), table.concat(a, " "),
    "detector.frames of HDF5 = h5.frames (first, step, blocks)")
  local info = detector.info(h5raw)
  t.ok(info.format == "hdf5" and info.frames == nf and info.rows == 48 and
    info.dtype == "u16" and info.dataset == X.RAW_DATASET, "detector.info of HDF5")
end

-- xpcsio.correlate reading the next block while the last is correlated
-- (async, two buffers) or one block at a time (one buffer, the default on
-- two cores): the same numbers
do
  local part = X.partitions(X.raw_geometry(h5raw), {q_bins = 3})
  local keys = {}
  for _, async in ipairs{true, false} do
    local r = X.correlate{raw = h5raw, dynamic = part.dynamic,
      static = part.static, progress = false, async = async, block = 200}
    keys[#keys + 1] = r.g2:hash() .. r.g2_err:hash() .. r.ivt:hash()
  end
  t.is(keys[2], keys[1], "xpcsio.correlate: async and one block at a "
    .. "time give the same g2, errors and frame means")
end

-- selections past the end are named in 1-based frames, as h5.frames does
t.errors(function() return detector.frames(bin, {frames = nf, module = {48, 48},
  first = nf + 2}) end, "first frame " .. (nf + 2) .. " is beyond the " .. nf
  .. " frames", "first past the end, 1-based")
t.errors(function() return detector.frames(bin, {frames = nf, module = {48, 48},
  first = nf - 3, count = 3, step = 2}) end, "frames " .. (nf - 3) .. ".."
  .. (nf + 1) .. " step 2 run past the " .. nf .. " frames",
  "a range past the end, 1-based")

-- 3. a frame is valid until the next step ------------------------------
do
  local prev
  local ok = pcall(function()
    for _, f in detector.frames(bin, {frames = nf, module = {48, 48},
        block = 4}) do
      if prev then local _ = prev:sum() end
      prev = f
    end
  end)
  t.ok(not ok, "a frame kept past its block is closed")
end

-- 4. 100 000 frames: memory flat in the frame count --------------------
do
  local big = dir .. "/long.bin"
  local fh = assert(io.open(big, "wb"))
  local n, words = 100000, {}
  for f = 0, n - 1 do
    if f % 10 ~= 3 then   -- every tenth frame empty
      words[#words + 1] = string.pack("<I8I8", f << 40 | (f % 1000) << 16 |
        (f % 7 + 1), f << 40 | 1023 << 16 | 1)
    end
    if #words == 4096 then fh:write(table.concat(words)) words = {} end
  end
  fh:write(table.concat(words))
  fh:close()
  collectgarbage()
  local total, rss10, rss = 0, nil, nil
  local k = 0
  for i, b in detector.frames(big, {frames = n, module = {32, 32},
      blocks = true, block = 256}) do
    total = total + b:sum()
    k = k + b.shape[1]
    if not rss10 and k >= 10000 then rss10 = sys.rss() end
  end
  rss = sys.rss()
  local want = 0
  for f = 0, n - 1 do if f % 10 ~= 3 then want = want + f % 7 + 2 end end
  t.is(total, want, "100 000 Rigaku frames: the exact total")
  t.is(k, n, "all 100 000 frames, empty ones included")
  t.diag("resident %.1f MB after 10 000 frames, %.1f MB after 100 000",
    rss10 / 2^20, rss / 2^20)
  t.ok(rss - rss10 < 4 * 2^20, "memory flat in the frame count")
end

t.done()
