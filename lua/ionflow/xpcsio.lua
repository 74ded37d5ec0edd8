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
-- Result files follow the APS 8-ID-I layout as boost_corr writes it and
-- pyXpcsViewer reads it (q in 1/Angstrom, delays in used frames, shapes
-- and orientation as there; tests/xpcs/test_viewer_layout.py opens them
-- the viewer's way); ionflow's own group /ionflow/xpcs holds what the
-- layout has no place for (SI values, windows, options).
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

-- the APS metadata of a raw file: dataset and geometry field
local DET = "/entry/instrument/detector_1/"
local RAW_META = {
  {"/entry/instrument/incident_beam/incident_energy", "energy_keV"},
  {DET .. "distance", "distance"}, {DET .. "x_pixel_size", "pixel_x"},
  {DET .. "y_pixel_size", "pixel_y"}, {DET .. "beam_center_x", "center_x"},
  {DET .. "beam_center_y", "center_y"}, {DET .. "frame_time", "frame_time"},
}

-- the options of detector.frames/info that choose and shape a raw file's
-- reader (format, frames, gap, order, module), from d, plus the HDF5
-- dataset
local DET_KEYS = {"format", "frames", "gap", "order", "module"}
function M.detector_opts(d, dataset)
  local t = {dataset = dataset}
  for _, k in ipairs(DET_KEYS) do t[k] = d and d[k] end
  return t
end

-- geometry from the APS metadata of a raw (or sidecar) file; the shape from
-- the frames of `raw` in any format detector reads (default: the frame
-- dataset of the same file; det: detector options as detector_opts).
-- Fields given in `over` win.
function M.geometry_from_file(path, dataset, over, raw, det)
  local f <close> = h5.open(path)
  local g = {}
  for _, m in ipairs(RAW_META) do g[m[2]] = readnum(f, m[1]) end
  local frame_time = g.frame_time
  g.frame_time = nil
  local ds = dataset or M.RAW_DATASET
  if raw then
    local info = detector.info(raw, M.detector_opts(det, dataset))
    g.rows, g.cols, g.nframes = info.rows, info.cols, info.frames
  elseif f:exists(ds) then
    local info = f:info(ds)
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

local function readable(p)
  local fh = io.open(p, "rb")
  if fh then fh:close() end
  return fh ~= nil
end

-- the raw-format options of the XPCS scripts (o: cli.parse's result) as
-- detector options: --format NAME, --nframes N|last, --gap ROWS,COLS,
-- --module-order A,B,C,D,E,F, --module ROWS,COLS
function M.detector_cli(o)
  local function ints(k, n)
    if o[k] == nil then return nil end
    local t, m, bad = {}, 0, false
    for v in tostring(o[k]):gmatch("[^,]*") do
      m = m + 1
      t[m] = math.tointeger(tonumber(v))
      bad = bad or t[m] == nil
    end
    if m ~= n or bad then
      o:die(string.format("--%s needs %d integers separated by commas",
        k:gsub("_", "-"), n))
    end
    return t
  end
  local d = {format = o.format, gap = ints("gap", 2),
    order = ints("module_order", 6), module = ints("module", 2)}
  if o.nframes ~= nil then
    d.frames = o.nframes == "last" and "last" or o:num("nframes", true)
  end
  return d
end

-- the APS sidecar metadata of a raw file: NAME_metadata.hdf beside it,
-- NAME being the raw name without its format suffix (.bin.00N, .bin,
-- .imm, .h5, .hdf, .hdf5) and then without trailing _NNNNN or
-- _NNNN-NNNNN (frame range) parts one by one; nil when there is none
function M.find_metadata(raw)
  local base = raw:gsub("%.bin%.00%d$", ""):gsub("%.bin$", "")
    :gsub("%.imm$", ""):gsub("%.hdf5?$", ""):gsub("%.h5$", "")
  while true do
    local p = base .. "_metadata.hdf"
    if p ~= raw and readable(p) then return p end
    local shorter = base:gsub("_%d+%-%d+$", "", 1)
    if shorter == base then shorter = base:gsub("_%d+$", "", 1) end
    if shorter == base then return nil end
    base = shorter
  end
end

-- the geometry of a raw file in any format: the metadata of
-- o.metadata, else of an HDF5 raw file that holds them, else of the
-- sidecar (find_metadata); the shape from the frames. o: metadata,
-- dataset, over (fields that win), detector (detector_opts)
function M.raw_geometry(raw, o)
  o = o or {}
  local meta = o.metadata
  local fmt = detector.info(raw, M.detector_opts(o.detector, o.dataset)).format
  if not meta and fmt == "hdf5" then
    local f <close> = h5.open(raw)
    if f:exists(RAW_META[1][1]) then meta = raw end
  end
  meta = meta or M.find_metadata(raw)
  if not meta then
    if fmt ~= "hdf5" then
      error(string.format("%s: no metadata for the geometry (no "
        .. "NAME_metadata.hdf beside it; give --metadata FILE)", raw), 2)
    end
    meta = raw
  end
  local g = M.geometry_from_file(meta, o.dataset, o.over, raw, o.detector)
  g.metadata = meta
  g.format = fmt
  return g
end

-- a raw frame file as geometry_from_file reads it: frames (n x rows x
-- cols) at RAW_DATASET and the metadata of g (energy_keV, distance,
-- pixel_x, pixel_y, center_x, center_y and optionally frame_time, e.g.
-- speckle.simulate's truth). For tests and exercises.
function M.write_raw(path, frames, g)
  local w <close> = h5.create(path, {overwrite = true})
  w:write(M.RAW_DATASET, frames)
  for _, m in ipairs(RAW_META) do
    local v = g[m[2]]
    if v == nil and m[2] ~= "frame_time" then
      error("xpcsio.write_raw: " .. m[2] .. " is required", 2)
    end
    if v ~= nil then w:write(m[1], v) end
  end
  w:close()
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
  -- the file's own grid (bin values, grid size, bin -> grid index, names)
  -- goes unchanged into a result's /xpcs/qmap
  out.grid = {}
  for _, k in ipairs{"dynamic_v_list_dim0", "dynamic_v_list_dim1",
                     "static_v_list_dim0", "static_v_list_dim1",
                     "dynamic_num_pts", "static_num_pts",
                     "dynamic_index_mapping", "static_index_mapping",
                     "map_names", "map_units"} do
    if f:exists("/qmap/" .. k) then
      out[k] = f:read("/qmap/" .. k)
      out.grid[k] = out[k]
    end
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

-- The static bins that get a column in scattering_1d(_segments), and the
-- grid index of each (static_index_mapping). The viewer (pyXpcsViewer,
-- QMap.reshape_phi_analysis) puts column k at the 0-based position
-- static_index_mapping[k] of the nq x nphi grid, q major; boost_corr
-- leaves out the static bins without pixels. Our grids number bins
-- iq * nphi + iphi + 1 (qmap.h), so the position is bin - 1; a qmap file
-- that brings its own mapping for every bin keeps it, and all columns.
local function static_columns(qm)
  local s = qm.static
  local own = qm.grid and qm.grid.static_index_mapping
  local bins, pos = {}, {}
  if own and #own == s.nbins then
    for b = 1, s.nbins do bins[b], pos[b] = b, own:get(b) end
  else
    for b = 1, s.nbins do
      if s.count:get(b) > 0 then
        bins[#bins + 1], pos[#pos + 1] = b, b - 1
      end
    end
  end
  return bins, pos
end
M.static_columns = static_columns

-- a content key for the viewer's qmap cache (it keys QMap objects by the
-- "hash" attribute of /xpcs/qmap): weighted sums of both maps
local function qmap_hash(qm)
  local d, s = qm.dynamic.map, qm.static.map
  local n = d.shape[1] * d.shape[2]
  local wgt = array.sin(array.arange(0, n, 1) * 0.7071) + 1.5
  local h1 = (d:astype("f64"):reshape{n} * wgt):sum()
  local h2 = (s:astype("f64"):reshape{n} * wgt):sum()
  return string.format("ionflow-%dx%d-%.17g-%.17g", d.shape[1], d.shape[2],
    h1, h2)
end

-- the /xpcs/qmap group (APS layout, q in 1/A) for a partition pair: the
-- datasets pyXpcsViewer's QMap reads (maps, v_lists, num_pts,
-- index_mapping, map_names/units, beam centre, distance, pixel size) and
-- the "hash" attribute of its cache. A qmap read from an APS file keeps
-- its own grid datasets (qm.grid).
local function write_qmap_group(w, root, qm, g)
  local d, s = qm.dynamic, qm.static
  local mask = qm.mask or xpcs.mask(d.map)
  local grid = qm.grid or {}
  w:group(root, {hash = qmap_hash(qm)})
  w:write(root .. "/mask", mask:astype("i32"))
  w:write(root .. "/dynamic_roi_map", d.map)
  w:write(root .. "/static_roi_map", s.map)
  for _, pr in ipairs{{"dynamic", d}, {"static", s}} do
    local name, p = pr[1], pr[2]
    local nq = p.nq > 0 and p.nq or p.nbins
    local np = p.nphi > 0 and p.nphi or 1
    local qc = centres(p.q_edges) or p.q_mean
    local pc = centres(p.phi_edges) or array.zeros{1}
    local map
    if name == "static" then
      local _, pos = static_columns(qm)
      map = array.zeros{#pos}:astype("i32")
      for k, v in ipairs(pos) do map:set(k, v) end
    else
      map = array.arange(0, p.nbins, 1):astype("i32")
    end
    local function put(k, v, int)
      local own = grid[name .. k]
      if own and int then own = own:astype("i32") end
      w:write(root .. "/" .. name .. k, own or v)
    end
    put("_v_list_dim0", qc * ANGSTROM)
    put("_v_list_dim1", pc)
    put("_num_pts", array.from({nq, np}):astype("i32"), true)
    put("_index_mapping", map, true)
  end
  w:write(root .. "/map_names", grid.map_names or {"q", "phi"})
  w:write(root .. "/map_units", grid.map_units or {"1/A", "deg"})
  if g then
    w:write(root .. "/beam_center_x", g.center_x)
    w:write(root .. "/beam_center_y", g.center_y)
    w:write(root .. "/detector_distance", g.distance)
    w:write(root .. "/pixel_size", g.pixel_x)
  end
end

-- a qmap file in the APS (pySimpleMask) layout
function M.write_qmap(path, qm, g)
  g = g or qm.geometry
  local w <close> = h5.create(path, {overwrite = true})
  write_qmap_group(w, "/qmap", qm, g)
  if g and g.energy_keV then w:write("/qmap/energy", g.energy_keV) end
  w:close()
end

-- stream the frames of o.raw (any format detector reads; o.detector:
-- its options as detector_opts) through a correlator (plus one per window
-- of o.window frames, overlapping by o.overlap). Options: raw, dataset,
-- dynamic, static, first, last (1-based, inclusive), stride, dark,
-- normalize, reject_sigma, segments (number of I(q) segments), dpl,
-- window, overlap, frame_time, block, progress, on_frame(i), and
-- twotime = {bins = {...}, downsample = 1, max_frames = 20000} for the
-- two-time correlation of chosen dynamic bins (memory: 8 bytes x their
-- pixels x frames / downsample, plus 8 n^2 per bin for C)
function M.correlate(o)
  local dopts = M.detector_opts(o.detector, o.dataset)
  local info = detector.info(o.raw, dopts)
  local total = info.frames
  if not total then   -- a Rigaku file without its count: detector says why
    for _ in detector.frames(o.raw, dopts) do end
  end
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
  local spare = {}   -- finished windows' correlators, reset for the next
  local function new(n)
    if n ~= count and #spare > 0 then return table.remove(spare) end
    return xpcs.correlator{dynamic = o.dynamic, static = o.static,
      dark = o.dark, normalize = o.normalize, reject_sigma = o.reject_sigma,
      sparse = o.sparse,
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
  -- blocks of the correlator's batch length: it then reads them where
  -- HDF5 put them, with no copy (frames left waiting are copied)
  local j = 0
  dopts.first, dopts.count, dopts.step = first, count, stride
  dopts.block, dopts.blocks = o.block or main:batch(), true
  for _, block in detector.frames(o.raw, dopts) do
    local n = block.shape[1]
    main:push_async(block)
    if tt then tt:push(block) end
    if W then
      for s = (j + step - 1) // step * step, j + n - 1, step do
        if s + W <= count then
          active[#active + 1] = {c = new(W), start = s, n = 0}
        end
      end
      for k = #active, 1, -1 do
        local a = active[k]
        local from = math.max(a.start, j)
        local cnt = math.min(a.start + W, j + n) - from
        if cnt > 0 then
          a.c:push(block, from - j + 1, cnt)
          a.n = a.n + cnt
        end
        if a.n == W then
          local r = a.c:result()
          -- (reused: a new correlator's state would be faulted in again)
          spare[#spare + 1] = a.c:reset()
          windows[#windows + 1] = {g2 = r.g2, g2_err = r.g2_err, tau = r.tau,
            first = first + a.start * stride,
            last = first + (a.start + W - 1) * stride}
          table.remove(active, k)
        end
      end
    end
    if o.on_frame then for i = j + 1, j + n do o.on_frame(i) end end
    j = j + n
  end
  local res = main:result()
  main:close()
  for _, c in ipairs(spare) do c:close() end
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

-- the windows' g2 as the viewer's normalized_g2_partial: n_windows x
-- n_tau x n_bins on the delays of the whole run (a window's missing long
-- delays NaN), its errors, and a label per window
local function write_partial(w, mt, res, ft)
  local nw, nt, nb = #res.windows, res.g2.shape[1], res.g2.shape[2]
  local part = array.full({nw, nt, nb}, 0 / 0)
  local perr = array.full({nw, nt, nb}, 0 / 0)
  local wf, wl, labels = array.zeros{nw}, array.zeros{nw}, {}
  for k, win in ipairs(res.windows) do
    for i = 1, math.min(nt, win.g2.shape[1]) do
      for b = 1, nb do
        part:set(k, i, b, win.g2:get(i, b))
        perr:set(k, i, b, win.g2_err:get(i, b))
      end
    end
    wf:set(k, win.first)
    wl:set(k, win.last)
    labels[k] = string.format("frames %d-%d", win.first, win.last)
  end
  w:write(mt .. "normalized_g2_partial", part)
  w:write(mt .. "normalized_g2_partial_err", perr)
  w:write(mt .. "normalized_g2_partial_labels", labels)
  w:write("/ionflow/xpcs/windows/first_frame", wf)
  w:write("/ionflow/xpcs/windows/last_frame", wl)
  if ft then
    w:write("/ionflow/xpcs/windows/start_time_s", (wf - 1) * ft)
    w:write("/ionflow/xpcs/windows/end_time_s", wl * ft)
  end
end

-- the viewer symmetrises a stored map as c2 + c2^T with the diagonal
-- halved (boost_corr stores one triangle): keep t2 >= t1, zeros below
local function upper(C)
  local n = C.shape[1]
  local U = C:copy()
  for i = 2, n do
    for j = 1, i - 1 do U:set(i, j, 0) end
  end
  return U
end

local function write_twotime(w, T, stride)
  local n = #T.tau
  local g2 = array.zeros{n, #T.bins}
  local seg = array.zeros{n, 1, #T.bins}
  -- as boost_corr: maps numbered 1, 2, ... in the order of processed_bins
  -- (the viewer pairs them by position, not by the number in the name)
  for k in ipairs(T.bins) do
    w:write(string.format("/xpcs/twotime/correlation_map/c2_%05d", k),
      upper(T.C[k]))
    for i = 1, n do
      g2:set(i, k, T.g2[k]:get(i))
      seg:set(i, 1, k, T.g2[k]:get(i))
    end
  end
  w:write("/xpcs/twotime/normalized_g2", g2)
  -- one segment: the whole series (the viewer needs the dataset)
  w:write("/xpcs/twotime/normalized_g2_segments", seg)
  w:write("/xpcs/twotime/processed_bins", array.from(T.bins):astype("i32"))
  w:write("/xpcs/twotime/delay_list", T.tau,
    {attrs = {units = "frames (x stride_frame x avg_frame)"}})
  w:write("/xpcs/twotime/config/stride_frame", stride)
  w:write("/xpcs/twotime/config/avg_frame", T.downsample)
end

-- write a correlation result in the APS 8-ID-I layout read by
-- pyXpcsViewer and written by boost_corr; meta: geometry, qmap ({dynamic,
-- static, mask}), options (a table of scalars/strings). Delays are in
-- used frames: the viewer multiplies them by frame_time x stride_frame x
-- avg_frame. What the layout has no place for goes to /ionflow/xpcs.
function M.write_result(path, res, meta)
  meta = meta or {}
  local g = meta.geometry or {}
  local stride = res.stride or 1
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
  w:write(mt .. "delay_list", res.tau,
    {attrs = {units = "frames (x stride_frame x avg_frame)"}})
  w:write(mt .. "normalized_g2", res.g2)
  w:write(mt .. "normalized_g2_err", res.g2_err)
  w:write(mt .. "config/stride_frame", stride)
  w:write(mt .. "config/avg_frame", 1)
  if res.windows and #res.windows > 0 then write_partial(w, mt, res, ft) end
  if res.twotime then write_twotime(w, res.twotime, stride) end
  local sh = res.image.shape
  w:write("/xpcs/temporal_mean/scattering_2d", res.image:reshape{1, sh[1], sh[2]})
  local qm = meta.qmap or {static = res.static, dynamic = res.dynamic}
  local cols = qm.static and static_columns(qm)
  if not cols then
    cols = {}
    for b = 1, #res.iq do cols[b] = b end
  end
  local i1 = array.zeros{1, #cols}
  for k, b in ipairs(cols) do i1:set(1, k, res.iq:get(b)) end
  w:write("/xpcs/temporal_mean/scattering_1d", i1)
  if res.iq_segments then
    local ns = res.iq_segments.shape[1]
    local seg = array.zeros{ns, #cols}
    for j = 1, ns do
      for k, b in ipairs(cols) do seg:set(j, k, res.iq_segments:get(j, b)) end
    end
    w:write("/xpcs/temporal_mean/scattering_1d_segments", seg)
  end
  -- boost_corr: row 1 counts the used frames from 0, row 2 their mean
  -- intensity; the raw frame numbers (strides, rejections) go to /ionflow
  local n = res.nframes
  local ivt = array.zeros{2, n}
  for i = 1, n do
    ivt:set(1, i, i - 1)
    ivt:set(2, i, res.ivt:get(i))
  end
  w:write("/xpcs/spatial_mean/intensity_vs_time", ivt)
  if meta.qmap then write_qmap_group(w, "/xpcs/qmap", meta.qmap, meta.geometry) end
  local io = "/ionflow/xpcs/"
  w:write(io .. "g2_static", res.g2_static)
  w:write(io .. "frame_index", res.frame_index)
  w:write(io .. "scattering_1d_bins", array.from(cols):astype("i32"))
  w:write(io .. "static_bins", #res.iq)
  if ft then w:write(io .. "delay_s", res.tau * (stride * ft)) end
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

-- a full two-time map from the stored triangle (as the viewer does)
local function symmetric(U)
  local n = U.shape[1]
  local C = U:copy()
  for i = 2, n do
    for j = 1, i - 1 do C:set(i, j, U:get(j, i)) end
  end
  return C
end

-- read back what write_result wrote: the same numbers as the correlator's
-- result (tau in used frames, iq and iq_segments per static bin with NaN
-- for the bins without a column, ivt with 0-based frame numbers in row 1)
-- plus stride, avg_frame, the qmap and the two-time maps made whole
function M.read_result(path)
  local f <close> = h5.open(path)
  local function rd(p) return f:exists(p) and f:read(p) or nil end
  local function num(p)
    local v = rd(p)
    if array.isarray(v) then v = v:totable() end
    while type(v) == "table" do v = v[1] end
    return v
  end
  local out = {
    tau = rd("/xpcs/multitau/delay_list"),
    g2 = rd("/xpcs/multitau/normalized_g2"),
    g2_err = rd("/xpcs/multitau/normalized_g2_err"),
    g2_partial = rd("/xpcs/multitau/normalized_g2_partial"),
    g2_partial_err = rd("/xpcs/multitau/normalized_g2_partial_err"),
    stride = num("/xpcs/multitau/config/stride_frame") or 1,
    avg_frame = num("/xpcs/multitau/config/avg_frame") or 1,
    image = rd("/xpcs/temporal_mean/scattering_2d"),
    ivt = rd("/xpcs/spatial_mean/intensity_vs_time"),
    frame_index = rd("/ionflow/xpcs/frame_index"),
    q_list = rd("/xpcs/qmap/dynamic_v_list_dim0"),
    phi_list = rd("/xpcs/qmap/dynamic_v_list_dim1"),
    dynamic_roi_map = rd("/xpcs/qmap/dynamic_roi_map"),
    g2_static = rd("/ionflow/xpcs/g2_static"),
    twotime_g2 = rd("/xpcs/twotime/normalized_g2"),
    frame_time = rd("/entry/instrument/detector_1/frame_time"),
    energy_keV = num("/entry/instrument/incident_beam/incident_energy"),
  }
  local cols, ns = rd("/ionflow/xpcs/scattering_1d_bins"), num("/ionflow/xpcs/static_bins")
  local function expand(a)
    if not (a and cols and ns) then return a end
    local m = a.shape[1]
    local e = array.full({m, ns}, 0 / 0)
    for j = 1, m do
      for k = 1, #cols do e:set(j, cols:get(k), a:get(j, k)) end
    end
    return e
  end
  local i1 = expand(rd("/xpcs/temporal_mean/scattering_1d"))
  out.iq = i1 and i1:reshape{i1.shape[2]}
  out.iq_segments = expand(rd("/xpcs/temporal_mean/scattering_1d_segments"))
  if f:exists("/xpcs/twotime/processed_bins") then
    local bins = rd("/xpcs/twotime/processed_bins")
    out.twotime = {bins = bins:totable(), C = {}, tau = rd("/xpcs/twotime/delay_list"),
      downsample = num("/xpcs/twotime/config/avg_frame")}
    for k in ipairs(out.twotime.bins) do
      out.twotime.C[k] = symmetric(f:read(string.format(
        "/xpcs/twotime/correlation_map/c2_%05d", k)))
    end
  end
  return out
end

-- The velocity workflows (bin_moments, simulated_run, static_weights,
-- bin_spread, homodyne, velocity, velocity_vs_time) live in
-- ionflow.velocity; they stay reachable here, loaded on first use.
local MOVED = {bin_moments = true, simulated_run = true,
  static_weights = true, bin_spread = true, homodyne = true,
  velocity = true, velocity_vs_time = true}
setmetatable(M, {__index = function(_, k)
  if MOVED[k] then return require("ionflow.velocity")[k] end
end})

return M
