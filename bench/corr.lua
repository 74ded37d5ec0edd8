-- bench/corr.lua: multi-tau correlator throughput in pixel-frames per
-- second (not a timed test). Frames are Poisson counts made in C, every
-- frame distinct (a stack of 10000 frames of 256 x 256 is 1.3 GB), except
-- where a line says "pool": there a pool of frames larger than the L3
-- cache is pushed repeatedly. Times are wall clock (with the result, and
-- the correlator's state faulted in as it is first used: a fresh
-- correlator's cost) and process CPU; on a shared machine the CPU figure
-- per thread is the steadier one. The memory-streaming bound
-- (bench/bandwidth.c) is measured at the start of the same run; the
-- correlator alone and the whole user path (an HDF5 file through
-- scripts/xpcs-correlate.lua to its result file, in a child process) are
-- reported side by side on the same frames, also from bitshuffle-LZ4
-- files (whose read alone is compared with h5py's). For photon-counting
-- stacks:
-- the effective rate (pixel-frames of the dense equivalent per second)
-- and the photon rate, for the dense kernels, the sparse levels and the
-- automatic choice, from dense frames and from their events
-- (c:push_events, as a photon-counting detector gives them; also a
-- Rigaku file read by detector.events in blocks; a correlator made with
-- events = true, as xpcsio.correlate makes it, beside one in the batches
-- of frames), each compared bit for bit with the dense path.
--
--   ionflow bench/corr.lua [quick | path | sparse]   (path: the user path
--   only; sparse: the photon-counting sets only)
local quick = arg[1] == "quick"

local function loadavg()
  local p = io.open("/proc/loadavg")
  local s = p and p:read("l") or "?"
  if p then p:close() end
  return s:match("^(%S+)") or "?"
end

-- the stacks of distinct frames, made once per shape and mean
local stacks = {}
local function stack(frames, rows, cols, mean)
  local key = table.concat({frames, rows, cols, mean}, "x")
  if not stacks[key] then
    stacks = {}   -- (one at a time: they are large)
    collectgarbage()
    stacks[key] = xpcs.poisson(frames, rows, cols, mean, 42)
  end
  return stacks[key]
end

-- the streaming bound, measured now (bench/bandwidth.c built here), and
-- how fast a process gets fresh memory: after 3 s idle and right after
-- another process freed some (in a VM whose balloon reports free pages to
-- the host, the host backs them again on first touch: bench/README.md)
local bwbin
do
  local dir = arg[0]:match("^(.*)/[^/]*$") or "."
  local bin = os.tmpname()
  if sys.run({"cc", "-O3", "-march=native", "-fopenmp",
              dir .. "/bandwidth.c", "-o", bin}, {capture = false}) == 0 then
    bwbin = bin
    sys.run({bin, "512"}, {capture = false})
    sys.sleep(3)
    io.write("after 3 s idle: ")
    io.flush()
    sys.run({bin, "touch", "512"}, {capture = false})
    io.write("right after:    ")
    io.flush()
    sys.run({bin, "touch", "512"}, {capture = false})
  else
    os.remove(bin)
  end
end

-- the seconds a process takes to first write mb MB of fresh memory on all
-- threads, measured now (nil without the probe)
local function fresh_seconds(mb)
  if not bwbin then return nil end
  local rc, out = sys.run({bwbin, "touch", tostring(math.ceil(mb))})
  return rc == 0 and tonumber(out:match(" in ([%d.]+) s")) or nil
end

-- o: rows, cols, frames, mean, pool (frames re-pushed; nil: distinct
-- frames), chunk (frames a push; default a batch, read in place), dtype,
-- kernel, sparse, sparse_levels, events ({pixels, counts, per_frame}:
-- pushed instead of the frames, at once), quiet (nothing printed);
-- returns the wall time and the result
local function run(name, o)
  local data = o.pool and xpcs.poisson(o.pool, o.rows, o.cols, o.mean, 42)
               or stack(o.frames, o.rows, o.cols, o.mean)
  if o.dtype then data = data:astype(o.dtype) end
  local part = o.part or
    xpcs.partition{map = array.full({o.rows, o.cols}, 1, "i32")}
  local c = xpcs.correlator{dynamic = part, progress = false,
    kernel = o.kernel, sparse = o.sparse, sparse_levels = o.sparse_levels,
    last = o.last, events = o.events ~= nil and o.batch ~= "frames"}
  local pool = o.pool or o.frames
  local chunk = o.chunk or c:batch()
  local w0, c0 = sys.time(), os.clock()
  local done = 0
  if o.events then
    c:push_events(o.events[1], o.events[2], o.events[3])
    done = o.frames
  end
  while done < o.frames do
    local first = (done % pool) + 1
    local n = math.min(chunk, o.frames - done, pool - first + 1)
    c:push(data, first, n)
    done = done + n
  end
  local w1 = sys.time()
  local r = c:result()
  local wall, cpu = sys.time() - w0, os.clock() - c0
  local pf = o.rows * o.cols * o.frames
  local photons = ""
  if o.mean < 1 then   -- photon counting: the counts seen, per second
    local sum = 0
    for i = 1, #r.ivt do sum = sum + r.ivt[i] end
    photons = string.format(", %.0f M photons/s", sum * o.rows * o.cols /
      wall / 1e6)
  end
  local sp = {}
  for l = 0, 3 do sp[#sp + 1] = string.format("%.0f", 100 * c:sparse_share(l)) end
  if o.quiet then c:close() return wall, r end
  print(string.format("%-36s %6.0f M px-frames/s wall (%.2f s, result %.3f"
    .. " s), %5.0f M per CPU-s%s, %s kernel, integer %3.0f %%, sparse "
    .. "levels 0-3 %s %%, %d delays, %d MB state, load %s", name,
    pf / wall / 1e6, wall, sys.time() - w1, pf / cpu / 1e6, photons,
    c:kernel(), 100 * c:int_share(), table.concat(sp, "/"), #r.tau,
    c:memory() >> 20, loadavg()))
  c:close()
  return wall, r
end

local function with(t, more)
  local o = {}
  for k, v in pairs(t) do o[k] = v end
  for k, v in pairs(more) do o[k] = v end
  return o
end

-- The whole user path on the same frames: the stack written to an HDF5
-- file (one chunk per frame, in the page cache), then
-- scripts/xpcs-correlate.lua --timing in a child process, the result
-- file out, best of two; beside it the file read alone (h5.frames) and
-- the correlator alone (fresh, with the result, on the frames in memory).
-- The breakdown: process start, module loading and exit (the child's wall
-- time less its own stages), the geometry (with the forked probe of the
-- untrusted file), the partition, the correlator's set-up, reading and
-- correlating (overlapped: the reader's wall time, then what is left
-- waiting for the correlator), the result and the result file written.
-- The bound is the largest of the stages, which run in turn.
-- With o.compress, the file is rewritten by h5py as the APS's detectors
-- write theirs (bitshuffle with LZ4, a frame per chunk), and its read
-- alone is also timed in h5py with Debian's filter plugins (the
-- reference: the C bitshuffle library); with "gzip", written here with
-- gzip level 4 after HDF5's shuffle, a frame per chunk, and the read
-- alone timed in h5py (the reference: HDF5's own inflate).
local PY_BSHUF = [[
import sys, h5py, hdf5plugin
with h5py.File(sys.argv[1], "r") as f, h5py.File(sys.argv[2], "w") as g:
    d = f["/entry/data/data"]
    g.create_dataset("/entry/data/data", data=d[()],
                     chunks=(1,) + d.shape[1:], **hdf5plugin.Bitshuffle())
]]
local PY_READ = [[
import sys, time, h5py, hdf5plugin
best = 1e9
for _ in range(2):
    t = time.perf_counter()
    with h5py.File(sys.argv[1], "r") as f:
        f["/entry/data/data"][()]
    best = min(best, time.perf_counter() - t)
print(best)
]]

local function user_path(name, o)
  local data = stack(o.frames, o.rows, o.cols, o.mean)
  local base = os.tmpname()	-- (an empty file: removed below)
  local path, out = base .. ".h5", base .. "_result.h5"
  local dir = arg[0]:match("^(.*)/[^/]*$") or "."
  local w = h5.create(path)
  w:write("/entry/data/data", data, {chunks = {1, o.rows, o.cols},
    compress = o.compress == "gzip" and 4 or nil})
  w:close()
  local ref = ""
  if o.compress and o.compress ~= "gzip" then
    local rc, msg = sys.run({"/usr/bin/python3", "-c", PY_BSHUF, path,
      path .. ".bs"})
    assert(rc == 0, "writing the bitshuffle file failed: " .. tostring(msg))
    assert(os.rename(path .. ".bs", path))
  end
  if o.compress then
    local rc, msg = sys.run({"/usr/bin/python3", "-c", PY_READ, path})
    ref = rc == 0 and string.format(", in h5py %.3f s", tonumber(msg))
      or ", h5py failed"
  end
  local argv = {arg[-1], dir .. "/../scripts/xpcs-correlate.lua", path,
    "-o", out, "--q-bins", "10", "--energy", "10", "--distance", "5",
    "--pixel", "75e-6", "--center", (o.cols / 2) .. "," .. (o.rows / 2),
    "--timing"}
  local best, tm = math.huge, nil
  for _ = 1, 2 do   -- the second has the file in the page cache
    local w0 = sys.time()
    local rc, msg = sys.run(argv)
    local wall = sys.time() - w0
    if rc ~= 0 then print("xpcs-correlate failed: " .. tostring(msg)) end
    if wall < best then
      best, tm = wall, {}
      for k, v, c in (msg or ""):gmatch("(%a+) ([%d.]+) %(cpu ([%d.]+)%)") do
        tm[k] = {tonumber(v), tonumber(c)}
      end
      tm.peak = tonumber((msg or ""):match("peak memory ([%d.]+) MB"))
    end
  end
  -- its peak memory first written here, as the next run would get it
  local fresh = tm.peak and fresh_seconds(tm.peak)
  local w0 = sys.time()
  for _ in h5.frames(path, "/entry/data/data", {blocks = true}) do end
  local rd = sys.time() - w0
  os.remove(path)
  os.remove(out)
  os.remove(base)
  local pf = o.rows * o.cols * o.frames
  local function t(k) return tm[k] and tm[k][1] or 0 end
  local stages = {
    {"start", best - t("total")}, {"geometry", t("geometry")},
    {"partition", t("partition")}, {"setup", t("setup")},
    {"read", t("read")}, {"wait", t("wait")}, {"result", t("result")},
    {"write", t("write")}}
  local parts = {}
  for i, st in ipairs(stages) do
    parts[i] = string.format("%s %.3f", st[1], st[2])
  end
  print(string.format("%-36s %6.0f M px-frames/s wall (%.3f s, file in to "
    .. "result file out, a process of its own, %.3f s CPU in its stages); "
    .. "stages (s): %s; the file read alone %.3f s = %.0f M/s%s; load %s",
    name, pf / best / 1e6, best, tm.total and tm.total[2] or 0,
    table.concat(parts, ", "), rd, pf / rd / 1e6, ref, loadavg()))
  -- the correlator alone: the script's partition (10 rings), its end
  -- known, fresh, with the result
  local X = require "ionflow.xpcsio"
  local qm = X.partitions(xpcs.geometry{energy_keV = 10, distance = 5,
    pixel = 75e-6, center = {x = o.cols / 2, y = o.rows / 2},
    shape = {o.rows, o.cols}}, {q_bins = 10})
  -- (run twice, the first unreported: like the path's second run, the
  -- second gets memory just freed, which this VM backs again when it has
  -- been free for a few seconds: bench/README.md)
  local ko = with(o, {part = qm.dynamic, last = o.frames})
  run("", with(ko, {quiet = true}))
  local kern = run("  same, correlator alone", ko)
  -- The stages run one after another (on two cores the reader and the
  -- correlator take turns: bench/README.md), so the wall time is their
  -- sum; the bound is the largest, the run's own reading and correlating
  -- beside the same work alone.
  local bound, bt = "", -1
  for _, st in ipairs{{"process start", stages[1][2]},
      {"geometry and probe", t("geometry")}, {"partition", t("partition")},
      {"set-up", t("setup")}, {"reading", t("read")},
      {"correlator", t("wait")}, {"result", t("result")},
      {"result file", t("write")}} do
    if st[2] > bt then bound, bt = st[1], st[2] end
  end
  print(string.format("  bound by: %s (%.3f s of %.3f s, the stages in "
    .. "turn; alone: reading %.3f s, correlator %.3f s)", bound, bt, best,
    rd, kern))
  if fresh then
    print(string.format("  fresh memory: the run's peak %.0f MB first "
      .. "written here on all threads in %.3f s (right after the run): "
      .. "%.0f%% of its wall time", tm.peak, fresh, 100 * fresh / best))
  end
end

-- the user path's cases of issue 18 (u16, mean 2 counts)
local function user_cases()
  for _, c in ipairs{{128, 128, 2000}, {256, 256, 4000}, {512, 512, 2000},
      {1024, 1024, 1000}, {256, 256, 4000, "bitshuffle-LZ4"},
      {512, 512, 2000, "bitshuffle-LZ4"}, {256, 256, 4000, "gzip"}} do
    user_path(string.format("user path u16 %dx%d x %d, mean 2%s", c[1],
      c[2], c[3], c[4] and ", " .. c[4] or ""), {rows = c[1], cols = c[2],
      frames = c[3], mean = 2, compress = c[4]})
  end
  stacks = {}
  collectgarbage()
end

print(string.format("best kernel %s, OMP_NUM_THREADS=%s", xpcs.kernel(),
  os.getenv("OMP_NUM_THREADS") or "(all cores)"))
local dense = {rows = 256, cols = 256, frames = 10000, mean = 5}

-- g2 of two results equal to the last bit
local function same_g2(a, b)
  if #a.tau ~= #b.tau then return false end
  for i = 1, #a.tau do
    for d = 1, #a.g2[i] do
      local x, y = a.g2[i][d], b.g2[i][d]
      if x ~= y and (x == x or y == y) then return false end
    end
  end
  return true
end

-- a photon-counting stack through the dense kernels, the sparse level 0
-- and the automatic choice, and then the user's path
local function sparse_set(rows, cols, frames, mean)
  local o = {rows = rows, cols = cols, frames = frames, mean = mean}
  local tag = string.format("sparse %dx%d x %d, mean %g", rows, cols,
    frames, mean)
  local _, rd = run(tag .. ", dense", with(o, {sparse = false}))
  local _, rs = run("  same, sparse level 0", with(o, {sparse = true,
    sparse_levels = 1}))
  local _, r3 = run("  same, sparse levels 0-3", with(o, {sparse = true,
    sparse_levels = 4}))
  local _, ra = run("  same, auto (the default)", o)
  -- the photons as a photon-counting detector gives them
  local data = stack(frames, rows, cols, mean)
  local w0 = sys.time()
  local ev = table.pack(xpcs.events(data))
  local wc = sys.time() - w0
  print(string.format("  dense-to-events conversion (xpcs.events): %.3f s "
    .. "= %.0f M px-frames/s, %d events, load %s", wc,
    rows * cols * frames / wc / 1e6, #ev[1], loadavg()))
  local _, re = run("  same, pushed as events, auto", with(o, {events = ev}))
  local _, ref = run("  same, events in batches of frames", with(o,
    {events = ev, batch = "frames"}))
  local _, re3 = run("  same, pushed as events, levels 0-3", with(o,
    {events = ev, sparse = true, sparse_levels = 4}))
  local eq = same_g2(rd, rs) and same_g2(rd, r3) and same_g2(rd, ra) and
    same_g2(rd, re) and same_g2(rd, re3) and same_g2(rd, ref)
  print(string.format("  g2 of every sparse path and of the events %s the "
    .. "dense path's, bit for bit", eq and "equals" or "DIFFERS FROM"))
  -- warm state (every level's memory in use), alternating, best of 3:
  -- the kernels' own speed, without a fresh correlator's page faults
  local nw = math.min(frames, 4096)
  local ne = 0
  for f = 1, nw do ne = ne + ev[3][f] end
  local evw = {array.slice(ev[1], 1, 1, ne), array.slice(ev[2], 1, 1, ne),
    table.move(ev[3], 1, nw, 1, {})}
  local part = xpcs.partition{map = array.full({rows, cols}, 1, "i32")}
  local cases = {{"dense", {sparse = false}}, {"sparse level 0",
    {sparse = true, sparse_levels = 1}}, {"events (auto)", {events = true},
    true}, {"events, batches of frames", {}, true}}
  local best = {}
  for _ = 1, 3 do
    for i, k in ipairs(cases) do
      local co = {dynamic = part, progress = false}
      for key, v in pairs(k[2]) do co[key] = v end
      local c = xpcs.correlator(co)
      local function go()
        if k[3] then c:push_events(evw[1], evw[2], evw[3])
        else c:push(data, 1, nw) end
      end
      go()
      c:reset()
      local w0, c0 = sys.time(), os.clock()
      go()
      local w, cpu = sys.time() - w0, os.clock() - c0
      local b = best[i] or {math.huge, math.huge}
      best[i] = {math.min(b[1], w), math.min(b[2], cpu)}
      c:close()
    end
  end
  local pf, out = rows * cols * nw, {}
  for i, k in ipairs(cases) do
    out[i] = string.format("%s %.0f M/s wall, %.0f M per CPU-s", k[1],
      pf / best[i][1] / 1e6, pf / best[i][2] / 1e6)
  end
  print(string.format("  warm state, %d frames pushed: %s; load %s", nw,
    table.concat(out, "; "), loadavg()))
  ev, evw = nil, nil
  collectgarbage()
  user_path("  same, user path (auto)", o)
end

-- A Rigaku 500k stack (256 x 256, Poisson photons of the given mean,
-- written by NumPy as the format's 64-bit words) read and correlated:
-- dense (detector.frames, c:push) and from its events (detector.events,
-- c:push_events), file to result in the same run, bit for bit
local function rigaku_set(frames, mean)
  local side, px = 256, 256 * 256
  local base = os.tmpname()	-- (an empty file: removed below)
  local path, gen = base .. ".bin", base .. ".py"
  local fh = assert(io.open(gen, "w"))
  fh:write(string.format([[
import numpy as np
rng = np.random.default_rng(5)
n, npx = %d, %d
pos = np.sort(rng.integers(0, n * npx, rng.poisson(%g * n * npx)))
u, c = np.unique(pos, return_counts=True)
w = (u // npx).astype(np.uint64) << np.uint64(40)
w |= (u %% npx).astype(np.uint64) << np.uint64(16)
w |= c.astype(np.uint64)
w.astype("<u8").tofile(%q)
]], frames, px, mean, path))
  fh:close()
  assert(sys.run({"/usr/bin/python3", gen}, {capture = false}) == 0,
    "writing the Rigaku stack failed")
  os.remove(gen)
  local part = xpcs.partition{map = array.full({side, side}, 1, "i32")}
  local res, tm = {}, {}
  for pass = 1, 2 do   -- (the second with the file in the page cache)
    for _, how in ipairs{"frames", "events"} do
      local c = xpcs.correlator{dynamic = part, progress = false,
        events = how == "events"}
      local w0, c0 = sys.time(), os.clock()
      local o = {frames = frames, module = {side, side}, blocks = true,
        block = c:batch()}
      if how == "frames" then
        for _, b in detector.frames(path, o) do c:push(b) end
      else
        for _, pix, cnt, per in detector.events(path, o) do
          c:push_events(pix, cnt, per)
        end
      end
      res[how] = c:result()
      local w, cpu = sys.time() - w0, os.clock() - c0
      if pass == 2 then
        local sum = 0
        for i = 1, #res[how].ivt do sum = sum + res[how].ivt[i] end
        print(string.format("Rigaku %dx%d x %d, mean %g, %-6s %6.0f M "
          .. "px-frames/s wall (%.2f s, file to result), %5.0f M per CPU-s, "
          .. "%.0f M photons/s, sparse level 0 %.0f %%, load %s", side, side,
          frames, mean, how, px * frames / w / 1e6, w, px * frames / cpu / 1e6,
          sum * px / w / 1e6, 100 * c:sparse_share(), loadavg()))
      end
      c:close()
    end
  end
  print(string.format("  g2 from the Rigaku events %s that from its dense "
    .. "frames, bit for bit", same_g2(res.frames, res.events) and "equals"
    or "DIFFERS FROM"))
  os.remove(path)
  os.remove(base)
end

if quick then
  run("dense 256x256 x 2000, mean 5", with(dense, {frames = 2000}))
  sparse_set(256, 256, 2000, 0.05)
  rigaku_set(2000, 0.05)
  return
end
local function finish()
  if bwbin then os.remove(bwbin) end
end
if arg[1] == "path" then user_cases() finish() return end
if arg[1] == "sparse" then	-- (the photon-counting sets alone)
  sparse_set(256, 256, 10000, 0.05)
  rigaku_set(10000, 0.05)
  sparse_set(256, 256, 10000, 0.01)
  finish()
  return
end
user_cases()
run("dense u16 256x256 x 10000, mean 5", dense)
user_path("  same, user path", dense)
-- the kernels' own speed: the same correlator's pushes once its state of
-- every level is in memory (no result)
do
  local data = xpcs.poisson(512, 256, 256, 5, 42)
  local part = xpcs.partition{map = array.full({256, 256}, 1, "i32")}
  local ks = {xpcs.kernel()}
  if ks[1] == "avx512" then ks[2] = "avx2" end
  for _, k in ipairs(ks) do
    local c = xpcs.correlator{dynamic = part, progress = false, kernel = k}
    for _ = 1, 40 do c:push(data) end	-- every level of 20480 frames
    c:reset()
    for _ = 1, 8 do c:push(data) end
    local w0, c0 = sys.time(), os.clock()
    for _ = 1, 32 do c:push(data) end
    local pf = 32 * 512 * 65536
    print(string.format("%-36s %6.0f M px-frames/s wall, %5.0f M per CPU-s,"
      .. " %s kernel, load %s", "  warm state, pushes only, pool",
      pf / (sys.time() - w0) / 1e6, pf / (os.clock() - c0) / 1e6,
      c:kernel(), loadavg()))
    c:close()
  end
end
-- the kernels of earlier sessions on the same stack
for _, k in ipairs{"avx2", "base"} do
  if k ~= xpcs.kernel() then
    run("  same, " .. k .. " kernel", with(dense, {kernel = k}))
  end
end
run("  same, pushed 64 frames at a time", with(dense, {chunk = 64}))
run("  same, uint32 frames", with(dense, {dtype = "u32"}))
run("  same, float32 frames", with(dense, {dtype = "f32"}))
sparse_set(256, 256, 10000, 0.05)
rigaku_set(10000, 0.05)
sparse_set(256, 256, 10000, 0.01)
local mpx = {rows = 1024, cols = 1024, mean = 5, pool = 128}
run("dense 1024x1024 x 1000, mean 5, pool", with(mpx, {frames = 1000}))
run("dense 1024x1024 x 4000, mean 5, pool", with(mpx, {frames = 4000}))
finish()
