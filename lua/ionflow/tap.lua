-- ionflow.tap: a minimal TAP producer for tests written in Lua.
--
--   local t = require "ionflow.tap"
--   t.ok(x > 0, "x is positive")
--   t.near(got, want, 1e-12, "sum")
--   t.errors(function() h5.open("missing.h5") end, "missing.h5", "names the file")
--   local dir = t.tmpdir()   -- a fresh directory, removed by t.done()
--   local s = t.slurp(path)  -- a file's bytes, or nil when it cannot be read
--   local ok, out = t.script("scripts/x.lua", "-o", path)  -- run it, no shell
--   t.done()      -- prints the plan; exits non-zero when anything failed

local M = {}
local n, failed = 0, 0
local tmpdirs = {}

local function report(cond, name)
  n = n + 1
  if not cond then failed = failed + 1 end
  io.write(string.format("%sok %d - %s\n", cond and "" or "not ", n, name or ""))
  io.flush()
  return cond
end

-- a comment line for the TAP stream; with extra arguments fmt is a format
-- (a lone message is written as is, so a '%' in an error message is safe)
function M.diag(fmt, ...)
  local msg = select("#", ...) > 0 and string.format(fmt, ...) or tostring(fmt)
  io.write("# ", (msg:gsub("\n", "\n# ")), "\n")
end

function M.ok(cond, name) return report(cond and true or false, name) end

function M.is(got, want, name)
  local r = report(got == want, name)
  if not r then M.diag("got %s, want %s", tostring(got), tostring(want)) end
  return r
end

-- |got - want| <= tol; NaN passes only against NaN
function M.near(got, want, tol, name)
  local cond = (got ~= got and want ~= want) or
    (type(got) == "number" and math.abs(got - want) <= tol)
  local r = report(cond, name)
  if not r then
    M.diag("got %s, want %s (tol %g)", tostring(got), tostring(want), tol)
  end
  return r
end

-- fn must raise an error whose message contains pattern (plain text)
function M.errors(fn, pattern, name)
  local okk, msg = pcall(fn)
  msg = tostring(msg)
  local cond = not okk and msg:find(pattern, 1, true) ~= nil
  local r = report(cond, name)
  if not r then
    M.diag(okk and "no error raised" or ("error was: " .. msg))
  end
  return r
end

-- fn must run without error
function M.lives(fn, name)
  local okk, msg = pcall(fn)
  local r = report(okk, name)
  if not r then M.diag("error: %s", tostring(msg)) end
  return r
end

-- a new empty directory for the test's files; every test used to make
-- (and remove) its own, now t.done() removes them all
function M.tmpdir()
  local dir = os.tmpname()
  os.remove(dir)
  sys.mkdir(dir)
  tmpdirs[#tmpdirs + 1] = dir
  return dir
end

-- the whole content of a file (binary), or nil when it cannot be opened
function M.slurp(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

-- Run the binary under test ($IONFLOW, else the one running this test) on
-- a script with arguments, from the top of the source tree (the test is
-- tests/lua/NAME.lua there), without a shell: whether it exited 0, and
-- its standard output and error together.
function M.script(...)
  local root = arg[0]:match("^(.*)/tests/lua/[^/]*$") or "."
  local exe = os.getenv("IONFLOW") or arg[-1]
  local code, out = sys.run({"env", "-C", root, exe, ...})
  return code == 0, out
end

function M.done()
  for _, dir in ipairs(tmpdirs) do sys.rmtree(dir) end
  io.write(string.format("1..%d\n", n))
  io.flush()
  os.exit(failed == 0 and 0 or 1, true)   -- close the state: finalizers run, valgrind sees no loose blocks
end

return M
