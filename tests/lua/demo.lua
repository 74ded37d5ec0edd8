-- `make demo` in its reduced form (scripts/demo.lua --quick, a few
-- seconds): the run succeeds, writes every promised file, the report
-- states the numbers, the figures are well-formed, the HDF5 results are
-- readable and hold what the report says, and a second run replaces them.
local t = require "ionflow.tap"
local X = require "ionflow.xpcsio"

local exe = os.getenv("IONFLOW") or arg[-1]
local top = (arg[0]:match("^(.*)/tests/lua/[^/]*$")) or "."
local tmp = t.tmpdir()
local out = tmp .. "/out"

local function run(args)
  local p = io.popen(string.format("%q %q %s 2>&1", exe, top .. "/scripts/demo.lua", args))
  local text = p:read("a")
  local ok = p:close()
  return ok, text
end

local slurp = t.slurp

-- A small well-formedness check: every tag closed in order, attribute
-- quotes balanced, every '&' an entity, one root element <svg>.
local function xml_ok(s)
  if not s then return false, "missing" end
  local body = s:gsub("^%s*<%?xml.-%?>", ""):gsub("<!%-%-.-%-%->", "")
  local stack, roots, pos = {}, 0, 1
  for amp in body:gmatch("&[^;%s<]*;?") do
    if not (amp:match("^&[%a]+;$") or amp:match("^&#%d+;$") or amp:match("^&#x%x+;$")) then
      return false, "bad entity " .. amp
    end
  end
  while true do
    local a, b, close, name, attrs, selfc = body:find("<(/?)([%w:_%-]+)([^<>]*)>", pos)
    if not a then break end
    local between = body:sub(pos, a - 1)
    if between:find("[<>]") then return false, "stray < or > before " .. name end
    local _, q = attrs:gsub('"', "")
    if q % 2 ~= 0 then return false, "unbalanced quotes in <" .. name end
    if close == "/" then
      if stack[#stack] ~= name then
        return false, "</" .. name .. "> closes <" .. tostring(stack[#stack]) .. ">"
      end
      stack[#stack] = nil
    else
      if #stack == 0 then
        roots = roots + 1
        if name ~= "svg" then return false, "root element " .. name end
      end
      if not attrs:match("/%s*$") then stack[#stack + 1] = name end
    end
    pos = b + 1
  end
  if body:sub(pos):find("%S") then return false, "text after the root" end
  if #stack > 0 then return false, "unclosed <" .. stack[#stack] .. ">" end
  return roots == 1, "roots: " .. roots
end

-- the checker itself must reject broken documents
t.ok(xml_ok('<svg a="1"><g><text>a &amp; b</text></g><path d="M0 0"/></svg>'),
  "xml check accepts a well-formed SVG")
t.ok(not xml_ok('<svg><g></svg>'), "xml check rejects an unclosed tag")
t.ok(not xml_ok('<svg><text>a & b</text></svg>'), "xml check rejects a bare &")

local ok, text = run("--quick --seed 3 -o " .. out)
t.ok(ok, "demo --quick runs")
if not ok then t.diag("%s", text) end
t.ok(text:find("[3/6]", 1, true) ~= nil, "prints progress lines")
t.ok(text:find("report: " .. out .. "/report.md", 1, true) ~= nil,
  "the summary says where the report is")

local sets = {"pnb", "tplus-0.2", "diffec"}
local names = {"report.md", "results.h5", "xpcs_showcase.h5"}
for _, s in ipairs(sets) do names[#names + 1] = "model_" .. s .. ".h5" end
local figs = {"fig2a_g2", "fig2cd_omega", "fig2e_master", "fig3_current",
              "fig4_profiles", "fig5_velocity", "figS9_cxt_map"}
for _, f in ipairs(figs) do names[#names + 1] = f .. ".svg" end
local missing = {}
for _, n in ipairs(names) do
  if not slurp(out .. "/" .. n) then missing[#missing + 1] = n end
end
t.is(#missing, 0, "every promised file exists " .. table.concat(missing, " "))

for _, f in ipairs(figs) do
  local good, why = xml_ok(slurp(out .. "/" .. f .. ".svg"))
  t.ok(good, f .. ".svg is well-formed XML (" .. tostring(why) .. ")")
end
local plot = require "ionflow.plot"
if plot.has_gnuplot() then
  local png = slurp(out .. "/fig5_velocity.png")
  t.ok(png and png:sub(1, 8) == "\137PNG\r\n\26\n", "gnuplot present: PNG written")
else
  t.ok(true, "no gnuplot: SVG only # SKIP")
end

-- the HDF5 results: the molar volumes agree with the paper within its
-- errors, the recovered velocities with the simulator's truth
local f = h5.open(out .. "/results.h5")
for _, d in ipairs{"/molar_volumes/r", "/molar_volumes/rho", "/model/sets",
                   "/model/profile_rms", "/velocity/x", "/velocity/t", "/velocity/v_true",
                   "/velocity/v_measured", "/velocity/v_err", "/velocity/v_tfsi",
                   "/velocity/resolved"} do
  t.ok(f:exists(d), "results.h5 has " .. d)
end
local VEO, Vs = f:attr("/molar_volumes", "V_EO_A3"), f:attr("/molar_volumes", "V_LiTFSI_A3")
local eps = f:attr("/molar_volumes", "epsilon")
t.ok(math.abs(VEO - 66.4) < 0.73, string.format("V_EO = %.2f A^3 within the paper's 66.4 +/- 0.73", VEO))
t.ok(math.abs(Vs - 224) < 7, string.format("V_LiTFSI = %.1f A^3 within the paper's 224 +/- 7", Vs))
t.near(eps, 66.4 / (0.1 * 224), 0.1, "epsilon(0.1) near the paper's V_EO / (0.1 V_LiTFSI)")
local vt = f:read("/velocity/v_true"):totable()
local vm = f:read("/velocity/v_measured"):totable()
local ve = f:read("/velocity/v_err"):totable()
local vtf = f:read("/velocity/v_tfsi"):totable()
local res = f:read("/velocity/resolved"):totable()
t.is(#vt, 2, "quick: two experiments")
local nres = 0
for k = 1, #vt do
  if res[k] == 1 then
    nres = nres + 1
    t.ok(math.abs(vm[k] - vt[k]) < 3 * ve[k] and math.abs(vm[k] / vt[k] - 1) < 0.02,
      string.format("experiment %d: %.2f +/- %.2f A/s against the truth %.2f A/s",
        k, vm[k] * 1e10, ve[k] * 1e10, vt[k] * 1e10))
    t.near(vtf[k], -eps * vm[k], 1e-12 * math.abs(vm[k]) + 1e-20,
      "Eq. 3: v_TFSI = -epsilon v_EO")
  end
end
t.is(nres, #vt, "every quick experiment (about 8 nm/s) resolved")
local best = f:attr("/model", "best")
f:close()

local report = slurp(out .. "/report.md") or ""
t.ok(report:find(string.format("%.2f", VEO), 1, true) ~= nil, "report states V_EO")
t.ok(report:find(string.format("%.1f", Vs), 1, true) ~= nil, "report states V_LiTFSI")
t.ok(report:find(string.format("%.3f +/- %.3f", vm[1] * 1e9, ve[1] * 1e9), 1, true) ~= nil,
  "report states the recovered velocity")
t.ok(report:find(string.format("%.3f", vt[1] * 1e9), 1, true) ~= nil, "report states the truth")
t.ok(report:find("Best fit to the paper's data: `" .. best .. "`", 1, true) ~= nil,
  "report names the best parameter set (" .. tostring(best) .. ")")
local embedded = 0
for img in report:gmatch("!%[[^%]]*%]%(([^)]+)%)") do
  if slurp(out .. "/" .. img) then embedded = embedded + 1 end
end
t.is(embedded, #figs, "report embeds every figure, and the files exist")
t.ok(report:find("OpenMP threads", 1, true) and report:find("wall time", 1, true),
  "report states the core count and the step times")

-- the APS-layout XPCS file and a model run
local r = X.read_result(out .. "/xpcs_showcase.h5")
t.ok(r.g2 and r.tau and r.g2.shape[1] == #r.tau and r.dynamic_roi_map ~= nil,
  "xpcs_showcase.h5 reads back in the APS layout (g2 delays x bins, qmap)")
local m = h5.open(out .. "/model_tplus-0.2.h5")
t.ok(m:exists("/cell/run/c") and m:exists("/cell/run/v0_lab"), "model file has c and v0_lab")
t.near(m:read("/cell/run/i"):get(1), 9.05, 1e-6, "model starts at the paper's 0.905 mA/cm^2")
m:close()

-- a second run replaces the outputs
local ok2 = run("--quick --seed 4 -o " .. out)
t.ok(ok2, "a second run into the same directory succeeds")
local f2 = h5.open(out .. "/results.h5")
local vm2 = f2:read("/velocity/v_measured"):get(1)
f2:close()
t.ok(vm2 ~= vm[1], "the second run (another seed) replaced results.h5")

-- bad options
local bad, msg = run("--seed x")
t.ok(not bad and msg:find("--seed needs a number", 1, true), "--seed x is refused")
local bad2, msg2 = run("--nosuch")
t.ok(not bad2 and msg2:find("unknown option --nosuch", 1, true), "an unknown option is refused")
local bad3, msg3 = run("--quick --truth nosuch -o " .. tmp .. "/bad")
t.ok(not bad3 and msg3:find("nosuch", 1, true), "an unknown --truth set is refused")

t.done()
