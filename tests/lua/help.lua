-- every script's --help answers what it does and what each option means,
-- in one shape: the synopsis, a paragraph on what it does, the options
-- (each option of the synopsis explained below it) and an example.
local t = require "ionflow.tap"
local root = arg[0]:match("^(.*)/tests/lua/[^/]*$") or "."
local exe = os.getenv("IONFLOW") or arg[-1]

local _, listing = sys.run({"ls", root .. "/scripts"})
local n = 0
for name in listing:gmatch("[^\n]+%.lua") do
  n = n + 1
  local code, out = sys.run({exe, root .. "/scripts/" .. name, "--help"})
  local synopsis, body = out:match("^(usage: [^\n]*.-)\n\n(.*)$")
  t.ok(code == 0 and synopsis ~= nil, name .. " --help: exit 0, a synopsis and a text")
  if synopsis then
    local what = body:match("^([^\n]+)")
    t.ok(what and #what > 30 and not what:match("^%s*%-"),
         name .. " --help says what it does: " .. tostring(what))
    t.ok(body:find("\nExample:?\n") or body:find("\nExamples?:"), name .. " --help has an example")
    local missing = {}
    for opt in synopsis:gmatch("%-%-([%w][%w%-]*)") do
      if not body:find("%-%-" .. opt:gsub("%-", "%%-") .. "%f[^%w%-]") then
        missing[#missing + 1] = "--" .. opt
      end
    end
    t.ok(#missing == 0, name .. ": every option of the synopsis is explained"
         .. (#missing > 0 and (" (not: " .. table.concat(missing, " ") .. ")") or ""))
  else
    t.diag("%s", out:sub(1, 300))
  end
  -- an unknown option names itself and points to --help
  code, out = sys.run({exe, root .. "/scripts/" .. name, "--no-such-option"})
  t.ok(code == 2 and out:find("unknown option --no-such-option", 1, true),
       name .. ": an unknown option is named")
end
t.ok(n >= 10, "scripts found: " .. n)
t.done()
