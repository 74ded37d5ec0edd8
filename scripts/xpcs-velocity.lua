-- xpcs-velocity.lua: the electrolyte speed from heterodyne XPCS (paper
-- Eq. 1 and 2, Figure 2): g2 per q ring and chi sector, Eq. 1 fits, omega
-- versus q cos chi, the speed with its errors; per time window if asked.
--
--   ionflow scripts/xpcs-velocity.lua RAW.h5|RESULT.h5 -o OUT.h5
--       [--flow-angle DEG] [--fit-angle] [--window N] [--overlap N]
--       [--q-range QMIN:QMAX] [--q-bins N] [--phi-bins N] [--master]
--       [--dataset PATH] [--frames FIRST:LAST] [--frame-time S]
--
-- A raw frame file (APS metadata for the geometry) is correlated first
-- (rings of --q-bins over --q-range in 1/A, --phi-bins sectors); a result
-- file of xpcs-correlate.lua is used as it is (with its windows, if it was
-- correlated with --window, for v(t)). Prints omega/q per ring and
-- "velocity = 100.4 +/- 0.7 A/s" (one line per window with --window), and
-- writes the fits, omega(q, chi), the rings, the velocity and v(t) into
-- OUT.h5 under /ionflow/velocity/. Only the speed is observable. When no
-- velocity is resolved (no oscillation: h = 1, or no flow), the homodyne
-- fits per ring are printed and written under /ionflow/velocity/homodyne/.
local X = require "ionflow.xpcsio"

local usage = [==[
usage: xpcs-velocity.lua RAW.h5|RESULT.h5 -o OUT.h5 [--flow-angle DEG]
  [--fit-angle] [--window N] [--overlap N] [--q-range QMIN:QMAX]
  [--q-bins N] [--phi-bins N] [--master] [--dataset PATH]
  [--frames FIRST:LAST] [--frame-time S]]==]

local cli = require "ionflow.cli"
local o = cli.parse(arg, {name = "xpcs-velocity", usage = usage,
  flags = {fit_angle = true, master = true},
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
local function load()
  local f <close> = h5.open(o.input)
  local is_result = f:exists("/xpcs/multitau/normalized_g2")
  f:close()
  if is_result then
    if o.window then die("--window needs raw frames (a result has fixed g2)") end
    local r = X.read_result(o.input)
    local h <close> = h5.open(o.input)
    local function rd(path)
      if not h:exists(path) then
        error(string.format("%s: no %s (not an xpcs-correlate result?)", o.input, path))
      end
      local v = h:read(path)
      if array.isarray(v) then v = v:totable() end
      while type(v) == "table" do v = v[1] end
      return v
    end
    local map = h:read("/xpcs/qmap/dynamic_roi_map")
    local npts = h:read("/xpcs/qmap/dynamic_num_pts"):totable()
    local sh = map.shape
    local g = xpcs.geometry{energy_keV = rd("/entry/instrument/incident_beam/incident_energy"),
      distance = rd("/xpcs/qmap/detector_distance"),
      pixel = rd("/xpcs/qmap/pixel_size"),
      center = {x = rd("/xpcs/qmap/beam_center_x"), y = rd("/xpcs/qmap/beam_center_y")},
      shape = {sh[1], sh[2]}}
    local maps = xpcs.maps(g)
    local p = xpcs.partition{map = map, q = maps.q, phi = maps.phi,
      nbins = r.g2.shape[2]}
    -- the static bins the g2 was averaged over (bin_moments follows them)
    local st = h:exists("/xpcs/qmap/static_roi_map") and xpcs.partition{
      map = h:read("/xpcs/qmap/static_roi_map"), q = maps.q, phi = maps.phi}
    local ft = num("frame_time") or r.frame_time
    if type(ft) ~= "number" then
      ft = array.isarray(ft) and ft:totable() or ft
      while type(ft) == "table" do ft = ft[1] end
    end
    if not ft then error(o.input .. ": no frame time (give --frame-time)") end
    -- delays are in used frames; the correlated frames are stride frames
    -- apart (avg_frame frames each): the multi-tau averaging's unit
    local step = ft * r.stride * r.avg_frame
    local out = {tau = r.tau * step, g2 = r.g2, err = r.g2_err, dt = step,
            bins = bin_table(p, maps, npts[1], npts[2], st), windows = {}}
    -- a windowed correlation: v(t) from the viewer's g2_partial (windows
    -- x delays x bins on the whole run's delays, NaN past a window's end)
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
  local g = X.geometry_from_file(o.input, o.dataset, over)
  local ft = g.frame_time
  if not ft then error(o.input .. ": no frame time in the metadata (give --frame-time)") end
  local qmin, qmax = range("q_range")
  local nq, nphi = num("q_bins", true) or 8, num("phi_bins", true) or 18
  local qm = X.partitions(g, {q_bins = nq, phi_bins = nphi,
    q_min = qmin and qmin / A, q_max = qmax and qmax / A})
  local first, last = range("frames")
  local res = X.correlate{raw = o.input, dataset = o.dataset,
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

-- the homodyne fits of an unresolved g2 (xpcsio.homodyne), per ring
local function print_homodyne(H)
  print("the data show no resolvable heterodyne oscillation: fitted with the "
    .. "homodyne model, g2 = 1 + beta exp(-2 (tau/tau0)^gamma), per ring:")
  print(string.format("%5s %12s %18s %18s %14s %5s", "ring", "q (1/A)",
    "tau0 (s)", "beta", "gamma", "bins"))
  for _, R in ipairs(H.rings) do
    if R.nbins > 0 then
      print(string.format("%5d %12.6f %8.3f+/-%-7.3f %8.4f+/-%-7.4f "
        .. "%6.3f+/-%-5.3f %5d", R.ring, R.q * A, R.tau0, R.tau0_err, R.beta,
        R.beta_err, R.gamma, R.gamma_err, R.nbins))
    else
      print(string.format("%5d %s", R.ring, R.reason))
    end
  end
end

-- field k of every table of a list, as an array (NaN where missing)
local function column(list, k, dtype)
  local a = array.zeros({#list}, dtype)
  for i, f in ipairs(list) do a:set(i, f[k] or 0 / 0) end
  return a
end

-- /ionflow/velocity/homodyne/: bins/ (per bin) and rings/ (per ring)
local function write_homodyne(w, root, H)
  for _, k in ipairs{"beta", "beta_err", "tau0", "tau0_err", "gamma",
                     "gamma_err", "chi2_red"} do
    w:write(root .. "/bins/" .. k, column(H.bins, k))
  end
  local conv = array.zeros({#H.bins}, "i32")
  for i, f in ipairs(H.bins) do conv:set(i, f.converged and 1 or 0) end
  w:write(root .. "/bins/converged", conv)
  for _, kn in ipairs{{"q", "q_per_m"}, {"tau0", "tau0_s"},
      {"tau0_err", "tau0_err_s"}, {"beta", "beta"}, {"beta_err", "beta_err"},
      {"gamma", "gamma"}, {"gamma_err", "gamma_err"}} do
    w:write(root .. "/rings/" .. kn[2], column(H.rings, kn[1]))
  end
  w:write(root .. "/rings/nbins", column(H.rings, "nbins", "i32"))
  w:group(root, {model = "g2 = 1 + beta exp(-2 (tau/tau0)^gamma) with the "
    .. "multi-tau averaging; tau0 in s; rings: weighted means over their "
    .. "converged bins"})
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
  w:write(root .. "bins/q_per_m", d.bins.q)
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
  end
  w:group(root .. "result", attrs)
  if vel.homodyne then write_homodyne(w, root .. "homodyne", vel.homodyne) end
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
  local nres = 0
  for _, f in ipairs(fits) do if f.resolved then nres = nres + 1 end end
  print(string.format("%s: %d bins (%d rings x %d sectors), omega resolved in %d, "
    .. "%d used for the speed", o.input, #fits, d.bins.nq, d.bins.nphi, nres,
    vel.nused or 0))
  if vel.resolved then
    print(string.format("%5s %12s %14s %14s %6s", "ring", "q (1/A)", "q v (rad/s)",
      "v (A/s)", "bins"))
    for r, R in ipairs(vel.rings) do
      if R.v and R.q then
        print(string.format("%5d %12.6f %7.4f+/-%.4f %7.2f+/-%.2f %6d", r, R.q * A,
          R.qv, R.qv_err, R.v / A, R.v_err / A, R.nused))
      end
    end
    print(string.format("omega(q), zero intercept: %.1f +/- %.1f A/s; spread "
      .. "between rings: %.1f +/- %.1f A/s", vel.v_q / A, vel.v_q_err / A,
      (vel.v_rings or 0 / 0) / A, (vel.v_rings_err or 0 / 0) / A))
    if vel.master and vel.master.resolved then
      print(string.format("master curve: %.1f +/- %.1f A/s", vel.master.v_A_per_s,
        vel.master.v_err_A_per_s))
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
  if vel.homodyne then print_homodyne(vel.homodyne) end
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
