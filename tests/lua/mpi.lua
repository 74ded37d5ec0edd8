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

-- sys.dir
local d = t.tmpdir()
for _, n in ipairs{"b", "a", "c.h5"} do io.open(d .. "/" .. n, "w"):close() end
local names = sys.dir(d)
t.is(table.concat(names, ","), "a,b,c.h5", "sys.dir: sorted, no . and ..")
t.errors(function() sys.dir(d .. "/none") end, "none: No such file", "a missing directory is named")
t.errors(function() sys.dir(d .. "/a") end, "Not a directory", "a file is not a directory")
sys.rmtree(d)
t.done()
