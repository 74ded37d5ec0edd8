-- the cell scripts and teaching examples run (small N, short times) and
-- write what they promise
local t = require "ionflow.tap"
local csv = require "ionflow.csv"

local exe = os.getenv("IONFLOW") or arg[-1]
local top = (arg[0]:match("^(.*)/tests/lua/[^/]*$")) or "."
local tmp = t.tmpdir()

-- run a script, returning (ok, stdout)
local function run(script, args)
  local cmd = string.format("%q %q %s 2>&1", exe, top .. "/" .. script, args or "")
  local p = io.popen(cmd)
  local out = p:read("a")
  local ok = p:close()
  return ok, out
end

do
  local ok, out = run("scripts/polarize.lua", "--minutes 100 -N 50 --csv " .. tmp .. "/pol")
  t.ok(ok, "polarize.lua runs")
  t.ok(out:find("current ratio", 1, true) ~= nil, "polarize prints the current ratio")
  local cur = csv.read(tmp .. "/pol/current.csv")
  t.near(cur.columns[2][1], 0.905, 1e-9,
    "current.csv starts at the paper's 0.905 mA/cm^2")
  t.ok(cur.nrows == 111, "current.csv has 111 times")
  local vel = csv.read(tmp .. "/pol/velocities.csv")
  t.is(vel.nrows, 111 * 5, "velocities.csv: five positions at every time")
  local ok2 = run("scripts/polarize.lua", "--minutes 10 -N 20 --rest 10 --I 0.5 --quiet --csv " ..
    tmp .. "/rest")
  t.ok(ok2, "polarize.lua at constant current with a rest")
  local r = csv.read(tmp .. "/rest/current.csv")
  t.near(r.columns[2][r.nrows], 0, 0, "no current during the rest")
  local bad, msg = run("scripts/polarize.lua", "--V 0.3 --I 1")
  t.ok(not bad and msg:find("not both", 1, true), "polarize refuses V and I together")
  local bad2, msg2 = run("scripts/polarize.lua", "--params nosuch -N 20 --minutes 1")
  t.ok(not bad2 and msg2:find("unknown parameter set", 1, true), "polarize: unknown set is an error")
  -- a growing film and another thermodynamic factor lower the late current
  local _, base = run("scripts/polarize.lua", "--minutes 100 -N 40 --R-int 0.01")
  local ok3, grown = run("scripts/polarize.lua", "--minutes 100 -N 40 --R-int 0.01 --R-growth 0.01 --growth-p 0.5")
  t.ok(ok3 and grown:find("R_int 0.01 ohm m^2 at t = 0, 0.02 at the end", 1, true),
    "polarize --R-growth: R_int grows from 0.01 to 0.02 ohm m^2")
  local function ratio(out) return tonumber(out:match("i%(end%)/i%(0%) = ([%d.]+)")) end
  t.ok(ratio(grown) < ratio(base), "a growing film lowers the current ratio")
  local _, tf1 = run("scripts/polarize.lua", "--minutes 100 -N 40 --Tf 1")
  local _, tf3 = run("scripts/polarize.lua", "--minutes 100 -N 40 --Tf0 3")
  t.ok(ratio(tf3) < ratio(tf1), "polarize --Tf0 3 decays further than --Tf 1")
  local bad3, msg3 = run("scripts/polarize.lua", "--Tf 1 --Tf0 2")
  t.ok(not bad3 and msg3:find("not both", 1, true), "polarize refuses --Tf with --Tf0")
end

do
  local ok, out = run("scripts/paper-figures.lua", "-N 40 --minutes 200 --csv " .. tmp .. "/figs")
  t.ok(ok, "paper-figures.lua runs")
  t.ok(out:find("Residual table", 1, true) ~= nil, "paper-figures prints the residual table")
  local res = csv.read(tmp .. "/figs/residuals.csv")
  t.is(res.nrows, 8, "three sets and the joint fit x two drives in residuals.csv")
  t.ok(out:find("jointfit", 1, true) and out:find("\n  jointfit%s+[%d%.]+ %% %(at%s+%d+ min%): within 10 %%"),
    "paper-figures: the joint fit's current within 10 % over the run")
  t.ok(out:find("t+ = ", 1, true) ~= nil, "paper-figures prints the joint fit's t+ line")
  local finite = true
  for c = 3, 7 do
    for k = 1, res.nrows do
      local v = res.columns[c][k]
      if v ~= v or v == math.huge then finite = false end
    end
  end
  t.ok(finite, "every residual is a finite number")
  local prof = csv.read(tmp .. "/figs/profiles_diffec_I.csv")
  t.is(prof.nrows, 21 + 22, "profiles at the measured points of 20 and 151 min")
end

do
  local ok, out = run("scripts/fit-transference.lua", "-N 30 --minutes 300 --no-variants --no-scan --csv " .. tmp)
  t.ok(ok, "fit-transference.lua runs")
  local f = csv.read(tmp .. "/fit.csv")
  local tp0, err = f.columns[2][1], f.columns[3][1]
  t.ok(tp0 > -1 and tp0 < 0.95 and err > 0 and err < 0.5, "fitted t+0 inside its bounds, with an error")
  t.ok(out:find("tp0", 1, true) ~= nil, "the fit reports tp0")
end

do
  local ok, out = run("examples/polarization-basics.lua", "--quick")
  t.ok(ok, "polarization-basics runs")
  local all = true
  for tp, ratio in out:gmatch("\n(%d%.%d)%s+[%d%.]+%s+[%d%.]+%s+([%d%.]+)") do
    if math.abs(tonumber(ratio) - tonumber(tp)) > 1e-3 then all = false end
  end
  t.ok(all and out:find("0.9000", 1, true), "i_ss/i_0 = t+ in the example's table")
  ok, out = run("examples/what-if-tplus.lua", "--quick")
  t.ok(ok and out:find(" 1.00       1.0000", 1, true), "what-if: t+ = 1 keeps the current")
  ok, out = run("examples/joint-fit.lua", "--quick")
  local tpj = tonumber(out:match("1%. Tf free.-\n  t%+ = (%-?[%d%.]+)"))
  t.ok(ok and tpj and math.abs(tpj - 0.15) < 0.04, "joint-fit: t+0 of the synthetic experiment back")
  local chi = tonumber(out:match("3%. Tf fixed.-current%s+error %S+%s+%(stated%)%s+reduced chi2 ([%d%.]+)"))
  t.ok(chi and chi > 3, "joint-fit: Tf = 1 with stated errors gives a poor chi2")
  ok, out = run("examples/restricted-diffusion.lua", "--quick")
  local D = tonumber(out:match("D = %-slope L%^2/pi%^2 = ([%d%.e%-]+)"))
  t.ok(ok and D and math.abs(D / 1e-11 - 1) < 1e-3, "restricted diffusion recovers D")
  ok, out = run("examples/classic-methods.lua", "--quick")
  local rows, bv_ok, bn_ok = 0, true, true
  for line in out:gmatch("[^\n]+") do
    local f, tf, bv, closed, bn, tp =
      line:match("^ +([%d.]+) +([%d.]+) +([%d.]+) +([%d.]+) +([%d.]+) +([%d.]+)$")
    if f then rows = rows + 1 else bv, closed, bn, tp = 0, 0, 0, 0 end
    if math.abs(bv - closed) > 1e-3 * closed then bv_ok = false end
    if math.abs(bn - tp) > 1e-3 then bn_ok = false end
  end
  t.ok(ok and rows == 6, "classic-methods prints six constant-property rows (" .. rows .. ")")
  t.ok(bv_ok and bn_ok, "classic-methods: t+_BV on its closed form, t+_BN on t+0")
  local diffec_bv, diffec_bn = out:match("\ndiffec +%-?[%d.]+ +(%-?[%d.]+) +(%-?[%d.]+)")
  t.ok(tonumber(diffec_bv) > 0 and tonumber(diffec_bn) < 0,
    "classic-methods: for diffec BV reports t+ > 0 where BN and the model say < 0")
  ok, out = run("examples/molar-volume-velocities.lua", "--quick")
  t.ok(ok and out:find("eps = 2.96", 1, true), "molar-volume example: eps = 2.96 at r = 0.1")
end

-- HDF5 outputs, when this binary has the h5 module
if rawget(_G, "h5") then
  local ok = run("scripts/polarize.lua", "--minutes 30 -N 30 --quiet -o " .. tmp .. "/run.h5")
  t.ok(ok, "polarize.lua -o RUN.h5")
  local f = h5.open(tmp .. "/run.h5")
  local c = f:read("/cell/run/c")
  t.is(tostring(c), "array(111x121 f64)", "c(x, t) stored as time x position")
  t.near(f:read("/cell/run/i")[1], 9.05, 1e-9, "i(0) stored in A/m^2")
  t.is(f:attr("/cell/run/v0_lab", "units"), "m/s", "velocities carry units")
  t.is(f:attr("/cell/run", "params"), "tplus-0.2", "the run names its parameter set")
  f:close()
  ok = run("scripts/paper-figures.lua", "-N 30 --minutes 60 --params diffec --drive I --quiet -o " ..
    tmp .. "/figs.h5")
  t.ok(ok, "paper-figures.lua -o FIGS.h5")
  local g = h5.open(tmp .. "/figs.h5")
  t.ok(#g:read("/cell/paper/diffec_I/profile_0020/model") == 21, "the 20-min profile at its 21 points")
  g:close()
else
  t.diag("no h5 module: HDF5 outputs not tested")
end

-- F3: an output directory is made with mkdir(2), never by a shell: a name
-- with $(...) is a name (the old `mkdir -p %q` ran it)
do
  local function sq(s) return "'" .. s:gsub("'", "'\\''") .. "'" end
  local cases = {
    {"scripts/polarize.lua", "--minutes 10 -N 20 --quiet", "current.csv"},
    {"scripts/paper-figures.lua", "-N 20 --minutes 30 --params diffec --drive V --quiet",
     "residuals.csv"},
    {"scripts/fit-transference.lua", "-N 20 --minutes 60 --no-scan --no-variants", "fit.csv"},
  }
  for i, c in ipairs(cases) do
    local mark = string.format("%s/PWNED%d", tmp, i)
    local dir = string.format("%s/out%d $(touch %s)/a'b", tmp, i, mark)
    local ok, out = run(c[1], c[2] .. " --csv " .. sq(dir))
    t.ok(ok and t.slurp(dir .. "/" .. c[3]) ~= nil,
         c[1] .. " --csv makes the directory named literally")
    if not ok then t.diag("%s", out) end
    t.ok(t.slurp(mark) == nil, c[1] .. " --csv: no shell ran the name")
  end
  local ok, out = run("scripts/polarize.lua", "--minutes 10 -N 20 --quiet --csv " ..
                      sq(top .. "/README.md/sub"))
  t.ok(not ok and out:find("README.md", 1, true) and out:find("not a directory", 1, true),
       "--csv under a file: an error naming it")
end

t.done()
