-- xam: Beer-Lambert conversion from Lua, on synthetic scans made from a
-- known c(x, t) with xraylib cross sections, counting noise (the normal
-- limit of Poisson at these counts; the C test uses exact Poisson), a
-- drifting monitor and dark counts; and scripts/xam-profile.lua end to end.
local t = require "ionflow.tap"
local csv = require "ionflow.csv"
local chem = require "ionflow.chem"
local xam = require "ionflow.xam"

-- absorbance closed forms
local A, sA = xam.absorbance({500, 1000}, {1000, 1000})
t.near(A[1], math.log(2), 1e-15, "A = ln 2")
t.near(sA[1], math.sqrt(1 / 500 + 1 / 1000), 1e-15, "counting error of A")
t.errors(function() xam.absorbance({500, 0}, {1000, 1000}) end, "row 2",
  "zero counts names the row")
t.errors(function() xam.absorbance({500, 10}, {1000, 0}) end, "column monitor",
  "zero monitor names the column")
local ids, n = xam.group_scans({0, 1, 2, 2, 1, 0, 0, 1})
t.is(n, 3, "three scans in a snake")
t.is(ids[4], 2.0, "scan numbers are 1-based")

-- the synthetic experiment: 0 to 4 mm in 100 um steps, 6 scans, snake
math.randomseed(42)
local function gauss()
  return math.sqrt(-2 * math.log(1 - math.random())) * math.cos(2 * math.pi * math.random())
end
local function counts(mu) return math.max(0, math.floor(mu + math.sqrt(mu) * gauss() + 0.5)) end

local E, d, c0, step = 20, 1e-3, 1870, 100e-6
local A3 = 1e-30 * chem.AVOGADRO
local Vs, Ve = 224 * A3, 66.4 * A3
local _, ss = chem.attenuation("LiC2F6NO4S2", E)
local _, se = chem.attenuation("C2H4O", E)
local mu_li = chem.attenuation("Li", E)
local xl, xr, t0, rate = 0.4321e-3, 3.4321e-3, 1000, 500 / 6000
local function ctrue(x, tt)
  if x <= xl or x >= xr then return c0 end
  local a = tt > t0 and rate * (tt - t0) or 0
  return c0 + a * math.cos(math.pi * (x - xl) / (xr - xl))
end
local function absorb(x, c)
  if x <= xl or x >= xr then return 0.3 + d * 534 * mu_li end
  return 0.3 + d * (c * ss + (1 - c * Vs) / Ve * se)
end
local cols = {time_s = {}, x_m = {}, counts = {}, monitor = {}, dark = {}}
local truth = {}
for k = 0, 5 do
  for j = 0, 40 do
    local p = k % 2 == 1 and 40 - j or j
    local i = #cols.x_m + 1
    local tt, x = 1000 * k + 10 * j, p * step
    local inc = 1e6 * (1 + 0.3 * math.sin(2 * math.pi * tt / 7000))
    cols.time_s[i], cols.x_m[i], truth[i] = tt, x, ctrue(x, tt)
    cols.dark[i] = counts(200)
    cols.monitor[i] = counts(0.5 * inc + 200)
    cols.counts[i] = counts(0.8 * inc * math.exp(-absorb(x, truth[i])) + 200)
  end
end

local k = xam.contrast(ss, se, Vs, Ve)
local opts = {time_s = cols.time_s, x_m = cols.x_m, counts = cols.counts,
  monitor = cols.monitor, dark = cols.dark, c0 = c0, thickness = d, contrast = k}
local s = xam.convert(opts)
t.is(s:nscans(), 6, "six scans")
t.is(#s, 6, "#scans")
local pts = s:points()
local chi2, m = 0, 0
for i = 1, #truth do
  if pts.scan[i] ~= 1 then
    chi2 = chi2 + ((pts.c[i] - truth[i]) / pts.sc[i]) ^ 2
    m = m + 1
  end
end
t.diag("round trip chi2/N = %.3f over %d points, sigma_c about %.0f mol/m^3",
  chi2 / m, m, pts.sc[60])
t.ok(chi2 / m > 0.7 and chi2 / m < 1.3, "c(x, t) back within the propagated errors")
local l, r = s:edges()
t.ok(math.abs(l - xl) < step and math.abs(r - xr) < step,
  string.format("edges %.1f, %.1f um within one step of %.1f, %.1f um", l * 1e6,
    r * 1e6, xl * 1e6, xr * 1e6))
local tm = s:t_mean()
local c, sc, x = s:at(tm[3])
local b = xam.salt_balance(x, c, sc, l, r, c0)
t.ok(math.abs(b.excess) < 3 * b.sd_total, string.format(
  "salt balance at %.0f s: %.4f +/- %.4f of %.4f mol/m^2", tm[3], b.excess,
  b.sd_total, b.expected))
local g = s:grid()
t.is(#g.x, 41, "grid positions")
t.ok(g.x[1] < g.x[2], "grid ascends in x")
local sc4 = s:scan(4)
t.ok(sc4.x[1] > sc4.x[2], "scan 4 keeps its acquisition order")
t.near(sc4.t_mean, 3200, 1e-9, "mean time of scan 4")
t.near(xam.position(2e-3, 1e-3, 4e-3, "left"), 1e-3, 1e-15, "position from the left")
t.near(xam.position(2e-3, 1e-3, 4e-3), -0.5e-3, 1e-15, "position from the centre")
t.errors(function() s:scan(9) end, "scan 9 does not exist", "no scan 9")
t.errors(function() s:at(1e6) end, "outside the scans", "time outside")

-- bad input through convert
local function with(field, value)
  local o = {}
  for kk, v in pairs(opts) do o[kk] = v end
  o[field] = value
  return o
end
t.errors(function() xam.convert(with("monitor", nil)) end, "missing column 'monitor'",
  "missing column")
local bad = {table.unpack(cols.counts)}
bad[50] = 0
t.errors(function() xam.convert(with("counts", bad)) end, "row 50", "zero counts row")
t.errors(function() xam.convert(with("reference", 0)) end, "reference",
  "reference 0 refused")
t.errors(function() xam.convert(with("thickness", nil)) end, "thickness",
  "missing thickness")
local far = {table.unpack(cols.x_m)}
far[90] = 4.35e-3
far[91] = 4.4e-3
t.errors(function() xam.convert(with("x_m", far)) end, "outside the reference scan",
  "reference does not cover")

-- the script end to end
local exe = os.getenv("IONFLOW") or arg[-1]
local dir = t.tmpdir()
local scans = dir .. "/scans.csv"
csv.write(scans, {"time_s", "x_m", "counts", "monitor", "dark"},
  {cols.time_s, cols.x_m, cols.counts, cols.monitor, cols.dark})
local function run(args)
  local p = io.popen(exe .. " scripts/xam-profile.lua " .. args .. " 2>&1")
  local out = p:read("a")
  return out, p:close()
end
local out, okk = run(scans .. " --energy-keV 20 --thickness 1e-3 --c0 1.87 " ..
  "--csv " .. dir .. "/c.csv --at-min 40,60 -o " .. dir .. "/c.h5")
t.ok(okk, "xam-profile.lua runs")
if not okk then t.diag("%s", out) end
local res = csv.read(dir .. "/c.csv")
local chi, nn, inside = 0, 0, true
for i = 1, res.nrows do
  local xx, tt = res.col("x_m")[i], res.col("time_s")[i]
  chi = chi + ((res.col("c_mol_per_L")[i] * 1000 - ctrue(xx, tt)) /
    (res.col("sc_mol_per_L")[i] * 1000)) ^ 2
  nn = nn + 1
  inside = inside and xx > l and xx < r
end
t.ok(nn > 100 and chi / nn > 0.6 and chi / nn < 1.4,
  string.format("script output within errors (chi2/N = %.2f, %d points)", chi / nn, nn))
t.ok(inside, "only points inside the cell are written")
t.ok(out:find("at mean time", 1, true), "salt balance reported per profile")
local at = csv.read(dir .. "/c-at.csv")
t.is(at.col("time_s")[1], 2400.0, "profiles at common times")
if type(h5) == "table" and h5.create then
  local fh = io.open(dir .. "/c.h5")
  t.ok(fh ~= nil, "HDF5 written")
  if fh then fh:close() end
else
  t.ok(out:find("h5 module is not built in", 1, true), "says HDF5 is unavailable")
end
if type(h5) == "table" and h5.create then
  -- the same scans as HDF5 datasets of the column names
  local w = h5.create(dir .. "/scans.h5", {overwrite = true})
  for _, name in ipairs({"time_s", "x_m", "counts", "monitor", "dark"}) do
    w:write(name, array.from(cols[name]))
  end
  w:close()
  out, okk = run(dir .. "/scans.h5 --energy-keV 20 --thickness 1e-3 --c0 1.87 --csv " ..
    dir .. "/h.csv")
  local same = okk and csv.read(dir .. "/h.csv").col("c_mol_per_L")[7] ==
    res.col("c_mol_per_L")[7]
  t.ok(same, "HDF5 input gives the same profiles as CSV")
end
out, okk = run(scans .. " --energy-keV 2000 --thickness 1e-3 --c0 1.87 --csv " .. dir .. "/x.csv")
t.ok(not okk and out:find("outside xraylib's tables", 1, true), "energy outside tables")
out, okk = run(scans .. " --energy-keV 20 --salt LiC2F6NO4Sq --thickness 1e-3 --c0 1.87 --csv " ..
  dir .. "/x.csv")
t.ok(not okk and out:find("LiC2F6NO4Sq", 1, true), "bad formula named")
csv.write(dir .. "/nomon.csv", {"time_s", "x_m", "counts"}, {cols.time_s, cols.x_m, cols.counts})
out, okk = run(dir .. "/nomon.csv --energy-keV 20 --thickness 1e-3 --c0 1.87 --csv " .. dir .. "/x.csv")
t.ok(not okk and out:find("missing column 'monitor'", 1, true), "missing column named")
if type(h5) == "table" and h5.open then
  local okh, vals = pcall(function()
    local f = h5.open(dir .. "/c.h5")
    local v = f:read("/xam/points/c_mol_per_L")
    f:close()
    return v
  end)
  t.ok(okh and math.abs(vals[5] - res.col("c_mol_per_L")[5]) < 1e-9,
    "HDF5 result holds the same profiles as the CSV")
end
-- the teaching example runs and its noise-free round trip is exact
local pe = io.popen(exe .. " examples/beer-lambert.lua 2>&1")
local ex = pe:read("a")
t.ok(pe:close() and ex:find("0.0    2.470                 2.470", 1, true),
  "examples/beer-lambert.lua runs and converts back exactly")
t.done()
