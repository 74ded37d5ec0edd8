-- man: every `ionflow -e '...'` example in the manual pages runs and exits 0,
-- and every native module and every function it exports is documented in
-- ionflow-lua(7).
local t = require "ionflow.tap"
local root = arg[0]:match("^(.*)/tests/lua/[^/]*$") or "."
local exe = os.getenv("IONFLOW") or arg[-1]

local function slurp(path)
  return assert(t.slurp(path), "cannot read " .. path)
end

-- groff escapes used in examples, back to plain text
local function unescape(s)
  return (s:gsub("\\%-", "-"):gsub("\\%(dq", '"'):gsub("\\%(aq", "'")
          :gsub("\\e", "\\"):gsub("\\&", ""))
end

local examples = 0
for _, page in ipairs{"man/ionflow.1", "man/ionflow-lua.7"} do
  local text = slurp(root .. "/" .. page)
  for line in text:gmatch("[^\n]+") do
    local code = line:match("^ionflow %-e '(.*)'%s*$") or
                 unescape(line):match("^ionflow %-e '(.*)'%s*$")
    if code then
      code = unescape(code)
      examples = examples + 1
      local cmd = string.format("cd %q && %q -e %q >/dev/null 2>&1",
        root, exe, code)
      t.ok(os.execute(cmd), page .. " example runs: " .. code)
    end
  end
end
-- every Lua example of the manual (an .EX block that is neither a command
-- line nor a REPL transcript) runs as written, in a directory with data/;
-- a block that begins "-- ... as in the ... example above" runs after that
-- example. REPL lines (ionflow> ...) run as statements.
do
  local function ex_unescape(s)
    return (unescape(s):gsub("\\%(oA", "Å"):gsub("\\%(%*t", "τ"))
  end
  local dir = t.tmpdir()
  local function abs(p) return p:sub(1, 1) == "/" and p or os.getenv("PWD") .. "/" .. p end
  sys.run({"ln", "-s", abs(root) .. "/data", dir .. "/data"})
  local bin = abs(exe)
  local nlua = 0
  for _, page in ipairs{"man/ionflow.1", "man/ionflow-lua.7"} do
    local prev = ""
    for block in slurp(root .. "/" .. page):gmatch("\n%.EX\n(.-)\n%.EE") do
      local code = ex_unescape(block)
      local repl = code:match("^ionflow> ([^\n]*)")
      if repl or not (code:match("^ionflow") or code:match("^echo ") or code:match("^%$")) then
        local full = repl or code
        if not repl and code:match("^%-%- [^\n]*as in the") then full = prev .. "\n" .. code end
        local path = dir .. "/example.lua"
        local f = assert(io.open(path, "w"))
        f:write(full, "\n")
        f:close()
        local c, out = sys.run({"env", "-C", dir, bin, path})
        nlua = nlua + 1
        t.ok(c == 0, string.format("%s example runs as written: %s", page,
             (code:match("[^\n]*%S[^\n]*$") or code):sub(1, 60)))
        if c ~= 0 then t.diag("%s\n%s", code, out) end
        prev = full
      end
    end
  end
  t.ok(nlua >= 20, "the manual's Lua examples were found (" .. nlua .. ")")
end

-- the README's script runs as printed
do
  local readme = slurp(root .. "/README.md")
  local block = readme:match("\n(    %-%- what%-if%.lua.-)\n\n")
  t.ok(block ~= nil, "README has the what-if.lua script")
  if block then
    local code = block:gsub("\n    ", "\n"):gsub("^    ", "")
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    f:write(code, "\n")
    f:close()
    local p = io.popen(string.format("%q %q 2>&1", exe, path))
    local out = p:read("a")
    local okk = p:close()
    os.remove(path)
    local lines = select(2, out:gsub("\n", ""))
    t.ok(okk and lines == 3, "README's what-if.lua runs and prints 3 lines")
  end
end

t.ok(examples >= 10, "the manual has at least 10 runnable examples (" .. examples .. ")")

-- every exported function of every native module is named in the manual
local manual = slurp(root .. "/man/ionflow-lua.7")
for name, mod in pairs(package.loaded) do
  if name:match("^ionflow%.") and type(mod) == "table" then
    local short = name:sub(9)
    if _G[short] == mod then   -- a native module (a global)
      for k, v in pairs(mod) do
        if type(v) == "function" and not k:match("^_") then
          local full = short .. "." .. k
          local esc = full:gsub("%.", "\\.")
          t.ok(manual:find(full, 1, true) or manual:find(esc, 1, true) or
               manual:find(short .. "\\." .. k, 1, true),
               "ionflow-lua(7) documents " .. full)
        end
      end
    end
  end
end
t.done()
