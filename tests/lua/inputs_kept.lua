-- F2: no run replaces a file it reads. The scripts refuse an output that is
-- their input or another file they read (by device and inode: another name
-- of the same file is refused too), and so do h5.create, csv.write,
-- report:write and fig:save in any script.
local t = require "ionflow.tap"
local X = require "ionflow.xpcsio"
local csv = require "ionflow.csv"
local root = arg[0]:match("^(.*)/tests/lua/[^/]*$") or "."
local exe = os.getenv("IONFLOW") or arg[-1]

local function run(...)
  local code, out = sys.run({exe, ...})
  return code == 0, out
end

local dir = t.tmpdir()
local raw = dir .. "/raw.h5"
local frames, truth = speckle.simulate{energy_keV = 10, distance = 1,
  pixel = 75e-6, shape = {16, 16}, frames = 200, frame_time = 0.05,
  velocity = 100 * units.A, tau0 = 10, h = 0.5, modes = 2, mean_counts = 5, seed = 3}
X.write_raw(raw, frames, truth)
local before = t.slurp(raw)

local function kept(what)
  t.ok(t.slurp(raw) == before, what .. ": the raw file is unchanged")
end

local ok, out = run(root .. "/scripts/xpcs-correlate.lua", raw, "-o", raw)
t.ok(not ok and out:find("input of this run", 1, true) and out:find(raw, 1, true),
     "xpcs-correlate RAW -o RAW: refused, naming the file")
if ok then t.diag("%s", out) end
kept("xpcs-correlate -o RAW")

ok, out = run(root .. "/scripts/xpcs-velocity.lua", raw, "-o", raw)
t.ok(not ok and out:find("input of this run", 1, true), "xpcs-velocity RAW -o RAW: refused")
kept("xpcs-velocity -o RAW")

-- another name of the same file: a hard link and a path with ./ in it
local link = dir .. "/link.h5"
t.is(sys.run({"ln", raw, link}), 0, "a hard link to the raw file")
ok, out = run(root .. "/scripts/xpcs-correlate.lua", raw, "-o", link)
t.ok(not ok and out:find("input of this run", 1, true), "a hard link of the input: refused")
ok = run(root .. "/scripts/xpcs-correlate.lua", raw, "-o", dir .. "/./raw.h5")
t.ok(not ok, "the input under another spelling: refused")
kept("other names")

-- a result written, then used as the input of the next run and replaced
local res = dir .. "/result.h5"
ok, out = run(root .. "/scripts/xpcs-correlate.lua", raw, "-o", res, "--q-bins", "2")
t.ok(ok, "a result elsewhere is written")
if not ok then t.diag("%s", out) end
local rbefore = t.slurp(res)
ok, out = run(root .. "/scripts/xpcs-velocity.lua", res, "-o", res)
t.ok(not ok and t.slurp(res) == rbefore, "xpcs-velocity RESULT -o RESULT: refused, result kept")

-- xam-profile on an HDF5 input
do
  local scans = dir .. "/scans.h5"
  local w = h5.create(scans)
  local n = 40
  local cols = {time_s = {}, x_m = {}, counts = {}, monitor = {}, dark = {}}
  for i = 1, n do
    cols.time_s[i] = i; cols.x_m[i] = (i - 20) * 1e-5; cols.counts[i] = 1000
    cols.monitor[i] = 1e4; cols.dark[i] = 0
  end
  for name, v in pairs(cols) do w:write(name, array.from(v)) end
  w:close()
  local sb = t.slurp(scans)
  ok, out = run(root .. "/scripts/xam-profile.lua", scans, "--energy-keV", "20",
    "--thickness", "1e-3", "--c0", "1.87", "-o", scans)
  t.ok(not ok and t.slurp(scans) == sb, "xam-profile SCANS.h5 -o SCANS.h5: refused, kept")
end

-- in one process: what was read may not be replaced; what this process
-- wrote may be written again after it was read back
do
  local f = h5.open(res)   -- written by another process
  t.errors(function() h5.create(res, {overwrite = true}) end, "open for reading",
           "h5.create over a file open for reading")
  f:close()
  t.errors(function() h5.create(res, {overwrite = true}) end, "input of this run",
           "h5.create over a file read earlier in the run")
  t.ok(t.slurp(res) == rbefore, "that file is unchanged")
  local own = dir .. "/own.h5"
  local w = h5.create(own)
  w:write("x", array.from{1, 2})
  w:close()
  local g = h5.open(own); g:close()
  t.lives(function()
    local w2 = h5.create(own, {overwrite = true})
    w2:write("x", array.from{3})
    w2:close()
  end, "a file of this run's own, read back, may be replaced")
  local c = dir .. "/in.csv"
  csv.write(c, {"a"}, {{1, 2}})
  csv.read(c)
  t.lives(function() csv.write(c, {"a"}, {{3}}) end, "csv: its own file again")
  local foreign = dir .. "/foreign.csv"
  local fh = io.open(foreign, "w"); fh:write("a\n1\n"); fh:close()
  csv.read(foreign)
  t.errors(function() csv.write(foreign, {"a"}, {{3}}) end, "input of this run",
           "csv.write over a CSV this run read")
  local svg = dir .. "/in.svg"
  fh = io.open(svg, "w"); fh:write("<svg/>"); fh:close()
  sys.note_input(svg)   -- as a reader written in Lua does
  t.errors(function() plot.figure{}:save(svg) end, "input of this run",
           "fig:save over a file this run read")
end
kept("the end")

t.done()
