-- ionflow.cli: the scripts' shared command-line parser. Parsing that
-- succeeds is tested in process; --help and mistakes exit, so they run in
-- a child ionflow on a small script.
local t = require "ionflow.tap"
local cli = require "ionflow.cli"

local usage = "usage: demo-cli [-N N] [--mass T=M ...] IN"
local function spec()
  return {name = "demo-cli", usage = usage, flags = {quiet = true},
    values = {out = true, frame = true}, numbers = {temperature = true},
    integers = {N = true}, repeated = {mass = true}, positional = {"path"},
    short = {o = "out", N = "N"}, defaults = {frame = "lab", N = 200}}
end

local o = cli.parse({"in.h5", "--quiet", "-N", "50", "--temperature", "363.5",
  "--mass", "1=7", "--mass", "2=280", "-o", "out.h5", "--frame", "solvent"}, spec())
t.is(o.path, "in.h5", "positional argument")
t.is(o.quiet, true, "flag")
t.is(o.N, 50, "short option with a value, as an integer")
t.is(math.type(o.N), "integer", "integers are math integers")
t.is(o.temperature, 363.5, "number option")
t.is(o.out, "out.h5", "-o maps to out")
t.is(o.frame, "solvent", "value option")
t.ok(type(o.mass) == "table" and #o.mass == 2 and o.mass[1] == "1=7" and
  o.mass[2] == "2=280", "repeated option collects its values in order")

local d = cli.parse({}, spec())
t.is(d.frame, "lab", "default for an absent value")
t.is(d.N, 200, "default for an absent integer")
t.is(d.quiet, nil, "absent flag is nil")
t.is(d.mass, nil, "absent repeated option is nil")
t.is(d.path, nil, "absent positional is nil")

-- the undeclared style of xpcs-correlate: any --name is taken as text
local u = cli.parse({"--q-bins", "12", "--fold", "raw.h5"},
  {name = "u", usage = "u", flags = {fold = true}, positional = {"raw"}})
t.is(u.q_bins, "12", "undeclared --q-bins is text in o.q_bins")
t.is(u:num("q_bins", true), 12, "o:num converts it")
t.is(u.fold, true, "flag in undeclared style")
t.is(u.raw, "raw.h5", "positional in undeclared style")

-- the cases that exit: run them in a child
local exe = os.getenv("IONFLOW") or arg[-1]
local dir = t.tmpdir()
local script = dir .. "/p.lua"
local fh = assert(io.open(script, "w"))
fh:write([[
local cli = require "ionflow.cli"
local o = cli.parse(arg, {name = "demo-cli", usage = "usage: demo-cli [-N N] IN",
  flags = {quiet = true}, values = {out = true}, integers = {N = true},
  numbers = {temperature = true}, repeated = {mass = true},
  positional = {"path"}, short = {o = "out", N = "N"}})
print("parsed " .. tostring(o.path))
]])
fh:close()
local function run(args)
  local p = io.popen(string.format("%q %q %s 2>&1; echo rc=$?", exe, script, args))
  local out = p:read("a")
  p:close()
  return out, tonumber(out:match("rc=(%d+)%s*$"))
end
local function refused(args, msg, name)
  local out, rc = run(args)
  t.ok(rc == 2 and out:find(msg, 1, true) and out:find("demo-cli: ", 1, true) and
    out:find("usage: demo-cli", 1, true), name)
  if rc ~= 2 then t.diag("%s", out) end
end
local out, rc = run("--help")
t.ok(rc == 0 and out:find("usage: demo-cli", 1, true) and not out:find("parsed"),
  "--help prints the usage and exits 0")
out, rc = run("-h")
t.ok(rc == 0 and out:find("usage: demo-cli", 1, true), "-h is --help")
out, rc = run("a.h5 --quiet")
t.ok(rc == 0 and out:find("parsed a.h5", 1, true), "a correct command line runs")
refused("a.h5 -N", "missing value for -N", "missing value of a short option")
refused("a.h5 --mass", "missing value for --mass", "missing value of a long option")
refused("a.h5 -N 2.5", "-N needs an integer number", "integer option refuses 2.5")
refused("a.h5 --temperature hot", "--temperature needs a number", "number option refuses text")
refused("a.h5 b.h5", "unexpected argument b.h5", "a second positional is unexpected")
refused("a.h5 --nosuch 1", "unknown option --nosuch", "unknown long option")
refused("a.h5 -x", "unknown option -x", "unknown short option")
t.done()
