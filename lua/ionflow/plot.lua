-- ionflow.plot: figures with panels, lines, markers, error bars, log axes,
-- legends and false-colour maps; written as SVG by a built-in writer, or
-- as PNG/PDF (and shown in a window) through gnuplot.
--
--   local plot = require "ionflow.plot"
--   local fig = plot.figure{title = "run 12", rows = 1, cols = 2}
--   local ax = fig:panel(1)
--   ax:errorbar(tau, g2, err, {label = "q = 0.0038 \u{C5}^{-1}"})
--   ax:line(tau_fit, g2_fit, {color = "black"})
--   ax:set{xlog = true, xlabel = "\u{3C4} (s)", ylabel = "g_{2}"}
--   fig:save("g2.svg")          -- no dependency, byte-identical each time
--   fig:save("g2.png")          -- through gnuplot (error when missing)
--   fig:show()                  -- a gnuplot window, never blocks
--   plot.xy(x, y, {xlabel = "t (min)"}):save("quick.svg")
--
-- Data are Lua tables of numbers or ionflow arrays (converted once). NaN
-- and infinite values break lines and are not drawn; on a log axis the
-- non-positive values are treated the same way. Mismatched lengths, non-
-- numeric elements and negative error bars are errors naming the argument.
-- Labels take a small markup: ^{...} superscript, _{...} subscript.

local svg = require "ionflow.svg"

local M = {}

----------------------------------------------------------------------
-- data conversion
----------------------------------------------------------------------

local function finite(v)
  return type(v) == "number" and v == v and v ~= math.huge and v ~= -math.huge
end

-- An ionflow array (or anything with a totable method) as Lua tables.
-- The array module is optional here, so its absence is not an error.
local function unwrap(x)
  if type(x) == "table" then return x end
  local arrmod = rawget(_G, "array")
  if type(arrmod) == "table" and type(arrmod.isarray) == "function" and
     arrmod.isarray(x) then
    return x:totable()
  end
  if type(x) == "userdata" then
    local ok, f = pcall(function() return x.totable end)
    if ok and type(f) == "function" then return x:totable() end
  end
  return x
end

-- A fresh list of numbers from a table or 1-D array; what names the
-- argument in messages. Shapes (n, 1) and (1, n) count as 1-D.
function M.numbers(x, what)
  what = what or "data"
  local t = unwrap(x)
  if type(t) ~= "table" then
    error(string.format("%s: expected a table of numbers or an array, got %s",
                        what, type(x)), 3)
  end
  if #t == 1 and type(t[1]) == "table" then t = t[1] end
  local out = {}
  for i = 1, #t do
    local v = t[i]
    if type(v) == "table" and #v == 1 then v = v[1] end
    if type(v) ~= "number" then
      error(string.format("%s: element %d is a %s, expected a number",
                          what, i, type(v)), 3)
    end
    out[i] = v + 0.0
  end
  return out
end

-- A list of rows of numbers, all of one length, from a nested table or a
-- 2-D array; returns rows, nrows, ncols.
function M.matrix(z, what)
  what = what or "matrix"
  local t = unwrap(z)
  if type(t) ~= "table" or #t == 0 then
    error(what .. ": expected a non-empty table of rows or a 2-D array", 3)
  end
  local rows, ncol = {}, nil
  for i = 1, #t do
    local r = unwrap(t[i])
    if type(r) ~= "table" then
      error(string.format("%s: row %d is a %s, expected a table of numbers",
                          what, i, type(r)), 3)
    end
    if ncol and #r ~= ncol then
      error(string.format("%s: row %d has %d values, row 1 has %d",
                          what, i, #r, ncol), 3)
    end
    ncol = #r
    local row = {}
    for j = 1, ncol do
      if type(r[j]) ~= "number" then
        error(string.format("%s: element (%d, %d) is a %s, expected a number",
                            what, i, j, type(r[j])), 3)
      end
      row[j] = r[j] + 0.0
    end
    rows[i] = row
  end
  if ncol == 0 then error(what .. ": rows are empty", 3) end
  return rows, #rows, ncol
end

----------------------------------------------------------------------
-- colours
----------------------------------------------------------------------

-- The series colours, in order (the widely used "category 10" set).
M.palette = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
             "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"}

M.colors = {
  black = "#000000", white = "#ffffff", gray = "#7f7f7f", grey = "#7f7f7f",
  lightgray = "#d0d0d0", red = "#d62728", blue = "#1f77b4",
  green = "#2ca02c", orange = "#ff7f0e", purple = "#9467bd",
  brown = "#8c564b", pink = "#e377c2", olive = "#bcbd22", cyan = "#17becf",
  yellow = "#e6c619", navy = "#1a2a6c", darkred = "#8b0000",
}

-- Colour maps as anchor colours spaced evenly on [0, 1].
M.colormaps = {
  viridis = {"#440154", "#482878", "#3e4989", "#31688e", "#26828e",
             "#1f9e89", "#35b779", "#6ece58", "#b5de2b", "#fde725"},
  gray = {"#000000", "#ffffff"},
  coolwarm = {"#3b4cc0", "#7b9ff9", "#c0d4f5", "#dddddd", "#f2cbb7",
              "#ee8468", "#b40426"},
  hot = {"#000000", "#8b0000", "#ff4500", "#ffd700", "#ffffff"},
}

-- A colour spec (palette index, name or #rgb/#rrggbb) as #rrggbb.
function M.color(c)
  if type(c) == "number" then
    local n = #M.palette
    return M.palette[(math.floor(c) - 1) % n + 1]
  end
  if type(c) ~= "string" then
    error("plot: colour must be a palette index, a name or #rrggbb, got " ..
          type(c), 3)
  end
  local lc = c:lower()
  if M.colors[lc] then return M.colors[lc] end
  if lc:match("^#%x%x%x%x%x%x$") then return lc end
  if lc:match("^#%x%x%x$") then
    return "#" .. lc:sub(2, 2):rep(2) .. lc:sub(3, 3):rep(2) .. lc:sub(4, 4):rep(2)
  end
  error("plot: unknown colour '" .. c .. "' (use a name, #rrggbb or a palette index)", 3)
end

local function rgb(hex)
  return tonumber(hex:sub(2, 3), 16), tonumber(hex:sub(4, 5), 16),
         tonumber(hex:sub(6, 7), 16)
end

local function cmap_anchors(name)
  if type(name) == "table" then
    if #name < 2 then error("plot: a colour map needs at least 2 colours", 3) end
    local out = {}
    for i, c in ipairs(name) do out[i] = M.color(c) end
    return out
  end
  local m = M.colormaps[name or "viridis"]
  if not m then error("plot: unknown colour map '" .. tostring(name) .. "'", 3) end
  return m
end

-- The colour at f in [0, 1] of a colour map, quantised to 256 levels so
-- that equal colours can be merged into one rectangle.
function M.cmap(name, f)
  local a = cmap_anchors(name)
  f = math.max(0, math.min(1, f))
  f = math.floor(f * 255 + 0.5) / 255
  local pos = f * (#a - 1)
  local i = math.min(math.floor(pos), #a - 2)
  local w = pos - i
  local r1, g1, b1 = rgb(a[i + 1])
  local r2, g2, b2 = rgb(a[i + 2])
  local function mix(u, v) return math.floor(u + (v - u) * w + 0.5) end
  return string.format("#%02x%02x%02x", mix(r1, r2), mix(g1, g2), mix(b1, b2))
end

----------------------------------------------------------------------
-- figures and panels
----------------------------------------------------------------------

local Figure, Axes = {}, {}
Figure.__index, Axes.__index = Figure, Axes

-- A new figure. opts: title, width, height (px), rows, cols.
function M.figure(opts)
  opts = opts or {}
  local rows, cols = opts.rows or 1, opts.cols or 1
  if math.type(rows) ~= "integer" or rows < 1 or
     math.type(cols) ~= "integer" or cols < 1 then
    error("plot.figure: rows and cols must be positive integers", 2)
  end
  local w = opts.width or (cols == 1 and 600 or 440 * cols)
  local h = opts.height or ((rows == 1 and 420 or 330 * rows) +
                            (opts.title and 30 or 0))
  if type(w) ~= "number" or type(h) ~= "number" or w < 50 or h < 50 then
    error("plot.figure: width and height must be numbers >= 50 (px)", 2)
  end
  return setmetatable({title = opts.title, width = w, height = h,
                       rows = rows, cols = cols, panels = {}}, Figure)
end

local AXES_KEYS = {xlabel = 1, ylabel = 1, title = 1, xlog = 1, ylog = 1,
                   xlim = 1, ylim = 1, legend = 1, grid = 1, clabel = 1}

-- Panel i (row-major, 1-based) or panel (row, col); created on first use.
function Figure:panel(i, j)
  if j ~= nil then
    if math.type(i) ~= "integer" or math.type(j) ~= "integer" or i < 1 or
       j < 1 or i > self.rows or j > self.cols then
      error(string.format("fig:panel: (%s, %s) is outside the %dx%d grid",
                          tostring(i), tostring(j), self.rows, self.cols), 2)
    end
    i = (i - 1) * self.cols + j
  end
  i = i or 1
  if math.type(i) ~= "integer" or i < 1 or i > self.rows * self.cols then
    error(string.format("fig:panel: index %s is outside the %d panels",
                        tostring(i), self.rows * self.cols), 2)
  end
  local ax = self.panels[i]
  if not ax then
    ax = setmetatable({fig = self, index = i, series = {}, marks = {},
                       images = {}, opts = {legend = "best"}, ncolor = 0},
                      Axes)
    self.panels[i] = ax
  end
  return ax
end

-- The next unused panel, with options applied (see Axes:set).
function Figure:axes(opts)
  for i = 1, self.rows * self.cols do
    if not self.panels[i] then
      local ax = self:panel(i)
      if opts then ax:set(opts) end
      return ax
    end
  end
  error(string.format("fig:axes: all %d panels are in use", self.rows * self.cols), 2)
end

-- Axis options: xlabel, ylabel, title, xlog, ylog, xlim = {lo, hi} (either
-- may be nil for automatic), ylim, legend ("best", the default: the
-- corner covering the fewest points; "topright", "topleft", "bottomright",
-- "bottomleft" or false), grid (true/false), clabel (colour
-- bar label). Returns the axes.
function Axes:set(opts)
  for k, v in pairs(opts or {}) do
    if not AXES_KEYS[k] then
      error("ax:set: unknown option '" .. tostring(k) .. "'", 2)
    end
    if (k == "xlim" or k == "ylim") then
      if type(v) ~= "table" or (v[1] ~= nil and not finite(v[1])) or
         (v[2] ~= nil and not finite(v[2])) then
        error("ax:set: " .. k .. " must be {lo, hi} with finite numbers", 2)
      end
      if v[1] and v[2] and v[1] >= v[2] then
        error(string.format("ax:set: %s = {%g, %g} is empty (lo >= hi)", k,
                            v[1], v[2]), 2)
      end
    end
    if k == "legend" and v and v ~= true and v ~= "topright" and
       v ~= "topleft" and v ~= "bottomright" and v ~= "bottomleft" and
       v ~= "best" then
      error("ax:set: legend must be best, topright, topleft, bottomright, " ..
            "bottomleft or false", 2)
    end
    self.opts[k] = v
  end
  if self.opts.legend == true then self.opts.legend = "best" end
  return self
end

local MARKERS = {circle = 1, square = 1, triangle = 1, diamond = 1,
                 cross = 1, plus = 1, none = 1}
local DASHES = {solid = false, dash = "6,4", dot = "1.5,3",
                dashdot = "6,3,1.5,3", longdash = "10,4"}

-- common series options into a series record
local function series(ax, kind, x, y, o, fname)
  o = o or {}
  if type(o) ~= "table" then error(fname .. ": options must be a table", 3) end
  local s = {kind = kind, label = o.label, width = o.width or 1.5,
             size = o.size or 6, fill = o.fill ~= false}
  s.x = M.numbers(x, fname .. ": x")
  s.y = M.numbers(y, fname .. ": y")
  if #s.x ~= #s.y then
    error(string.format("%s: x has %d values, y has %d", fname, #s.x, #s.y), 3)
  end
  if o.color ~= nil then
    s.color = M.color(o.color)
  else
    ax.ncolor = ax.ncolor + 1
    s.color = M.palette[(ax.ncolor - 1) % #M.palette + 1]
  end
  local d = o.dash
  if d == true then d = "dash" end
  if d and DASHES[d] == nil then
    error(fname .. ": dash must be solid, dash, dot, dashdot or longdash", 3)
  end
  s.dash = d and DASHES[d] or nil
  local m = o.marker
  if m ~= nil and not MARKERS[m] then
    error(fname .. ": unknown marker '" .. tostring(m) ..
          "' (circle, square, triangle, diamond, cross, plus, none)", 3)
  end
  s.marker = m
  if s.label ~= nil then s.label = tostring(s.label) end
  ax.series[#ax.series + 1] = s
  return s
end

-- A line through (x, y); NaN breaks it. opts: label, color, dash, width,
-- marker (also draw markers), size.
function Axes:line(x, y, o)
  local s = series(self, "line", x, y, o, "ax:line")
  s.line = true
  if s.marker == "none" then s.marker = nil end
  return self
end

-- Markers at (x, y). opts: label, color, marker (default circle), size
-- (px), fill (false: open markers), line (true: also connect them).
function Axes:points(x, y, o)
  local s = series(self, "points", x, y, o, "ax:points")
  s.marker = s.marker or "circle"
  s.line = o and o.line or false
  return self
end

local function errs(e, n, fname, what)
  local t = M.numbers(e, fname .. ": " .. what)
  if #t ~= n then
    error(string.format("%s: %s has %d values, y has %d", fname, what, #t, n), 3)
  end
  for i, v in ipairs(t) do
    if v < 0 then
      error(string.format("%s: %s[%d] = %g is negative", fname, what, i, v), 3)
    end
  end
  return t
end

-- Markers with symmetric vertical error bars y +- yerr. opts as for
-- points plus xerr (horizontal bars). A NaN error draws no bar.
function Axes:errorbar(x, y, yerr, o)
  local s = series(self, "errorbar", x, y, o, "ax:errorbar")
  s.marker = s.marker or "circle"
  s.line = o and o.line or false
  if yerr ~= nil then s.yerr = errs(yerr, #s.y, "ax:errorbar", "yerr") end
  if o and o.xerr ~= nil then s.xerr = errs(o.xerr, #s.y, "ax:errorbar", "xerr") end
  return self
end

-- A horizontal (hline) or vertical (vline) reference line across the
-- panel; opts: color (default gray), dash (default "dash"), width.
local function refline(ax, kind, v, o, fname)
  o = o or {}
  if not finite(v) then error(fname .. ": position must be a finite number", 3) end
  local d = o.dash == nil and "dash" or o.dash
  if d == true then d = "dash" end
  if d and DASHES[d] == nil then error(fname .. ": bad dash", 3) end
  ax.marks[#ax.marks + 1] = {kind = kind, v = v,
    color = M.color(o.color or "gray"), dash = d and DASHES[d] or nil,
    width = o.width or 1}
  return ax
end
function Axes:hline(y, o) return refline(self, "hline", y, o, "ax:hline") end
function Axes:vline(x, o) return refline(self, "vline", x, o, "ax:vline") end

-- Text at data coordinates (x, y). opts: size, color, anchor.
function Axes:text(x, y, s, o)
  o = o or {}
  if not finite(x) or not finite(y) then
    error("ax:text: position must be finite numbers", 2)
  end
  self.marks[#self.marks + 1] = {kind = "text", x = x, y = y, s = tostring(s),
    size = o.size or 11, color = M.color(o.color or "black"),
    anchor = o.anchor or "start"}
  return self
end

-- cell edges from centres (n values) or edges (n + 1 values)
local function edges(v, n, what)
  if v == nil then
    local e = {}
    for i = 0, n do e[i + 1] = i + 0.5 end
    return e
  end
  local t = M.numbers(v, "ax:image: " .. what)
  for i = 1, #t do
    if not finite(t[i]) then error("ax:image: " .. what .. " must be finite", 4) end
  end
  if #t == n + 1 then return t end
  if #t ~= n then
    error(string.format("ax:image: %s has %d values, need %d (centres) or %d (edges)",
                        what, #t, n, n + 1), 4)
  end
  local e = {}
  if n == 1 then return {t[1] - 0.5, t[1] + 0.5} end
  e[1] = t[1] - (t[2] - t[1]) / 2
  for i = 2, n do e[i] = (t[i - 1] + t[i]) / 2 end
  e[n + 1] = t[n] + (t[n] - t[n - 1]) / 2
  return e
end

-- A false-colour map of z (rows along y, columns along x: z[i][j] is at
-- y[i], x[j]). opts: x, y (cell centres or edges; default 1..n), colormap
-- (viridis, gray, coolwarm, hot or a list of colours), clim = {lo, hi},
-- clabel (colour bar label), colorbar (default true). NaN cells are blank.
function Axes:image(z, o)
  o = o or {}
  local rows, nr, nc = M.matrix(z, "ax:image: z")
  local im = {z = rows, nr = nr, nc = nc, cmap = o.colormap or "viridis",
              colorbar = o.colorbar ~= false}
  cmap_anchors(im.cmap)
  im.xe = edges(o.x, nc, "x")
  im.ye = edges(o.y, nr, "y")
  local lo, hi = math.huge, -math.huge
  for i = 1, nr do
    for j = 1, nc do
      local v = rows[i][j]
      if finite(v) then lo = math.min(lo, v); hi = math.max(hi, v) end
    end
  end
  if o.clim then
    lo, hi = o.clim[1] or lo, o.clim[2] or hi
  end
  if lo == math.huge then lo, hi = 0, 1 end
  if hi <= lo then hi = lo + (lo == 0 and 1 or math.abs(lo) * 0.1) end
  im.clo, im.chi = lo, hi
  if o.clabel then self.opts.clabel = o.clabel end
  self.images[#self.images + 1] = im
  return self
end

----------------------------------------------------------------------
-- scales and ticks
----------------------------------------------------------------------

local function log10(v) return math.log(v, 10) end

-- A "nice" step (1, 2, 2.5 or 5 times a power of ten) giving about n
-- intervals over span.
local function nice_step(span, n)
  local raw = span / n
  local e = math.floor(log10(raw))
  local f = raw / 10 ^ e
  local nf = f < 1.5 and 1 or f < 2.25 and 2 or f < 3.5 and 2.5 or
             f < 7.5 and 5 or 10
  return nf * 10 ^ e
end

-- The data range of one axis in a panel ("x" or "y"); values outside a
-- fixed range of the other axis are ignored, as are non-positive values
-- on a log axis. Returns lo, hi or nil when there are no usable data.
local function data_range(ax, which)
  local log = ax.opts[which .. "log"]
  local other = which == "x" and "y" or "x"
  local olim = ax.opts[other .. "lim"]
  local olog = ax.opts[other .. "log"]
  local lo, hi = math.huge, -math.huge
  local function take(v)
    if finite(v) and (not log or v > 0) then
      if v < lo then lo = v end
      if v > hi then hi = v end
    end
  end
  for _, s in ipairs(ax.series) do
    local vals, ovals = s[which], s[other]
    local err = which == "y" and s.yerr or (which == "x" and s.xerr)
    for i = 1, #vals do
      local ov = ovals[i]
      local inside = finite(ov) and (not olog or ov > 0) and
        (not olim or ((olim[1] == nil or ov >= olim[1]) and
                      (olim[2] == nil or ov <= olim[2])))
      if inside then
        local v = vals[i]
        if err and finite(err[i]) then take(v - err[i]); take(v + err[i])
        else take(v) end
      end
    end
  end
  for _, im in ipairs(ax.images) do
    local e = which == "x" and im.xe or im.ye
    take(e[1]); take(e[#e])
  end
  if lo == math.huge then return nil end
  return lo, hi
end

-- linear tick values from lo to hi with the given step
local function lin_ticks(lo, hi, step)
  local t = {}
  local k0 = math.ceil(lo / step - 1e-9)
  local k1 = math.floor(hi / step + 1e-9)
  for k = k0, k1 do
    local v = k * step
    if math.abs(v) < step * 1e-9 then v = 0 end
    t[#t + 1] = v
  end
  return t
end

-- decimals needed to print multiples of step exactly
local function decimals(step)
  for d = 0, 12 do
    local s = step * 10 ^ d
    if math.abs(s - math.floor(s + 0.5)) < 1e-6 * s then return d end
  end
  return 12
end

-- Resolve one axis: limits, major ticks with labels, minor ticks and an
-- optional power-of-ten multiplier for the label. The result is used by
-- both the SVG writer and the gnuplot script, so both agree.
local function axis_scale(ax, which, fname)
  local log = ax.opts[which .. "log"] and true or false
  local lim = ax.opts[which .. "lim"] or {}
  if log and ((lim[1] and lim[1] <= 0) or (lim[2] and lim[2] <= 0)) then
    error(string.format("%s: panel %d: %slim must be positive on a log axis",
                        fname, ax.index, which), 3)
  end
  local dlo, dhi = data_range(ax, which)
  local has_data = #ax.series > 0 or #ax.images > 0
  if log and dlo == nil and has_data and not (lim[1] and lim[2]) then
    error(string.format("%s: panel %d: log %s axis but no positive %s data " ..
                        "(at a finite %s)", fname, ax.index, which, which,
                        which == "x" and "y" or "x"), 3)
  end
  local sc = {log = log}
  if log then
    local lo = lim[1] or dlo or 1
    local hi = lim[2] or dhi or 10
    if hi <= lo then hi = lo * 10 end
    local e0, e1 = math.floor(log10(lo) + 1e-9), math.ceil(log10(hi) - 1e-9)
    if e1 <= e0 then e1 = e0 + 1 end
    if not lim[1] then lo = 10.0 ^ e0 end
    if not lim[2] then hi = 10.0 ^ e1 end
    sc.lo, sc.hi = lo, hi
    local every = math.max(1, math.ceil((e1 - e0) / 8))
    sc.ticks, sc.labels, sc.minor = {}, {}, {}
    for e = e0, e1 do
      local v = 10.0 ^ e
      if v >= lo * (1 - 1e-9) and v <= hi * (1 + 1e-9) and e % every == 0 then
        sc.ticks[#sc.ticks + 1] = v
        sc.labels[#sc.labels + 1] = "10^{" .. e .. "}"
      end
      if e1 - e0 <= 6 then
        for m = 2, 9 do
          local mv = m * v
          if mv >= lo and mv <= hi then sc.minor[#sc.minor + 1] = mv end
        end
      end
    end
    -- a range inside one decade: label 1, 2, 5 times powers of ten
    if #sc.ticks < 2 then
      sc.ticks, sc.labels = {}, {}
      for e = e0, e1 do
        for _, m in ipairs({1, 2, 5}) do
          local v = m * 10.0 ^ e
          if v >= lo * (1 - 1e-9) and v <= hi * (1 + 1e-9) then
            sc.ticks[#sc.ticks + 1] = v
            sc.labels[#sc.labels + 1] = string.format("%g", v)
          end
        end
      end
    end
    return sc
  end
  local lo, hi = lim[1] or dlo, lim[2] or dhi
  if lo == nil then lo = (hi or 1) - 1 end
  if hi == nil then hi = lo + 1 end
  if hi <= lo then
    local d = lo == 0 and 1 or math.abs(lo) * 0.1
    if lim[1] then hi = lo + d elseif lim[2] then lo = hi - d
    else lo, hi = lo - d, hi + d end
  end
  local step = nice_step(hi - lo, 5)
  -- a map fills its panel exactly; curves get limits at whole ticks
  local tight = #ax.images > 0
  if not lim[1] and not tight then lo = math.floor(lo / step + 1e-9) * step end
  if not lim[2] and not tight then hi = math.ceil(hi / step - 1e-9) * step end
  sc.lo, sc.hi, sc.step = lo, hi, step
  sc.ticks = lin_ticks(lo, hi, step)
  sc.minor = {}
  local big = math.max(math.abs(lo), math.abs(hi))
  local mult = 0
  if big >= 1e5 or big < 1e-3 then mult = math.floor(log10(big)) end
  sc.mult = mult
  local d = decimals(step / 10 ^ mult)
  sc.labels = {}
  for i, v in ipairs(sc.ticks) do
    local s = string.format("%." .. d .. "f", v / 10 ^ mult)
    if s:match("^%-0%.?0*$") then s = s:sub(2) end
    sc.labels[i] = s:gsub("^%-", "\u{2212}")
  end
  return sc
end

-- map a data value to [0, 1] along a scale (nil when not drawable)
local function frac(sc, v)
  if not finite(v) then return nil end
  if sc.log then
    if v <= 0 then return nil end
    return (log10(v) - log10(sc.lo)) / (log10(sc.hi) - log10(sc.lo))
  end
  return (v - sc.lo) / (sc.hi - sc.lo)
end

-- the axis label with the multiplier, e.g. "v (nm/s) (x10^{-3})"
local function axis_label(label, sc)
  if sc.mult and sc.mult ~= 0 then
    local m = "\u{D7}10^{" .. sc.mult .. "}"
    return label and (label .. " (" .. m .. ")") or m
  end
  return label
end

M._axis_scale = axis_scale

----------------------------------------------------------------------
-- SVG rendering
----------------------------------------------------------------------

-- rough text width in px: enough to place labels and size legend boxes
local function text_width(s, size)
  local n = 0
  for _, r in ipairs(svg.runs(s)) do
    local len = utf8.len(r[1]) or #r[1]
    n = n + len * (r[2] == 0 and 1 or 0.7)
  end
  return n * size * 0.58
end

local function marker_path(d, m, x, y, s, style)
  local h = s / 2
  if m == "circle" then
    d:circle(x, y, h, style)
  elseif m == "square" then
    d:rect(x - h * 0.9, y - h * 0.9, 1.8 * h, 1.8 * h, style)
  elseif m == "triangle" then
    d:path({{"M", x, y - 1.15 * h}, {"L", x + h, y + 0.6 * h},
            {"L", x - h, y + 0.6 * h}, {"Z"}}, style)
  elseif m == "diamond" then
    d:path({{"M", x, y - 1.2 * h}, {"L", x + h, y}, {"L", x, y + 1.2 * h},
            {"L", x - h, y}, {"Z"}}, style)
  elseif m == "cross" then
    d:path({{"M", x - h, y - h}, {"L", x + h, y + h}, {"M", x - h, y + h},
            {"L", x + h, y - h}}, style)
  elseif m == "plus" then
    d:path({{"M", x - h, y}, {"L", x + h, y}, {"M", x, y - h}, {"L", x, y + h}},
           style)
  end
end

local function marker_style(s)
  local open = not s.fill or s.marker == "cross" or s.marker == "plus"
  return {class = "marker", fill = open and (s.marker == "cross" or
          s.marker == "plus") and "none" or (open and "#ffffff" or s.color),
          stroke = s.color, ["stroke-width"] = 1}
end

local function line_style(s)
  return {class = "series", fill = "none", stroke = s.color,
          ["stroke-width"] = s.width, ["stroke-dasharray"] = s.dash,
          ["stroke-linejoin"] = "round", ["stroke-linecap"] = "round"}
end

-- draw one series into the plot box (px of the box given by map)
local function draw_series(d, s, X, Y)
  if s.line then
    local xs, ys = {}, {}
    local function flush()
      if #xs >= 2 then d:polyline(xs, ys, line_style(s)) end
      xs, ys = {}, {}
    end
    for i = 1, #s.x do
      local px, py = X(s.x[i]), Y(s.y[i])
      if px and py then xs[#xs + 1] = px; ys[#ys + 1] = py else flush() end
    end
    flush()
  end
  local bar = {class = "errorbar", stroke = s.color, ["stroke-width"] = 1}
  for i = 1, #s.x do
    local px, py = X(s.x[i]), Y(s.y[i])
    if px and py then
      local e = s.yerr and s.yerr[i]
      if e and finite(e) and e > 0 then
        local y1, y2 = Y(s.y[i] - e), Y(s.y[i] + e)
        -- on a log axis the lower end may be <= 0: draw to the axis edge
        y1 = y1 or Y(nil, true)
        if y1 and y2 then
          d:line(px, y1, px, y2, bar)
          d:line(px - 3, y1, px + 3, y1, bar)
          d:line(px - 3, y2, px + 3, y2, bar)
        end
      end
      e = s.xerr and s.xerr[i]
      if e and finite(e) and e > 0 then
        local x1, x2 = X(s.x[i] - e) or X(nil, true), X(s.x[i] + e)
        if x1 and x2 then
          d:line(x1, py, x2, py, bar)
          d:line(x1, py - 3, x1, py + 3, bar)
          d:line(x2, py - 3, x2, py + 3, bar)
        end
      end
    end
  end
  if s.marker and s.marker ~= "none" then
    local st = marker_style(s)
    for i = 1, #s.x do
      local px, py = X(s.x[i]), Y(s.y[i])
      if px and py then marker_path(d, s.marker, px, py, s.size, st) end
    end
  end
end

-- draw a false-colour map: rectangles, runs of one colour merged per row
-- A map with more cells than half the panel's pixels is block-averaged
-- (NaN cells ignored) for the SVG: finer cells cannot be seen and would
-- only make the file large. gnuplot output keeps every cell.
local function reduce_image(im, maxc, maxr)
  local kx = math.max(1, math.ceil(im.nc / math.max(1, maxc)))
  local ky = math.max(1, math.ceil(im.nr / math.max(1, maxr)))
  if kx == 1 and ky == 1 then return im end
  local r = {nc = math.ceil(im.nc / kx), nr = math.ceil(im.nr / ky), z = {},
             xe = {}, ye = {}}
  for j = 1, r.nc do r.xe[j] = im.xe[(j - 1) * kx + 1] end
  r.xe[r.nc + 1] = im.xe[im.nc + 1]
  for i = 1, r.nr do r.ye[i] = im.ye[(i - 1) * ky + 1] end
  r.ye[r.nr + 1] = im.ye[im.nr + 1]
  for i = 1, r.nr do
    local row = {}
    for j = 1, r.nc do
      local sum, n = 0, 0
      for a = (i - 1) * ky + 1, math.min(i * ky, im.nr) do
        local zr = im.z[a]
        for b = (j - 1) * kx + 1, math.min(j * kx, im.nc) do
          local v = zr[b]
          if finite(v) then sum = sum + v; n = n + 1 end
        end
      end
      row[j] = n > 0 and sum / n or 0 / 0
    end
    r.z[i] = row
  end
  return r
end

-- draw a false-colour map: rectangles, runs of one colour merged per row
local function draw_image(d, im, sx, sy, box)
  local function px(v) local f = frac(sx, v); return f and box.x + f * box.w end
  local function py(v) local f = frac(sy, v); return f and box.y + box.h - f * box.h end
  local cmap, clo, crange = im.cmap, im.clo, im.chi - im.clo
  im = reduce_image(im, math.floor(box.w / 2), math.floor(box.h / 2))
  d:group({["shape-rendering"] = "crispEdges"})
  for i = 1, im.nr do
    local y1, y2 = py(im.ye[i]), py(im.ye[i + 1])
    if y1 and y2 then
      local cols = {}
      for j = 1, im.nc do
        local v = im.z[i][j]
        cols[j] = finite(v) and M.cmap(cmap, (v - clo) / crange) or false
      end
      local j = 1
      while j <= im.nc do
        local c = cols[j]
        if c then
          local k = j
          while k < im.nc and cols[k + 1] == c do k = k + 1 end
          local x1, x2 = px(im.xe[j]), px(im.xe[k + 1])
          if x1 and x2 then
            d:rect(math.min(x1, x2), math.min(y1, y2), math.abs(x2 - x1),
                   math.abs(y2 - y1), {fill = c})
          end
          j = k + 1
        else
          j = j + 1
        end
      end
    end
  end
  d:close()
end

local function draw_colorbar(d, im, box, label)
  local bx, bw = box.x + box.w + 14, 14
  local n = 64
  d:group({class = "colorbar", ["shape-rendering"] = "crispEdges"})
  for k = 0, n - 1 do
    local y = box.y + box.h - (k + 1) * box.h / n
    d:rect(bx, y, bw, box.h / n + 0.3, {fill = M.cmap(im.cmap, (k + 0.5) / n)})
  end
  d:close()
  d:rect(bx, box.y, bw, box.h, {fill = "none", stroke = "#000000",
                                ["stroke-width"] = 1})
  local fake = setmetatable({opts = {ylim = {im.clo, im.chi}}, series = {},
                             images = {}, index = 0}, Axes)
  local sc = axis_scale(fake, "y", "colorbar")
  for i, v in ipairs(sc.ticks) do
    local y = box.y + box.h - (v - im.clo) / (im.chi - im.clo) * box.h
    d:line(bx + bw - 4, y, bx + bw, y, {stroke = "#000000", ["stroke-width"] = 1})
    d:text(bx + bw + 4, y + 4, sc.labels[i], {size = 10, class = "ctick"})
  end
  local lab = axis_label(label, sc)
  if lab then
    d:text(bx + bw + 52, box.y + box.h / 2, lab, {size = 12, anchor = "middle",
           rotate = -90, class = "clabel"})
  end
end

local LEGEND_SIZE, LEGEND_LH = 11, 15

local function legend_items(ax)
  local items = {}
  for _, s in ipairs(ax.series) do
    if s.label and s.label ~= "" then items[#items + 1] = s end
  end
  local tw = 0
  for _, s in ipairs(items) do tw = math.max(tw, text_width(s.label, LEGEND_SIZE)) end
  return items, 36 + tw + 8, #items * LEGEND_LH + 8
end

local CORNERS = {"topright", "topleft", "bottomright", "bottomleft"}

-- The legend corner: the one asked for, or for "best" the corner whose
-- legend box covers the fewest data points and line vertices (ties go to
-- top right, top left, bottom right, bottom left). w, h: legend and box
-- sizes in px, so that SVG and gnuplot output choose alike.
local function legend_corner(ax, sx, sy, bw, bh, lw, lh)
  local where = ax.opts.legend
  if where ~= "best" then return where end
  local best, bestn = "topright", math.huge
  for _, c in ipairs(CORNERS) do
    local x0 = c:match("left") and 8 or bw - lw - 8
    local y0 = c:match("bottom") and 8 or bh - lh - 8     -- from the bottom
    local n = 0
    local function hit(px, py)
      if px >= x0 - 8 and px <= x0 + lw + 8 and py >= y0 - 8 and
         py <= y0 + lh + 8 then
        n = n + 1
      end
    end
    for _, s in ipairs(ax.series) do
      -- lines are sampled between vertices too (short series only)
      local sub = (s.line and #s.x <= 2000) and 8 or 1
      local lx, ly
      for i = 1, #s.x do
        local fx, fy = frac(sx, s.x[i]), frac(sy, s.y[i])
        if fx and fy then
          if lx and ly and sub > 1 then
            for k = 1, sub - 1 do
              hit((lx + (fx - lx) * k / sub) * bw, (ly + (fy - ly) * k / sub) * bh)
            end
          end
          hit(fx * bw, fy * bh)
        end
        lx, ly = fx, fy
      end
    end
    if n < bestn then best, bestn = c, n end
  end
  return best
end

local function draw_legend(d, ax, box, sx, sy)
  local items, w, h = legend_items(ax)
  if #items == 0 or not ax.opts.legend then return end
  local where = legend_corner(ax, sx, sy, box.w, box.h, w, h)
  local size, lh = LEGEND_SIZE, LEGEND_LH
  local x = where:match("left") and box.x + 8 or box.x + box.w - w - 8
  local y = where:match("bottom") and box.y + box.h - h - 8 or box.y + 8
  d:group({class = "legend"})
  d:rect(x, y, w, h, {fill = "#ffffff", ["fill-opacity"] = 0.85,
                      stroke = "#b0b0b0", ["stroke-width"] = 0.8})
  for k, s in ipairs(items) do
    local cy = y + 4 + (k - 0.5) * lh
    if s.line then
      d:line(x + 6, cy, x + 30, cy, line_style(s))
    end
    if s.yerr then
      d:line(x + 18, cy - 5, x + 18, cy + 5, {stroke = s.color, ["stroke-width"] = 1})
    end
    if s.marker and s.marker ~= "none" then
      marker_path(d, s.marker, x + 18, cy, s.size, marker_style(s))
    end
    d:text(x + 36, cy + 4, s.label, {size = size})
  end
  d:close()
end

-- The panel's layout box inside its grid cell: room on the left for the
-- y tick labels, on the right for a colour bar.
local function panel_box(fig, ax, sx, sy, top0)
  local cw = fig.width / fig.cols
  local ch = (fig.height - top0) / fig.rows
  local r = (ax.index - 1) // fig.cols
  local c = (ax.index - 1) % fig.cols
  local lw = 0
  for _, l in ipairs(sy.labels) do lw = math.max(lw, text_width(l, 11)) end
  local left = lw + 12 + (axis_label(ax.opts.ylabel, sy) and 22 or 4)
  local right = 22
  for _, im in ipairs(ax.images) do
    if im.colorbar then right = 92 end
  end
  local top = ax.opts.title and 28 or 14
  local bottom = 26 + (axis_label(ax.opts.xlabel, sx) and 20 or 0)
  return {x = c * cw + left, y = top0 + r * ch + top,
          w = math.max(10, cw - left - right),
          h = math.max(10, ch - top - bottom), cx = c * cw, cw = cw}
end

local function draw_ticks(d, sx, sy, box)
  local tick = {stroke = "#000000", ["stroke-width"] = 1}
  local bottom, right = box.y + box.h, box.x + box.w
  for i, v in ipairs(sx.ticks) do
    local x = box.x + frac(sx, v) * box.w
    d:line(x, bottom, x, bottom - 6, tick)
    d:line(x, box.y, x, box.y + 6, tick)
    d:text(x, bottom + 16, sx.labels[i], {size = 11, anchor = "middle",
                                         class = "xtick"})
  end
  for _, v in ipairs(sx.minor) do
    local x = box.x + frac(sx, v) * box.w
    d:line(x, bottom, x, bottom - 3, tick)
    d:line(x, box.y, x, box.y + 3, tick)
  end
  for i, v in ipairs(sy.ticks) do
    local y = bottom - frac(sy, v) * box.h
    d:line(box.x, y, box.x + 6, y, tick)
    d:line(right, y, right - 6, y, tick)
    d:text(box.x - 5, y + 4, sy.labels[i], {size = 11, anchor = "end",
                                           class = "ytick"})
  end
  for _, v in ipairs(sy.minor) do
    local y = bottom - frac(sy, v) * box.h
    d:line(box.x, y, box.x + 3, y, tick)
    d:line(right, y, right - 3, y, tick)
  end
end

local function draw_grid(d, sx, sy, box)
  local g = {stroke = "#e0e0e0", ["stroke-width"] = 0.8, class = "grid"}
  for _, v in ipairs(sx.ticks) do
    local x = box.x + frac(sx, v) * box.w
    d:line(x, box.y, x, box.y + box.h, g)
  end
  for _, v in ipairs(sy.ticks) do
    local y = box.y + box.h - frac(sy, v) * box.h
    d:line(box.x, y, box.x + box.w, y, g)
  end
end

local function draw_marks(d, ax, X, Y, box)
  for _, m in ipairs(ax.marks) do
    local st = {class = "refline", stroke = m.color, ["stroke-width"] = m.width,
                ["stroke-dasharray"] = m.dash}
    if m.kind == "hline" then
      local y = Y(m.v)
      if y then d:line(box.x, y, box.x + box.w, y, st) end
    elseif m.kind == "vline" then
      local x = X(m.v)
      if x then d:line(x, box.y, x, box.y + box.h, st) end
    elseif m.kind == "text" then
      local x, y = X(m.x), Y(m.y)
      if x and y then
        d:text(x, y, m.s, {size = m.size, fill = m.color, anchor = m.anchor})
      end
    end
  end
end

local function draw_panel(d, fig, ax, top0)
  local sx = axis_scale(ax, "x", "plot")
  local sy = axis_scale(ax, "y", "plot")
  local box = panel_box(fig, ax, sx, sy, top0)
  local function X(v, edge)
    if edge then return box.x end
    local f = frac(sx, v); return f and box.x + f * box.w
  end
  local function Y(v, edge)
    if edge then return box.y + box.h end
    local f = frac(sy, v); return f and box.y + box.h - f * box.h
  end
  d:group({class = "panel"})
  d:comment(string.format("panel %d", ax.index))
  if ax.opts.grid then draw_grid(d, sx, sy, box) end
  local clip = d:clip(box.x, box.y, box.w, box.h)
  d:group({["clip-path"] = clip})
  for _, im in ipairs(ax.images) do draw_image(d, im, sx, sy, box) end
  d:close()
  local pad = 5
  clip = d:clip(box.x - pad, box.y - pad, box.w + 2 * pad, box.h + 2 * pad)
  d:group({["clip-path"] = clip})
  for _, s in ipairs(ax.series) do draw_series(d, s, X, Y) end
  draw_marks(d, ax, X, Y, box)
  d:close()
  d:rect(box.x, box.y, box.w, box.h, {class = "frame", fill = "none",
         stroke = "#000000", ["stroke-width"] = 1})
  draw_ticks(d, sx, sy, box)
  draw_legend(d, ax, box, sx, sy)
  if ax.images[1] and ax.images[1].colorbar then
    draw_colorbar(d, ax.images[1], box, ax.opts.clabel)
  end
  if ax.opts.title then
    d:text(box.x + box.w / 2, box.y - 9, ax.opts.title,
           {size = 13, anchor = "middle", class = "ptitle"})
  end
  local xl = axis_label(ax.opts.xlabel, sx)
  if xl then
    d:text(box.x + box.w / 2, box.y + box.h + 38, xl,
           {size = 13, anchor = "middle", class = "xlabel"})
  end
  local yl = axis_label(ax.opts.ylabel, sy)
  if yl then
    local lw = 0
    for _, l in ipairs(sy.labels) do lw = math.max(lw, text_width(l, 11)) end
    d:text(box.x - lw - 14, box.y + box.h / 2, yl,
           {size = 13, anchor = "middle", rotate = -90, class = "ylabel"})
  end
  d:close()
end

-- The figure as an SVG document (a string).
function Figure:svg()
  local d = svg.new(self.width, self.height)
  d:rect(0, 0, self.width, self.height, {fill = "#ffffff"})
  local top0 = 0
  if self.title then
    top0 = 30
    d:text(self.width / 2, 21, self.title, {size = 15, anchor = "middle",
                                            class = "title"})
  end
  for i = 1, self.rows * self.cols do
    local ax = self.panels[i]
    if ax then draw_panel(d, self, ax, top0) end
  end
  return d:tostring()
end

----------------------------------------------------------------------
-- gnuplot
----------------------------------------------------------------------

-- gnuplot's enhanced-text syntax for a marked-up label, inside '...'
local function gptext(s)
  local out = {}
  for _, r in ipairs(svg.runs(s)) do
    local t = r[1]:gsub("[\r\n]", " "):gsub("[@&~{}%^_\\]", "\\%0"):gsub("'", "''")
    if r[2] == 1 then t = "^{" .. t .. "}"
    elseif r[2] == -1 then t = "_{" .. t .. "}" end
    out[#out + 1] = t
  end
  return "'" .. table.concat(out) .. "'"
end

local function gpnum(v) return string.format("%.10g", v) end

M.gnuplot = os.getenv("IONFLOW_GNUPLOT") or "gnuplot"
local gp_cache = {}

-- The terminals of the configured gnuplot, or nil when it does not run.
local function gp_terminals()
  local cmd = M.gnuplot
  if not cmd or cmd == "" then return nil end
  if gp_cache[cmd] ~= nil then return gp_cache[cmd] or nil end
  -- run without a shell: the configured name is a program, never a command line
  local okr, code, out = pcall(sys.run, {cmd, "-e", "set terminal"})
  local ok = okr and code == 0
  out = ok and out or ""
  local terms = nil
  if ok and (out:find("pngcairo", 1, true) or out:find("%spng%s") or
              out:find("svg", 1, true)) then
    terms = {}
    for name in out:gmatch("\n%s*([%w_]+)%s") do terms[name] = true end
  end
  gp_cache[cmd] = terms or false
  return terms
end

-- true when gnuplot is found and runs
function M.has_gnuplot() return gp_terminals() ~= nil end

local LEGEND_POS = {topright = "top right", topleft = "top left",
                    bottomright = "bottom right", bottomleft = "bottom left"}
local GP_POINT = {circle = {7, 6}, square = {5, 4}, triangle = {9, 8},
                  diamond = {13, 12}, cross = {2, 2}, plus = {1, 1}}

-- a dash pattern (px, as in the SVG) for gnuplot, whose cairo terminals
-- scale the pattern by the line width and draw a unit as about a third
-- of a px: px 4 / width keeps the dashes a little longer than the SVG's,
-- as a dot or short dash thinner than that reads as a solid pale line
local function gp_dash(d, width)
  if not d then return "" end
  local parts = {}
  for n in d:gmatch("[%d%.]+") do
    parts[#parts + 1] = string.format("%g", tonumber(n) * 4 / math.max(width or 1, 0.5))
  end
  return " dt (" .. table.concat(parts, ",") .. ")"
end

-- one series as a datablock; x, y[, err...] per line, blank line at gaps
local function gp_block(out, name, s, sx, sy)
  out[#out + 1] = name .. " << EOD"
  for i = 1, #s.x do
    local x, y = s.x[i], s.y[i]
    if frac(sx, x) and frac(sy, y) then
      local row = {gpnum(x), gpnum(y)}
      if s.xerr then row[#row + 1] = finite(s.xerr[i]) and gpnum(s.xerr[i]) or "0" end
      if s.yerr then row[#row + 1] = finite(s.yerr[i]) and gpnum(s.yerr[i]) or "0" end
      out[#out + 1] = table.concat(row, " ")
    else
      out[#out + 1] = ""
    end
  end
  out[#out + 1] = "EOD"
end

-- true when the cell edges are evenly spaced (gnuplot's "with image")
local function uniform(e)
  local d = e[2] - e[1]
  for i = 2, #e - 1 do
    if math.abs((e[i + 1] - e[i]) - d) > 1e-6 * math.abs(d) then return false end
  end
  return true
end

local function gp_panel(out, fig, ax, nblock)
  local sx = axis_scale(ax, "x", "plot")
  local sy = axis_scale(ax, "y", "plot")
  local box = panel_box(fig, ax, sx, sy, fig.title and 30 or 0)
  out[#out + 1] = "unset logscale; unset label; unset arrow; unset title"
  out[#out + 1] = "unset xlabel; unset ylabel; unset cblabel; unset colorbox"
  out[#out + 1] = ax.opts.grid and "set grid" or "unset grid"
  if ax.opts.title then out[#out + 1] = "set title " .. gptext(ax.opts.title) end
  local xl, yl = axis_label(ax.opts.xlabel, sx), axis_label(ax.opts.ylabel, sy)
  if xl then out[#out + 1] = "set xlabel " .. gptext(xl) end
  if yl then out[#out + 1] = "set ylabel " .. gptext(yl) end
  -- the same ticks and labels as the SVG, given explicitly
  for _, a in ipairs({{"x", sx}, {"y", sy}}) do
    local n, sc = a[1], a[2]
    if sc.log then out[#out + 1] = "set logscale " .. n .. " 10" end
    local t = {}
    for i, v in ipairs(sc.ticks) do
      t[#t + 1] = string.format("%s %s", gptext(sc.labels[i]:gsub("\u{2212}", "-")), gpnum(v))
    end
    for _, v in ipairs(sc.minor) do t[#t + 1] = string.format("'' %s 1", gpnum(v)) end
    out[#out + 1] = string.format("set %stics mirror in (%s)", n, table.concat(t, ", "))
    out[#out + 1] = string.format("set %srange [%s:%s]", n, gpnum(sc.lo), gpnum(sc.hi))
  end
  local items, lw, lh = legend_items(ax)
  local where = ax.opts.legend and #items > 0 and
    legend_corner(ax, sx, sy, box.w, box.h, lw, lh)
  out[#out + 1] = where and
    ("set key " .. LEGEND_POS[where] .. " reverse Left box opaque samplen 2") or "unset key"
  for _, m in ipairs(ax.marks) do
    local st = string.format("nohead lc rgb '%s' lw %g%s", m.color, m.width or 1,
                             gp_dash(m.dash, m.width or 1))
    if m.kind == "hline" and frac(sy, m.v) then
      out[#out + 1] = string.format("set arrow from graph 0, first %s to graph 1, first %s %s",
                                    gpnum(m.v), gpnum(m.v), st)
    elseif m.kind == "vline" and frac(sx, m.v) then
      out[#out + 1] = string.format("set arrow from first %s, graph 0 to first %s, graph 1 %s",
                                    gpnum(m.v), gpnum(m.v), st)
    elseif m.kind == "text" then
      local just = m.anchor == "middle" and "center" or m.anchor == "end" and "right" or "left"
      out[#out + 1] = string.format("set label %s at first %s, first %s %s tc rgb '%s'",
                                    gptext(m.s), gpnum(m.x), gpnum(m.y), just, m.color)
    end
  end
  local cmds = {}
  for _, im in ipairs(ax.images) do
    nblock = nblock + 1
    local name = "$d" .. nblock
    out[#out + 1] = name .. " << EOD"
    local regular = uniform(im.xe) and uniform(im.ye) and not sx.log and not sy.log
    for i = 1, im.nr do
      for j = 1, im.nc do
        local v = im.z[i][j]
        if regular then
          out[#out + 1] = string.format("%s %s %s", gpnum((im.xe[j] + im.xe[j + 1]) / 2),
            gpnum((im.ye[i] + im.ye[i + 1]) / 2), finite(v) and gpnum(v) or "NaN")
        elseif finite(v) then
          local x0, x1, y0, y1 = im.xe[j], im.xe[j + 1], im.ye[i], im.ye[i + 1]
          out[#out + 1] = string.format("%s %s %s %s %s", gpnum((x0 + x1) / 2),
            gpnum((y0 + y1) / 2), gpnum(math.abs(x1 - x0) / 2),
            gpnum(math.abs(y1 - y0) / 2), gpnum(v))
        end
      end
    end
    out[#out + 1] = "EOD"
    local a = cmap_anchors(im.cmap)
    local pal = {}
    for k, c in ipairs(a) do pal[k] = string.format("%g '%s'", (k - 1) / (#a - 1), c) end
    out[#out + 1] = "set palette defined (" .. table.concat(pal, ", ") .. ")"
    out[#out + 1] = string.format("set cbrange [%s:%s]", gpnum(im.clo), gpnum(im.chi))
    if im.colorbar then
      out[#out + 1] = "set colorbox"
      if ax.opts.clabel then out[#out + 1] = "set cblabel " .. gptext(ax.opts.clabel) end
    end
    cmds[#cmds + 1] = name .. (regular and " using 1:2:3 with image notitle" or
      " using 1:2:3:4:5 with boxxyerror fs solid 1.0 noborder lc palette notitle")
  end
  for _, s in ipairs(ax.series) do
    nblock = nblock + 1
    local name = "$d" .. nblock
    gp_block(out, name, s, sx, sy)
    local title = (s.label and s.label ~= "") and ("title " .. gptext(s.label)) or "notitle"
    local lc = string.format("lc rgb '%s'", s.color)
    local pt = ""
    if s.marker and s.marker ~= "none" then
      local p = GP_POINT[s.marker]
      pt = string.format(" pt %d ps %g", s.fill and p[1] or p[2], s.size / 7)
    end
    local lw = string.format(" lw %g%s", s.width, gp_dash(s.dash, s.width))
    local cols = "1:2"
    if s.xerr and s.yerr then cols = "1:2:3:4" elseif s.xerr or s.yerr then cols = "1:2:3" end
    local style
    if s.yerr or s.xerr then
      local kind = (s.xerr and s.yerr) and "xyerror" or (s.xerr and "xerror" or "yerror")
      style = s.line and (kind .. "lines" .. lw .. pt) or (kind .. "bars lw 1" .. pt)
    elseif s.line and pt ~= "" then style = "linespoints" .. lw .. pt
    elseif s.line then style = "lines" .. lw
    else style = "points" .. pt end
    cmds[#cmds + 1] = string.format("%s using %s with %s %s %s", name, cols, style, lc, title)
  end
  if #cmds == 0 then
    cmds[1] = "NaN notitle"
  end
  out[#out + 1] = "plot " .. table.concat(cmds, ", \\\n     ")
  return nblock
end

-- A gnuplot script drawing the figure on the given terminal line and
-- output path (nil for a window).
function Figure:gnuplot_script(terminal, output)
  local out = {"set encoding utf8", terminal}
  if output then out[#out + 1] = "set output '" .. output:gsub("'", "''") .. "'" end
  out[#out + 1] = "set tics front; set border lw 1"
  local title = self.title and (" title " .. gptext(self.title)) or ""
  out[#out + 1] = string.format("set multiplot layout %d,%d%s", self.rows,
                                self.cols, title)
  local nblock = 0
  for i = 1, self.rows * self.cols do
    local ax = self.panels[i]
    if ax then nblock = gp_panel(out, self, ax, nblock)
    else out[#out + 1] = "set multiplot next" end
  end
  out[#out + 1] = "unset multiplot"
  if output then out[#out + 1] = "set output" end
  return table.concat(out, "\n") .. "\n"
end

local function tmpname_beside(path)
  return string.format("%s.tmp%d", path, math.random(100000000, 999999999))
end

-- Render through gnuplot into path (png or pdf) via a temporary file that
-- is renamed into place when gnuplot succeeded.
local function gp_save(fig, path, fmt)
  local terms = gp_terminals()
  if not terms then
    error(string.format("plot.save: writing %s needs gnuplot, which was not " ..
      "found or does not run (%s); install gnuplot-nox, or save as .svg",
      path, tostring(M.gnuplot)), 3)
  end
  local term
  if fmt == "png" then
    if terms.pngcairo then
      term = string.format("set terminal pngcairo size %d,%d enhanced font 'Sans,10' background rgb 'white'",
                           math.floor(fig.width), math.floor(fig.height))
    elseif terms.png then
      term = string.format("set terminal png size %d,%d enhanced background rgb 'white'",
                           math.floor(fig.width), math.floor(fig.height))
    end
  else
    if terms.pdfcairo then
      term = string.format("set terminal pdfcairo size %sin,%sin enhanced font 'Sans,10'",
                           gpnum(fig.width / 96), gpnum(fig.height / 96))
    end
  end
  if not term then
    error(string.format("plot.save: %s has no %s terminal", M.gnuplot,
          fmt == "png" and "png or pngcairo" or "pdfcairo"), 3)
  end
  local tmp = tmpname_beside(path)
  local script = fig:gnuplot_script(term, tmp)
  local okr, code, msg = pcall(sys.run, {M.gnuplot}, {stdin = script})
  if not okr then error("plot.save: " .. tostring(code):gsub("^sys%.run: ", ""), 3) end
  local ok = code == 0
  local f = io.open(tmp, "rb")
  local size = f and f:seek("end") or 0
  if f then f:close() end
  if not ok or size == 0 then
    os.remove(tmp)
    msg = msg:gsub("%s+$", ""):gsub("\n", " | ")
    error(string.format("plot.save: gnuplot failed writing %s: %s", path,
                        msg ~= "" and msg or "no output"), 3)
  end
  local rok, rerr = os.rename(tmp, path)
  if not rok then
    os.remove(tmp)
    error("plot.save: cannot rename into " .. path .. ": " .. tostring(rerr), 3)
  end
end

-- write a string atomically (temporary file beside path, then rename)
local function write_atomic(path, s)
  local tmp = tmpname_beside(path)
  local f, err = io.open(tmp, "wb")
  if not f then
    error("plot.save: cannot write " .. path .. ": " .. tostring(err):gsub("^.-: ", ""), 3)
  end
  local ok, werr = f:write(s)
  local cok, cerr = f:close()
  if not ok or not cok then
    os.remove(tmp)
    error("plot.save: writing " .. path .. " failed: " .. tostring(werr or cerr), 3)
  end
  local rok, rerr = os.rename(tmp, path)
  if not rok then
    os.remove(tmp)
    error("plot.save: cannot rename into " .. path .. ": " .. tostring(rerr), 3)
  end
end

-- Save the figure; the format follows the extension (.svg, .png, .pdf)
-- or opts.format. SVG needs nothing; PNG and PDF need gnuplot. Returns path.
function Figure:save(path, opts)
  if type(path) ~= "string" or path == "" then
    error("fig:save: path must be a non-empty string", 2)
  end
  if sys.is_input(path) then
    error("fig:save: " .. path .. ": is an input of this run; refusing to replace it", 2)
  end
  local fmt = (opts and opts.format) or path:match("%.(%w+)$")
  fmt = fmt and fmt:lower()
  if fmt == "svg" then
    write_atomic(path, self:svg())
  elseif fmt == "png" or fmt == "pdf" then
    gp_save(self, path, fmt)
  else
    error("fig:save: unknown format for " .. path .. " (use .svg, .png or .pdf)", 2)
  end
  sys.note_output(path)
  return path
end

-- Save as base.svg, and base.png when gnuplot is present (or the given
-- list of formats); returns the list of paths written.
function Figure:export(base, formats)
  if type(base) ~= "string" or base == "" then
    error("fig:export: base must be a non-empty string", 2)
  end
  formats = formats or (M.has_gnuplot() and {"svg", "png"} or {"svg"})
  local out = {}
  for _, f in ipairs(formats) do out[#out + 1] = self:save(base .. "." .. f) end
  return out
end

-- true when a window can be opened: a display and an interactive terminal
local function interactive_terminal()
  if (os.getenv("DISPLAY") or "") == "" and (os.getenv("WAYLAND_DISPLAY") or "") == "" then
    return nil, "no display (DISPLAY is not set)"
  end
  local terms = gp_terminals()
  if not terms then return nil, "gnuplot is not available" end
  for _, t in ipairs({"qt", "wxt", "x11"}) do
    if terms[t] then return t end
  end
  return nil, "this gnuplot has no interactive terminal (qt, wxt or x11)"
end

-- Show the figure in a gnuplot window. gnuplot runs in the background
-- with -persist, so the REPL stays responsive. Without a display or an
-- interactive gnuplot, the figure is saved as an SVG in the temporary
-- directory instead (and its path printed on stderr unless opts.quiet).
-- Returns true, or false and the SVG path.
function Figure:show(opts)
  local term, why = interactive_terminal()
  if term then
    local script = os.tmpname()
    local f = assert(io.open(script, "w"))
    f:write(self:gnuplot_script(string.format("set terminal %s size %d,%d enhanced",
      term, math.floor(self.width), math.floor(self.height)), nil))
    f:close()
    -- detached, no shell; the script is removed when gnuplot ends
    sys.spawn({M.gnuplot, "-persist", script}, {remove = script})
    return true
  end
  local base = os.tmpname()
  os.remove(base)
  local path = base .. ".svg"
  self:save(path)
  if not (opts and opts.quiet) then
    io.stderr:write(string.format("plot.show: %s; wrote %s\n", why, path))
  end
  return false, path
end

-- A one-call plot: plot.xy(y) or plot.xy(x, y, opts). opts: title,
-- xlabel, ylabel, xlog, ylog, xlim, ylim, label, color, marker (markers
-- instead of a line unless line = true), width, height, file (save to).
-- Returns the figure and its axes.
function M.xy(x, y, opts)
  if type(y) == "table" and not y[1] and y[1] == nil and next(y) ~= nil and
     opts == nil then
    opts, y = y, nil
  end
  if y == nil then
    local t = M.numbers(x, "plot.xy: y")
    y, x = t, {}
    for i = 1, #t do x[i] = i end
  end
  opts = opts or {}
  local fig = M.figure{title = opts.title, width = opts.width, height = opts.height}
  local ax = fig:panel(1)
  ax:set{xlabel = opts.xlabel, ylabel = opts.ylabel, xlog = opts.xlog,
         ylog = opts.ylog, xlim = opts.xlim, ylim = opts.ylim,
         grid = opts.grid}
  local so = {label = opts.label, color = opts.color, marker = opts.marker,
              dash = opts.dash}
  if opts.marker and not opts.line then ax:points(x, y, so) else ax:line(x, y, so) end
  if opts.file then fig:save(opts.file) end
  return fig, ax
end

return M
