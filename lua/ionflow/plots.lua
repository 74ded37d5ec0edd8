-- ionflow.plots: the paper's figures, one call each.
--
--   local plots = require "ionflow.plots"
--   plots.g2(res):save("g2.svg")
--
-- Every function takes a plain Lua table (lists may also be ionflow
-- arrays) in SI units, as the analysis modules work, and returns a figure
-- (see ionflow.plot) drawn in the paper's display units: q in 1/Angstrom,
-- velocities in nm/s, current density in mA/cm^2, positions in mm,
-- concentrations in mol/L, times in h (or opts.time_unit = "s", "min", "h").
-- opts.title sets the figure title; opts.file saves the figure too.
-- plots.draw.<name>(ax, res, opts) draws a one-panel plot into an
-- existing panel instead. The input layouts:
--
--   g2        {tau = {s}, bins = {{q = 1/m, phi = rad, g2 = {}, err = {}?,
--              fit = {}?, fit_tau = {s}?, label = ""?}, ...}}
--   omega     {q = {1/m}, phi = {rad}, omega = {rad/s}, err = {}?, v = m/s?,
--              by_q = {q = {}, omega = {}, err = {}?}?}
--   master    {x = {}, g2 = {}, err = {}?, fit = {x = {}, g2 = {}}?} or
--             {tau = {s}, bins = (as g2), fit = {x = {}, g2 = {}}?}
--   velocity  {positions = {{x = m, t = {s}, v = {m/s}, err = {}?,
--              model = {t = {}, v = {}}?, models = {{name =, t =, v =}}?}}}
--             (also velocity_ratio: measured / model per position;
--             velocity_panels: one panel per position and the ratio)
--   current   {t = {s}, i = {A/m^2}, models = {{name =, t = {}, i = {}}}?}
--   profiles  {profiles = {{t = s, x = {m}, c = {mol/m^3}, err = {}?,
--              model = {x = {}, c = {}}?}}, model_name = ""?}
--   cxt_map   {x = {m}, t = {s}, c = {{...}, ...}}  (c[i][j] at t[i], x[j])
--   iq        {q = {1/m}, I = {}, err = {}?, segments = {{label =, I = {}}}?}
--   intensity {I = {}, frame = {}? or t = {s}?}
--   stability {q =, I =, segments =?, intensity = {}, frame =? }
--   twotime   {c2 = {{...}} (n x n), t = {s}? or dt = s?}

local plot = require "ionflow.plot"

local M = {draw = {}}
local D = M.draw

local ANGSTROM = 1e-10
local TIME = {s = 1, min = 60, h = 3600}

local function nums(x, what) return plot.numbers(x, what) end

local function need(t, key, fname)
  if type(t) ~= "table" or t[key] == nil then
    error(string.format("%s: input needs field '%s'", fname, key), 3)
  end
  return t[key]
end

local function scaled(list, f)
  local out = {}
  for i, v in ipairs(list) do out[i] = v * f end
  return out
end

-- opts.legend, where false means none (not the default corner)
local function legend_opt(opts, default)
  if opts.legend == nil then return default end
  return opts.legend
end

local function time_unit(opts, default)
  local u = (opts and opts.time_unit) or default
  if not TIME[u] then error("plots: time_unit must be s, min or h", 3) end
  return u, 1 / TIME[u]
end

-- save when asked, return the figure
local function finish(fig, opts)
  if opts and opts.file then fig:save(opts.file) end
  return fig
end

-- M.<name>(res, opts): a figure of the one panel D.<name>, saved when
-- opts.file says so; defaults(res, opts), when given, supplies the title
-- and size that opts leaves out
local function one_panel(name, defaults)
  return function(res, opts)
    opts = opts or {}
    local d = defaults and defaults(res, opts) or {}
    local fig = plot.figure{title = opts.title or d.title, width = opts.width or d.width,
                            height = opts.height or d.height}
    D[name](fig:panel(1), res, opts)
    return finish(fig, opts)
  end
end

local function fmtq(q) return string.format("%.4g", q * ANGSTROM) end

----------------------------------------------------------------------
-- g2 versus delay (Fig. 2a/b)
----------------------------------------------------------------------

-- Convert n_tau x n_bins matrices (the APS result layout) into bins.
-- g2 and err are rows per delay; q and phi are lists per bin (SI).
function M.g2_bins(tau, g2, err, q, phi)
  local rows, ntau, nb = plot.matrix(g2, "plots.g2_bins: g2")
  local erows = err and plot.matrix(err, "plots.g2_bins: err")
  local t = nums(tau, "plots.g2_bins: tau")
  if #t ~= ntau then
    error(string.format("plots.g2_bins: tau has %d values, g2 has %d rows", #t, ntau), 2)
  end
  local qs = q and nums(q, "plots.g2_bins: q") or {}
  local ps = phi and nums(phi, "plots.g2_bins: phi") or {}
  local bins = {}
  for b = 1, nb do
    local col, ecol = {}, erows and {} or nil
    for k = 1, ntau do
      col[k] = rows[k][b]
      if ecol then ecol[k] = erows[k][b] end
    end
    bins[b] = {q = qs[b], phi = ps[b], g2 = col, err = ecol}
  end
  return {tau = t, bins = bins}
end

local function bin_label(b)
  if b.label then return b.label end
  local parts = {}
  if b.q then parts[#parts + 1] = "q = " .. fmtq(b.q) .. " \u{C5}^{-1}" end
  if b.phi then
    parts[#parts + 1] = string.format("\u{3C7} = %.0f\u{B0}", math.deg(b.phi))
  end
  return #parts > 0 and table.concat(parts, ", ") or nil
end

-- g2 (markers, with error bars when given) and fits (lines) per bin versus
-- delay on a log axis. opts: bins (list of indices), shift (vertical
-- offset between curves, as in the paper; default 0), legend.
function D.g2(ax, res, opts)
  opts = opts or {}
  local tau = nums(need(res, "tau", "plots.g2"), "plots.g2: tau")
  local bins = need(res, "bins", "plots.g2")
  local sel = opts.bins
  if not sel then
    sel = {}
    for i = 1, #bins do sel[i] = i end
  end
  if #sel == 0 then error("plots.g2: no bins to plot", 2) end
  local shift = opts.shift or 0
  for k, bi in ipairs(sel) do
    local b = bins[bi]
    if type(b) ~= "table" then
      error(string.format("plots.g2: bin %s does not exist", tostring(bi)), 2)
    end
    local what = string.format("plots.g2: bin %d", bi)
    local g = nums(need(b, "g2", what), what .. " g2")
    if #g ~= #tau then
      error(string.format("%s: g2 has %d values, tau has %d", what, #g, #tau), 2)
    end
    local off = (k - 1) * shift
    local gs = {}
    for i, v in ipairs(g) do gs[i] = v + off end
    local color = (k - 1) % #plot.palette + 1
    local label = bin_label(b)
    if b.err then
      ax:errorbar(tau, gs, b.err, {color = color, label = label, size = 5})
    else
      ax:points(tau, gs, {color = color, label = label, size = 5})
    end
    if b.fit then
      local ft = b.fit_tau and nums(b.fit_tau, what .. " fit_tau") or tau
      local f = nums(b.fit, what .. " fit")
      if #f ~= #ft then
        error(string.format("%s: fit has %d values, its delays %d", what, #f, #ft), 2)
      end
      for i, v in ipairs(f) do f[i] = v + off end
      ax:line(ft, f, {color = color})
    end
  end
  ax:set{xlog = true, xlabel = "\u{3C4} (s)",
         ylabel = shift ~= 0 and "g_{2}(q, \u{3C4}) + offset" or "g_{2}(q, \u{3C4})",
         legend = (#sel <= 12 and opts.legend ~= false) and (opts.legend or "bottomleft") or false}
  return ax
end

M.g2 = one_panel("g2")

----------------------------------------------------------------------
-- omega versus cos chi and versus q (Fig. 2c/d)
----------------------------------------------------------------------

local function omega_points(res, fname)
  local q = nums(need(res, "q", fname), fname .. ": q")
  local phi = nums(need(res, "phi", fname), fname .. ": phi")
  local om = nums(need(res, "omega", fname), fname .. ": omega")
  local err = res.err and nums(res.err, fname .. ": err")
  if #q ~= #om or #phi ~= #om or (err and #err ~= #om) then
    error(fname .. ": q, phi, omega (and err) must have the same length", 3)
  end
  return q, phi, om, err
end

-- distinct values of a list, in order of appearance
local function distinct(list)
  local seen, out = {}, {}
  for _, v in ipairs(list) do
    if v == v and not seen[v] then seen[v] = true; out[#out + 1] = v end
  end
  return out
end

-- omega against cos(chi), one colour per q, with the lines q v cos(chi)
-- of Eq. 2 when res.v (m/s) is given.
function D.omega_chi(ax, res, opts)
  opts = opts or {}
  local q, phi, om, err = omega_points(res, "plots.omega")
  for k, qv in ipairs(distinct(q)) do
    local xs, ys, es = {}, {}, {}
    for i = 1, #q do
      if q[i] == qv then
        xs[#xs + 1] = math.cos(phi[i]); ys[#ys + 1] = om[i]
        es[#es + 1] = err and err[i] or 0
      end
    end
    local lab = "q = " .. fmtq(qv) .. " \u{C5}^{-1}"
    if err then ax:errorbar(xs, ys, es, {color = k, label = lab})
    else ax:points(xs, ys, {color = k, label = lab}) end
    if res.v then
      ax:line({-1, 1}, {-qv * res.v, qv * res.v}, {color = k})
    end
  end
  ax:hline(0, {color = "lightgray", dash = "solid"})
  ax:set{xlabel = "cos \u{3C7}", ylabel = "\u{3C9} (rad s^{-1})", xlim = {-1, 1},
         legend = legend_opt(opts, "topleft")}
  return ax
end

-- omega / cos(chi) per q: res.by_q when given, else the mean over the
-- points of each q with |cos chi| >= 0.5 (small cosines only add noise),
-- with the line q v through zero when res.v is given.
function D.omega_q(ax, res, opts)
  opts = opts or {}
  local qs, os_, es
  if res.by_q then
    qs = nums(need(res.by_q, "q", "plots.omega by_q"), "plots.omega: by_q.q")
    os_ = nums(need(res.by_q, "omega", "plots.omega by_q"), "plots.omega: by_q.omega")
    es = res.by_q.err and nums(res.by_q.err, "plots.omega: by_q.err")
    if #qs ~= #os_ then error("plots.omega: by_q.q and by_q.omega differ in length", 2) end
  else
    local q, phi, om = omega_points(res, "plots.omega")
    qs, os_, es = {}, {}, {}
    for _, qv in ipairs(distinct(q)) do
      local vals = {}
      for i = 1, #q do
        local c = math.cos(phi[i])
        if q[i] == qv and math.abs(c) >= 0.5 and om[i] == om[i] then
          vals[#vals + 1] = om[i] / c
        end
      end
      if #vals > 0 then
        local m = 0
        for _, v in ipairs(vals) do m = m + v end
        m = m / #vals
        local s = 0
        for _, v in ipairs(vals) do s = s + (v - m) ^ 2 end
        qs[#qs + 1] = qv; os_[#os_ + 1] = m
        es[#es + 1] = #vals > 1 and math.sqrt(s / (#vals - 1) / #vals) or 0 / 0
      end
    end
  end
  local qa = scaled(qs, ANGSTROM)
  if es then ax:errorbar(qa, os_, es, {color = "black", label = "measured"})
  else ax:points(qa, os_, {color = "black", label = "measured"}) end
  if res.v and #qa > 0 then
    local qmax = 0
    for _, v in ipairs(qa) do qmax = math.max(qmax, v) end
    ax:line({0, qmax * 1.1}, {0, qmax * 1.1 / ANGSTROM * res.v},
            {color = "red", label = string.format("q v, v = %.3g nm s^{-1}", res.v * 1e9)})
  end
  ax:set{xlabel = "q (\u{C5}^{-1})", ylabel = "\u{3C9} / cos \u{3C7} (rad s^{-1})",
         legend = legend_opt(opts, "topleft")}
  return ax
end

function M.omega(res, opts)
  opts = opts or {}
  local fig = plot.figure{title = opts.title, cols = 2, width = opts.width,
                          height = opts.height}
  D.omega_chi(fig:panel(1):set{title = "(c) \u{3C9} versus cos \u{3C7}"}, res, opts)
  D.omega_q(fig:panel(2):set{title = "(d) \u{3C9} versus q"}, res, opts)
  return finish(fig, opts)
end

----------------------------------------------------------------------
-- master curve (Fig. 2e)
----------------------------------------------------------------------

-- g2 against the scaled delay q |cos chi| tau, all bins on one curve, with
-- the fit as a line. Bins with |cos chi| < 0.1 are left out (their scaled
-- delays collapse to zero).
function D.master(ax, res, opts)
  opts = opts or {}
  local xlabel = res.xlabel or "q |cos \u{3C7}| \u{3C4} (\u{C5}^{-1} s)"
  if res.x then
    local x = nums(res.x, "plots.master: x")
    local g = nums(need(res, "g2", "plots.master"), "plots.master: g2")
    if #x ~= #g then error("plots.master: x and g2 differ in length", 2) end
    if res.err then ax:errorbar(x, g, res.err, {color = "gray", size = 4, label = "data"})
    else ax:points(x, g, {color = "gray", size = 4, label = "data"}) end
  else
    local tau = nums(need(res, "tau", "plots.master"), "plots.master: tau")
    local bins = need(res, "bins", "plots.master")
    local n = 0
    for bi, b in ipairs(bins) do
      local what = "plots.master: bin " .. bi
      local q, phi = need(b, "q", what), need(b, "phi", what)
      local c = math.abs(math.cos(phi))
      if c >= 0.1 then
        n = n + 1
        local g = nums(need(b, "g2", what), what .. " g2")
        if #g ~= #tau then error(what .. ": g2 and tau differ in length", 2) end
        local x = scaled(tau, q * ANGSTROM * c)
        ax:points(x, g, {color = (n - 1) % #plot.palette + 1, size = 4,
                         fill = false, label = n == 1 and "data" or nil})
      end
    end
    if n == 0 then error("plots.master: no bin with |cos chi| >= 0.1", 2) end
  end
  if res.fit then
    ax:line(nums(need(res.fit, "x", "plots.master fit"), "plots.master: fit.x"),
            nums(need(res.fit, "g2", "plots.master fit"), "plots.master: fit.g2"),
            {color = "black", width = 2, label = "fit (Eq. 1)"})
  end
  ax:set{xlog = true, xlabel = xlabel, ylabel = "g_{2}", legend = legend_opt(opts, "topright")}
  return ax
end

M.master = one_panel("master")

----------------------------------------------------------------------
-- velocity versus time per position (Fig. 5)
----------------------------------------------------------------------

-- linear interpolation of (xs, ys) at x; NaN outside the data
local function interp(xs, ys, x)
  local n = #xs
  if n == 0 or x < xs[1] or x > xs[n] then return 0 / 0 end
  local lo, hi = 1, n
  while hi - lo > 1 do
    local mid = (lo + hi) // 2
    if xs[mid] <= x then lo = mid else hi = mid end
  end
  if xs[hi] == xs[lo] then return ys[lo] end
  local w = (x - xs[lo]) / (xs[hi] - xs[lo])
  return ys[lo] + w * (ys[hi] - ys[lo])
end
M.interp = interp

-- one style per model, the same in every velocity panel and the ratio
-- panel: colour, dash (and width) that stay apart in gnuplot's PNG too
local MODEL_DASH = {"solid", "dash", "dot", "dashdot", "longdash"}
local MODEL_COLORS = {"blue", "red", "green", "orange", "purple"}
local MODEL_MARKERS = {"circle", "square", "triangle", "diamond", "plus"}
local MODEL_WIDTH = 2
local function model_style(m)
  local k = (m - 1) % #MODEL_DASH + 1
  return MODEL_COLORS[k], MODEL_DASH[k], MODEL_MARKERS[k]
end

local function position_label(p)
  return p.label or (p.x and string.format("x = %.2f mm", p.x * 1e3))
end

-- the measured velocities of position p (markers) on ax
local function velocity_points(ax, p, what, tf, style)
  if not (p.t and p.v) then return false end
  local t = scaled(nums(p.t, what .. " t"), tf)
  local v = scaled(nums(p.v, what .. " v"), 1e9)
  if p.err then
    ax:errorbar(t, v, scaled(nums(p.err, what .. " err"), 1e9), style)
  else
    ax:points(t, v, style)
  end
  return true
end

-- the model velocities of position p (lines) on ax; color: one colour
-- for all its models (nil: the model's own); label(m, name) -> legend
local function velocity_models(ax, p, what, tf, color, label)
  local models = p.models or (p.model and {p.model}) or {}
  for m, mod in ipairs(models) do
    local mt = scaled(nums(need(mod, "t", what .. " model"), what .. " model t"), tf)
    local mv = scaled(nums(need(mod, "v", what .. " model"), what .. " model v"), 1e9)
    local mc, md = model_style(m)
    ax:line(mt, mv, {color = color or mc, dash = md, width = MODEL_WIDTH,
                     label = label(m, mod.name)})
  end
end

-- Measured velocities (markers) and model velocities (lines, one dash per
-- model) per position, one colour per position.
function D.velocity(ax, res, opts)
  opts = opts or {}
  local unit, tf = time_unit(opts, "h")
  local pos = need(res, "positions", "plots.velocity")
  if #pos == 0 then error("plots.velocity: no positions", 2) end
  for k, p in ipairs(pos) do
    local what = "plots.velocity: position " .. k
    local lab = position_label(p)
    if velocity_points(ax, p, what, tf, {color = k, label = lab}) then lab = nil end
    velocity_models(ax, p, what, tf, k, function(m, name)
      if k == 1 and name then return "model " .. name end
      return m == 1 and lab or nil
    end)
  end
  ax:hline(0, {color = "lightgray", dash = "solid"})
  ax:set{xlabel = "t (" .. unit .. ")", ylabel = "v (nm s^{-1})",
         legend = legend_opt(opts, "topright")}
  return ax
end

-- One position per panel: measured velocities (black markers) and each
-- model in its own colour and dash. opts as D.velocity, and names (false:
-- no legend entries for these, as in all but the first of several panels).
function D.velocity_position(ax, p, opts)
  opts = opts or {}
  local unit, tf = time_unit(opts, "h")
  local what = "plots.velocity_panels: " .. (position_label(p) or "position")
  local named = opts.names ~= false
  velocity_points(ax, p, what, tf, {color = "black", size = 5,
                                    label = named and "measured" or nil})
  velocity_models(ax, p, what, tf, nil, function(_, name) return named and name or nil end)
  ax:hline(0, {color = "lightgray", dash = "solid"})
  ax:set{xlabel = "t (" .. unit .. ")", ylabel = "v (nm s^{-1})",
         title = position_label(p), legend = legend_opt(opts, "topright")}
  return ax
end

M.velocity = one_panel("velocity", function(res) return {title = res.title} end)

-- Fig. 5 uncrowded: one panel per position (D.velocity_position), the
-- models named in the first, and the ratio panel (D.velocity_ratio) last
-- unless opts.ratio is false. opts: cols (default up to 3), title,
-- width, height, time_unit, t_from, t_to, file.
function M.velocity_panels(res, opts)
  opts = opts or {}
  local pos = need(res, "positions", "plots.velocity_panels")
  if #pos == 0 then error("plots.velocity_panels: no positions", 2) end
  local n = #pos + (opts.ratio == false and 0 or 1)
  local cols = opts.cols or math.min(3, n)
  local rows = (n + cols - 1) // cols
  local fig = plot.figure{title = opts.title or res.title, rows = rows, cols = cols,
                          width = opts.width or 400 * cols,
                          height = opts.height or 320 * rows + 30}
  for k, p in ipairs(pos) do
    D.velocity_position(fig:panel(k), p, {time_unit = opts.time_unit, names = k == 1})
  end
  if opts.ratio ~= false then
    D.velocity_ratio(fig:panel(#pos + 1):set{title = "measured / model"}, res, opts)
  end
  return finish(fig, opts)
end

-- The time-averaged ratio measured / model velocity per position (the
-- inset of Fig. 5): the mean over measured times in [opts.t_from,
-- opts.t_to] (s; default 200 and 400 min, as in the paper) of v divided by
-- the model interpolated there, one marker per model against position.
function D.velocity_ratio(ax, res, opts)
  opts = opts or {}
  local t0, t1 = opts.t_from or 200 * 60, opts.t_to or 400 * 60
  local pos = need(res, "positions", "plots.velocity_ratio")
  local names, byname = {}, {}
  for k, p in ipairs(pos) do
    local what = "plots.velocity_ratio: position " .. k
    local t = nums(need(p, "t", what), what .. " t")
    local v = nums(need(p, "v", what), what .. " v")
    local models = p.models or (p.model and {p.model}) or {}
    for m, mod in ipairs(models) do
      local name = mod.name or ("model " .. m)
      if not byname[name] then
        names[#names + 1] = name
        byname[name] = {x = {}, r = {}}
      end
      local mt = nums(need(mod, "t", what .. " model"), what .. " model t")
      local mv = nums(need(mod, "v", what .. " model"), what .. " model v")
      local sum, n = 0, 0
      for i = 1, #t do
        if t[i] >= t0 and t[i] <= t1 then
          local ref = interp(mt, mv, t[i])
          if ref == ref and ref ~= 0 and v[i] == v[i] then
            sum = sum + v[i] / ref; n = n + 1
          end
        end
      end
      local e = byname[name]
      e.x[#e.x + 1] = (p.x or k * 1e-3) * 1e3
      e.r[#e.r + 1] = n > 0 and sum / n or 0 / 0
    end
  end
  for m, name in ipairs(names) do
    local mc, _, mk = model_style(m)
    ax:points(byname[name].x, byname[name].r,
              {color = mc, label = name, marker = mk, size = 7})
  end
  ax:hline(1, {color = "black"})
  ax:set{xlabel = "x (mm)", ylabel = "v_{measured} / v_{model}"}
  return ax
end

M.velocity_ratio = one_panel("velocity_ratio")

----------------------------------------------------------------------
-- current versus time and the model/measurement ratio (Fig. 3)
----------------------------------------------------------------------


local function current_input(res)
  local t = nums(need(res, "t", "plots.current"), "plots.current: t")
  local i = nums(need(res, "i", "plots.current"), "plots.current: i")
  if #t ~= #i then error("plots.current: t and i differ in length", 3) end
  for k = 2, #t do
    if not (t[k] >= t[k - 1]) then error("plots.current: t must increase", 3) end
  end
  return t, i
end

-- measured current density (black) and the models (coloured)
function D.current(ax, res, opts)
  opts = opts or {}
  local unit, tf = time_unit(opts, "h")
  local t, i = current_input(res)
  ax:line(scaled(t, tf), scaled(i, 0.1), {color = "black", width = 2, label = "measured"})
  for m, mod in ipairs(res.models or {}) do
    local what = "plots.current: model " .. m
    local mc, md = model_style(m)
    ax:line(scaled(nums(need(mod, "t", what), what .. " t"), tf),
            scaled(nums(need(mod, "i", what), what .. " i"), 0.1),
            {color = mc, dash = md, width = MODEL_WIDTH,
             label = mod.name or ("model " .. m)})
  end
  ax:set{xlabel = "t (" .. unit .. ")", ylabel = "i (mA cm^{-2})",
         legend = legend_opt(opts, "topright")}
  return ax
end

-- model / measured current, the measurement interpolated to model times
function D.current_ratio(ax, res, opts)
  opts = opts or {}
  local unit, tf = time_unit(opts, "h")
  local t, i = current_input(res)
  for m, mod in ipairs(res.models or {}) do
    local what = "plots.current: model " .. m
    local mt = nums(need(mod, "t", what), what .. " t")
    local mi = nums(need(mod, "i", what), what .. " i")
    if #mt ~= #mi then error(what .. ": t and i differ in length", 2) end
    local r = {}
    for k = 1, #mt do
      local meas = interp(t, i, mt[k])
      r[k] = (meas == meas and meas ~= 0) and mi[k] / meas or 0 / 0
    end
    local mc, md = model_style(m)
    ax:line(scaled(mt, tf), r, {color = mc, dash = md, width = MODEL_WIDTH,
                                label = mod.name or ("model " .. m)})
  end
  ax:hline(1, {color = "black"})
  ax:set{xlabel = "t (" .. unit .. ")", ylabel = "i_{model} / i_{measured}",
         legend = legend_opt(opts, "topright")}
  return ax
end

function M.current(res, opts)
  opts = opts or {}
  local fig = plot.figure{title = opts.title, cols = 2, width = opts.width,
                          height = opts.height}
  D.current(fig:panel(1):set{title = "(a) current density"}, res, opts)
  -- the models keep their colours, named in (a): a legend in (b) would
  -- only hide the ratios where they run highest
  local ro = setmetatable({legend = opts.ratio_legend or false}, {__index = opts})
  D.current_ratio(fig:panel(2):set{title = "(b) model / measurement"}, res, ro)
  return finish(fig, opts)
end

----------------------------------------------------------------------
-- concentration profiles (Fig. 4)
----------------------------------------------------------------------

-- Measured profiles (markers) and model profiles (lines), one colour per
-- time; positions in mm, concentrations in mol/L, times in the legend in
-- minutes as in the paper.
function D.profiles(ax, res, opts)
  opts = opts or {}
  local profs = need(res, "profiles", "plots.profiles")
  if #profs == 0 then error("plots.profiles: no profiles", 2) end
  for k, p in ipairs(profs) do
    local what = "plots.profiles: profile " .. k
    local lab = p.label or (p.t and string.format("%.0f min", p.t / 60))
    if p.x and p.c then
      local x = scaled(nums(p.x, what .. " x"), 1e3)
      local c = scaled(nums(p.c, what .. " c"), 1e-3)
      if p.err then
        ax:errorbar(x, c, scaled(nums(p.err, what .. " err"), 1e-3), {color = k, label = lab})
      else
        ax:points(x, c, {color = k, label = lab})
      end
      lab = nil
    end
    if p.model then
      ax:line(scaled(nums(need(p.model, "x", what .. " model"), what .. " model x"), 1e3),
              scaled(nums(need(p.model, "c", what .. " model"), what .. " model c"), 1e-3),
              {color = k, label = lab})
    end
  end
  ax:set{xlabel = "x (mm)", ylabel = "c (mol L^{-1})", legend = legend_opt(opts, "topright"),
         title = res.model_name and ("model: " .. res.model_name) or nil}
  return ax
end

M.profiles = one_panel("profiles")

----------------------------------------------------------------------
-- false-colour maps: c(x, t) (Fig. S9) and the two-time correlation
----------------------------------------------------------------------

-- c(x, t) with time along the horizontal axis and position vertical.
-- opts: clim = {lo, hi} in mol/L, colormap.
function D.cxt_map(ax, res, opts)
  opts = opts or {}
  local unit, tf = time_unit(opts, "h")
  local x = nums(need(res, "x", "plots.cxt_map"), "plots.cxt_map: x")
  local t = nums(need(res, "t", "plots.cxt_map"), "plots.cxt_map: t")
  local c, nt, nx = plot.matrix(need(res, "c", "plots.cxt_map"), "plots.cxt_map: c")
  if nt ~= #t or nx ~= #x then
    error(string.format("plots.cxt_map: c is %dx%d, need #t x #x = %dx%d",
                        nt, nx, #t, #x), 2)
  end
  local z = {}
  for j = 1, nx do
    z[j] = {}
    for i = 1, nt do z[j][i] = c[i][j] * 1e-3 end
  end
  ax:image(z, {x = scaled(t, tf), y = scaled(x, 1e3), colormap = opts.colormap,
               clim = opts.clim, clabel = "c (mol L^{-1})"})
  ax:set{xlabel = "t (" .. unit .. ")", ylabel = "x (mm)"}
  return ax
end

M.cxt_map = one_panel("cxt_map")

-- The two-time correlation C(t1, t2) as a map (square panel).
function D.twotime(ax, res, opts)
  opts = opts or {}
  local c2, n1, n2 = plot.matrix(need(res, "c2", "plots.twotime"), "plots.twotime: c2")
  local t
  if res.t then
    t = nums(res.t, "plots.twotime: t")
    if #t ~= n1 or n1 ~= n2 then
      error(string.format("plots.twotime: c2 is %dx%d, t has %d values", n1, n2, #t), 2)
    end
  else
    local dt = res.dt or 1
    t = {}
    for i = 1, math.max(n1, n2) do t[i] = (i - 1) * dt end
  end
  local t2 = {}
  for i = 1, n2 do t2[i] = t[i] end
  local t1 = {}
  for i = 1, n1 do t1[i] = t[i] end
  ax:image(c2, {x = t2, y = t1, colormap = opts.colormap, clim = opts.clim,
                clabel = "C(t_{1}, t_{2})"})
  local unit = (res.t or res.dt) and " (s)" or " (frame)"
  ax:set{xlabel = "t_{2}" .. unit, ylabel = "t_{1}" .. unit}
  return ax
end

M.twotime = one_panel("twotime", function(_, opts)
  return {width = 560, height = opts.title and 530 or 500}
end)

----------------------------------------------------------------------
-- I(q) and intensity versus frame (stability)
----------------------------------------------------------------------

-- I(q) on log-log axes; segments (the same I(q) in parts of the run, to
-- see drifts) as thinner lines.
function D.iq(ax, res, opts)
  opts = opts or {}
  local q = scaled(nums(need(res, "q", "plots.iq"), "plots.iq: q"), ANGSTROM)
  local I = nums(need(res, "I", "plots.iq"), "plots.iq: I")
  if res.err then
    ax:errorbar(q, I, res.err, {color = "black", size = 4, label = "I(q)", line = true})
  else
    ax:line(q, I, {color = "black", width = 2, label = "I(q)"})
  end
  for k, s in ipairs(res.segments or {}) do
    ax:line(q, nums(need(s, "I", "plots.iq segment " .. k), "plots.iq: segment " .. k),
            {color = k, width = 1, label = s.label or ("segment " .. k)})
  end
  ax:set{xlog = true, ylog = opts.ylog ~= false, xlabel = "q (\u{C5}^{-1})",
         ylabel = "I(q) (counts pixel^{-1} frame^{-1})", legend = legend_opt(opts, "topright")}
  return ax
end

M.iq = one_panel("iq")

-- the mean intensity per frame (or against time when res.t is given)
function D.intensity(ax, res, opts)
  opts = opts or {}
  local I = nums(need(res, "I", "plots.intensity"), "plots.intensity: I")
  local x, xlabel
  if res.t then
    local unit, tf = time_unit(opts, "s")
    x = scaled(nums(res.t, "plots.intensity: t"), tf)
    xlabel = "t (" .. unit .. ")"
  elseif res.frame then
    x = nums(res.frame, "plots.intensity: frame")
    xlabel = "frame"
  else
    x = {}
    for i = 1, #I do x[i] = i end
    xlabel = "frame"
  end
  ax:line(x, I, {color = "black", width = 1})
  ax:set{xlabel = xlabel, ylabel = "mean intensity (counts pixel^{-1})"}
  return ax
end

M.intensity = one_panel("intensity")

-- I(q) and the intensity per frame side by side. res: q, I, err?,
-- segments?, intensity (list per frame), frame? or t?
function M.stability(res, opts)
  opts = opts or {}
  local fig = plot.figure{title = opts.title, cols = 2, width = opts.width,
                          height = opts.height}
  D.iq(fig:panel(1):set{title = "I(q)"}, res, opts)
  D.intensity(fig:panel(2):set{title = "intensity versus frame"},
              {I = need(res, "intensity", "plots.stability"), frame = res.frame, t = res.t},
              opts)
  return finish(fig, opts)
end

return M
