-- tests/lua/array.lua - the Lua face of ionflow's arrays, end to end.
local t = require "ionflow.tap"

t.ok(require("ionflow.array") == array, "require gives the global module")

-- construction -------------------------------------------------------
local z = array.zeros({2, 3})
t.ok(array.isarray(z) and not array.isarray({}) and not array.isarray(3),
  "isarray")
t.is(z.ndim, 2, "ndim")
t.is(z.size, 6, "size")
t.is(z.dtype, "f64", "default dtype f64")
t.is(#z, 2, "#a is the first dimension")
local sh = z.shape
t.ok(sh[1] == 2 and sh[2] == 3 and #sh == 2, "shape table")
sh[1] = 99
t.is(z.shape[1], 2, "shape is a new table each time")
t.is(z:sum(), 0.0, "zeros are zero")
t.is(array.zeros(4).ndim, 1, "a number shape is 1-d")
t.is(array.zeros(4, "u16").dtype, "u16", "dtype argument")
t.is(array.zeros(4, "float32").dtype, "f32", "long dtype names")
t.is(array.ones({3, 2}, "i32"):sum(), 6.0, "ones")
local f = array.full({2, 2}, 2.5)
t.ok(f:get(1, 1) == 2.5 and f:get(2, 2) == 2.5, "full")
t.is(array.full(3, 7, "u8")[3], 7, "full u8, integer element")
t.is(math.type(array.full(3, 7, "u8")[3]), "integer",
  "integer dtypes give Lua integers")
t.is(math.type(array.full(3, 7)[3]), "float", "float dtypes give floats")
t.is(array.zeros({}).ndim, 0, "empty shape table: 0-d array")
t.is(array.zeros({0, 5}).size, 0, "empty array")

local l = array.linspace(0, 1, 5)
t.ok(l.size == 5 and l[1] == 0 and l[3] == 0.5 and l[5] == 1, "linspace")
local r = array.arange(4)
t.ok(r.size == 4 and r[1] == 0 and r[4] == 3, "arange(hi)")
r = array.arange(2, 4)
t.ok(r.size == 2 and r[1] == 2 and r[2] == 3, "arange(lo, hi)")
r = array.arange(1, 2, 0.25)
t.ok(r.size == 4 and r[4] == 1.75, "arange(lo, hi, step)")
r = array.arange(3, 0, -1)
t.ok(r.size == 3 and r[3] == 1, "arange with a negative step")

local m = array.from({{1, 2, 3}, {4, 5, 6}})
t.ok(m.ndim == 2 and m.shape[1] == 2 and m.shape[2] == 3, "from nested table")
t.is(m:get(2, 3), 6.0, "get(i, j)")
t.is(array.from({1, 2, 3}, "u16").dtype, "u16", "from with dtype")
t.is(array.from({}).size, 0, "from an empty table")
t.is(array.from(4).ndim, 0, "from a number: 0-d")
local m2 = array.from(m, "i32")
m2:set(1, 1, 10)
t.ok(m2.dtype == "i32" and m:get(1, 1) == 1, "from an array copies")
local cube = array.from({{{1, 2}, {3, 4}}, {{5, 6}, {7, 8}}})
t.is(cube.ndim, 3, "from a 3-level table")
t.is(array.from({1.4, 1.5, -0.5}, "i32"):totable()[2], 2,
  "from rounds to nearest")

-- indexing and views -------------------------------------------------
t.is(m[2][3], 6.0, "a[i][j]")
t.is(m[-1][-1], 6.0, "negative indices count from the end")
t.is(m[-2][1], 1.0, "a[-n] is the first")
local row = m[2]
t.ok(array.isarray(row) and row.ndim == 1 and row.size == 3,
  "a[i] of a 2-d array is a 1-d view")
row[1] = 40
t.is(m:get(2, 1), 40.0, "a view writes into its parent")
m[2] = {4, 5, 6}
t.is(m:get(2, 1), 4.0, "a[i] = table assigns a frame")
m[1] = 0
t.is(m:sum(), 15.0, "a[i] = number fills a frame")
m[1] = array.from({1, 2, 3})
t.is(m:sum(), 21.0, "a[i] = array assigns a frame")
t.is(cube:frame(2):get(1, 2), 6.0, "frame(i)")
t.is(cube:frame(-1):get(2, 2), 8.0, "frame(-1)")

local v = array.arange(10)
t.is(tostring(v:slice(1, 2, 5)), "array(4 f64: 1 2 3 4)", "slice 2..5")
t.is(tostring(v:slice(1, 1, 10, 3)), "array(4 f64: 0 3 6 9)", "slice step 3")
t.is(tostring(v:slice(1, -3, -1)), "array(3 f64: 7 8 9)", "negative slice")
t.is(tostring(v:slice(1, 8)), "array(3 f64: 7 8 9)", "slice to the end")
t.is(v:slice(1, 5, 4).size, 0, "last = first - 1 is empty")
local g = array.arange(24):reshape(2, 3, 4)
local s = g:slice(3, 2, 4, 2)
t.ok(s.shape[1] == 2 and s.shape[2] == 3 and s.shape[3] == 2,
  "slice on the last axis keeps the others")
do
  local good = true
  for i = 1, 2 do for j = 1, 3 do for k = 1, 2 do
    if s:get(i, j, k) ~= (i - 1) * 12 + (j - 1) * 4 + (2 + (k - 1) * 2 - 1) then
      good = false
    end
  end end end
  t.ok(good, "slice elements match index arithmetic")
end
s:fill(-1)
t.is(g:get(2, 3, 4), -1.0, "fill through a slice reaches the parent")
t.is(g:get(2, 3, 3), 22.0, "and only the sliced elements")

-- views outlive their parent
do
  local frame
  do
    local big = array.arange(1000):reshape(10, 100)
    frame = big[7]
  end
  collectgarbage(); collectgarbage()
  t.is(frame[1], 600.0, "a view survives collection of its parent")
end

-- reshape, copy, dtype
local rs = array.arange(6):reshape({2, 3})
t.ok(rs.shape[1] == 2 and rs.shape[2] == 3, "reshape(table)")
t.is(array.arange(6):reshape(3, -1).shape[2], 2, "reshape with -1")
local strided = array.arange(12):reshape(3, 4):slice(2, 1, 4, 2)
local flat = strided:reshape(6)
t.is(tostring(flat), "array(6 f64: 0 2 4 6 8 10)",
  "reshape of a strided view copies")
local c = rs:copy()
c[1][1] = 100
t.is(rs[1][1], 0.0, "copy is independent")
t.is(rs:copy("u16").dtype, "u16", "copy(dtype)")
t.is(rs:astype("f32").dtype, "f32", "astype")
t.ok(rs:contiguous() == rs, "contiguous() returns self when contiguous")
t.ok(strided:contiguous() ~= strided and strided:contiguous().size == 6,
  "contiguous() copies a strided view")
local tt = array.from({{1, 2}, {3, 4}}):totable()
t.ok(type(tt) == "table" and tt[2][1] == 3 and #tt == 2 and #tt[1] == 2,
  "totable gives nested tables")
t.is(array.from(5):totable(), 5.0, "totable of a 0-d array is a number")
local fl = array.zeros(3)
t.ok(fl:fill(2) == fl and fl:sum() == 6, "fill returns self")
local as = array.zeros({2, 2})
as:assign({{1, 2}, {3, 4}})
t.is(as:sum(), 10.0, "assign(table)")
as:assign(array.ones({2, 2}, "u8"))
t.is(as:sum(), 4.0, "assign(array of another dtype)")
as:assign(3)
t.is(as:sum(), 12.0, "assign(number)")

-- reductions ---------------------------------------------------------
local a3 = array.arange(60):reshape(3, 4, 5)
t.is(a3:sum(), 1770.0, "sum")
t.is(a3:mean(), 29.5, "mean")
t.is(a3:min(), 0.0, "min")
t.is(a3:max(), 59.0, "max")
do
  local good = true
  for axis = 1, 3 do
    local red = a3:sum(axis)
    if red.ndim ~= 2 then good = false end
    -- brute force
    local shape = {3, 4, 5}
    local other = {}
    for d = 1, 3 do if d ~= axis then other[#other + 1] = d end end
    for i = 1, shape[other[1]] do
      for j = 1, shape[other[2]] do
        local sum = 0
        for k = 1, shape[axis] do
          local idx = {}
          idx[other[1]], idx[other[2]], idx[axis] = i, j, k
          sum = sum + a3:get(idx[1], idx[2], idx[3])
        end
        if red:get(i, j) ~= sum then good = false end
      end
    end
  end
  t.ok(good, "sum along every axis matches brute force")
end
t.is(tostring(a3:max(-1):slice(1, 1, 1)), "array(1x4 f64: 4 9 14 19)",
  "max along axis -1 (the last)")
t.is(a3:mean(1):get(1, 1), 20.0, "mean along axis 1")
t.is(a3:min(2):get(3, 5), 44.0, "min along axis 2")
t.is(array.zeros(0):sum(), 0.0, "sum of empty is 0")
t.ok(array.zeros(0):mean() ~= array.zeros(0):mean(), "mean of empty is NaN")
t.ok(array.from({1, 0 / 0, 3}):max() ~= array.from({1, 0 / 0, 3}):max(),
  "max propagates NaN")
do
  local big = array.full(1000001, 1)
  big[1] = 1e16
  big[1000001] = -1e16
  t.is(big:sum(), 999999.0, "sum is compensated")
end

-- arithmetic ---------------------------------------------------------
local x = array.from({1, 2, 3})
local y = array.from({4, 5, 6})
t.is(tostring(x + y), "array(3 f64: 5 7 9)", "a + b")
t.is(tostring(y - x), "array(3 f64: 3 3 3)", "a - b")
t.is(tostring(x * y), "array(3 f64: 4 10 18)", "a * b")
t.is(tostring(y / x), "array(3 f64: 4 2.5 2)", "a / b")
t.is(tostring(x ^ 2), "array(3 f64: 1 4 9)", "a ^ 2")
t.is(tostring(2 ^ x), "array(3 f64: 2 4 8)", "2 ^ a")
t.is(tostring(10 - x), "array(3 f64: 9 8 7)", "number - a")
t.is(tostring(x - 10), "array(3 f64: -9 -8 -7)", "a - number")
t.is(tostring(6 / x), "array(3 f64: 6 3 2)", "number / a")
t.is(tostring(-x), "array(3 f64: -1 -2 -3)", "unary minus")
t.is(tostring(x + {1, 1, 1}), "array(3 f64: 2 3 4)", "a + table")
t.is((array.ones(3, "f32") + array.ones(3, "f32")).dtype, "f32",
  "f32 + f32 stays f32")
t.is((array.ones(3, "u16") * 2).dtype, "f64", "u16 * 2 is f64")
t.is((array.full(3, 60000, "u16") + array.full(3, 60000, "u16"))[1],
  120000.0, "integers are promoted, not wrapped")
t.is(tostring(array.sqrt(array.from({4, 9}))), "array(2 f64: 2 3)", "sqrt")
t.near(array.exp(array.from({1}))[1], math.exp(1), 1e-15, "exp")
t.near(array.log(array.from({10}))[1], math.log(10), 1e-15, "log")
t.is(tostring(array.abs(array.from({-1, 2}))), "array(2 f64: 1 2)", "abs")
t.near(array.sin(array.from({1}))[1], math.sin(1), 1e-15, "sin")
t.near(array.cos(array.from({1}))[1], math.cos(1), 1e-15, "cos")
t.is(tostring(array.floor(array.from({1.5, -1.5}))), "array(2 f64: 1 -2)",
  "floor")
t.is(tostring(array.ceil(array.from({1.5, -1.5}))), "array(2 f64: 2 -1)",
  "ceil")
t.is(tostring(array.minimum(x, array.from({3, 1, 5}))),
  "array(3 f64: 1 1 3)", "minimum(a, b)")
t.is(tostring(array.maximum(x, 2)), "array(3 f64: 2 2 3)", "maximum(a, s)")
t.is(tostring(array.maximum(2.5, x)), "array(3 f64: 2.5 2.5 3)",
  "maximum(s, a)")
t.ok(array.maximum(array.from({0 / 0}), 1)[1] ~= array.maximum(array.from({0 / 0}), 1)[1],
  "maximum propagates NaN")
t.is(array.sum(x), 6.0, "methods are module functions too")

-- printing -----------------------------------------------------------
t.is(tostring(array.zeros({2000, 128, 128}, "u16")), "array(2000x128x128 u16)",
  "big arrays print the shape only")
t.is(tostring(array.from({{1, 2}, {3, 4}})), "array(2x2 f64: 1 2, 3 4)",
  "small arrays print their values by rows")
t.is(tostring(array.from(2.5)), "array(scalar f64: 2.5)", "0-d prints")
t.is(tostring(array.zeros(0)), "array(0 f64)", "empty prints")

-- close ----------------------------------------------------------------
local closed
do
  local q <close> = array.ones(5)
  closed = q
end
t.is(tostring(closed), "array(closed)", "__close releases the buffer")
t.errors(function() return closed:sum() end, "closed", "a closed array says so")
t.errors(function() return closed[1] end, "closed", "indexing a closed array")

-- error paths ----------------------------------------------------------
t.errors(function() array.zeros(3, "f65") end, "f65", "bad dtype named")
t.errors(function() array.zeros(3, "f65") end, "zeros", "bad dtype: function named")
t.errors(function() array.zeros(3, "f65") end, "#2", "bad dtype: argument named")
t.errors(function() array.zeros({2, -1}) end, "shape entry 2 is -1",
  "negative shape entry")
t.errors(function() array.zeros({2, 1.5}) end, "shape entry 2", "fractional shape")
t.errors(function() array.zeros("x") end, "#1 to", "shape of a wrong type")
t.errors(function() array.zeros({1, 1, 1, 1, 1, 1, 1, 1, 1}) end, "at most 8",
  "too many dimensions")
t.errors(function() array.zeros({1e9, 1e9, 1e9}) end, "too large",
  "overflowing shape")
t.errors(function() array.full(3) end, "#2", "full needs a value")
t.errors(function() array.full(3, -1, "u8") end, "out of range for u8",
  "full with a value outside the dtype")
t.errors(function() array.ones(2, "u8"):fill(0 / 0) end, "NaN",
  "fill an integer array with NaN")
t.errors(function() array.linspace(0, 1, 0) end, "#3", "linspace n = 0")
t.errors(function() array.linspace(0, 1, 2.5) end, "not an integer",
  "linspace n fractional")
t.errors(function() array.arange(0, 1, 0) end, "step", "arange step 0")
t.errors(function() array.from({{1, 2}, {3}}) end, "ragged", "ragged table")
t.errors(function() array.from({{1, 2}, {3}}) end, "[2]",
  "ragged table: position named")
t.errors(function() array.from({{1, 2}, {3, "x"}}) end, "[2][2]",
  "a string inside names its position")
t.errors(function() array.from({{1, 2}, 3}) end, "[2] is a number",
  "number where a table is expected")
t.errors(function() array.from({1, 2, 300}, "u8") end, "[3]",
  "out-of-range element names its position")
t.errors(function() array.from({1, 2, 300}, "u8") end, "out of range for u8",
  "out-of-range element names the dtype")
t.errors(function() array.from("x") end, "from", "from a string")
t.errors(function() return m[3] end, "index 3 out of range for dimension 1",
  "index past the end")
t.errors(function() return m[0] end, "index 0", "index 0")
t.errors(function() return m[-3] end, "index -3", "index before the start")
t.errors(function() return m[1.5] end, "not an integer", "fractional index")
t.errors(function() return m[math.mininteger] end, "out of range",
  "math.mininteger as an index")
t.errors(function() return m[math.maxinteger] end, "out of range",
  "math.maxinteger as an index")
t.errors(function() return v:slice(1, math.mininteger) end, "first index",
  "math.mininteger as a slice bound")
t.is(v:slice(1, 1, 10, math.maxinteger).size, 1,
  "a huge slice step gives one element")
t.errors(function() return m:get(1, 4) end, "dimension 2 of length 3",
  "get names the dimension")
t.errors(function() return m:get(1) end, "1 indices for a 2-d array",
  "get with too few indices")
t.errors(function() m:set(1, 1) end, "array.set", "set without a value")
t.errors(function() x[4] = 1 end, "index 4", "assignment past the end")
t.errors(function() x[1] = "a" end, "must be a number", "assign a string")
t.errors(function() array.from({1, 2}, "u8")[1] = 256 end,
  "out of range for u8", "element assignment outside the dtype")
t.errors(function() x.foo = 1 end, "cannot set field", "fields are read-only")
t.errors(function() return #array.from(1) end, "0-d", "# of a 0-d array")
t.errors(function() return array.from(1)[1] end, "0-d", "index a 0-d array")
t.errors(function() return x + array.zeros(4) end, "3 f64 and 4 f64",
  "mismatched shapes name both")
t.errors(function() return x + array.zeros(4) end, "array.add",
  "mismatched shapes name the operation")
t.errors(function() return m * array.zeros({3, 2}) end, "2x3 f64 and 3x2 f64",
  "mismatched 2-d shapes")
t.errors(function() return x + "a" end, "cannot combine", "array + string")
t.errors(function() return array.minimum(1, 2) end, "expected an array",
  "minimum of two numbers")
t.errors(function() return array.sqrt(4) end, "#1", "sqrt of a number")
t.errors(function() return m:sum(3) end, "axis 3 out of range for a 2-d array",
  "sum on a missing axis")
t.errors(function() return m:sum(0) end, "axis 0", "axis 0")
t.errors(function() return array.zeros(0):min() end, "empty", "min of empty")
t.errors(function() return array.zeros({0, 3}):max(1) end, "length 0",
  "max along an empty axis")
t.errors(function() return v:slice(2, 1, 1) end, "axis 2", "slice a missing axis")
t.errors(function() return v:slice(1, 12, 12) end, "first index 12",
  "slice first out of range")
t.errors(function() return v:slice(1, 1, 11) end, "last index 11",
  "slice last out of range")
t.errors(function() return v:slice(1, 5, 3) end, "last index 3",
  "slice last before first")
t.errors(function() return v:slice(1, 1, 5, 0) end, "step is 0", "slice step 0")
t.errors(function() return v:reshape(3, 4) end, "10 elements",
  "reshape to another size names the count")
t.errors(function() return v:reshape(-1, -1) end, "more than one -1",
  "two -1 in reshape")
t.errors(function() return v:reshape({2, "x"}) end, "shape entry 2",
  "reshape with a bad entry")
t.errors(function() return v:frame(11) end, "index 11", "frame out of range")
t.errors(function() return v:astype() end, "#1", "astype needs a dtype")
t.errors(function() return v:astype("q") end, "unknown dtype 'q'",
  "astype with a bad dtype")
t.errors(function() return array.from({1.5, 0 / 0}):astype("i32") end,
  "cannot convert NaN to i32", "astype of NaN to an integer")
t.errors(function() return array.from({1e10}):copy("u32") end,
  "value 10000000000 out of range for u32", "copy out of range")
t.errors(function() as:assign(array.zeros(3)) end, "shapes differ",
  "assign of another shape")
t.errors(function() as:assign("x") end, "#1", "assign a string")
t.errors(function() array.sum({1, 2}) end, "ionflow.array expected",
  "a method on a table")

-- every error names the function it came from
for _, c in ipairs {
  {function() return v:slice(2, 1, 1) end, "'slice'"},
  {function() return v:slice(1, 12) end, "#2 to 'slice'"},
  {function() return v:reshape(3, 4) end, "array.reshape"},
  {function() return m:get(1, 4) end, "array.get"},
  {function() return m:sum(3) end, "'sum'"},
  {function() return m:mean(9) end, "'mean'"},
  {function() return v:astype("q") end, "'astype'"},
  {function() return array.zeros(0):min() end, "array.min"},
  {function() return array.zeros(0):max() end, "array.max"},
  {function() return array.sqrt(4) end, "'sqrt'"},
  {function() return array.log("x") end, "'log'"},
  {function() return m - v end, "array.sub"},
  {function() return m * v end, "array.mul"},
  {function() return m / v end, "array.div"},
  {function() return m ^ v end, "array.pow"},
  {function() return array.minimum(m, v) end, "array.minimum"},
  {function() return array.maximum(m, v) end, "array.maximum"},
  {function() return array.from({1e10}):copy("u32") end, "array.copy"},
  {function() return array.linspace(0, 1, 0) end, "'linspace'"},
  {function() return array.arange(0, 1, 0) end, "array.arange"},
  {function() return array.from({{1, 2}, {3}}) end, "'from'"},
  {function() return m:frame(0) end, "array.frame"},
  {function() return m:fill("x") end, "'fill'"},
  {function() return m:set(1, 9, 1) end, "array.set"},
  {function() return array.ones(2, "u8"):fill(-1) end, "array.fill"},
  {function() return array.full(2, -1, "u8") end, "array.full"},
  {function() return array.zeros(2, "q") end, "'zeros'"},
  {function() return array.ones(-2) end, "'ones'"},
  {function() return array.from({1, 2}):assign({1, 2, 3}) end, "array.assign"},
} do
  t.errors(c[1], c[2], "the error names " .. c[2])
end

-- strided views of every dtype through arithmetic and reductions, against
-- element-by-element Lua
for _, dt in ipairs {"f64", "f32", "i32", "u16", "u32", "u8"} do
  local src = {}
  for i = 1, 4 do
    src[i] = {}
    for j = 1, 5 do
      src[i][j] = {}
      for k = 1, 6 do src[i][j][k] = (i * 7 + j * 3 + k * 5) % 23 end
    end
  end
  local a = array.from(src, dt)
  local va = a:slice(2, 1, 5, 2):slice(3, 2, 6, 3)   -- 4x3x2, strided
  local vb = a:slice(1, 2, 4):slice(2, 3, 5):slice(3, 1, 2)  -- 3x3x2
  vb = array.from(vb:totable(), dt):reshape(3, 3, 2)
  local vc = va:slice(1, 2, 4)                        -- 3x3x2, strided
  local sum = vc + vb * 2 - 1
  local good, total = true, 0
  for i = 1, 3 do for j = 1, 3 do for k = 1, 2 do
    local x = src[i + 1][1 + (j - 1) * 2][2 + (k - 1) * 3]
    local y = src[i + 1][j + 2][k]
    if sum:get(i, j, k) ~= x + 2 * y - 1 then good = false end
    total = total + x
  end end end
  t.ok(good, dt .. ": strided view arithmetic matches element by element")
  t.is(vc:sum(), total + 0.0, dt .. ": sum of a strided view")
  local ax = vc:max(2)
  local good2 = true
  for i = 1, 3 do for k = 1, 2 do
    local mx = -math.huge
    for j = 1, 3 do mx = math.max(mx, vc:get(i, j, k)) end
    if ax:get(i, k) ~= mx then good2 = false end
  end end
  t.ok(good2, dt .. ": max along axis 2 of a strided view")
end

-- memory: big buffers are reported to the collector ---------------------
do
  local function rss_mb()
    local fh = io.open("/proc/self/statm")
    if not fh then return nil end
    local _, res = fh:read("n", "n")
    fh:close()
    return res * 4096 / 2 ^ 20
  end
  -- 1 MB arrays; without the GC step 2000 of them already pass 300 MB,
  -- so 5000 is a sharp test that stays quick under AddressSanitizer.
  -- IONFLOW_ARRAY_MEMTEST=n overrides the count (300 under valgrind).
  local n = tonumber(os.getenv("IONFLOW_ARRAY_MEMTEST")) or
    (os.getenv("IONFLOW_VALGRIND") == "1" and 300 or 5000)
  if rss_mb() then
    collectgarbage()
    local base, peak = rss_mb(), 0
    for i = 1, n do
      local a = array.zeros(131072)
      a[1] = i
      if i % 100 == 0 then peak = math.max(peak, rss_mb()) end
    end
    t.diag("%d arrays of 1 MB: resident %.0f MB before, peak %.0f MB", n,
      base, peak)
    -- AddressSanitizer keeps up to 256 MB of freed blocks in quarantine
    local maps = io.open("/proc/self/maps")
    local asan = maps and maps:read("a"):find("libasan", 1, true)
    if maps then maps:close() end
    local limit = asan and 450 or 200
    t.ok(peak - base < limit, ("resident memory stays bounded (< %d MB)"):format(limit))
  else
    t.ok(true, "skipped: no /proc/self/statm")
  end
end

-- a:hash(): a content key (dtype, shape, values), the same for a strided
-- view and its contiguous copy, different for any change
do
  local m = array.arange(0, 24, 1):reshape{4, 6}
  local col = m:slice(2, 2, 2)            -- a strided column
  local h = m:hash()
  t.ok(#h == 16 and h:match("^%x+$") and m:copy():hash() == h,
    "hash: 16 hex digits, equal for an equal copy")
  t.is(col:hash(), col:copy():hash(), "hash: a strided view = its copy")
  local m2 = m:copy()
  m2:set(3, 4, 100)
  local seen, distinct = {[h] = true}, true
  for _, other in ipairs{m2, m:astype("f32"), m:reshape{6, 4},
      m:reshape{24}, array.arange(0, 23, 1), array.zeros{4, 6}} do
    local k = other:hash()
    distinct = distinct and not seen[k]
    seen[k] = true
  end
  t.ok(distinct, "hash: a value, the dtype, the shape or the length "
    .. "changed give other keys")
end

t.done()
