-- ionflow.cellparams: named transport parameter sets of PEO-LiTFSI at 90 C
-- for the continuum model (`cell.run{params = NAME}`), and the paper's cell.
--
--   local cp = require "ionflow.cellparams"
--   local set = cp.get("pnb")   -- {name, D, tp, kappa, Tf, R_int, V_salt, V_EO,
--                               --  source, sources = {D=, tp=, kappa=, Tf=, R_int=}, note}
--   cp.names                     -- {"pnb", "tplus-0.2", "diffec"}
--   cp.paper                     -- L, c0, V, T, minutes, i0 of the paper's cell
--   cp.get("myset.lua")          -- a file returning {kappa=f, D=f, tp=f, ...}
--   cp.Tf_linear(Tf0 [, c0])     -- the law Tf = 1 + (Tf0 - 1) c / c0 as a table
--   cp.kappa_table([T])          -- the Nernst-Einstein conductivity table
--   cp.R_int_from_i0(kappa [, opts])  -- R_int implied by the measured i0
--
-- Everything is SI: c in mol/m^3, D in m^2/s, kappa in S/m, molar volumes
-- in m^3/mol, R_int in ohm m^2. Properties are tables {c = {...}, v = {...}}
-- that the model interpolates with GSL's monotone Steffen spline.
--
-- Range: the paper's cell drives the salt far outside the measured ranges
-- near both electrodes (about 0.06 to 3.9 mol/L after 1100 min, against
-- 0.86 to 2.76 mol/L for the pnb points and 0.61 to 2.98 mol/L for DiffEC's
-- G). The named sets therefore continue D and t+0 as constants beyond their
-- first and last points (`extrapolate = "constant"`, a documented
-- extrapolation); cp.get(name, {strict = true}) gives tables that raise an
-- error outside their data instead. The kappa table runs from 0.0005 to
-- 4.5 mol/L (outside: an error); Tf is a linear law (extrapolate = "linear").
--
-- Sources (copies with provenance in data/, see data/README.md):
--   pnb        t+0(c) and D(c) measured by the Balsara-Newman method (Pesko et
--              al., J. Electrochem. Soc. 164 (2017) E3569; points as digitized
--              by BattModels/DiffEC): data/pnb_points_90C.csv.
--   tplus-0.2  the paper's conclusion, a concentration-independent t+0 = 0.2,
--              with the same D(c) as pnb. It stands in for the paper's RS set
--              (Rosenwinkel and Schoenhoff, JES 166 (2019) A1977, e-NMR), whose
--              numbers (the paper's Table S3) are not at hand.
--   diffec     the fit of Chen et al. (ACS Energy Lett. 2026, BattModels/DiffEC)
--              to the paper's own profiles: G(c) from
--              data/diffec_g_relation_90C.csv, t+0(c) = p0 + p1 (c - 1.87)/1.87
--              (c in mol/L), D = (1 - t+0) G (1 - c V_salt).
--   kappa      (all sets) AN ESTIMATE: no measured conductivity table of
--              PEO-LiTFSI at 90 C is at hand. Nernst-Einstein conductivity from
--              the PFG-NMR self-diffusion coefficients (Pesko et al. 2017, Fig.
--              1: data/nmr_self_diffusion_90C.csv, in m^2/s), kappa_NE = F^2 c
--              (D_Li + D_TFSI) / (R T), ln(D_Li + D_TFSI) fitted linearly in c:
--              0.155 S/m at c0 = 1.87 mol/L. It ignores ion correlations
--              (an upper bound if they are anticorrelated as usual).
--   R_int      (all sets) AN ESTIMATE: the constant interfacial resistance that
--              gives the paper's measured initial current with that kappa,
--              R_int = V / i0 - L / kappa(c0) = 0.0138 ohm m^2 (both
--              interfaces), i0 = 0.905 mA/cm^2 at 0.3 V over 3 mm.
--   Tf         (all sets) AN ASSUMPTION: no table of the thermodynamic factor
--              of PEO-LiTFSI at 90 C is at hand (Pesko et al. 2017, Villaluenga
--              et al. JES 2018 and Gao and Balsara measured it from
--              concentration cells, but their numbers could not be checked).
--              Tf = 1 + (Tf0 - 1) c / c0 with Tf0 = 3 at c0 = 1.87 mol/L: ideal
--              at infinite dilution, and the value at c0 with which the model
--              current of the diffec set meets the measured one (issue 16).
--              Replace with cp.Tf_linear(x) or any property.
--   Molar volumes from the paper's density fit, 224 and 66.4 A^3 per molecule.

local M = {}

local NA, F, R = 6.02214076e23, 96485.33212, 8.314462618

M.V_salt = 224e-30 * NA     -- m^3/mol (paper: 224 A^3 per LiTFSI)
M.V_EO = 66.4e-30 * NA      -- m^3/mol (paper: 66.4 A^3 per EO)

-- the paper's experiment (Steinrueck, Takacs et al. 2020)
M.paper = {
  L = 3e-3, c0 = 1870, V = 0.3, T = 363.15, minutes = 1100,
  i0 = 9.05,               -- measured initial current density, A/m^2
  positions_mm = {0.95, 1.30, 1.65, 2.00, 2.35},
}

-- molar salt concentration (mol/m^3) of r = [Li]/[EO] with constant molar
-- volumes: one EO unit and r salt occupy V_EO + r V_salt
function M.c_of_r(r, V_salt, V_EO)
  return r / ((V_EO or M.V_EO) + r * (V_salt or M.V_salt))
end

-- data/pnb_points_90C.csv: c (mol/L), t+0, D (cm^2/s)
M.pnb_points = {
  {0.8584, 0.4058, 1.0038e-7}, {1.1896, 0.3376, 1.3062e-7},
  {1.5823, 0.4330, 1.1053e-7}, {1.8564, 0.2025, 8.4410e-8},
  {2.10376, 0.0837, 7.0545e-8}, {2.3733, -0.0740, 5.8875e-8},
  {2.5724, -0.3760, 9.4628e-8}, {2.7570, 0.1052, 9.0685e-8},
}

-- data/nmr_self_diffusion_90C.csv: r, D_Li (m^2/s), D_TFSI (m^2/s)
M.nmr_points = {
  {0.01, 2.13875e-11, 6.56089e-11}, {0.02, 1.72546e-11, 6.16827e-11},
  {0.04, 1.45683e-11, 5.10406e-11}, {0.06, 9.86716e-12, 3.47159e-11},
  {0.08, 7.59410e-12, 3.08413e-11}, {0.10, 4.54613e-12, 2.15424e-11},
  {0.12, 3.77122e-12, 1.73579e-11}, {0.14, 2.63469e-12, 1.41550e-11},
}

-- data/diffec_g_relation_90C.csv: c (mol/L), G (cm^2/s)
M.diffec_g = {
  {0.6110915682424984, 9.977098724706488e-8}, {0.6376914159715152, 1.0172147415944764e-7},
  {0.6642896755551067, 1.0345475164365702e-7}, {0.6908879351386983, 1.0518802912786635e-7},
  {0.7174877828677149, 1.0713851604024911e-7}, {0.7440876305967317, 1.0908900295263187e-7},
  {0.7706874783257482, 1.1103948986501463e-7}, {0.797287326054765, 1.1298997677739734e-7},
  {0.8238871737837818, 1.149404636897801e-7}, {0.8504901978036494, 1.1732536945850962e-7},
  {0.8770900455326662, 1.1927585637089238e-7}, {0.9036930695525336, 1.216607621396219e-7},
  {0.9302960935724012, 1.2404566790835147e-7}, {0.9568991175922685, 1.26430573677081e-7},
  {0.9835021416121361, 1.288154794458105e-7}, {1.0101067537774286, 1.3141759464271351e-7},
  {1.0367113659427214, 1.3401970983961647e-7}, {1.0633159781080141, 1.3662182503651942e-7},
  {1.0899205902733071, 1.3922394023342237e-7}, {1.1165252024385999, 1.4182605543032527e-7},
  {1.1431298146038926, 1.4442817062722822e-7}, {1.1697360149146108, 1.472474952523046e-7},
  {1.1963438033707543, 1.5028402930555432e-7}, {1.222948415536047, 1.5288614450245727e-7},
  {1.2495546158467652, 1.5570546912753366e-7}, {1.276163992448334, 1.5895921260895686e-7},
  {1.302770192759052, 1.617785372340332e-7}, {1.3293779812151956, 1.648150712872829e-7},
  {1.3559873578167643, 1.6806881476870605e-7}, {1.3825935581274824, 1.7088813939378238e-7},
  {1.409201346583626, 1.7392467344703214e-7}, {1.4358091350397693, 1.7696120750028185e-7},
  {1.4624169234959126, 1.7999774155353162e-7}, {1.4890247119520563, 1.8303427560678138e-7},
  {1.5156325004081996, 1.860708096600311e-7}, {1.542240288864343, 1.8910734371328086e-7},
  {1.5688480773204867, 1.9214387776653068e-7}, {1.59545586577663, 1.951804118197804e-7},
  {1.622060477941923, 1.9778252701668334e-7}, {1.648665090107216, 2.003846422135863e-7},
  {1.6752712904179339, 2.0320396683866268e-7}, {1.7018743144378015, 2.0558887260739215e-7},
  {1.728478926603094, 2.0819098780429513e-7}, {1.7550803624775362, 2.103586841448513e-7},
  {1.7816833864974038, 2.1274358991358084e-7}, {1.808284822371846, 2.1491128625413698e-7},
  {1.8348830819554374, 2.166445637383463e-7}, {1.8614797533936034, 2.1816063179438228e-7},
  {1.8880764248317694, 2.196766998504182e-7}, {1.9146715081245105, 2.2097555847828074e-7},
  {1.941266591417251, 2.2227441710614329e-7}, {1.9678537339828652, 2.2248722859313882e-7},
  {1.99444722913018, 2.2356887779282796e-7}, {2.0210327835503685, 2.235644798516501e-7},
  {2.0476183379705573, 2.2356008191047222e-7}, {2.074203892390746, 2.2355568396929438e-7},
  {2.1007878586655098, 2.2333407659994313e-7}, {2.127365472358572, 2.2224363151789823e-7},
  {2.153944674197059, 2.213703958640268e-7}, {2.1805206997446955, 2.200627413538085e-7},
  {2.207096725292333, 2.1875508684359026e-7}, {2.2336711626945442, 2.1723022290519855e-7},
  {2.260242423805905, 2.1527094011046007e-7}, {2.2868105086264148, 2.1287723845937482e-7},
  {2.3133801815923496, 2.107007462364629e-7}, {2.3399466782674345, 2.0808983515720428e-7},
  {2.3665115867970936, 2.0526171464977215e-7}, {2.3930764953267527, 2.0243359414234008e-7},
  {2.419639815710987, 1.9938826420673463e-7}, {2.446203136095221, 1.9634293427112918e-7},
  {2.4727632801886044, 1.9286318547917687e-7}, {2.4993234242819877, 1.893834366872246e-7},
  {2.525886744666222, 1.863381067516191e-7}, {2.5524437124687536, 1.8242393910332003e-7},
  {2.579000680271286, 1.7850977145502096e-7}, {2.6055576480738187, 1.7459560380672188e-7},
  {2.6321146158763513, 1.7068143615842275e-7}, {2.6586731718243097, 1.6698447793829706e-7},
  {2.685236492208544, 1.639391480026916e-7}, {2.7117950481565014, 1.6024218978256597e-7},
  {2.738352015959034, 1.563280221342669e-7}, {2.7649089837615666, 1.5241385448596782e-7},
  {2.791465951564099, 1.484996868376687e-7}, {2.8180229193666317, 1.4458551918936962e-7},
  {2.8445798871691643, 1.4067135154107054e-7}, {2.8711400312625477, 1.3719160274911828e-7},
  {2.897703351646782, 1.3414627281351278e-7}, {2.9242603194493144, 1.302321051652137e-7},
  {2.950818875397272, 1.26535146945088e-7}, {2.977385372072357, 1.2392423586582937e-7},
}

-- DiffEC's t+0 line (c in mol/L)
M.diffec_tp = {p0 = -0.03758, p1 = -0.47419}

-- least-squares line y = a + b x
local function line(xs, ys)
  local n, sx, sy, sxx, sxy = #xs, 0, 0, 0, 0
  for k = 1, n do
    sx, sy = sx + xs[k], sy + ys[k]
    sxx, sxy = sxx + xs[k] * xs[k], sxy + xs[k] * ys[k]
  end
  local b = (n * sxy - sx * sy) / (n * sxx - sx * sx)
  return (sy - b * sx) / n, b
end

-- ln(D_Li + D_TFSI) = a + b c (c in mol/m^3), fitted to the NMR points
local function nmr_fit()
  local cs, ls = {}, {}
  for k, p in ipairs(M.nmr_points) do
    cs[k] = M.c_of_r(p[1])
    ls[k] = math.log(p[2] + p[3])
  end
  return line(cs, ls)
end

-- Nernst-Einstein conductivity (S/m) of the NMR fit at c (an estimate)
function M.kappa_ne(c, T)
  local a, b = nmr_fit()
  return F * F * c * math.exp(a + b * c) / (R * (T or M.paper.T))
end

-- The Nernst-Einstein conductivity tabulated (S/m) from 0.0005 to 4.5
-- mol/L, with the paper's c0 as a node (so that kappa(c0) is exactly
-- kappa_ne(c0)). opts: T, c0 (default: the paper's cell).
function M.kappa_table(opts)
  opts = opts or {}
  local T, c0 = opts.T or M.paper.T, opts.c0 or M.paper.c0
  local cs, vs = {}, {}
  local function add(c)
    cs[#cs + 1] = c
    vs[#vs + 1] = M.kappa_ne(c, T)
  end
  for _, c in ipairs{0.5, 1, 2, 5, 10, 20} do add(c) end
  for k = 1, 90 do
    local c = 50 * k
    if c0 > c - 50 and c0 < c and c0 > 50 then add(c0) end
    add(c)
  end
  return {c = cs, v = vs}
end

-- The constant interfacial resistance (ohm m^2, both interfaces) that makes
-- the model's initial current V / (R_int + L / kappa(c0)) equal the measured
-- i0. kappa: a number or a table holding c0 as a node (kappa_table);
-- opts: c0, i0, V, L (default: the paper's cell). An error if kappa alone
-- already gives less than i0.
function M.R_int_from_i0(kappa, opts)
  opts = opts or {}
  local P = M.paper
  local c0, i0 = opts.c0 or P.c0, opts.i0 or P.i0
  local V, L = opts.V or P.V, opts.L or P.L
  local k0 = kappa
  if type(kappa) == "table" then
    for j, c in ipairs(kappa.c) do
      if c == c0 then k0 = kappa.v[j] end
    end
    if type(k0) ~= "number" then
      error("cellparams.R_int_from_i0: the kappa table needs c0 as a node", 2)
    end
  end
  local Rint = V / i0 - L / k0
  if not (Rint >= 0) then
    error(string.format("cellparams.R_int_from_i0: kappa(c0) = %g S/m alone "
      .. "gives less than i0 = %g A/m^2", k0, i0), 2)
  end
  return Rint
end

-- the law Tf(c) = 1 + (Tf0 - 1) c / c0 (c0 default: the paper's) as a
-- two-row table continued linearly
function M.Tf_linear(Tf0, c0)
  c0 = c0 or M.paper.c0
  return {c = {0, c0}, v = {1, Tf0}, extrapolate = "linear"}
end

M.Tf0 = 3   -- the assumed Tf at c0 (see the header)

local function pnb_tables()
  local c, tp, D = {}, {}, {}
  for k, p in ipairs(M.pnb_points) do
    c[k], tp[k], D[k] = 1000 * p[1], p[2], 1e-4 * p[3]
  end
  return {c = c, v = D}, {c = c, v = tp}
end

local function diffec_tables(V_salt)
  local c, D = {}, {}
  local p0, p1 = M.diffec_tp.p0, M.diffec_tp.p1
  for k, p in ipairs(M.diffec_g) do
    local cm = p[1]
    local tp = p0 + p1 * (cm - 1.87) / 1.87
    c[k] = 1000 * cm
    D[k] = (1 - tp) * 1e-4 * p[2] * (1 - 1000 * cm * V_salt)
  end
  local c1, c2 = c[1], c[#c]
  local tp = {c = {c1, c2}, v = {p0 + p1 * (c1 / 1000 - 1.87) / 1.87,
                                 p0 + p1 * (c2 / 1000 - 1.87) / 1.87}}
  return {c = c, v = D}, tp
end

M.sources = {
  kappa = "estimate: Nernst-Einstein from corrected PFG-NMR self-diffusion "
    .. "(Pesko et al. 2017, Fig. 1)",
  R_int = "estimate: V / i0 - L / kappa(c0) from the paper's initial current "
    .. "0.905 mA/cm^2 at 0.3 V over 3 mm",
  Tf = "assumption: Tf = 1 + 2 c / (1.87 mol/L) (no Tf table at hand)",
}

local NOTE = "kappa is an estimate (Nernst-Einstein from NMR self-diffusion), "
  .. "R_int an estimate (from the paper's initial current), Tf an assumption "
  .. "(1 + 2 c / c0)"

M.names = {"pnb", "tplus-0.2", "diffec"}

local builders = {
  pnb = function()
    local D, tp = pnb_tables()
    local src = "Pesko et al. 2017 (Balsara-Newman), points as digitized by DiffEC"
    return {D = D, tp = tp, source = src, sources = {D = src, tp = src}}
  end,
  ["tplus-0.2"] = function()
    local D = pnb_tables()
    return {D = D, tp = 0.2, source = "t+0 = 0.2 (the paper's conclusion; stands "
      .. "in for its RS set), D of Pesko et al. 2017",
      sources = {D = "Pesko et al. 2017 (Balsara-Newman)",
                 tp = "the paper's conclusion t+0 = 0.2"}}
  end,
  diffec = function()
    local D, tp = diffec_tables(M.V_salt)
    local src = "Chen et al. 2026 (DiffEC) fit to the paper's profiles"
    return {D = D, tp = tp, source = src, sources = {D = src, tp = src}}
  end,
}

-- a parameter file: a Lua chunk returning {kappa=, D=, tp=, Tf=, R_int=,
-- V_salt=, V_EO=}
local function from_file(path)
  local chunk, msg = loadfile(path)
  if not chunk then error("cellparams: " .. msg, 3) end
  local ok, set = pcall(chunk)
  if not ok then error("cellparams: " .. path .. ": " .. tostring(set), 3) end
  if type(set) ~= "table" then
    error("cellparams: " .. path .. " must return a table {kappa=, D=, tp=, ...}", 3)
  end
  set.name = set.name or path
  return set
end

-- The parameter set NAME (a new table each call) or the set a file returns.
-- opts.strict: D and t+0 tables raise an error outside their data.
function M.get(name, opts)
  if type(name) ~= "string" then
    error("cellparams.get: a name expected (" .. table.concat(M.names, ", ") .. ")", 2)
  end
  if name:match("%.lua$") then return from_file(name) end
  local b = builders[name]
  if not b then
    error(string.format("cellparams: unknown parameter set '%s' (known: %s, or FILE.lua)",
      name, table.concat(M.names, ", ")), 2)
  end
  local set = b()
  set.name = name
  for _, k in ipairs{"D", "tp"} do
    if type(set[k]) == "table" then
      set[k].extrapolate = (opts and opts.strict) and "error" or "constant"
    end
  end
  set.kappa = M.kappa_table()
  set.R_int = M.R_int_from_i0(set.kappa)
  set.Tf = M.Tf_linear(M.Tf0)
  set.V_salt, set.V_EO = M.V_salt, M.V_EO
  for k, v in pairs(M.sources) do set.sources[k] = v end
  set.note = NOTE
  return set
end

return M
