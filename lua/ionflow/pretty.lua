-- ionflow.pretty: values as a person wants to read them at the REPL.
--
--   pretty.format(v [, {depth = 2, items = 8, width = 78}]) -> string
--
-- A table shows its fields (sequence first, then the other keys sorted),
-- nested tables down to `depth` levels (deeper ones as {... n fields});
-- a long run of numbers is summarised by its first `items` values and its
-- length; a table that fits in `width` columns stays on one line. Values
-- with a __tostring (arrays, files, results) print as tostring does.

local M = {}

local function is_ident(k)
  return type(k) == "string" and k:match("^[%a_][%w_]*$") ~= nil
end

local function scalar(v)
  if type(v) == "string" then return string.format("%q", v):gsub("\\\n", "\\n") end
  return tostring(v)
end

local function keyname(k)
  if is_ident(k) then return k end
  return "[" .. scalar(k) .. "]"
end

-- the keys of t: 1..n of its sequence, then the rest sorted by type and value
local function keys(t)
  local n = #t
  local rest = {}
  for k in pairs(t) do
    if not (math.type(k) == "integer" and k >= 1 and k <= n) then rest[#rest + 1] = k end
  end
  table.sort(rest, function(a, b)
    local ta, tb = type(a), type(b)
    if ta ~= tb then return ta < tb end
    if ta == "number" or ta == "string" then return a < b end
    return tostring(a) < tostring(b)
  end)
  return n, rest
end

local format

local function items(t, o, level, seen)
  local n, rest = keys(t)
  local out = {}
  local allnum = n > 0
  for i = 1, n do allnum = allnum and type(t[i]) == "number" end
  local shown = (allnum and n > o.items) and o.items or n
  for i = 1, shown do out[#out + 1] = format(t[i], o, level + 1, seen) end
  if shown < n then
    out[#out + 1] = string.format("... (%d %s)", n, allnum and "numbers" or "items")
  end
  for _, k in ipairs(rest) do
    out[#out + 1] = keyname(k) .. " = " .. format(t[k], o, level + 1, seen)
  end
  return out
end

-- a nested value's own text (an array's values) is cut to a line
local function short(s, level, o)
  local room = math.max(24, o.width - 2 * level - 16)
  if level > 0 and #s > room and not s:find("\n", 1, true) then
    return s:sub(1, room - 4) .. " ..." .. (s:match("[%)%]}]$") or "")
  end
  return s
end

function format(v, o, level, seen)
  if type(v) ~= "table" then return short(scalar(v), level, o) end
  local mt = getmetatable(v)
  if mt and mt.__tostring then return short(tostring(v), level, o) end
  if seen[v] then return "{<cycle>}" end
  local n, rest = keys(v)
  if n + #rest == 0 then return "{}" end
  if level >= o.depth then
    -- a short list of plain values (a shape, a pair) costs no more than its count
    local plain = #rest == 0 and n <= o.items
    for i = 1, n do plain = plain and type(v[i]) ~= "table" end
    if not plain then
      return string.format("{... %d field%s}", n + #rest, n + #rest == 1 and "" or "s")
    end
  end
  seen[v] = true
  local parts = items(v, o, level, seen)
  seen[v] = nil
  local one = "{" .. table.concat(parts, ", ") .. "}"
  local indent = string.rep("  ", level)
  if #one + #indent <= o.width and not one:find("\n", 1, true) then return one end
  return "{\n" .. indent .. "  " .. table.concat(parts, ",\n" .. indent .. "  ") ..
         ",\n" .. indent .. "}"
end

function M.format(v, opts)
  opts = opts or {}
  local o = {depth = opts.depth or 2, items = opts.items or 8, width = opts.width or 78}
  return format(v, o, 0, {})
end

return M
