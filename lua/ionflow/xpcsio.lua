-- ionflow.xpcsio: XPCS files and whole correlation runs on top of the
-- native `xpcs` and `h5` modules.
--
--   local X = require "ionflow.xpcsio"
--   local g = X.geometry_from_file("raw.h5")          -- APS metadata
--   local qm = X.partitions(g, {q_bins = 12, phi_bins = 18, fold = true})
--   local res = X.correlate{raw = "raw.h5", dynamic = qm.dynamic,
--                           static = qm.static, window = 2000}
--   X.write_result("result.h5", res, {geometry = g, qmap = qm})
--   local back = X.read_result("result.h5")
--
-- Result files follow the APS 8-ID-I layout (q in 1/Angstrom there, as the
-- viewer expects; delays in frames); ionflow's own group /ionflow/xpcs
-- holds what the layout has no place for (SI values, windows, options).
local M = {}

local ANGSTROM = 1e-10
M.RAW_DATASET = "/entry/data/data"

local function readnum(f, path)
  if not f:exists(path) then return nil end
  local v = f:read(path)
  if type(v) == "number" then return v end
  if array.isarray(v) then
    local t = v:totable()
    while type(t) == "table" do t = t[1] end
    return t
  end
  return tonumber(v)
end

-- geometry from the APS metadata of a raw (or sidecar) file; the shape from
-- the frame dataset of `raw` (default: the same file). Fields given in
-- `over` win.
function M.geometry_from_file(path, dataset, over, raw)
  local f <close> = h5.open(path)
  local det = "/entry/instrument/detector_1/"
  local g = {
    energy_keV = readnum(f, "/entry/instrument/incident_beam/incident_energy"),
    distance = readnum(f, det .. "distance"),
    pixel_x = readnum(f, det .. "x_pixel_size"),
    pixel_y = readnum(f, det .. "y_pixel_size"),
    center_x = readnum(f, det .. "beam_center_x"),
    center_y = readnum(f, det .. "beam_center_y"),
  }
  local frame_time = readnum(f, det .. "frame_time")
  local ds = dataset or M.RAW_DATASET
  local fr <close> = raw and h5.open(raw) or nil
  local src = fr or f
  if src:exists(ds) then
    local info = src:info(ds)
    g.rows, g.cols = info.shape[#info.shape - 1], info.shape[#info.shape]
    g.nframes = #info.shape == 3 and info.shape[1] or 1
  end
  for k, v in pairs(over or {}) do g[k] = v end
  for _, k in ipairs{"energy_keV", "distance", "pixel_x", "pixel_y",
                     "center_x", "center_y", "rows", "cols"} do
    if g[k] == nil then
      error(string.format("xpcsio.geometry_from_file: %s: no %s in the "
        .. "metadata (give it explicitly)", path, k), 2)
    end
  end
  local checked = xpcs.geometry(g)
  checked.frame_time = g.frame_time or frame_time
  checked.nframes = g.nframes
  return checked
end

-- dynamic and static partitions from a geometry: opts as xpcs.partition
-- (q_bins, phi_bins, fold, log, q_edges, ...) for the dynamic one, and
-- static_q_bins / static_phi_bins (default 4x the dynamic q bins, same
-- sectors) for the static one nested inside it
function M.partitions(g, opts)
  opts = opts or {}
  local maps = xpcs.maps(g)
  local function part(qb, pb)
    local t = {q = maps.q, phi = maps.phi, mask = opts.mask, fold = opts.fold,
               log = opts.log, q_min = opts.q_min, q_max = opts.q_max,
               q_bins = qb, phi_bins = pb,
               phi_min = opts.phi_min, phi_max = opts.phi_max}
    return xpcs.partition(t)
  end
  local nq, np = opts.q_bins or 10, opts.phi_bins or 1
  local dyn
  if opts.q_edges or opts.phi_edges then
    dyn = xpcs.partition{q = maps.q, phi = maps.phi, mask = opts.mask,
      fold = opts.fold, q_edges = opts.q_edges, phi_edges = opts.phi_edges,
      q_bins = nq, phi_bins = np}
  else
    dyn = part(nq, np)
  end
  local st = dyn
  if not (opts.q_edges or opts.phi_edges) then
    st = part(opts.static_q_bins or 4 * nq, opts.static_phi_bins or np)
  end
  return {dynamic = dyn, static = st, maps = maps, mask = opts.mask,
          geometry = g}
end

-- a partition pair from an APS qmap file (pySimpleMask layout); q/phi of
-- the bins from the geometry when given, else from the file's v_lists
function M.read_qmap(path, g)
  local f <close> = h5.open(path)
  local maps = g and xpcs.maps(g) or nil
  local q = maps and maps.q or nil
  local phi = maps and maps.phi or nil
  local dmap = f:read("/qmap/dynamic_roi_map")
  local smap = f:exists("/qmap/static_roi_map") and
    f:read("/qmap/static_roi_map") or dmap
  local mask = f:exists("/qmap/mask") and f:read("/qmap/mask") or nil
  local out = {
    dynamic = xpcs.partition{map = dmap, q = q, phi = phi},
    static = xpcs.partition{map = smap, q = q, phi = phi},
    mask = mask, maps = maps, geometry = g,
  }
  for _, k in ipairs{"dynamic_v_list_dim0", "dynamic_v_list_dim1",
                     "static_v_list_dim0", "static_v_list_dim1",
                     "dynamic_num_pts", "static_num_pts"} do
    if f:exists("/qmap/" .. k) then out[k] = f:read("/qmap/" .. k) end
  end
  return out
end

local function centres(edges, logscale)
  if not edges then return nil end
  local n = #edges - 1
  local c = array.zeros{n}
  for i = 1, n do
    local a, b = edges:get(i), edges:get(i + 1)
    c:set(i, logscale and math.sqrt(a * b) or 0.5 * (a + b))
  end
  return c
end

local function scaled(a, s)
  if a == nil then return nil end
  return a * s
end

-- the /xpcs/qmap group (APS layout, q in 1/A) for a partition pair
local function write_qmap_group(w, root, qm, g)
  local d, s = qm.dynamic, qm.static
  local mask = qm.mask or xpcs.mask(d.map)
  w:write(root .. "/mask", mask:astype("i32"))
  w:write(root .. "/dynamic_roi_map", d.map)
  w:write(root .. "/static_roi_map", s.map)
  for _, pr in ipairs{{"dynamic", d}, {"static", s}} do
    local name, p = pr[1], pr[2]
    local nq = p.nq > 0 and p.nq or p.nbins
    local np = p.nphi > 0 and p.nphi or 1
    local qc = centres(p.q_edges) or p.q_mean
    local pc = centres(p.phi_edges) or array.zeros{1}
    w:write(root .. "/" .. name .. "_v_list_dim0", qc * ANGSTROM)
    w:write(root .. "/" .. name .. "_v_list_dim1", pc)
    w:write(root .. "/" .. name .. "_num_pts", {nq, np})
    w:write(root .. "/" .. name .. "_index_mapping",
      array.arange(0, p.nbins, 1):astype("i32"))
  end
  w:write(root .. "/map_names", {"q", "phi"})
  w:write(root .. "/map_units", {"1/A", "deg"})
  if g then
    w:write(root .. "/beam_center_x", g.center_x)
    w:write(root .. "/beam_center_y", g.center_y)
    w:write(root .. "/detector_distance", g.distance)
    w:write(root .. "/pixel_size", g.pixel_x)
    w:write(root .. "/energy", g.energy_keV)
  end
end

-- a qmap file in the APS (pySimpleMask) layout
function M.write_qmap(path, qm, g)
  local w <close> = h5.create(path, {overwrite = true})
  write_qmap_group(w, "/qmap", qm, g or qm.geometry)
  w:close()
end

-- stream the frames of o.raw through a correlator (plus one per window
-- of o.window frames, overlapping by o.overlap). Options: raw, dataset,
-- dynamic, static, first, last (1-based, inclusive), stride, dark,
-- normalize, reject_sigma, segments (number of I(q) segments), dpl,
-- window, overlap, frame_time, block, progress, on_frame(i), and
-- twotime = {bins = {...}, downsample = 1, max_frames = 20000} for the
-- two-time correlation of chosen dynamic bins (memory: 8 bytes x their
-- pixels x frames / downsample, plus 8 n^2 per bin for C)
function M.correlate(o)
  local ds = o.dataset or M.RAW_DATASET
  local f <close> = h5.open(o.raw)
  local info = f:info(ds)
  local total = info.shape[1]
  local first = o.first or 1
  local last = math.min(o.last or total, total)
  local stride = o.stride or 1
  if first < 1 or last < first then
    error(string.format("xpcsio.correlate: %s: frames %d..%d of %d", o.raw,
      first, last, total), 2)
  end
  local count = (last - first) // stride + 1
  local seg = o.segments and o.segments > 0 and
    math.max(1, count // o.segments) or 0
  local function new(n)
    return xpcs.correlator{dynamic = o.dynamic, static = o.static,
      dark = o.dark, normalize = o.normalize, reject_sigma = o.reject_sigma,
      segment_frames = n == count and seg or 0, dpl = o.dpl,
      threads = o.threads, total = n, progress = n == count and o.progress}
  end
  local main = new(count)
  local W = o.window
  local step = W and (W - (o.overlap or 0)) or nil
  if W and (W < 2 or step < 1) then
    error("xpcsio.correlate: window must be >= 2 and overlap < window", 2)
  end
  local active, windows = {}, {}
  local tt = o.twotime and xpcs.twotime{partition = o.dynamic,
    bins = o.twotime.bins, downsample = o.twotime.downsample,
    max_frames = o.twotime.max_frames}
  local j = 0
  for _, frame in h5.frames(f, ds, {first = first, count = count,
                                    step = stride, block = o.block}) do
    main:push(frame)
    if tt then tt:push(frame) end
    if W and j % step == 0 and j + W <= count then
      active[#active + 1] = {c = new(W), start = j, n = 0}
    end
    for k = #active, 1, -1 do
      local a = active[k]
      a.c:push(frame)
      a.n = a.n + 1
      if a.n == W then
        local r = a.c:result()
        a.c:close()
        windows[#windows + 1] = {g2 = r.g2, g2_err = r.g2_err, tau = r.tau,
          first = first + a.start * stride,
          last = first + (a.start + W - 1) * stride}
        table.remove(active, k)
      end
    end
    j = j + 1
    if o.on_frame then o.on_frame(j) end
  end
  local res = main:result()
  main:close()
  table.sort(windows, function(a, b) return a.first < b.first end)
  res.windows = windows
  res.stride = stride
  res.first = first
  res.last = last
  res.frame_time = o.frame_time
  res.dynamic, res.static = o.dynamic, o.static
  if tt then
    res.twotime = {bins = o.twotime.bins, downsample = o.twotime.downsample
      or 1, C = {}, g2 = {}}
    for k = 1, #o.twotime.bins do
      local r = tt:result(k)
      res.twotime.C[k], res.twotime.g2[k], res.twotime.tau = r.C, r.g2, r.tau
    end
    tt:close()
  end
  return res
end

-- write a correlation result in the APS 8-ID-I layout; meta: geometry,
-- qmap ({dynamic, static, mask}), options (a table of scalars/strings)
function M.write_result(path, res, meta)
  meta = meta or {}
  local g = meta.geometry or {}
  local w <close> = h5.create(path, {overwrite = true})
  w:group("/entry/instrument/bluesky/metadata", {creator = "ionflow"})
  w:write("/entry/start_time", os.date("!%Y-%m-%dT%H:%M:%SZ"))
  if g.energy_keV then
    w:write("/entry/instrument/incident_beam/incident_energy", g.energy_keV)
  end
  local ft = res.frame_time or g.frame_time
  if ft then
    w:write("/entry/instrument/detector_1/frame_time", ft)
    w:write("/entry/instrument/detector_1/count_time", ft)
  end
  local mt = "/xpcs/multitau/"
  w:write(mt .. "delay_list", res.tau * (res.stride or 1),
    {attrs = {units = "frames"}})
  w:write(mt .. "normalized_g2", res.g2)
  w:write(mt .. "normalized_g2_err", res.g2_err)
  w:write(mt .. "config/stride_frame", res.stride or 1)
  w:write(mt .. "config/avg_frame", 1)
  if res.windows and #res.windows > 0 then
    local nw, shape = #res.windows, res.windows[1].g2.shape
    local nt = shape[1]
    for _, win in ipairs(res.windows) do
      nt = math.min(nt, win.g2.shape[1])
    end
    local part = array.zeros{nw, nt, shape[2]}
    local perr = array.zeros{nw, nt, shape[2]}
    local wf, wl = array.zeros{nw}, array.zeros{nw}
    for k, win in ipairs(res.windows) do
      for i = 1, nt do
        for b = 1, shape[2] do
          part:set(k, i, b, win.g2:get(i, b))
          perr:set(k, i, b, win.g2_err:get(i, b))
        end
      end
      wf:set(k, win.first)
      wl:set(k, win.last)
    end
    w:write(mt .. "normalized_g2_partial", part)
    w:write("/ionflow/xpcs/windows/normalized_g2_err", perr)
    w:write("/ionflow/xpcs/windows/delay_list",
      res.windows[1].tau:slice(1, 1, nt) * (res.stride or 1))
    w:write("/ionflow/xpcs/windows/first_frame", wf)
    w:write("/ionflow/xpcs/windows/last_frame", wl)
    if ft then
      w:write("/ionflow/xpcs/windows/start_time_s", (wf - 1) * ft)
      w:write("/ionflow/xpcs/windows/end_time_s", wl * ft)
    end
  end
  if res.twotime then
    local T = res.twotime
    local n = #T.tau
    local g2 = array.zeros{n, #T.bins}
    for k, b in ipairs(T.bins) do
      w:write(string.format("/xpcs/twotime/correlation_map/c2_%05d", b), T.C[k])
      for i = 1, n do g2:set(i, k, T.g2[k]:get(i)) end
    end
    w:write("/xpcs/twotime/normalized_g2", g2)
    w:write("/xpcs/twotime/delay_list", T.tau * (T.downsample * (res.stride or 1)),
      {attrs = {units = "frames"}})
    w:write("/xpcs/twotime/config/selection", T.bins)
    w:write("/xpcs/twotime/config/downsample", T.downsample)
  end
  local sh = res.image.shape
  w:write("/xpcs/temporal_mean/scattering_2d", res.image:reshape{1, sh[1], sh[2]})
  w:write("/xpcs/temporal_mean/scattering_1d", res.iq:reshape{1, #res.iq})
  if res.iq_segments then
    w:write("/xpcs/temporal_mean/scattering_1d_segments", res.iq_segments)
  end
  local n = res.nframes
  local ivt = array.zeros{2, n}
  for i = 1, n do
    ivt:set(1, i, res.frame_index:get(i))
    ivt:set(2, i, res.ivt:get(i))
  end
  w:write("/xpcs/spatial_mean/intensity_vs_time", ivt)
  if meta.qmap then write_qmap_group(w, "/xpcs/qmap", meta.qmap, meta.geometry) end
  local io = "/ionflow/xpcs/"
  w:write(io .. "g2_static", res.g2_static)
  if ft then w:write(io .. "delay_s", res.tau * ((res.stride or 1) * ft)) end
  if meta.qmap then
    w:write(io .. "dynamic_q_mean_per_m", meta.qmap.dynamic.q_mean)
    w:write(io .. "dynamic_phi_mean_deg", meta.qmap.dynamic.phi_mean)
    w:write(io .. "dynamic_pixels", meta.qmap.dynamic.count)
  end
  w:write(io .. "rejected_frames", #res.rejected > 0 and res.rejected or {0})
  local opts = {}
  for k, v in pairs(meta.options or {}) do
    if type(v) == "number" or type(v) == "string" or type(v) == "boolean" then
      opts[k] = type(v) == "boolean" and (v and 1 or 0) or v
    end
  end
  opts.kernel = xpcs.kernel()
  w:group(io .. "options", opts)
  if g.energy_keV then
    w:group(io .. "geometry", {energy_keV = g.energy_keV, distance_m = g.distance,
      pixel_x_m = g.pixel_x, pixel_y_m = g.pixel_y,
      center_x = g.center_x, center_y = g.center_y})
  end
  w:close()
end

-- read back what write_result wrote (the APS datasets and ionflow's group)
function M.read_result(path)
  local f <close> = h5.open(path)
  local function rd(p) return f:exists(p) and f:read(p) or nil end
  return {
    tau = rd("/xpcs/multitau/delay_list"),
    g2 = rd("/xpcs/multitau/normalized_g2"),
    g2_err = rd("/xpcs/multitau/normalized_g2_err"),
    g2_partial = rd("/xpcs/multitau/normalized_g2_partial"),
    image = rd("/xpcs/temporal_mean/scattering_2d"),
    iq = rd("/xpcs/temporal_mean/scattering_1d"),
    iq_segments = rd("/xpcs/temporal_mean/scattering_1d_segments"),
    ivt = rd("/xpcs/spatial_mean/intensity_vs_time"),
    q_list = rd("/xpcs/qmap/dynamic_v_list_dim0"),
    phi_list = rd("/xpcs/qmap/dynamic_v_list_dim1"),
    dynamic_roi_map = rd("/xpcs/qmap/dynamic_roi_map"),
    g2_static = rd("/ionflow/xpcs/g2_static"),
    twotime_g2 = rd("/xpcs/twotime/normalized_g2"),
    frame_time = rd("/entry/instrument/detector_1/frame_time"),
  }
end

-- per bin of partition p: mean |q|, the means of the in-plane components
-- qx, qy (1/m, so that <q cos chi> is the bin's mean and not its
-- centre's) and of their products qxx, qyy, qxy (1/m^2, the within-bin
-- spread of q cos chi), and the ring of each bin (nphi sectors per ring);
-- the fields fit.velocity takes
function M.bin_moments(p, maps, nphi)
  nphi = nphi or (p.nphi > 0 and p.nphi or 1)
  local qx, qy = maps.q * maps.ux, maps.q * maps.uy
  local ring = {}
  for b = 1, p.nbins do ring[b] = (b - 1) // nphi + 1 end
  return {q = p.q_mean, qx = p:bin_mean(qx), qy = p:bin_mean(qy),
    qxx = p:bin_mean(qx * qx), qyy = p:bin_mean(qy * qy),
    qxy = p:bin_mean(qx * qy), ring = ring, nphi = nphi,
    nq = (p.nbins + nphi - 1) // nphi}
end

-- the relative spread of omega in each bin, sd(q cos chi) / |<q cos chi>|
-- along the flow (fit.heterodyne's spread option), from bin_moments;
-- bins without a projection get 0, wide ones at most 9
function M.bin_spread(b, flow_angle_deg)
  local a = math.rad(flow_angle_deg or 0)
  local ca, sa = math.cos(a), math.sin(a)
  local out = {}
  for k = 1, #b.q do
    local qx, qy = b.qx[k], b.qy[k]
    local m1 = math.abs(qx * ca + qy * sa)
    local var = ca * ca * (b.qxx[k] - qx * qx) + sa * sa * (b.qyy[k] - qy * qy)
      + 2 * ca * sa * (b.qxy[k] - qx * qy)
    out[k] = (m1 > 0 and var == var) and
      math.min(math.sqrt(math.max(var, 0)) / m1, 9) or 0
  end
  return out
end

-- the speed of one g2 table (n_tau x n_bins, tau in s): Eq. 1 fits with
-- the bins' spread and the correlator's multi-tau averaging, then
-- fit.velocity. o: bins (bin_moments), flow_angle_deg, fit_angle,
-- frame_time (s between correlated frames: the averaging of the
-- multi-tau levels; nil: none), dpl, master (true: the master-curve fit
-- too), fit_baseline (per-bin fits; default false: a free baseline
-- unbiases the bins' beta and h, see fit.velocity's master, but let the
-- g2 of a stack whose speed changes pass as one velocity and moved the
-- near-one-period speed further up). Returns fits, velocity; an unresolvable table gives velocity =
-- {resolved = false, reason = ...} rather than an error.
function M.velocity(tau, g2, err, o)
  local b = o.bins
  local flow = o.flow_angle_deg or 0
  local fits = fit.heterodyne(tau, g2, err, {spread = M.bin_spread(b, flow),
    frame_time = o.frame_time, dpl = o.dpl,
    fit_baseline = o.fit_baseline})
  local arg = {fits = fits, q = b.q, qx = b.qx, qy = b.qy, qxx = b.qxx,
    qyy = b.qyy, qxy = b.qxy, ring = b.ring, flow_angle_deg = flow,
    fit_angle = o.fit_angle}
  if o.master then
    arg.master = {tau = tau, g2 = g2, err = err, frame_time = o.frame_time,
      dpl = o.dpl}
  end
  local ok, vel = pcall(fit.velocity, arg)
  if not ok then
    vel = {resolved = false,
      reason = tostring(vel):gsub("^.-fit%.velocity: ", "")}
  end
  return fits, vel
end

-- v(t): the speed in every time window of a windowed correlation. o:
-- windows (the list of correlate's result: tau in frames, g2, g2_err,
-- first, last) with frame_time (s) and stride, or g2_partial (n_win x
-- n_tau x n_bins, as in write_result), g2_partial_err (same shape, or
-- nil), tau (n_tau delays in s), t_start and t_end (n_win, s); bins
-- (bin_moments), flow_angle_deg, fit_angle, dpl, frame_time (s between
-- correlated frames, for the multi-tau averaging; required with
-- windows). Returns {t_start, t_end, v, v_err (m/s; NaN when not
-- resolved), resolved (booleans), reason, velocity (each window's
-- fit.velocity result)}, one entry per window.
function M.velocity_vs_time(o)
  local out = {t_start = {}, t_end = {}, v = {}, v_err = {}, resolved = {},
    reason = {}, velocity = {}}
  if not o.bins then error("xpcsio.velocity_vs_time: bins is required", 2) end
  local wins, dt = {}, o.frame_time
  if o.windows then
    local ft = o.frame_time
    if not ft then
      error("xpcsio.velocity_vs_time: windows need frame_time", 2)
    end
    local st = o.stride or 1
    dt = st * ft
    for k, w in ipairs(o.windows) do
      wins[k] = {tau = w.tau * (st * ft), g2 = w.g2, err = w.g2_err,
        t0 = (w.first - 1) * ft, t1 = w.last * ft}
    end
  elseif o.g2_partial then
    local P, E = o.g2_partial, o.g2_partial_err
    if not (array.isarray(P) and #P.shape == 3) then
      error("xpcsio.velocity_vs_time: g2_partial must be n_win x n_tau x "
        .. "n_bins", 2)
    end
    local nw, nt = P.shape[1], P.shape[2]
    local tau = array.isarray(o.tau) and o.tau or array.from(o.tau or {})
    if #tau ~= nt or not o.t_start or not o.t_end then
      error(string.format("xpcsio.velocity_vs_time: tau (%d delays, s), "
        .. "t_start and t_end are needed with g2_partial (%d delays)",
        #tau, nt), 2)
    end
    for k = 1, nw do
      wins[k] = {tau = tau, g2 = P:slice(1, k, k):reshape{nt, P.shape[3]},
        err = E and E:slice(1, k, k):reshape{nt, P.shape[3]} or nil,
        t0 = o.t_start[k], t1 = o.t_end[k]}
    end
  else
    error("xpcsio.velocity_vs_time: give windows or g2_partial", 2)
  end
  for k, w in ipairs(wins) do
    local _, vel = M.velocity(w.tau, w.g2, w.err, {bins = o.bins,
      flow_angle_deg = o.flow_angle_deg, fit_angle = o.fit_angle,
      frame_time = dt, dpl = o.dpl})
    out.t_start[k], out.t_end[k] = w.t0, w.t1
    out.resolved[k] = vel.resolved and true or false
    out.v[k] = vel.resolved and vel.v or 0 / 0
    out.v_err[k] = vel.resolved and vel.v_err or 0 / 0
    out.reason[k] = vel.reason
    out.velocity[k] = vel
  end
  return out
end

return M
