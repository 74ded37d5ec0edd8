-- xpcs-velocity.lua: the electrolyte speed from heterodyne XPCS (paper
-- Eq. 1 and 2, Figure 2): g2 per q ring and chi sector, Eq. 1 fits, omega
-- versus q cos chi, the speed with its errors; per time window if asked.
--
--   ionflow scripts/xpcs-velocity.lua RAW|RESULT.h5 -o OUT.h5
--       [--flow-angle DEG] [--fit-angle] [--window N] [--overlap N]
--       [--q-range QMIN:QMAX] [--q-bins N] [--phi-bins N] [--master]
--       [--dataset PATH] [--frames FIRST:LAST] [--frame-time S]
--       [--metadata FILE] [--format FMT] [--nframes N|last]
--       [--gap ROWS,COLS] [--module-order A,B,C,D,E,F] [--module R,C]
--
-- RAW is any frame file detector reads (HDF5, Rigaku 500k .bin, Rigaku
-- 3M .bin.000, APS IMM; the raw-format options as in xpcs-correlate.lua).
-- A raw frame file (APS metadata for the geometry) is correlated first
-- (rings of --q-bins over --q-range in 1/A, --phi-bins sectors); a result
-- file is used as it is: xpcs-correlate.lua's (with its windows, if it was
-- correlated with --window, for v(t)), the APS correlator boost_corr's
-- (the same layout; LZF, float32) or the legacy APS layout
-- (/exchange/norm-0-g2). The q of each bin is the file's qmap's, as the
-- viewer shows it (never recomputed from /entry, whose energy can
-- disagree); g2 = 0 with error 0 (no photon pairs at that delay) is left
-- out as missing; a dataset that cannot be read and is not needed (e.g.
-- scattering_2d with a filter HDF5 lacks) gives a warning only. Prints omega/q per ring and
-- "velocity = 100.4 +/- 0.7 A/s" (one line per window with --window), and
-- writes the fits, omega(q, chi), the rings, the velocity and v(t) into
-- OUT.h5 under /ionflow/velocity/. Only the speed is observable. When no
-- velocity is resolved (no oscillation: h = 1, or no flow), the homodyne
-- fits per ring are printed and written under /ionflow/velocity/homodyne/.
-- Every fit, bin and ring carries a status (ok, at bound, poor fit, no
-- data, not converged), printed in the tables and written next to the
-- numbers (fits/status, rings/status); only ok bins enter the speed and
-- the rings' means.
local X = require "ionflow.xpcsio"

local usage = [==[
usage: ionflow scripts/xpcs-velocity.lua RAW|RESULT.h5 -o OUT.h5
  [--flow-angle DEG] [--fit-angle] [--master] [--window N] [--overlap N]
  [--q-range QMIN:QMAX] [--q-bins N] [--phi-bins N] [--frames FIRST:LAST]
  [--frame-time S] [--metadata FILE] [--dataset PATH] [--format FMT]
  [--nframes N|last] [--gap ROWS,COLS] [--module-order A,B,C,D,E,F]
  [--module ROWS,COLS]

The electrolyte's flow speed from heterodyne XPCS (the paper's Eqs. 1
and 2): g2 per q ring and sector, an Eq. 1 fit of each, omega against
q cos chi, and the speed with its error, per time window if asked. The
input is a raw frame file (any format xpcs-correlate.lua reads; it is
correlated first) or a result file: xpcs-correlate.lua's, the APS
correlator boost_corr's or the legacy APS layout, whose q per bin comes
from its own qmap. Prints the rings and "velocity = V +/- E A/s"; every
fit, bin and ring has a status (ok, at bound, poor fit, no data, not
converged) and only ok bins enter the speed. With no resolvable
oscillation (h = 1, or no flow) the homodyne fits per ring are given
instead. Writes everything under /ionflow/velocity/ in OUT.h5.

Options (defaults in brackets):
  -o OUT.h5             the output file (written atomically; never the input)
  --flow-angle DEG      flow direction on the detector [0]
  --fit-angle           fit the flow direction too [fixed]
  --master              also fit one master curve over all bins [no]
  --window N            v(t): correlate windows of N frames (raw input) [no]
  --overlap N           frames shared by successive windows [0]
  --q-range QMIN:QMAX   rings over this q range, 1/A [the detector's]
  --q-bins N            q rings [8]; --phi-bins N: sectors per ring [18]
  --frames FIRST:LAST   1-based inclusive frame range [all]
  --frame-time S        seconds between frames [from the metadata or result]
  --metadata FILE       APS metadata for the geometry [an HDF5 raw file's
                        own, else NAME_metadata.hdf beside RAW]
  --dataset PATH        frames dataset of an HDF5 file [/entry/data/data]
  --format FMT          hdf5, rigaku, rigaku3m or imm [from the file]
  --nframes N|last      Rigaku: the run's frame count, or "last"
  --gap ROWS,COLS       Rigaku 3M gaps between modules [70,52]
  --module-order A,...  Rigaku 3M: file suffix of each grid slot [5,0,4,1,3,2]
  --module ROWS,COLS    Rigaku module shape [512,1024]

Example:
  ionflow scripts/make-sample.lua
  ionflow scripts/xpcs-velocity.lua scan_0042.h5 -o velocity.h5]==]

local cli = require "ionflow.cli"
local o = cli.parse(arg, {name = "xpcs-velocity", usage = usage,
  flags = {fit_angle = true, master = true},
  values = {out = true, flow_angle = true, window = true, overlap = true,
    q_range = true, q_bins = true, phi_bins = true, frames = true,
    frame_time = true, metadata = true, meta = true, dataset = true,
    format = true, nframes = true, gap = true, module_order = true,
    module = true},
  positional = {"input"}, short = {o = "out"}})
local function die(msg) o:die(msg) end
if not o.input then die("no input file") end
if not o.out then die("no output file (-o)") end
local function num(k, int) return o:num(k, int) end
-- sizes bounded and durations positive, the bound in the message
for k, b in pairs{q_bins = 1, phi_bins = 1, window = 2, overlap = 0} do
  o:bound(k, b, 1e9, true)
end
o:bound("frame_time", 0, math.huge, false, true)
local function range(k)
  if o[k] == nil then return nil end
  local a, b = o[k]:match("^([^:]*):([^:]*)$")
  if not a then die("--" .. k:gsub("_", "-") .. " needs A:B") end
  return tonumber(a), tonumber(b)
end

local A = 1e-10

-- the bins: mean q, the bin means of the in-plane q components and their
-- products (<q cos chi> and its spread within the bin), the ring of each
local function bin_table(p, maps, nq, nphi, st)
  local b = X.bin_moments(p, maps, nphi, st)
  b.nq = nq
  return b
end

-- input: a raw frame file or a correlation result
local det = X.detector_cli(o)

local function load()
  local is_result = false
  if detector.format(o.input, {format = det.format}) == "hdf5" then
    local f <close> = h5.open(o.input)
    is_result = f:exists("/xpcs/multitau/normalized_g2") or
      f:exists("/exchange/norm-0-g2")
    if not (is_result or f:exists(o.dataset or X.RAW_DATASET)) then
      error(string.format("%s: neither raw frames (no %s) nor an XPCS result "
        .. "(no /xpcs/multitau/normalized_g2, the APS layout, nor "
        .. "/exchange/norm-0-g2, the legacy APS layout)", o.input,
        o.dataset or X.RAW_DATASET))
    end
  end
  if is_result then
    if o.window then die("--window needs raw frames (a result has fixed g2)") end
    local r = X.read_result(o.input)
    for p, why in pairs(r.unreadable) do
      io.stderr:write(string.format("xpcs-velocity: warning: %s not used (%s)\n",
        p, why))
    end
    local ft = num("frame_time") or r.frame_time
    if not ft then error(o.input .. ": no frame time (give --frame-time)") end
    -- delays are in used frames; the correlated frames are stride frames
    -- apart (avg_frame frames each): the multi-tau averaging's unit
    local step = ft * r.stride * r.avg_frame
    local out = {tau = r.tau * step, g2 = r.g2, err = r.g2_err, dt = step,
      bins = X.result_bins(r), windows = {}, missing = r.g2_missing,
      layout = r.layout}
    -- a windowed correlation: v(t) from the viewer's g2_partial (windows
    -- x delays x bins on the whole run's delays, NaN past a window's end)
    local h <close> = h5.open(o.input)
    local W = "/ionflow/xpcs/windows/"
    if r.g2_partial and h:exists(W .. "first_frame") then
      local wf, wl = h:read(W .. "first_frame"), h:read(W .. "last_frame")
      local ts, te = {}, {}
      for k = 1, #wf do ts[k], te[k] = (wf[k] - 1) * ft, wl[k] * ft end
      out.partial = {g2_partial = r.g2_partial,
        g2_partial_err = r.g2_partial_err, tau = r.tau * step,
        t_start = ts, t_end = te}
    end
    return out
  end
  local over = {}
  if num("frame_time") then over.frame_time = num("frame_time") end
  local g = X.raw_geometry(o.input, {metadata = o.metadata,
    dataset = o.dataset, over = over, detector = det})
  local ft = g.frame_time
  if not ft then error(o.input .. ": no frame time in the metadata (give --frame-time)") end
  local qmin, qmax = range("q_range")
  local nq, nphi = num("q_bins", true) or 8, num("phi_bins", true) or 18
  local qm = X.partitions(g, {q_bins = nq, phi_bins = nphi,
    q_min = qmin and qmin / A, q_max = qmax and qmax / A})
  local first, last = range("frames")
  local res = X.correlate{raw = o.input, dataset = o.dataset, detector = det,
    dynamic = qm.dynamic, static = qm.static, first = first, last = last,
    window = num("window", true), overlap = num("overlap", true),
    frame_time = ft}
  return {tau = res.tau * ft, g2 = res.g2, err = res.g2_err, dt = ft,
    bins = bin_table(qm.dynamic, qm.maps, nq, nphi, qm.static), windows = res.windows,
    frame_time = ft}
end

local flow = num("flow_angle") or 0

-- fits and velocity of one g2 table (xpcsio.velocity: the bins' spread
-- and the multi-tau averaging of frames dt apart are in the model)
local function analyse(d, master)
  return X.velocity(d.tau, d.g2, d.err, {bins = d.bins, flow_angle_deg = flow,
    fit_angle = o.fit_angle, frame_time = d.dt, master = master})
end

local function vline(vel)
  if not vel.resolved then return "velocity not resolved: " .. vel.reason end
  return string.format("velocity = %.1f +/- %.1f A/s", vel.v_A_per_s, vel.v_err_A_per_s)
end

-- each ring's q (1/m): the mean of its bins' q (a result file's: its
-- qmap's q of each bin), for every ring, fitted or not
local function ring_q(bins)
  local s, n = {}, {}
  for k, r in ipairs(bins.ring) do
    local q = bins.q[k]
    if q == q then s[r], n[r] = (s[r] or 0) + q, (n[r] or 0) + 1 end
  end
  local out = {}
  for r in pairs(s) do out[r] = s[r] / n[r] end
  return out
end

local pm = X.plusminus

-- the homodyne fits of an unresolved g2 (xpcsio.homodyne), per ring: the
-- means over the bins whose fit is ok, and the ring's status
local function print_homodyne(H, rq)
  print("the data show no resolvable heterodyne oscillation: fitted with the "
    .. "homodyne model, g2 = 1 + beta exp(-2 (tau/tau0)^gamma), per ring:")
  print(string.format("%5s %12s %20s %18s %14s %5s  %s", "ring", "q (1/A)",
    "tau0 (s)", "beta", "gamma", "bins", "status"))
  for _, R in ipairs(H.rings) do
    if R.nbins > 0 then
      print(string.format("%5d %12.6f %20s %18s %14s %5d  %s", R.ring,
        (rq[R.ring] or R.q) * A, pm(R.tau0, R.tau0_err), pm(R.beta, R.beta_err),
        pm(R.gamma, R.gamma_err), R.nbins, R.status))
    else
      print(string.format("%5d %12.6f %s", R.ring, (rq[R.ring] or 0 / 0) * A,
        R.reason))
    end
  end
  local count = {}
  for _, f in ipairs(H.bins) do count[f.status] = (count[f.status] or 0) + 1 end
  local parts = {}
  for _, s in ipairs{"ok", "at bound", "poor fit", "no data", "not converged"} do
    if count[s] then parts[#parts + 1] = count[s] .. " " .. s end
  end
  print("bins: " .. table.concat(parts, ", "))
end

-- the status field of every table of a list, as a list of strings
local function statuses(list)
  local s = {}
  for i, f in ipairs(list) do s[i] = f.status or "no data" end
  return s
end

-- field k of every table of a list, as an array (NaN where missing)
local function column(list, k, dtype)
  local a = array.zeros({#list}, dtype)
  for i, f in ipairs(list) do a:set(i, f[k] or 0 / 0) end
  return a
end

-- /ionflow/velocity/homodyne/: bins/ (per bin) and rings/ (per ring)
local function write_homodyne(w, root, H, bins)
  for _, k in ipairs{"beta", "beta_err", "tau0", "tau0_err", "gamma",
                     "gamma_err", "chi2_red"} do
    w:write(root .. "/bins/" .. k, column(H.bins, k))
  end
  local conv = array.zeros({#H.bins}, "i32")
  for i, f in ipairs(H.bins) do conv:set(i, f.converged and 1 or 0) end
  w:write(root .. "/bins/converged", conv)
  w:write(root .. "/bins/status", statuses(H.bins))
  w:write(root .. "/rings/status", statuses(H.rings))
  for _, kn in ipairs{{"tau0", "tau0_s"},
      {"tau0_err", "tau0_err_s"}, {"beta", "beta"}, {"beta_err", "beta_err"},
      {"gamma", "gamma"}, {"gamma_err", "gamma_err"}} do
    w:write(root .. "/rings/" .. kn[2], column(H.rings, kn[1]))
  end
  w:write(root .. "/rings/nbins", column(H.rings, "nbins", "i32"))
  -- every ring's q, fitted or not (a result file's: its qmap's)
  local rq, q = ring_q(bins), array.zeros{#H.rings}
  for i, R in ipairs(H.rings) do q:set(i, rq[R.ring] or 0 / 0) end
  w:write(root .. "/rings/q_per_m", q)
  w:group(root, {model = "g2 = 1 + beta exp(-2 (tau/tau0)^gamma) with the "
    .. "multi-tau averaging; tau0 in s; rings: weighted means over their "
    .. "bins of status ok", status = "ok, at bound (a parameter on a bound "
    .. "of its physical range: contrast 0..1), poor fit (chi-square or "
    .. "residual runs), no data, not converged"})
end

local function write(d, fits, vel, wins)
  local w <close> = h5.create(o.out, {overwrite = true})
  local root = "/ionflow/velocity/"
  local nb = #fits
  local cols = {"omega", "omega_err", "beta", "beta_err", "h", "h_err",
    "tau0", "tau0_err", "gamma", "gamma_err", "baseline", "chi2_red", "periods"}
  for _, c in ipairs(cols) do w:write(root .. "fits/" .. c, column(fits, c)) end
  local res = array.zeros({nb}, "i32")
  for b = 1, nb do res:set(b, fits[b].resolved and 1 or 0) end
  w:write(root .. "fits/resolved", res)
  w:write(root .. "fits/status", statuses(fits))
  w:write(root .. "bins/q_per_m", d.bins.q)
  if d.bins.phi then w:write(root .. "bins/phi_deg", d.bins.phi) end
  w:write(root .. "bins/qx_per_m", d.bins.qx)
  w:write(root .. "bins/qy_per_m", d.bins.qy)
  w:write(root .. "bins/ring", d.bins.ring)
  -- omega(q, chi): the bin's projection on the flow and its omega
  local ca, sa = math.cos(math.rad(vel.flow_angle_deg or flow)),
    math.sin(math.rad(vel.flow_angle_deg or flow))
  local qc = array.zeros{nb}
  for b = 1, nb do
    qc:set(b, math.abs(d.bins.qx:get(b) * ca + d.bins.qy:get(b) * sa))
  end
  w:write(root .. "omega_q_chi/q_cos_chi_per_m", qc)
  local attrs = {resolved = vel.resolved and 1 or 0, reason = vel.reason,
    note = "only the speed |v| is observable: omega = |q.v| is even in v",
    flow_angle_deg = vel.flow_angle_deg or flow}
  if vel.resolved then
    attrs.v_m_per_s, attrs.v_err_m_per_s = vel.v, vel.v_err
    attrs.v_q_m_per_s, attrs.v_q_err_m_per_s = vel.v_q, vel.v_q_err
    attrs.v_rings_m_per_s = vel.v_rings
    attrs.v_rings_err_m_per_s = vel.v_rings_err
    attrs.chi2_red = vel.chi2_red
    attrs.flow_angle_err_deg = vel.flow_angle_err_deg
    if vel.master then   -- v is nil when the master fit did not resolve it
      attrs.master_resolved = vel.master.resolved and 1 or 0
      attrs.master_reason = vel.master.reason
      attrs.master_v_m_per_s = vel.master.v
      attrs.master_v_err_m_per_s = vel.master.v_err
      attrs.master_status = vel.master.status
    end
    if vel.warning then attrs.warning = vel.warning end
    local nr = #vel.rings
    local rq, qv, qve, rv, rve = array.zeros{nr}, array.zeros{nr}, array.zeros{nr},
      array.zeros{nr}, array.zeros{nr}
    for r, R in ipairs(vel.rings) do
      rq:set(r, R.q or 0 / 0); qv:set(r, R.qv or 0 / 0); qve:set(r, R.qv_err or 0 / 0)
      rv:set(r, R.v or 0 / 0); rve:set(r, R.v_err or 0 / 0)
    end
    w:write(root .. "rings/q_per_m", rq)
    w:write(root .. "rings/qv_rad_per_s", qv)
    w:write(root .. "rings/qv_err_rad_per_s", qve)
    w:write(root .. "rings/v_m_per_s", rv)
    w:write(root .. "rings/v_err_m_per_s", rve)
    w:write(root .. "rings/status", statuses(vel.rings))
  end
  w:group(root .. "result", attrs)
  if vel.homodyne then
    write_homodyne(w, root .. "homodyne", vel.homodyne, d.bins)
  end
  if wins and #wins.v > 0 then
    local ok = {}
    for k, r in ipairs(wins.resolved) do ok[k] = r and 1 or 0 end
    w:write(root .. "vt/start_s", wins.t_start)
    w:write(root .. "vt/end_s", wins.t_end)
    w:write(root .. "vt/v_m_per_s", wins.v)
    w:write(root .. "vt/v_err_m_per_s", wins.v_err)
    w:write(root .. "vt/resolved", array.from(ok, "i32"))
  end
  w:close()
end

local ok, err = pcall(function()
  local d = load()
  local fits, vel = analyse(d, o.master)
  local nres, nok = 0, 0
  for _, f in ipairs(fits) do
    if f.resolved then nres = nres + 1 end
    if f.resolved and f.status == "ok" then nok = nok + 1 end
  end
  print(string.format("%s: %d bins (%d rings x %d sectors), omega resolved in %d "
    .. "(%d with an ok fit), %d used for the speed", o.input, #fits, d.bins.nq,
    d.bins.nphi, nres, nok, vel.nused or 0))
  if d.layout then
    print(string.format("q of each bin: the file's qmap (%s); %d delays "
      .. "without photon pairs (g2 = 0, error 0) left out as missing",
      d.bins.source == "pixels" and "moments from its roi maps and geometry"
      or "no pixel maps: q and phi of the grid only", d.missing or 0))
  end
  if vel.resolved then
    print(string.format("%5s %12s %16s %16s %6s  %s", "ring", "q (1/A)",
      "q v (rad/s)", "v (A/s)", "bins", "status"))
    for r, R in ipairs(vel.rings) do
      if R.v and R.q then
        print(string.format("%5d %12.6f %16s %16s %6d  %s", r, R.q * A,
          pm(R.qv, R.qv_err), pm(R.v / A, R.v_err / A), R.nused, R.status))
      end
    end
    print(string.format("omega(q), zero intercept: %.1f +/- %.1f A/s; spread "
      .. "between rings: %.1f +/- %.1f A/s", vel.v_q / A, vel.v_q_err / A,
      (vel.v_rings or 0 / 0) / A, (vel.v_rings_err or 0 / 0) / A))
    if vel.master and vel.master.resolved then
      print(string.format("master curve: %.1f +/- %.1f A/s (fit %s)",
        vel.master.v_A_per_s, vel.master.v_err_A_per_s, vel.master.status))
    elseif vel.master then
      print("master curve: not resolved: " .. vel.master.reason)
    end
    if vel.warning then print("warning: " .. vel.warning) end
    if o.fit_angle then
      print(string.format("flow angle: %.1f +/- %.1f deg (modulo 180)",
        vel.flow_angle_deg, vel.flow_angle_err_deg))
    end
  end
  print(vline(vel))
  if vel.homodyne then print_homodyne(vel.homodyne, ring_q(d.bins)) end
  print("(only the speed is observable: omega = |q.v| is even in v)")
  local wins
  if #d.windows > 0 then
    wins = X.velocity_vs_time{windows = d.windows, frame_time = d.frame_time,
      bins = d.bins, flow_angle_deg = flow, fit_angle = o.fit_angle}
  elseif d.partial then
    local P = d.partial
    wins = X.velocity_vs_time{g2_partial = P.g2_partial,
      g2_partial_err = P.g2_partial_err, tau = P.tau, t_start = P.t_start,
      t_end = P.t_end, frame_time = d.dt, bins = d.bins,
      flow_angle_deg = flow, fit_angle = o.fit_angle}
  end
  for k = 1, wins and #wins.v or 0 do
    print(string.format("window %d (%.1f-%.1f s): %s", k, wins.t_start[k],
      wins.t_end[k], vline(wins.velocity[k])))
  end
  write(d, fits, vel, wins)
  print("wrote " .. o.out)
end)
if not ok then
  io.stderr:write("xpcs-velocity: ", tostring(err), "\n")
  os.exit(1)
end
