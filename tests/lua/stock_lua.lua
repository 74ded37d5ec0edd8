-- ionflow as a C module of a stock lua5.4: require "ionflow" gives the
-- same native and Lua-written modules as the binary, and part of the suite
-- runs under lua5.4 itself (the tests need only the globals it sets).
local t = require "ionflow.tap"
local root = arg[0]:match("^(.*)/tests/lua/[^/]*$") or "."
local lua = "/usr/bin/lua5.4"
local so = root .. "/ionflow.so"

-- (a sanitized or valgrind run tests the binary, not the module, and
-- make install would rebuild the plain flavour under it)
if not io.open(lua) or not io.open(so) or (os.getenv("IONFLOW_SANITIZE") or "") ~= ""
   or (os.getenv("IONFLOW_VALGRIND") or "") ~= "" then
  t.ok(true, "# SKIP no lua5.4 or no ionflow.so, or a SANITIZE/VALGRIND run")
  t.done()
end

-- run lua5.4 in the top of the tree, where its default cpath finds ./ionflow.so
local function stock(...)
  local code, out = sys.run({"env", "-C", root, lua, ...})
  return code, out
end

local code, out = stock("-e", [[
local io = require "ionflow"
print(io.xpcs == xpcs, io.cell == cell, type(io.array.zeros), io._VERSION)
print(type(io.xpcsio.read_result), io.units == require "ionflow.units")
print(package.loaded["ionflow.h5"] == h5, units.from(1e-8, "nm/s"))
local a = array.linspace(0, 1, 5)
print(a:sum(), xpcs.simulate == speckle.simulate)]])
t.is(code, 0, "lua5.4 -e 'require \"ionflow\"' runs")
local l1, l2, l3, l4 = out:match("([^\n]*)\n([^\n]*)\n([^\n]*)\n([^\n]*)")
t.is(l1, "true\ttrue\tfunction\tionflow " .. sys.version, "native modules, as globals too")
t.is(l2, "function\ttrue", "Lua-written modules load through the table")
t.is(l3, "true\t10.0", "package.loaded and the lazy globals (units)")
t.is(l4, "2.5\ttrue", "arrays compute; the simulator is xpcs.simulate too")
if code ~= 0 then t.diag("%s", out) end

-- part of the suite, unchanged, under the stock interpreter
for _, f in ipairs{"tests/lua/array.lua", "tests/lua/chem.lua", "tests/lua/fit.lua",
                   "tests/lua/h5.lua", "tests/lua/units.lua"} do
  if io.open(root .. "/" .. f) then
    local c, o = stock("-e", "require 'ionflow'", f)
    local nok = select(2, o:gsub("\nnot ok", ""))
    local plan = o:match("\n1%.%.(%d+)%s*$")
    t.ok(c == 0 and nok == 0 and plan and tonumber(plan) > 0,
         string.format("%s under lua5.4: %s tests, %d failed", f, tostring(plan), nok))
    if c ~= 0 then t.diag("%s", o:sub(-2000)) end
  end
end

-- errors come back as Lua errors, with the primitive named
code, out = stock("-e", "require 'ionflow'; h5.open('/nonexistent.h5')")
t.ok(code ~= 0 and out:find("h5.open: /nonexistent.h5", 1, true), "errors name the primitive")
-- make install into a staging directory for another prefix: nothing is
-- recompiled, the binary finds its modules from its own place, and lua5.4
-- finds the Lua-written modules from ionflow.so's place
do
  local stage = t.tmpdir()
  local c, o = sys.run({"make", "-s", "-C", root, "install", "DESTDIR=" .. stage,
                        "PREFIX=/opt/ionflow"})
  t.ok(c == 0, "make install DESTDIR=... PREFIX=/opt/ionflow")
  t.ok(not o:find("%f[%w]cc ") and not o:find("%.o%f[%W]"), "make install compiles nothing")
  if c ~= 0 then t.diag("%s", o) end
  local pre = stage .. "/opt/ionflow"
  c, o = sys.run({"env", "-C", "/", pre .. "/bin/ionflow", "-e",
                  "print(units.from(1e-8, 'nm/s'), package.searchpath('ionflow.xpcsio', package.path))"})
  t.ok(c == 0 and o:find("^10%.0\t" .. pre:gsub("%p", "%%%0") .. "/share/ionflow/lua/ionflow/xpcsio.lua"),
       "the installed binary finds its modules beside it")
  if c ~= 0 then t.diag("%s", o) end
  c, o = sys.run({"env", "-C", "/", "LUA_CPATH=" .. pre .. "/lib/lua/5.4/?.so", lua, "-e",
                  "local io = require 'ionflow'; print(io.xpcsio ~= nil, units.from(1e-8, 'nm/s'))"})
  t.ok(c == 0 and o == "true\t10.0\n", "lua5.4 loads the installed module and its Lua modules")
  if c ~= 0 then t.diag("%s", o) end
end

t.done()
