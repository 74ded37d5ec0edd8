-- examples/plotting.lua: plotting with ionflow, headless.
--
--   ionflow examples/plotting.lua [outdir]
--
-- Draws a hand-made figure and each of the paper's figure types from
-- synthetic data (heterodyne g2 curves from the paper's Equation 1, a
-- diffusion-like concentration profile, ...) and writes them as SVG into
-- outdir (default: a new temporary directory), plus PNG when gnuplot is
-- installed. Nothing here needs a display.

local plot = require "ionflow.plot"
local plots = require "ionflow.plots"

local outdir = arg and arg[1]
if not outdir then
  outdir = os.tmpname()
  os.remove(outdir)
end
sys.mkdir(outdir)   -- mkdir -p, no shell

-- fig:export writes name.svg, and name.png when gnuplot is installed
local written = {}
local function save(fig, name)
  for _, p in ipairs(fig:export(outdir .. "/" .. name)) do
    written[#written + 1] = p
  end
end

-- 1. a figure built by hand: two panels, log-x, error bars, a legend
local tau, fit_tau = {}, {}
for i = 1, 40 do tau[i] = 1e-3 * 10 ^ ((i - 1) / 8) end
for i = 1, 200 do fit_tau[i] = 1e-3 * 10 ^ ((i - 1) / 40) end

-- Equation 1 of the paper: heterodyne g2 with contrast b, heterodyne
-- fraction h, relaxation time tau0, stretching gamma, frequency omega.
local function eq1(t, b, h, tau0, gamma, omega)
  local e = math.exp(-(t / tau0) ^ gamma)
  return 1 + b * (1 - h) ^ 2 + h ^ 2 * b * e * e + 2 * h * (1 - h) * b * math.cos(omega * t) * e
end

local fig = plot.figure{title = "a figure built by hand", cols = 2}
local ax = fig:panel(1)
local g, err = {}, {}
for i, t in ipairs(tau) do
  g[i] = eq1(t, 0.2, 0.5, 2.0, 1.0, 8.0) + 0.004 * math.sin(7 * i)
  err[i] = 0.005
end
local fit = {}
for i, t in ipairs(fit_tau) do fit[i] = eq1(t, 0.2, 0.5, 2.0, 1.0, 8.0) end
ax:errorbar(tau, g, err, {label = "measured"})
ax:line(fit_tau, fit, {label = "Eq. 1", color = "black"})
ax:set{xlog = true, xlabel = "\u{3C4} (s)", ylabel = "g_{2}", title = "(a) one bin"}
local ax2 = fig:panel(2)
local x, y1, y2 = {}, {}, {}
for i = 1, 50 do
  x[i] = (i - 1) / 49 * 3
  y1[i] = math.exp(-x[i]); y2[i] = math.exp(-x[i] / 2)
end
ax2:line(x, y1, {label = "e^{-x}"})
ax2:line(x, y2, {label = "e^{-x/2}", dash = "dash"})
ax2:points({0.5, 1.5, 2.5}, {0.6, 0.22, 0.08}, {label = "points", marker = "square"})
ax2:set{xlabel = "x", ylabel = "y", title = "(b) linear axes", grid = true}
save(fig, "by_hand")

-- 2. g2 per chi sector at one q (Fig. 2a style), shifted for clarity
local q = 0.0038e10            -- 1/m
local v = 2e-8                 -- m/s
local bins = {}
for k = 1, 6 do
  local phi = math.rad((k - 1) * 30)
  local omega = q * v * math.cos(phi)
  local gk, ek, fk = {}, {}, {}
  for i, t in ipairs(tau) do
    gk[i] = eq1(t, 0.2, 0.5, 30.0, 1.2, omega) + 0.003 * math.sin(3 * i + k)
    ek[i] = 0.004
  end
  for i, t in ipairs(fit_tau) do fk[i] = eq1(t, 0.2, 0.5, 30.0, 1.2, omega) end
  bins[k] = {q = q, phi = phi, g2 = gk, err = ek, fit = fk, fit_tau = fit_tau}
end
save(plots.g2({tau = tau, bins = bins}, {shift = 0.1}), "g2")

-- 3. omega versus cos chi and versus q (Fig. 2c/d)
local om = {q = {}, phi = {}, omega = {}, err = {}, v = v}
for _, qq in ipairs({0.0030e10, 0.0038e10, 0.0046e10}) do
  for k = 0, 11 do
    local phi = math.rad(k * 30)
    om.q[#om.q + 1] = qq
    om.phi[#om.phi + 1] = phi
    om.omega[#om.omega + 1] = qq * v * math.cos(phi) * (1 + 0.03 * math.sin(5 * k))
    om.err[#om.err + 1] = 0.03 * qq * v
  end
end
save(plots.omega(om), "omega")

-- 4. the master curve (Fig. 2e)
local mfit = {x = {}, g2 = {}}
for i = 1, 200 do
  local xx = 1e-6 * 10 ^ ((i - 1) / 40)
  mfit.x[i] = xx
  mfit.g2[i] = eq1(xx / (q * 1e-10), 0.2, 0.5, 30.0, 1.2, q * v)
end
save(plots.master({tau = tau, bins = bins, fit = mfit}), "master")

-- 5. velocities per position, measured and modelled (Fig. 5)
local positions = {}
for k, xmm in ipairs({-0.85, -0.50, -0.15, 0.20, 0.55}) do
  local p = {x = xmm * 1e-3, t = {}, v = {}, err = {}, model = {t = {}, v = {}}}
  local amp = (1 - 0.3 * k / 5) * 1e-8
  for i = 1, 12 do
    local t = i * 45 * 60
    p.t[i] = t
    p.v[i] = amp * math.exp(-t / 30000) * (1 + 0.05 * math.sin(i + k))
    p.err[i] = 0.08 * amp
  end
  for i = 1, 100 do
    local t = (i - 1) * 600
    p.model.t[i] = t
    p.model.v[i] = amp * math.exp(-t / 30000)
  end
  positions[k] = p
end
save(plots.velocity({positions = positions}), "velocity")
-- the inset of Fig. 5: measured / model, averaged over 200..400 min
save(plots.velocity_ratio({positions = positions}), "velocity_ratio")
-- many positions or models: one panel per position, the ratio last
save(plots.velocity_panels({positions = positions}), "velocity_panels")

-- 6. current density and the model/measurement ratio (Fig. 3)
local cur = {t = {}, i = {}, models = {{name = "RS", t = {}, i = {}},
                                       {name = "PNB", t = {}, i = {}}}}
for k = 1, 200 do
  local t = (k - 1) * 330
  cur.t[k] = t
  cur.i[k] = 9.05 * (0.45 + 0.55 * math.exp(-t / 7000))       -- A/m^2
  cur.models[1].t[k] = t
  cur.models[1].i[k] = 9.05 * (0.50 + 0.50 * math.exp(-t / 8000))
  cur.models[2].t[k] = t
  cur.models[2].i[k] = 9.05 * (0.30 + 0.70 * math.exp(-t / 5000))
end
save(plots.current(cur), "current")

-- 7. concentration profiles (Fig. 4) and the c(x, t) map (Fig. S9)
local L, c0, D = 3e-3, 1870, 1.5e-11            -- m, mol/m^3, m^2/s
local function conc(xx, t)
  -- first mode of a linear gradient building up: illustrative only
  local s = 1 - math.exp(-t * D * (math.pi / L) ^ 2)
  return c0 * (1 + 0.25 * s * (0.5 - xx / L) * 2)
end
local profs = {}
for k, tmin in ipairs({20, 151, 314, 511, 969}) do
  local p = {t = tmin * 60, x = {}, c = {}, err = {}, model = {x = {}, c = {}}}
  for i = 1, 15 do
    local xx = (i - 0.5) / 15 * L
    p.x[i], p.c[i] = xx, conc(xx, p.t) * (1 + 0.01 * math.sin(i * k))
    p.err[i] = k == 5 and 0.02 * c0 or 0 / 0
  end
  for i = 1, 60 do
    local xx = (i - 1) / 59 * L
    p.model.x[i], p.model.c[i] = xx, conc(xx, p.t)
  end
  profs[k] = p
end
save(plots.profiles({profiles = profs, model_name = "synthetic"}), "profiles")
local map = {x = {}, t = {}, c = {}}
for j = 1, 40 do map.x[j] = (j - 0.5) / 40 * L end
for i = 1, 60 do
  map.t[i] = (i - 1) * 1100
  map.c[i] = {}
  for j = 1, 40 do map.c[i][j] = conc(map.x[j], map.t[i]) end
end
save(plots.cxt_map(map), "cxt_map")

-- 8. stability: I(q) and the intensity per frame; the two-time map
local st = {q = {}, I = {}, intensity = {}, segments = {{label = "first half", I = {}},
                                                        {label = "second half", I = {}}}}
for i = 1, 60 do
  local qq = 1e7 * 10 ^ ((i - 1) / 30)
  st.q[i] = qq
  st.I[i] = 1e3 / (1 + (qq / 3e7) ^ 3)
  st.segments[1].I[i] = st.I[i] * 1.02
  st.segments[2].I[i] = st.I[i] * 0.98
end
for f = 1, 500 do st.intensity[f] = 2.0 + 0.05 * math.sin(f / 40) end
save(plots.stability(st), "stability")
local tt = {dt = 0.1, c2 = {}}
for i = 1, 50 do
  tt.c2[i] = {}
  for j = 1, 50 do
    local d = math.abs(i - j) * 0.1
    tt.c2[i][j] = 1 + 0.2 * math.exp(-d / (1 + 0.05 * (i + j))) * math.cos(2 * d)
  end
end
save(plots.twotime(tt), "twotime")

for _, p in ipairs(written) do print(p) end
print(string.format("%d files in %s", #written, outdir))
