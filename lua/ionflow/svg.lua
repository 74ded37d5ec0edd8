-- ionflow.svg: a tiny SVG writer with deterministic output.
--
--   local svg = require "ionflow.svg"
--   local d = svg.new(640, 480)
--   d:rect(0, 0, 640, 480, {fill = "#ffffff"})
--   d:polyline({10, 20, 30}, {40, 10, 40}, {stroke = "#1f77b4", fill = "none"})
--   d:text(320, 20, "g_{2}(\u{3C4})", {size = 14, anchor = "middle"})
--   local s = d:tostring()          -- the whole document as a string
--
-- Every number is written with svg.num (at most two decimals, no "-0"), and
-- attributes are written in one fixed order, so the same drawing calls give
-- a byte-identical document. Text is XML-escaped; a tiny markup in text,
-- ^{...} and _{...} (or ^x, _x for one character), becomes superscript and
-- subscript tspans. plot.lua builds figures on top of this module.

local M = {}

-- the attribute order of every element: fixed, so output is reproducible
local ATTR_ORDER = {
  "id", "class", "x", "y", "width", "height", "x1", "y1", "x2", "y2", "cx", "cy", "r",
  "points", "d", "transform",
  "fill", "fill-opacity", "stroke", "stroke-width", "stroke-dasharray",
  "stroke-linecap", "stroke-linejoin", "opacity", "clip-path",
  "shape-rendering",
  "font-family", "font-size", "font-weight", "font-style", "text-anchor",
  "dominant-baseline",
}
local ATTR_KNOWN = {}
for _, k in ipairs(ATTR_ORDER) do ATTR_KNOWN[k] = true end

-- A number as SVG text: two decimals are finer than a screen pixel, and
-- trimming trailing zeros keeps files small. Non-finite numbers are a bug
-- in the caller, so they raise instead of writing "nan" into the file.
function M.num(v)
  if type(v) ~= "number" or v ~= v or v == math.huge or v == -math.huge then
    error("svg: not a finite number: " .. tostring(v), 2)
  end
  local s = string.format("%.2f", v)
  s = s:gsub("0+$", ""):gsub("%.$", "")
  if s == "-0" then s = "0" end
  return s
end

local ESC = {["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;",
             ['"'] = "&quot;", ["'"] = "&apos;"}

-- XML-escape a string for text content and attribute values; control
-- characters other than tab and newline are not allowed in XML 1.0 at all
-- and are dropped.
function M.escape(s)
  s = tostring(s)
  s = s:gsub("[%z\1-\8\11\12\14-\31]", "")
  return (s:gsub("[&<>\"']", ESC))
end

local function attrs(t)
  local out = {}
  for k in pairs(t) do
    if not ATTR_KNOWN[k] then error("svg: unknown attribute " .. tostring(k), 3) end
  end
  for _, k in ipairs(ATTR_ORDER) do
    local v = t[k]
    if v ~= nil then
      if type(v) == "number" then v = M.num(v) else v = M.escape(v) end
      out[#out + 1] = string.format(' %s="%s"', k, v)
    end
  end
  return table.concat(out)
end

local Doc = {}
Doc.__index = Doc

-- A new document of width x height pixels (user units).
function M.new(width, height)
  if type(width) ~= "number" or type(height) ~= "number" or
     width <= 0 or height <= 0 then
    error("svg.new: width and height must be positive numbers", 2)
  end
  return setmetatable({w = width, h = height, defs = {}, body = {},
                       depth = 0, nclip = 0}, Doc)
end

function Doc:emit(s)
  self.body[#self.body + 1] = string.rep("  ", self.depth + 1) .. s
end

-- a shallow copy of style plus the geometry attributes
local function merge(geom, style)
  local t = {}
  if style then for k, v in pairs(style) do t[k] = v end end
  for k, v in pairs(geom) do t[k] = v end
  return t
end

function Doc:rect(x, y, w, h, style)
  self:emit("<rect" .. attrs(merge({x = x, y = y, width = w, height = h},
                                    style)) .. "/>")
end

function Doc:line(x1, y1, x2, y2, style)
  self:emit("<line" .. attrs(merge({x1 = x1, y1 = y1, x2 = x2, y2 = y2},
                                    style)) .. "/>")
end

function Doc:circle(cx, cy, r, style)
  self:emit("<circle" .. attrs(merge({cx = cx, cy = cy, r = r}, style)) .. "/>")
end

-- A polyline through (xs[i], ys[i]); the caller splits at gaps.
function Doc:polyline(xs, ys, style)
  local pts = {}
  for i = 1, #xs do pts[i] = M.num(xs[i]) .. "," .. M.num(ys[i]) end
  self:emit("<polyline" .. attrs(merge({points = table.concat(pts, " ")},
                                        style)) .. "/>")
end

-- A path from a list of commands {{"M", x, y}, {"L", x, y}, {"Z"}, ...}.
function Doc:path(cmds, style)
  local parts = {}
  for i, c in ipairs(cmds) do
    local p = {c[1]}
    for j = 2, #c do p[#p + 1] = M.num(c[j]) end
    parts[i] = table.concat(p, " ")
  end
  self:emit("<path" .. attrs(merge({d = table.concat(parts, " ")}, style)) .. "/>")
end

-- Split text with ^{...}/_{...} markup into runs {text, shift} with shift
-- +1 (superscript), -1 (subscript) or 0. A backslash escapes ^ _ \.
function M.runs(s)
  s = tostring(s)
  local runs, cur, i, n = {}, {}, 1, #s
  local function flush(shift)
    if #cur > 0 then runs[#runs + 1] = {table.concat(cur), shift} end
    cur = {}
  end
  while i <= n do
    local ch = s:sub(i, i)
    if ch == "\\" and i < n and s:sub(i + 1, i + 1):match("[%^_\\]") then
      cur[#cur + 1] = s:sub(i + 1, i + 1); i = i + 2
    elseif (ch == "^" or ch == "_") and i < n then
      flush(0)
      local shift = ch == "^" and 1 or -1
      if s:sub(i + 1, i + 1) == "{" then
        local close = s:find("}", i + 2, true)
        if not close then close = n + 1 end
        runs[#runs + 1] = {s:sub(i + 2, close - 1), shift}
        i = close + 1
      else
        -- one UTF-8 character
        local j = i + 1
        local b = s:byte(j)
        local len = b >= 0xF0 and 4 or b >= 0xE0 and 3 or b >= 0xC0 and 2 or 1
        runs[#runs + 1] = {s:sub(j, j + len - 1), shift}
        i = j + len
      end
    else
      cur[#cur + 1] = ch; i = i + 1
    end
  end
  flush(0)
  return runs
end

-- The plain text of a marked-up string (for width estimates and gnuplot).
function M.plain(s)
  local out = {}
  for _, r in ipairs(M.runs(s)) do out[#out + 1] = r[1] end
  return table.concat(out)
end

-- Text at (x, y). opts: size (px, default 12), anchor ("start", "middle",
-- "end"), rotate (degrees about (x, y)), weight, style, fill, baseline
-- ("middle" centres the text vertically on y), class.
function Doc:text(x, y, s, opts)
  opts = opts or {}
  local size = opts.size or 12
  local a = {x = x, y = y, ["font-size"] = size,
             ["text-anchor"] = opts.anchor, ["font-weight"] = opts.weight,
             ["font-style"] = opts.style, fill = opts.fill,
             ["dominant-baseline"] = opts.baseline, class = opts.class}
  if opts.rotate then
    a.transform = string.format("rotate(%s %s %s)", M.num(opts.rotate),
                                M.num(x), M.num(y))
  end
  local parts, level = {}, 0
  for _, r in ipairs(M.runs(s)) do
    local shift = r[2]
    if shift == level then
      parts[#parts + 1] = (level == 0) and M.escape(r[1]) or
        string.format('<tspan font-size="%s">%s</tspan>', M.num(size * 0.7),
                      M.escape(r[1]))
    else
      -- move from the current level to the run's level, in px
      local dy = (level - shift) * 0.38 * size
      local fs = shift == 0 and size or size * 0.7
      parts[#parts + 1] = string.format('<tspan dy="%s" font-size="%s">%s</tspan>',
                                        M.num(dy), M.num(fs), M.escape(r[1]))
      level = shift
    end
  end
  self:emit("<text" .. attrs(a) .. ">" .. table.concat(parts) .. "</text>")
end

-- A clip rectangle in <defs>; returns the value for a clip-path attribute.
function Doc:clip(x, y, w, h)
  self.nclip = self.nclip + 1
  local id = "clip" .. self.nclip
  self.defs[#self.defs + 1] = string.format(
    '    <clipPath id="%s"><rect%s/></clipPath>', id,
    attrs({x = x, y = y, width = w, height = h}))
  return "url(#" .. id .. ")"
end

-- Open a <g> with the given attributes; close with Doc:close().
function Doc:group(style)
  self:emit("<g" .. attrs(style or {}) .. ">")
  self.depth = self.depth + 1
end

function Doc:close()
  if self.depth == 0 then error("svg: close without group", 2) end
  self.depth = self.depth - 1
  self:emit("</g>")
end

-- Add an XML comment (used for metadata such as the figure title).
function Doc:comment(s)
  s = M.escape(s):gsub("%-%-+", "-")
  self:emit("<!-- " .. s .. " -->")
end

-- The whole document.
function Doc:tostring()
  while self.depth > 0 do self:close() end
  local out = {
    '<?xml version="1.0" encoding="UTF-8" standalone="no"?>',
    string.format('<svg xmlns="http://www.w3.org/2000/svg" version="1.1" ' ..
      'width="%s" height="%s" viewBox="0 0 %s %s" xml:space="preserve" ' ..
      'font-family="DejaVu Sans, Helvetica, Arial, sans-serif">',
      M.num(self.w), M.num(self.h), M.num(self.w), M.num(self.h)),
  }
  if #self.defs > 0 then
    out[#out + 1] = "  <defs>"
    for _, d in ipairs(self.defs) do out[#out + 1] = d end
    out[#out + 1] = "  </defs>"
  end
  for _, b in ipairs(self.body) do out[#out + 1] = b end
  out[#out + 1] = "</svg>"
  return table.concat(out, "\n") .. "\n"
end

return M
