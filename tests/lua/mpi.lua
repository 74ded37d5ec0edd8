-- the mpi module in one process (no launcher): rank 0 of 1, collectives
-- that give back what they were given, clear errors; sys.dir. The
-- collectives across ranks are tested by tests/xpcs/test_mpi.py.
local t = require "ionflow.tap"

t.is(require "ionflow.mpi", mpi, "require 'ionflow.mpi' is the global")
t.is(mpi.rank(), 0, "rank 0 without a launcher")
t.is(mpi.size(), 1, "of 1")
t.lives(function() mpi.barrier() end, "barrier")
local x = array.from{{1.5, -2}, {3, 4e300}}
local s = mpi.allreduce(x, "sum")
t.ok(s.shape[1] == 2 and s.shape[2] == 2 and s.dtype == "f64", "allreduce keeps the shape")
t.is(s:get(2, 2), 4e300, "sum of one rank is the value")
s:set(1, 1, 9)
t.is(x:get(1, 1), 1.5, "allreduce returns a new array")
t.is(mpi.allreduce({1, 2, 3}, "max"):get(3), 3.0, "a list of numbers")
t.is(mpi.allreduce(array.from{7}):get(1), 7.0, "sum by default")
t.is(mpi.allreduce(array.from{{1, 2}, {3, 4}}):slice(2, 2, 2):get(1, 1), 2.0,
  "a 2-D array")
t.errors(function() mpi.allreduce({1}, "mean") end, "invalid option 'mean'",
  "an unknown op is named")
t.errors(function() mpi.allreduce("x") end, "array or table of numbers expected", "a string is refused")
t.is(mpi.bcast("text\0with nul"), "text\0with nul", "bcast a string")
t.is(mpi.bcast(42), 42, "an integer")
t.is(math.type(mpi.bcast(42)), "integer", "stays an integer")
t.is(mpi.bcast(0.25), 0.25, "a float")
t.is(mpi.bcast(nil), nil, "nil")
t.is(mpi.bcast(false), false, "a boolean")
local a = array.from{{1, 2, 3}, {4, 5, 6}}:astype("u16")
local b = mpi.bcast(a:slice(2, 2, 3))
t.ok(b.dtype == "u16" and b.shape[1] == 2 and b.shape[2] == 2 and
  b:get(2, 1) == 5 and b:get(1, 2) == 3, "a strided u16 view, copied")
t.errors(function() mpi.bcast({1, 2}) end, "number, string, boolean, nil or array",
  "a table is refused")
t.is(type(mpi.built()), "boolean", "mpi.built says how ionflow was built")
t.is(mpi.agree(), true, "agree: one rank, well")
local all, bad = mpi.agree(false)
t.ok(all == false and bad == 0, "agree(false): not all, rank 0 is the one")
t.is(mpi.agree(nil), false, "agree(nil) is a failure, not the default")

-- sys.dir
local d = t.tmpdir()
for _, n in ipairs{"b", "a", "c.h5"} do io.open(d .. "/" .. n, "w"):close() end
local names = sys.dir(d)
t.is(table.concat(names, ","), "a,b,c.h5", "sys.dir: sorted, no . and ..")
t.errors(function() sys.dir(d .. "/none") end, "none: No such file", "a missing directory is named")
t.errors(function() sys.dir(d .. "/a") end, "Not a directory", "a file is not a directory")

-- detector.frames{rows=}: what a rank reads of an HDF5 frame stack
local raw = d .. "/raw.h5"
local st = array.zeros{37, 9, 5}
for i = 1, 37 do for r = 1, 9 do for c = 1, 5 do
  st:set(i, r, c, (i * 31 + r * 7 + c * 3) % 23)
end end end
do
  local w <close> = h5.create(raw)
  w:write("/entry/data/data", st:astype("u16"))
  w:close()
end
local same, n = true, 0
for j, b in detector.frames(raw, {blocks = true, block = 10, rows = {4, 6}}) do
  same = same and b.shape[2] == 3 and b.shape[3] == 5
  for k = 1, b.shape[1] do for r = 1, 3 do for c = 1, 5 do
    same = same and b:get(k, r, c) == st:get(j + k - 1, r + 3, c)
  end end end
  n = n + b.shape[1]
end
t.ok(same and n == 37, "rows = {4, 6}: those rows of every frame, in blocks")
local got
for _, f in detector.frames(raw, {rows = {9, 9}, first = 5, count = 1}) do got = f:copy() end
t.ok(got.shape[1] == 1 and got:get(1, 2) == st:get(5, 9, 2), "the last row of one frame")
t.errors(function() for _ in detector.frames(raw, {rows = {8, 10}}) do end end,
  "raw.h5:/entry/data/data: rows 8..10 of 9", "rows past the frame are named")
t.errors(function() detector.frames(raw, {rows = {3, 2}}) end,
  "option 'rows' needs first <= last", "reversed rows")
sys.rmtree(d)
t.done()
