-- ionflow.csv: small comma-separated tables, as the literature data and
-- scan files come.
--
--   local csv = require "ionflow.csv"
--   local t = csv.read("density.csv")        -- t.columns[1], t.names, t.nrows
--   local t = csv.read("scans.csv", {header = true})
--   csv.write("out.csv", {"x_m", "c_mol_per_L"}, {xs, cs})   -- atomic
--
-- Lines starting with '#' are comments and blank lines are skipped. Every
-- field must be a number; a bad field is an error naming file, line and column.

local M = {}

local function split(line)
  local out = {}
  for field in (line .. ","):gmatch("([^,]*),") do
    out[#out + 1] = field:match("^%s*(.-)%s*$")
  end
  return out
end

-- Read a numeric table. opts.header: the first non-comment line names the
-- columns (default: detected, a first line with a non-numeric field).
-- Returns {names = {...} or nil, columns = {{...}, ...}, nrows = n,
-- col = function(name) -> column}.
function M.read(path, opts)
  opts = opts or {}
  local f, msg = io.open(path, "r")
  if not f then error("csv.read: cannot open " .. tostring(msg), 2) end
  sys.note_input(path)   -- no result of this run may replace it
  local names, columns, nrows, lineno = nil, nil, 0, 0
  for line in f:lines() do
    lineno = lineno + 1
    line = line:gsub("\r$", "")
    if line:match("^%s*$") or line:match("^%s*#") then goto continue end
    local fields = split(line)
    if not columns then
      local numeric = tonumber(fields[1]) ~= nil
      if opts.header or (opts.header == nil and not numeric) then
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
      local v = tonumber(s)
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
