-- ionflow.cli: the command line of ionflow's scripts, parsed one way.
--
--   local o = cli.parse(arg, {name = "xpcs-correlate", usage = usage,
--     flags = {fold = true}, positional = {"raw"}, short = {o = "out"}})
--   if not o.raw then o:die("no raw file") end
--   local n = o:num("q_bins", true)       -- --q-bins 12 -> 12, or nil
--
-- `--long-name value` sets o.long_name; a name in flags takes no value and
-- sets true; `-x value` uses the short table; bare words fill the
-- positional names in order. --help prints the usage and exits 0. A
-- mistake prints the script's name, the problem and the usage to stderr
-- and exits 2.

local M = {}

local methods = {}

function methods:die(msg)
  local spec = getmetatable(self).spec
  io.stderr:write(spec.name, ": ", msg, "\n", spec.usage or "", "\n")
  os.exit(2)
end

-- the option k as a number (an integer when int), or nil when absent
function methods:num(k, int)
  local s = rawget(self, k)
  if s == nil then return nil end
  local v = tonumber(s)
  if v == nil or (int and math.type(v) ~= "integer") then
    self:die(string.format("--%s needs a%s number, got %q",
      (k:gsub("_", "-")), int and "n integer" or "", tostring(s)))
  end
  return v
end

function M.parse(argv, spec)
  local o = setmetatable({}, {__index = methods, spec = spec})
  local flags, short = spec.flags or {}, spec.short or {}
  local positional, npos, i = spec.positional or {}, 0, 1
  while i <= #argv do
    local a = argv[i]
    local key
    if a:match("^%-%a$") and short[a:sub(2)] then
      key = short[a:sub(2)]
    elseif a:sub(1, 2) == "--" and #a > 2 then
      key = a:sub(3):gsub("-", "_")
    end
    if key and (flags[key] or key == "help") then
      o[key] = true
      i = i + 1
    elseif key then
      if argv[i + 1] == nil then o:die("missing value for " .. a) end
      o[key] = argv[i + 1]
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
  return o
end

return M
