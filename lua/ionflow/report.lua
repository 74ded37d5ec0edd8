-- ionflow.report: a small Markdown report builder for scripts that end
-- with a document a scientist keeps (scripts/demo.lua writes report.md).
--
--   local report = require "ionflow.report"
--   local r = report.new("Demo")
--   r:h2("Molar volumes"):p("V_EO = 66.4 A^3")
--   r:table({"x (mm)", "v (nm/s)"}, {{"0.95", "7.1"}}, {"r", "r"})
--   r:figure("fig3", {"fig3.png", "fig3.svg"}, "Current (Fig. 3)")
--   r:write("out/report.md")                  -- atomic
--
-- Figures are embedded by their PNG when one was written (viewers show it
-- inline everywhere), else by their SVG, with links to every format.

local M = {}
local Report = {}
Report.__index = Report

function M.new(title)
  local r = setmetatable({lines = {}}, Report)
  if title then r:add("# " .. title, "") end
  return r
end

-- append raw lines
function Report:add(...)
  for _, l in ipairs({...}) do self.lines[#self.lines + 1] = l end
  return self
end

function Report:h2(s) return self:add("## " .. s, "") end
function Report:h3(s) return self:add("### " .. s, "") end

-- a paragraph (string.format arguments allowed)
function Report:p(fmt, ...)
  return self:add(select("#", ...) > 0 and string.format(fmt, ...) or fmt, "")
end

-- a bulleted list
function Report:list(items)
  for _, s in ipairs(items) do self:add("- " .. s) end
  return self:add("")
end

-- a pipe table; align: per column "l" or "r" (default "l")
function Report:table(header, rows, align)
  local function row(cells)
    local out = {}
    for k = 1, #header do
      out[k] = tostring(cells[k] == nil and "" or cells[k]):gsub("|", "\\|")
    end
    return "| " .. table.concat(out, " | ") .. " |"
  end
  local sep = {}
  for k = 1, #header do
    sep[k] = (align and align[k] == "r") and "---:" or "---"
  end
  self:add(row(header), "| " .. table.concat(sep, " | ") .. " |")
  for _, r in ipairs(rows) do self:add(row(r)) end
  return self:add("")
end

-- a code block (preformatted text)
function Report:pre(text)
  return self:add("```", text, "```", "")
end

local function basename(p) return (p:gsub("^.*/", "")) end

-- a figure from the paths fig:export returned (relative links)
function Report:figure(paths, caption)
  local show
  for _, p in ipairs(paths) do
    if p:match("%.png$") then show = p end
  end
  show = show or paths[1]
  self:add(string.format("![%s](%s)", caption, basename(show)), "")
  local links = {}
  for _, p in ipairs(paths) do
    links[#links + 1] = string.format("[%s](%s)", p:match("%.(%w+)$"):upper(), basename(p))
  end
  return self:add("*" .. caption .. "* (" .. table.concat(links, ", ") .. ")", "")
end

function Report:text()
  return table.concat(self.lines, "\n") .. "\n"
end

-- write the report atomically (a temporary file renamed into place)
function Report:write(path)
  if sys.is_input(path) then
    error("report:write: " .. path .. ": is an input of this run; refusing to replace it", 2)
  end
  local tmp = path .. ".tmp"
  local f, msg = io.open(tmp, "w")
  if not f then error("report:write: " .. tostring(msg), 2) end
  f:write(self:text())
  f:close()
  local ok, err = os.rename(tmp, path)
  if not ok then
    os.remove(tmp)
    error("report:write: " .. tostring(err), 2)
  end
  sys.note_output(path)
  return path
end

return M
