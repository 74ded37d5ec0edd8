-- tests of ionflow.svg, ionflow.plot and ionflow.plots: deterministic and
-- well-formed SVG, ticks, bad input, every domain plot, PNG/PDF via gnuplot.

-- the source tree (for examples/ and lua/ in child processes)
local root = (arg and arg[0] or ""):match("^(.*)/tests/lua/[^/]*$") or "."

local t = require "ionflow.tap"
local svg = require "ionflow.svg"
local plot = require "ionflow.plot"
local plots = require "ionflow.plots"

local tmpdir = t.tmpdir()
local function tmp(name) return tmpdir .. "/" .. name end

local readfile = t.slurp

local function count(s, pat)
  local n = 0
  for _ in s:gmatch(pat) do n = n + 1 end
  return n
end

-- the texts of elements of one class, in document order
local function texts(s, class)
  local out = {}
  for inner in s:gmatch('<text[^>]-class="' .. class .. '"[^>]*>(.-)</text>') do
    out[#out + 1] = inner
  end
  return out
end

-- FNV-1a, 32 bit: a fingerprint of the whole document
local function fnv1a(s)
  local h = 2166136261
  for i = 1, #s do
    h = h ~ s:byte(i)
    h = (h * 16777619) & 0xffffffff
  end
  return string.format("%08x", h)
end

-- A small XML well-formedness check: balanced tags, quoted attributes,
-- known entities, no stray '<' or '&'. Returns true or false, message.
local function xml_ok(s)
  local stack, pos = {}, 1
  local body = s:gsub("^<%?xml[^>]*%?>%s*", "")
  local offset = #s - #body
  pos = 1
  while true do
    local a = body:find("<", pos, true)
    local text = body:sub(pos, (a or #body + 1) - 1)
    if text:find(">", 1, true) then return false, "stray > near " .. (pos + offset) end
    for ent in text:gmatch("&([^;]*);?") do
      if not (ent == "amp" or ent == "lt" or ent == "gt" or ent == "quot" or
              ent == "apos" or ent:match("^#%d+$") or ent:match("^#x%x+$")) then
        return false, "bad entity &" .. ent
      end
    end
    if not a then break end
    if body:sub(a, a + 3) == "<!--" then
      local e = body:find("-->", a + 4, true)
      if not e then return false, "unclosed comment" end
      pos = e + 3
    else
      local e = body:find(">", a, true)
      if not e then return false, "unclosed tag at " .. (a + offset) end
      local tag = body:sub(a + 1, e - 1)
      if tag:sub(1, 1) == "/" then
        local name = tag:sub(2):match("^%s*([%w:_%-]+)%s*$")
        if not name or stack[#stack] ~= name then
          return false, "mismatched </" .. tostring(name) .. "> for <" ..
            tostring(stack[#stack]) .. ">"
        end
        stack[#stack] = nil
      else
        local selfclose = tag:sub(-1) == "/"
        if selfclose then tag = tag:sub(1, -2) end
        local name, rest = tag:match("^([%w:_%-]+)(.*)$")
        if not name then return false, "bad tag <" .. tag .. ">" end
        -- attributes: name="value" pairs and nothing else
        local leftover = rest:gsub('%s+[%w:_%-]+="[^"<]*"', "")
        if leftover:match("%S") then
          return false, "bad attributes in <" .. name .. ">: " .. leftover
        end
        for v in rest:gmatch('="([^"]*)"') do
          for ent in v:gmatch("&([^;]*);") do
            if not (ent == "amp" or ent == "lt" or ent == "gt" or
                    ent == "quot" or ent == "apos") then
              return false, "bad entity in attribute &" .. ent
            end
          end
          if v:gsub("&%a+;", ""):find("&", 1, true) then
            return false, "bare & in attribute of <" .. name .. ">"
          end
        end
        if not selfclose then stack[#stack + 1] = name end
      end
      pos = e + 1
    end
  end
  if #stack > 0 then return false, "unclosed <" .. stack[#stack] .. ">" end
  return true
end

local HAVE_PY = io.open("/usr/bin/python3", "r")
if HAVE_PY then HAVE_PY:close() end

-- parse with Python's xml.etree; returns the root tag and the title text
local function py_parse(path)
  local code = [[
import sys, xml.etree.ElementTree as E
r = E.parse(sys.argv[1]).getroot()
ns = '{http://www.w3.org/2000/svg}'
ts = [e for e in r.iter(ns + 'text') if e.get('class') == 'title']
print(r.tag)
print(''.join(ts[0].itertext()) if ts else '')
]]
  local p = io.popen("/usr/bin/python3 -c '" .. code:gsub("'", "'\\''") ..
                     "' '" .. path .. "' 2>&1")
  local out = p:read("a")
  local ok = p:close()
  return ok, out
end

----------------------------------------------------------------------
-- svg writer
----------------------------------------------------------------------

t.is(svg.num(1), "1", "num: integer without decimals")
t.is(svg.num(2.5), "2.5", "num: trailing zeros trimmed")
t.is(svg.num(1 / 3), "0.33", "num: two decimals")
t.is(svg.num(-0.001), "0", "num: no negative zero")
t.errors(function() svg.num(0 / 0) end, "not a finite number", "num: NaN refused")
t.is(svg.escape([[a<b & "c" 'd'>]]), "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;",
     "escape: the five XML specials")
t.is(svg.escape("a\1b\tc"), "ab\tc", "escape: control characters dropped")
local runs = svg.runs("g_{2}(q, \u{3C4}) Å^{-1} x^2")
t.is(#runs, 6, "markup: runs of base, sub and sup text")
t.ok(runs[2][1] == "2" and runs[2][2] == -1 and runs[4][1] == "-1" and runs[4][2] == 1
     and runs[6][1] == "2" and runs[6][2] == 1, "markup: sub/superscript contents")
t.is(svg.plain("a\\_b_{c}"), "a_bc", "markup: escaped underscore and plain text")
do
  local d = svg.new(100, 50)
  d:group({class = "g"})
  d:text(1, 2, "a < b", {class = "t"})
  local s = d:tostring()
  t.ok(xml_ok(s), "writer: auto-closed group gives well-formed XML")
  t.ok(s:find("a &lt; b", 1, true) ~= nil, "writer: text escaped")
  t.errors(function() d:rect(0, 0, 1, 1, {bogus = 1}) end, "unknown attribute",
           "writer: unknown attribute refused")
end

----------------------------------------------------------------------
-- a fixed figure: deterministic and structured
----------------------------------------------------------------------

local function fixed_figure()
  local fig = plot.figure{title = [[fixed <figure> & "quotes"]], width = 800,
                          height = 400, cols = 2}
  local ax = fig:panel(1)
  local x, y = {}, {}
  for i = 1, 11 do x[i] = i - 1; y[i] = ((i - 1) / 10) ^ 2 end
  y[6] = 0 / 0                              -- a gap: two polylines
  ax:line(x, y, {label = "y = x^{2}/100"})
  ax:points({1, 3, 5}, {0.2, 0.4, 0.6}, {label = "points", marker = "square"})
  ax:set{xlabel = "x (mm)", ylabel = "y", title = "(a) linear"}
  local ax2 = fig:panel(2)
  local lx, ly, le = {}, {}, {}
  for i = 1, 9 do
    lx[i] = 1e-3 * 10 ^ ((i - 1) * 0.6); ly[i] = 1 + 0.1 * i; le[i] = 0.02
  end
  ax2:errorbar(lx, ly, le, {label = "g_{2}"})
  ax2:set{xlog = true, xlabel = "\u{3C4} (s)", ylabel = "g_{2}", title = "(b) log"}
  return fig
end

local s1 = fixed_figure():svg()
local s2 = fixed_figure():svg()
t.ok(s1 == s2, "same figure twice: identical SVG text")
local ok, msg = xml_ok(s1)
t.ok(ok, "fixed figure: well-formed XML (Lua check)")
if not ok then t.diag("%s", msg) end
local f1, f2 = tmp("fixed1.svg"), tmp("fixed2.svg")
fixed_figure():save(f1)
fixed_figure():save(f2)
t.ok(readfile(f1) == readfile(f2) and readfile(f1) == s1,
     "saved twice: byte-identical files equal to fig:svg()")
t.is(fnv1a(s1), "55b57ec4", "fixed figure: fingerprint of the whole document")
t.is(count(s1, '<polyline class="series"'), 2, "NaN in a line: two polylines")
t.is(count(s1, '<rect class="marker"'), 3 + 1, "three square markers (+1 in the legend)")
t.is(count(s1, '<circle class="marker"'), 9 + 1, "nine circle markers on the log panel (+1)")
t.is(count(s1, '<line class="errorbar"'), 27, "nine error bars of three lines each")
t.is(table.concat(texts(s1, "xtick"), " ", 1, 6), "0 2 4 6 8 10",
     "linear x ticks for 0..10 at nice numbers")
t.is(table.concat(texts(s1, "ytick"), " ", 1, 6), "0.0 0.2 0.4 0.6 0.8 1.0",
     "linear y ticks for 0..0.81 with one decimal")
local logx = {}
for i = 7, #texts(s1, "xtick") do logx[#logx + 1] = texts(s1, "xtick")[i] end
t.is(#logx, 6, "log x ticks: one per decade from 1e-3 to 1e2")
t.ok(logx[1]:match("^10<tspan[^>]*>%-3</tspan>$") and
     logx[6]:match("^10<tspan[^>]*>2</tspan>$"),
     "log x tick labels are 10^-3 ... 10^2 with superscripts")
t.is(count(s1, 'class="legend"'), 2, "a legend per panel")
t.ok(s1:find("fixed &lt;figure&gt; &amp; &quot;quotes&quot;", 1, true) ~= nil,
     "title is escaped")

if HAVE_PY then
  local pok, out = py_parse(f1)
  t.ok(pok and out:match("^{http://www.w3.org/2000/svg}svg\n") ~= nil,
       "python xml.etree parses the SVG, root is svg in the SVG namespace")
  t.is(out:match("\n(.*)\n$"), [[fixed <figure> & "quotes"]],
       "python reads back the title text unescaped")
else
  t.ok(true, "# SKIP /usr/bin/python3 not available")
  t.ok(true, "# SKIP /usr/bin/python3 not available")
end

----------------------------------------------------------------------
-- scales
----------------------------------------------------------------------

local function scale(opts, x, y, which)
  local fig = plot.figure{}
  local ax = fig:panel(1)
  ax:line(x, y)
  ax:set(opts)
  return plot._axis_scale(ax, which or "x", "test")
end

do
  local sc = scale({}, {0.013, 0.087}, {1, 2})
  t.is(table.concat(sc.labels, " "), "0.01 0.02 0.03 0.04 0.05 0.06 0.07 0.08 0.09",
       "nice step 0.01 for 0.013..0.087")
  t.ok(math.abs(sc.lo - 0.01) < 1e-12 and math.abs(sc.hi - 0.09) < 1e-12,
       "limits rounded out to whole steps")
  sc = scale({}, {-3, 7}, {1, 2})
  t.is(table.concat(sc.labels, " "), "\u{2212}4 \u{2212}2 0 2 4 6 8",
       "negative ticks with a true minus sign and a plain zero")
  sc = scale({}, {0, 1}, {1e-9, 5e-9}, "y")
  t.ok(sc.mult == -9 and sc.labels[1] == "1" and sc.labels[#sc.labels] == "5",
       "tiny values get a x10^-9 multiplier")
  sc = scale({xlog = true}, {0.02, 3e3}, {1, 2})
  t.ok(sc.lo == 1e-2 and sc.hi == 1e4 and #sc.ticks == 7 and #sc.minor == 48,
       "log axis: decades 1e-2..1e4 with 2..9 minor ticks")
  sc = scale({xlog = true}, {0.02, 3e4}, {1, 2})
  t.ok(sc.hi == 1e5 and #sc.ticks == 8 and #sc.minor == 0,
       "log axis over 7 decades: no minor ticks")
  sc = scale({xlog = true}, {1e-12, 1e6}, {1, 2})
  t.ok(#sc.ticks == 7 and sc.labels[1] == "10^{-12}" and #sc.minor == 0,
       "18 decades: every 3rd labelled, no minor ticks")
  sc = scale({xlog = true, xlim = {2, 8}}, {2, 8}, {1, 2})
  t.is(table.concat(sc.labels, " "), "2 5", "log range inside a decade: 1-2-5 labels")
  sc = scale({xlim = {5, 5.0001}}, {5, 5.00005}, {1, 2})
  t.ok(#sc.ticks >= 2, "very narrow fixed range still has ticks")
  sc = scale({}, {3, 3}, {1, 1}, "y")
  t.ok(sc.lo < 1 and sc.hi > 1, "a constant series gets a range around it")
end

----------------------------------------------------------------------
-- bad input and documented behaviour
----------------------------------------------------------------------

do
  local fig = plot.figure{}
  local ax = fig:panel(1)
  t.errors(function() ax:line({1, 2, 3}, {1, 2}) end, "x has 3 values, y has 2",
           "mismatched x/y lengths named")
  t.errors(function() ax:points({1, "a"}, {1, 2}) end, "element 2 is a string",
           "non-numeric element named")
  t.errors(function() ax:line(nil, {1}) end, "expected a table of numbers",
           "missing x")
  t.errors(function() ax:errorbar({1, 2}, {1, 2}, {0.1, -1}) end,
           "yerr[2] = -1 is negative", "negative error bar")
  t.errors(function() ax:errorbar({1, 2}, {1, 2}, {0.1}) end,
           "yerr has 1 values, y has 2", "error bar count")
  t.errors(function() ax:line({1}, {1}, {color = "nocolour"}) end,
           "unknown colour 'nocolour'", "unknown colour")
  t.errors(function() ax:points({1}, {1}, {marker = "star"}) end,
           "unknown marker 'star'", "unknown marker")
  t.errors(function() ax:set{xlim = {2, 1}} end, "is empty", "empty xlim")
  t.errors(function() ax:set{colour = 1} end, "unknown option 'colour'",
           "unknown axes option")
  t.errors(function() fig:panel(2) end, "outside the 1 panels", "panel out of range")
  t.errors(function() fig:save(tmp("x.bmp")) end, "unknown format", "unknown format")
  t.errors(function() ax:image({{1, 2}, {3}}) end, "row 2 has 1 values",
           "ragged image rows")
  t.errors(function() plot.figure{rows = 0} end, "positive integers", "zero rows")
end

do
  -- log axis with non-positive data: skipped, and an error when none is left
  local fig = plot.figure{}
  local ax = fig:panel(1)
  ax:points({-1, 0, 1, 10, 100}, {1, 2, 3, 4, 5})
  ax:set{xlog = true}
  local s = fig:svg()
  t.is(count(s, '<circle class="marker"'), 3, "log x: non-positive points skipped")
  local fig2 = plot.figure{}
  fig2:panel(1):line({-1, 0}, {1, 2}):set{xlog = true}
  t.errors(function() fig2:svg() end, "log x axis but no positive x data",
           "log axis without positive data is an error")
  local fig3 = plot.figure{}
  fig3:panel(1):line({1, 2}, {1, 2}):set{ylog = true, ylim = {-1, 10}}
  t.errors(function() fig3:svg() end, "ylim must be positive on a log axis",
           "non-positive log limit is an error")
  -- empty series: allowed, draws nothing
  local fig4 = plot.figure{}
  fig4:panel(1):line({}, {}, {label = "empty"})
  local s4
  t.lives(function() s4 = fig4:svg() end, "an empty series renders")
  t.ok(s4 and count(s4, "<polyline") == 0 and xml_ok(s4),
       "an empty series draws no line")
  -- all-NaN series and an empty figure
  local fig5 = plot.figure{}
  fig5:panel(1):line({0 / 0, 0 / 0}, {1, 2})
  t.lives(function() assert(xml_ok(fig5:svg())) end, "an all-NaN series renders")
  t.lives(function() assert(xml_ok(plot.figure{}:svg())) end, "an empty figure renders")
  -- writing into a missing directory: error, nothing left behind
  t.errors(function() fig:save(tmpdir .. "/missing/dir/a.svg") end, "cannot write",
           "save into a missing directory")
end

do
  -- plot.xy and arrays
  local fig = plot.xy({1, 4, 9}, {title = "y only"})
  t.ok(xml_ok(fig:svg()) and count(fig:svg(), "<polyline") == 1, "plot.xy(y)")
  local fig2 = plot.xy({1, 2, 3}, {2, 4, 8}, {ylog = true, marker = "circle",
                                             file = tmp("xy.svg")})
  t.ok(readfile(tmp("xy.svg")) == fig2:svg(), "plot.xy saves with opts.file")
  local arraymod = rawget(_G, "array")
  if arraymod and arraymod.from and arraymod.isarray then
    local ax = arraymod.from({1, 2, 3})
    local ay = arraymod.from({2, 4, 8})
    local fa = plot.figure{}
    fa:panel(1):line(ax, ay)
    local fb = plot.figure{}
    fb:panel(1):line({1, 2, 3}, {2, 4, 8})
    t.ok(fa:svg() == fb:svg(), "arrays plot the same as tables")
    local z = arraymod.from({{1, 2, 3}, {4, 5, 6}})
    local fc = plot.figure{}
    fc:panel(1):image(z)
    local fd = plot.figure{}
    fd:panel(1):image({{1, 2, 3}, {4, 5, 6}})
    t.ok(fc:svg() == fd:svg(), "a 2-D array maps the same as nested tables")
  else
    t.ok(true, "# SKIP array module not available")
    t.ok(true, "# SKIP array module not available")
  end
end

----------------------------------------------------------------------
-- images
----------------------------------------------------------------------

do
  local fig = plot.figure{}
  local z = {{1, 1, 2}, {3, 0 / 0, 4}}
  fig:panel(1):image(z, {x = {0, 1, 2}, y = {10, 20}, clabel = "c"})
  local s = fig:svg()
  -- row 1: a merged run of two equal cells plus one; row 2: NaN skipped
  t.is(count(s, '<rect x="[^"]*" y="[^"]*" width="[^"]*" height="[^"]*" fill="#%x+"/>'),
       1 + 4 + 64, "image: background, equal cells merged, NaN blank, 64 colour-bar steps")
  -- a map finer than the panel's pixels is block-averaged in the SVG
  local big = {}
  for i = 1, 1000 do big[i] = {} for j = 1, 3 do big[i][j] = i end end
  local fb = plot.figure{}
  fb:panel(1):image(big, {colorbar = false})
  local nrect = count(fb:svg(), '<rect x="[^"]*" y="[^"]*" width="[^"]*" height="[^"]*" fill="#%x+"/>')
  t.ok(nrect > 100 and nrect < 300, "1000 rows drawn as about half the panel height in rows")
  t.ok(#texts(s, "ctick") >= 2 and #texts(s, "clabel") == 1, "colour bar ticks and label")
  t.is(plot.cmap("viridis", 0), "#440154", "viridis starts dark purple")
  t.is(plot.cmap("viridis", 1), "#fde725", "viridis ends yellow")
  t.is(plot.cmap("gray", 0.5), "#808080", "gray map midpoint")
end

----------------------------------------------------------------------
-- domain plots from small synthetic inputs
----------------------------------------------------------------------

local tau, fit = {}, {}
for i = 1, 12 do tau[i] = 1e-3 * 10 ^ ((i - 1) / 3) end
local function g2curve(omega)
  local g = {}
  for i, tt in ipairs(tau) do
    g[i] = 1 + 0.1 * math.exp(-tt / 5) * (1 + math.cos(omega * tt)) / 2
  end
  return g
end
local bins = {}
for k = 1, 3 do
  local phi = math.rad(30 * (k - 1))
  local g = g2curve(2 * math.cos(phi))
  local e = {}
  for i = 1, #g do e[i] = 0.005 end
  bins[k] = {q = 0.0038e10, phi = phi, g2 = g, err = e, fit = g2curve(2 * math.cos(phi))}
end
fit = {x = {1e-6, 1e-4, 1e-2}, g2 = {1.1, 1.05, 1.0}}
local omega = {q = {3e7, 3e7, 4e7, 4e7}, phi = {0, math.pi, 0, math.pi / 3},
               omega = {0.3, -0.3, 0.4, 0.2}, err = {0.01, 0.01, 0.01, 0.01}, v = 1e-8}
local positions = {}
for k = 1, 3 do
  positions[k] = {x = (k - 2) * 5e-4, t = {600, 1200, 1800}, v = {3e-9, 2e-9, 1e-9},
                  err = {2e-10, 2e-10, 2e-10},
                  models = {{name = "RS", t = {0, 1000, 2000}, v = {3.5e-9, 2e-9, 1e-9}},
                            {name = "PNB", t = {0, 1000, 2000}, v = {3e-9, 1.5e-9, 0.5e-9}}}}
end
local cur = {t = {0, 3600, 7200, 10800}, i = {9, 6, 5, 4.5},
             models = {{name = "RS", t = {0, 3600, 7200, 14400}, i = {9, 6.5, 5.2, 4}},
                       {name = "PNB", t = {0, 5400}, i = {9, 5}}}}
local profiles = {profiles = {}, model_name = "RS"}
for k, tmin in ipairs({20, 151, 969}) do
  profiles.profiles[k] = {t = tmin * 60, x = {0.5e-3, 1.5e-3, 2.5e-3},
    c = {1900 + k * 20, 1870, 1840 - k * 20}, err = k == 3 and {30, 30, 30} or nil,
    model = {x = {0, 3e-3}, c = {1900 + k * 25, 1840 - k * 25}}}
end
local cmap = {x = {0.5e-3, 1.5e-3, 2.5e-3}, t = {0, 600, 1200, 1800},
              c = {{1870, 1870, 1870}, {1900, 1870, 1840}, {1920, 1870, 1820},
                   {1930, 1870, 1810}}}
local iq = {q = {1e7, 2e7, 4e7, 8e7}, I = {100, 40, 5, 0.3},
            segments = {{label = "early", I = {101, 41, 5.1, 0.31}}}}
local stab = {q = iq.q, I = iq.I, intensity = {2, 2.1, 1.9, 2.05}}
local two = {c2 = {{1.2, 1.1, 1.0}, {1.1, 1.2, 1.1}, {1.0, 1.1, 1.2}}, dt = 0.5}

local cases = {
  {"g2", function() return plots.g2({tau = tau, bins = bins}, {shift = 0.05}) end},
  {"g2_bins", function()
    return plots.g2(plots.g2_bins(tau, {{1.1, 1.2}, {1.05, 1.1}, {1.0, 1.0},
      {1, 1}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, {1, 1}},
      nil, {3e7, 4e7}, {0, 1}))
  end},
  {"omega", function() return plots.omega(omega) end},
  {"master", function() return plots.master({tau = tau, bins = bins, fit = fit}) end},
  {"master_x", function() return plots.master({x = {1e-5, 1e-4}, g2 = {1.1, 1.0}}) end},
  {"velocity", function() return plots.velocity({positions = positions}) end},
  {"velocity_ratio", function()
    return plots.velocity_ratio({positions = positions}, {t_from = 500, t_to = 2000})
  end},
  {"velocity_panels", function() return plots.velocity_panels({positions = positions}) end},
  {"current", function() return plots.current(cur) end},
  {"profiles", function() return plots.profiles(profiles) end},
  {"cxt_map", function() return plots.cxt_map(cmap, {time_unit = "min"}) end},
  {"iq", function() return plots.iq(iq) end},
  {"intensity", function() return plots.intensity({I = stab.intensity}) end},
  {"stability", function() return plots.stability(stab) end},
  {"twotime", function() return plots.twotime(two) end},
}
for _, c in ipairs(cases) do
  local fig, s
  local okk, err = pcall(function()
    fig = c[2]()
    s = fig:save(tmp(c[1] .. ".svg"))
  end)
  local good, why = false, err
  if okk then good, why = xml_ok(readfile(s)) end
  t.ok(good, "domain plot " .. c[1] .. ": produced, well-formed SVG")
  if not good then t.diag("%s", tostring(why)) end
end

do
  -- the ratio panel of Fig. 3: model / measurement at the model's times
  local s = plots.current(cur):svg()
  t.ok(s:find("i<tspan[^>]*>model</tspan>") ~= nil, "current: ratio axis label")
  t.near(plots.interp({0, 10}, {1, 3}, 2.5), 1.5, 1e-15, "interp: inside")
  t.ok(plots.interp({0, 10}, {1, 3}, 11) ~= plots.interp({0, 10}, {1, 3}, 11),
       "interp: NaN outside the data")
  -- measured/model ratio: position 1 measures 3, 2, 1 (x1e-9) at 600,
  -- 1200, 1800 s; RS interpolated there is 2.6, 1.8, 1.2 and PNB 2.1, 1.3, 0.7
  local f = plots.velocity_ratio({positions = {positions[1]}}, {t_from = 500, t_to = 2000})
  local ax = f.panels[1]
  local rs = (3 / 2.6 + 2 / 1.8 + 1 / 1.2) / 3
  local pnb = (3 / 2.1 + 2 / 1.3 + 1 / 0.7) / 3
  t.ok(ax.series[1].label == "RS" and math.abs(ax.series[1].y[1] - rs) < 1e-12 and
       ax.series[2].label == "PNB" and math.abs(ax.series[2].y[1] - pnb) < 1e-12 and
       math.abs(ax.series[1].x[1] - (-0.5)) < 1e-12,
       "velocity_ratio: mean of measured/interpolated model per position")
  -- Fig. 5 split: a panel per position and the ratio panel; each model
  -- keeps one colour in every panel, its own dash, and is named once
  local vp = plots.velocity_panels({positions = positions}, {t_from = 500, t_to = 2000})
  t.ok(vp.rows == 2 and vp.cols == 3 and vp.panels[4] and not vp.panels[5],
       "velocity_panels: three positions and the ratio in a 2x3 grid")
  local styles, named, same = {}, 0, true
  for k = 1, 3 do
    for _, sr in ipairs(vp.panels[k].series) do
      if sr.kind == "line" then
        if sr.label then named = named + 1 end
        styles[#styles + 1] = {k = k, color = sr.color, dash = sr.dash or "solid"}
      end
    end
  end
  for i = 3, #styles do
    local a, b = styles[i], styles[i - 2]
    same = same and a.color == b.color and a.dash == b.dash
  end
  t.ok(#styles == 6 and same and styles[1].color ~= styles[2].color and
       styles[1].dash ~= styles[2].dash and named == 2,
       "velocity_panels: a model's colour and dash are the same in each panel, "
       .. "differ between models, named in the first panel only")
  local rp = vp.panels[4].series
  t.ok(rp[1].color == styles[1].color and rp[2].color == styles[2].color and
       rp[1].marker ~= rp[2].marker, "velocity_panels: the ratio panel uses the models' colours")
  -- legend = false means no legend (it used to fall back to a corner);
  -- Fig. 3's ratio panel has none, its lines keep the colours of (a)
  t.ok(plots.profiles(profiles, {legend = false}).panels[1].opts.legend == false and
       plots.profiles(profiles).panels[1].opts.legend == "topright",
       "plots: legend = false draws no legend, nil the default corner")
  local cf = plots.current(cur)
  local ca, cb = cf.panels[1].series, cf.panels[2].series
  t.ok(cf.panels[2].opts.legend == false and cb[1].color == ca[2].color and
       cb[2].color == ca[3].color and ca[2].dash ~= ca[3].dash,
       "current: ratio lines in the models' colours of (a), no legend; dashes differ")
  -- gnuplot's cairo terminals scale a dash pattern by the line width:
  -- the script's dashes grow with 1 / width so they stay visible in PNG
  local gf = plot.figure()
  gf:panel(1):line({0, 1}, {0, 1}, {dash = "dot", width = 1})
  gf:panel(1):line({0, 1}, {1, 0}, {dash = "dot", width = 2})
  local d1, d2 = gf:gnuplot_script("set terminal dumb"):match(
    "lw 1 dt %(([%d%.]+),.-lw 2 dt %(([%d%.]+),")
  t.ok(d1 and tonumber(d1) == 2 * tonumber(d2) and tonumber(d2) >= 2,
       "gnuplot dashes: a dot is 1.5 px x 4 / width units (" .. tostring(d1)
       .. ", " .. tostring(d2) .. ")")
  local paths = plots.profiles(profiles):export(tmp("exported"), {"svg"})
  t.ok(#paths == 1 and readfile(tmp("exported.svg")) ~= nil, "fig:export writes base.svg")
  t.errors(function() plots.velocity({}) end, "needs field 'positions'",
           "missing field named")
  t.errors(function() plots.g2({tau = {1, 2}, bins = {{g2 = {1}}}}) end,
           "g2 has 1 values, tau has 2", "g2 length mismatch named")
  t.errors(function() plots.cxt_map({x = {1, 2}, t = {1}, c = {{1, 2, 3}}}) end,
           "c is 1x3, need #t x #x = 1x2", "cxt_map shape mismatch")
  t.errors(function() plots.current({t = {2, 1}, i = {1, 1}}) end, "t must increase",
           "current: times must increase")
end

----------------------------------------------------------------------
-- gnuplot: PNG, PDF, and a clear error when it is missing
----------------------------------------------------------------------

if plot.has_gnuplot() then
  local png, pdf = tmp("fixed.png"), tmp("fixed.pdf")
  local okk, err = pcall(function() fixed_figure():save(png) end)
  t.ok(okk and (readfile(png) or ""):sub(1, 8) == "\137PNG\r\n\26\n",
       "PNG through gnuplot has the PNG signature")
  if not okk then t.diag("%s", tostring(err)) end
  okk, err = pcall(function() fixed_figure():save(pdf) end)
  t.ok(okk and (readfile(pdf) or ""):sub(1, 5) == "%PDF-", "PDF through gnuplot")
  if not okk then t.diag("%s", tostring(err)) end
  okk, err = pcall(function() plots.cxt_map(cmap):save(tmp("map.png")) end)
  t.ok(okk and (readfile(tmp("map.png")) or ""):sub(1, 4) == "\137PNG", "a map as PNG")
  if not okk then t.diag("%s", tostring(err)) end
else
  for _ = 1, 3 do t.ok(true, "# SKIP gnuplot not installed") end
end
do
  local saved = plot.gnuplot
  plot.gnuplot = tmpdir .. "/no-such-gnuplot"
  t.errors(function() fixed_figure():save(tmp("nognuplot.png")) end, "needs gnuplot",
           "PNG without gnuplot: clear error")
  t.ok(readfile(tmp("nognuplot.png")) == nil, "no file written without gnuplot")
  plot.gnuplot = saved
end

-- atomic writes leave no temporary files behind
local p = io.popen("ls -a '" .. tmpdir .. "'")
local listing = p:read("a"); p:close()
t.ok(not listing:find("%.tmp%d"), "no temporary files left in the output directory")

-- show() without a display saves an SVG and says where, without blocking
do
  local saved = plot.gnuplot
  plot.gnuplot = tmpdir .. "/no-such-gnuplot"
  local shown, path = fixed_figure():show({quiet = true})
  t.ok(shown == false and readfile(path) == s1, "show without a window: SVG in a temp file")
  if path then os.remove(path) end
  plot.gnuplot = saved
end

-- show() with a display: gnuplot is started in the background and show
-- returns at once (a fake gnuplot with an x11 terminal that takes 2 s)
do
  local exe = os.getenv("IONFLOW") or arg[-1]
  local fake, mark, script = tmp("fake-gnuplot"), tmp("mark"), tmp("show.lua")
  local f = io.open(fake, "w")
  f:write(string.format([[#!/bin/sh
case "$*" in *"set terminal"*)
  printf '\nAvailable terminal types:\n          png  PNG images\n          x11  X11 Window System\n'
  exit 0;;
esac
cp "$2" '%s.script'
sleep 2
]], mark))
  f:close()
  os.execute("chmod +x '" .. fake .. "'")
  f = io.open(script, "w")
  f:write(string.format([[
package.path = '%s/lua/?.lua;' .. package.path
local plot = require "ionflow.plot"
local t0 = os.time()
print(plot.figure{}:panel(1):line({1, 2}, {3, 4}).fig:show(), os.time() - t0)
]], root))
  f:close()
  local p = io.popen(string.format("DISPLAY=:77 IONFLOW_GNUPLOT='%s' '%s' '%s' 2>&1",
                                   fake, exe, script))
  local out = p:read("a")
  p:close()
  local shown, secs = out:match("^(%a+)%s+(%d+)")
  t.ok(shown == "true" and tonumber(secs) <= 1, "show with a display returns at once")
  if shown ~= "true" then t.diag("%s", out) end
  local got
  for _ = 1, 40 do
    got = readfile(mark .. ".script")
    if got then break end
    os.execute("sleep 0.05")
  end
  t.ok(got and got:find("set terminal x11", 1, true) ~= nil,
       "the window's gnuplot script uses the interactive terminal")
end

-- the teaching example runs headless and writes its figures
do
  local exe = os.getenv("IONFLOW") or arg[-1]
  local ex = root .. "/examples/plotting.lua"
  local outdir = tmp("example")
  -- without gnuplot (as on a bare machine), which also keeps this quick
  local cmd = string.format("cd '%s' && IONFLOW_GNUPLOT=/nonexistent/gnuplot " ..
                            "IONFLOW_PATH='%s/lua/?.lua' '%s' '%s' '%s' 2>&1",
                            root, root, exe, ex, outdir)
  local p = io.popen(cmd)
  local out = p:read("a")
  local okk = p:close()
  local nsvg = tonumber(out:match("(%d+) files in")) or 0
  t.ok(okk and nsvg >= 10 and readfile(outdir .. "/g2.svg") ~= nil,
       "examples/plotting.lua runs and writes its figures")
  if not okk then t.diag("%s", out) end
  local good = true
  for name in out:gmatch("([^\n]+%.svg)\n") do
    local okx, why = xml_ok(readfile(name) or "")
    if not okx then good = false; t.diag("%s: %s", name, why) end
  end
  t.ok(good, "every example SVG is well-formed")
end

t.done()
