-- ionflow.csv: small comma-separated tables, as the literature data and
-- scan files come.
--
--   local csv = require "ionflow.csv"
--   local t = csv.read("density.csv")        -- t.columns[1], t.names, t.nrows
--   local t = csv.read("scans.csv", {header = true})
--   csv.write("out.csv", {"x_m", "c_mol_per_L"}, {xs, cs})   -- atomic
--
-- Lines starting with '#' are comments and blank lines are skipped. Every
-- field must be a decimal number (hex, inf, nan and numbers that overflow,
-- 1e999, are not); a bad field is an error naming file, line and column.

local M = {}

-- a field as a finite decimal number, or nil
local function number(f)
  if not (f:match("^[%+%-]?%d+%.?%d*$") or f:match("^[%+%-]?%d*%.%d+$") or
      f:match("^[%+%-]?%d+%.?%d*[eE][%+%-]?%d+$") or
      f:match("^[%+%-]?%d*%.%d+[eE][%+%-]?%d+$")) then
    return nil
  end
  local v = tonumber(f)
  if v == nil or v ~= v or v == math.huge or v == -math.huge then return nil end
  return v
end
M.number = number

-- a field that is not a number but reads like one with a typo (O.01 for
-- 0.01, 1.2l): it has digits, and more than half its characters are
-- digits, points, signs or exponent letters. Column names (x_m, T_K, g2,
-- H2O) do not.
local function typo(f)
  if not f:find("%d") then return false end
  local _, k = f:gsub("[%d%.%+%-eE]", "")
  return k * 2 > #f
end

-- the first row is a header when no field of it is a number and none reads
-- like a mistyped number; returns is_header, or nil and the offending
-- field's index when the row is neither a header nor data
local function header_row(fields)
  local suspect
  for i, f in ipairs(fields) do
    if number(f) then return false end
    if typo(f) then suspect = suspect or i end
  end
  if suspect then return nil, suspect end
  return true
end

local function split(line)
  local out = {}
  for field in (line .. ","):gmatch("([^,]*),") do
    out[#out + 1] = field:match("^%s*(.-)%s*$")
  end
  return out
end

-- Read a numeric table. opts.header: the first non-comment line names the
-- columns (true), or is data (false); by default it is a header when no
-- field of it is a number and none reads like a mistyped number.
-- Returns {names = {...} or nil, columns = {{...}, ...}, nrows = n,
-- col = function(name) -> column}.
function M.read(path, opts)
  opts = opts or {}
  local f, msg = io.open(path, "r")
  if not f then error("csv.read: cannot open " .. tostring(msg), 2) end
  local okr, rmsg = f:read(0)
  if okr == nil and rmsg then
    f:close()
    error("csv.read: cannot read " .. path .. ": " .. tostring(rmsg), 2)
  end
  sys.note_input(path)   -- no result of this run may replace it
  local names, columns, nrows, lineno = nil, nil, 0, 0
  for line in f:lines() do
    lineno = lineno + 1
    line = line:gsub("\r$", "")
    if line:match("^%s*$") or line:match("^%s*#") then goto continue end
    local fields = split(line)
    if not columns then
      local head, bad = opts.header, nil
      if head == nil then head, bad = header_row(fields) end
      if head == nil then
        f:close()
        error(string.format("csv.read: %s:%d: column %d is not a number: '%s' " ..
          "(the first row is not a header: it reads like data)",
          path, lineno, bad, fields[bad]), 2)
      end
      if head then
        names = fields
        columns = {}
        for i = 1, #fields do columns[i] = {} end
        goto continue
      end
      columns = {}
      for i = 1, #fields do columns[i] = {} end
    end
    if #fields ~= #columns then
      f:close()
      error(string.format("csv.read: %s:%d: %d fields, expected %d",
        path, lineno, #fields, #columns), 2)
    end
    nrows = nrows + 1
    for i, s in ipairs(fields) do
      local v = number(s)
      if v == nil then
        f:close()
        error(string.format("csv.read: %s:%d: column %s is not a number: '%s'",
          path, lineno, names and names[i] or tostring(i), s), 2)
      end
      columns[i][nrows] = v
    end
    ::continue::
  end
  f:close()
  if not columns or nrows == 0 then
    error("csv.read: " .. path .. ": no data rows", 2)
  end
  local t = {names = names, columns = columns, nrows = nrows}
  function t.col(name)
    for i, n in ipairs(names or {}) do
      if n == name then return columns[i] end
    end
    error(string.format("csv: %s has no column '%s'", path, name), 2)
  end
  return t
end

-- Write columns (Lua tables of numbers, or ionflow arrays) with a header
-- line, to a temporary file renamed into place.
function M.write(path, names, columns)
  if sys.is_input(path) then
    error("csv.write: " .. path .. ": is an input of this run; refusing to replace it", 2)
  end
  local tmp = path .. ".tmp"
  local f, msg = io.open(tmp, "w")
  if not f then error("csv.write: cannot create " .. tostring(msg), 2) end
  f:write(table.concat(names, ","), "\n")
  local n = #columns[1]
  for r = 1, n do
    local row = {}
    for c = 1, #columns do
      row[c] = string.format("%.10g", columns[c][r])
    end
    f:write(table.concat(row, ","), "\n")
  end
  f:close()
  local okk, err = os.rename(tmp, path)
  if not okk then os.remove(tmp); error("csv.write: " .. tostring(err), 2) end
  sys.note_output(path)
end

return M
