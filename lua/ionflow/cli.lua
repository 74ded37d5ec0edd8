-- ionflow.cli: the command line of ionflow's scripts, parsed one way.
--
--   local o = cli.parse(arg, {name = "md-transport", usage = usage,
--     flags = {unwrapped = true}, values = {frame = true, out = true},
--     numbers = {blocks = true}, repeated = {mass = true},
--     positional = {"path"}, short = {o = "out", N = "N"},
--     defaults = {blocks = 5}})
--   if not o.path then o:die("no trajectory file") end
--   local n = o:num("q_bins", true)       -- --q-bins 12 -> 12, or nil
--   o:bound("n_times", 2, 100000, true)   -- dies unless an integer 2..1e5
--
-- `--long-name value` sets o.long_name; a name in flags takes no value and
-- sets true; `-x value` uses the short table (`-h` is --help unless short
-- says otherwise); bare words fill the positional names in order. Names in
-- numbers are converted with tonumber (integers: math integers only); a
-- name in repeated may be given many times and becomes a list of its values.
-- When the spec declares its options (values, numbers, integers or
-- repeated), any other option is refused; otherwise every --name is taken.
-- Absent options take spec.defaults. --help prints the usage and exits 0.
-- A mistake prints the script's name, the problem and the usage's first
-- paragraph (its synopsis) to stderr and exits 2.
--
-- The usage text of every script has one shape: the synopsis, a blank
-- line, what the script does, reads and writes; "Options:" with each
-- option, its unit and its default in brackets; "Example:" with a command
-- that runs as written.

local M = {}

local methods = {}

function methods:die(msg)
  local spec = getmetatable(self).spec
  local usage = spec.usage or ""
  local synopsis = usage:match("^(.-)\n%s*\n") or usage
  io.stderr:write(spec.name, ": ", msg, "\n", synopsis, "\n")
  if synopsis ~= usage then
    io.stderr:write("(--help says what it does and what each option means)\n")
  end
  os.exit(2)
end

-- the option k as a number (an integer when int), or nil when absent
function methods:num(k, int)
  local s = rawget(self, k)
  if s == nil then return nil end
  local v = tonumber(s)
  if v ~= v or v == math.huge or v == -math.huge then v = nil end
  if v == nil or (int and math.type(v) ~= "integer") then
    local spec = getmetatable(self).spec
    local dash = (#k == 1 and spec.short and spec.short[k] == k) and "-" or "--"
    self:die(string.format("%s%s needs a%s number, got %q", dash,
      (k:gsub("_", "-")), int and "n integer" or "", tostring(s)))
  end
  return v
end

-- the option k (absent: nil) as a number in [lo, hi] (above lo only when
-- open is set), an integer when int; out of range, it dies naming the
-- option and the bound: nothing is clamped, no size is unbounded
function methods:bound(k, lo, hi, int, open)
  local v = rawget(self, k)
  if v == nil then return nil end
  if type(v) ~= "number" then v = self:num(k, int) end
  if int then v = math.tointeger(v) or v end
  if (int and math.type(v) ~= "integer") or v < lo or v > hi or (open and v == lo) then
    local function fmt(x)
      return (math.tointeger(x) and string.format("%d", x)) or string.format("%g", x)
    end
    self:die(string.format("%s%s must be %s%s, got %s", #k == 1 and "-" or "--",
      (k:gsub("_", "-")), int and "an integer " or "",
      open and ("> " .. fmt(lo) .. (hi < math.huge and (" and <= " .. fmt(hi)) or ""))
      or (hi < math.huge and (fmt(lo) .. ".." .. fmt(hi)) or (">= " .. fmt(lo))),
      type(v) == "number" and fmt(v) or tostring(rawget(self, k))))
  end
  self[k] = v
  return v
end

local function declared(spec, key)
  for _, s in ipairs{spec.flags, spec.values, spec.numbers, spec.integers, spec.repeated} do
    if s[key] then return true end
  end
  return false
end

-- argv word a -> the option key it names, or nil for a bare word; strict:
-- the spec declares its options, so others are refused
local function key_of(o, spec, a, strict)
  local k
  if a:match("^%-%a$") then
    k = spec.short[a:sub(2)] or (a == "-h" and "help") or nil
    if not k and not strict then return nil end
  elseif a:sub(1, 2) == "--" and #a > 2 then
    k = a:sub(3):gsub("-", "_")
  else
    return nil
  end
  if not k or (k ~= "help" and strict and not declared(spec, k)) then
    o:die("unknown option " .. a)
  end
  return k
end

-- numbers and integers from their strings, then the defaults
local function finish(o, spec)
  for k in pairs(spec.numbers or {}) do o[k] = o:num(k) end
  for k in pairs(spec.integers or {}) do o[k] = o:num(k, true) end
  for k, v in pairs(spec.defaults or {}) do
    if rawget(o, k) == nil then o[k] = v end
  end
end

function M.parse(argv, spec)
  local o = setmetatable({}, {__index = methods, spec = spec})
  local strict = (spec.values or spec.numbers or spec.integers or spec.repeated) ~= nil
  for _, k in ipairs{"flags", "values", "numbers", "integers", "repeated", "short"} do
    spec[k] = spec[k] or {}
  end
  local flags, repeated = spec.flags, spec.repeated
  local positional, npos, i = spec.positional or {}, 0, 1
  while i <= #argv do
    local a = argv[i]
    local key = key_of(o, spec, a, strict)
    if key and (flags[key] or key == "help") then
      o[key] = true
      i = i + 1
    elseif key then
      if argv[i + 1] == nil then o:die("missing value for " .. a) end
      if repeated[key] then
        o[key] = rawget(o, key) or {}
        table.insert(o[key], argv[i + 1])
      else
        o[key] = argv[i + 1]
      end
      i = i + 2
    elseif npos < #positional then
      npos = npos + 1
      o[positional[npos]] = a
      i = i + 1
    else
      o:die("unexpected argument " .. a)
    end
  end
  if o.help then
    print(spec.usage)
    os.exit(0)
  end
  finish(o, spec)
  return o
end

return M
