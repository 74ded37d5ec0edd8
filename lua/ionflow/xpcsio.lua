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

-- a metadata number: a scalar or the first element of an array; anything
-- else (a string, a group, NaN) is an error naming the file and dataset,
-- not a missing field
local function readnum(f, path, file)
  if not f:exists(path) then return nil end
  local info = f:info(path)
  if info.kind ~= "dataset" then
    error(string.format("%s: %s is a %s, expected a number", file, path,
      tostring(info.kind)), 0)
  end
  local v = f:read(path)
  if array.isarray(v) then
    local t = #v > 0 and v:totable() or nil
    while type(t) == "table" do t = t[1] end
    v = t
  end
  if type(v) ~= "number" or v ~= v or v == math.huge or v == -math.huge then
    error(string.format("%s: %s is %s, expected a finite number", file,
      path, type(v) == "string" and string.format("the string %q", v)
      or tostring(v)), 0)
  end
  return v
end

-- the APS metadata of a raw file: dataset and geometry field
local DET = "/entry/instrument/detector_1/"
local RAW_META = {
  {"/entry/instrument/incident_beam/incident_energy", "energy_keV"},
  {DET .. "distance", "distance"}, {DET .. "x_pixel_size", "pixel_x"},
  {DET .. "y_pixel_size", "pixel_y"}, {DET .. "beam_center_x", "center_x"},
  {DET .. "beam_center_y", "center_y"}, {DET .. "frame_time", "frame_time"},
}

-- geometry from the APS metadata of a raw (or sidecar) file; the shape from
-- the frame dataset of `raw` (default: the same file). Fields given in
-- `over` win.
function M.geometry_from_file(path, dataset, over, raw)
  local f <close> = h5.open(path)
  local g = {}
  for _, m in ipairs(RAW_META) do g[m[2]] = readnum(f, m[1], path) end
  local frame_time = g.frame_time
  g.frame_time = nil
  local ds = dataset or M.RAW_DATASET
  local fr <close> = raw and h5.open(raw) or nil
  local src = fr or f
  if src:exists(ds) then
    local info = src:info(ds)
    if info.kind ~= "dataset" or not info.shape or #info.shape < 2 or #info.shape > 3 then
      error(string.format("xpcsio.geometry_from_file: %s: %s is %s, expected " ..
        "frames (a 2-D or 3-D dataset)", raw or path, ds, info.kind ~= "dataset" and
        ("a " .. tostring(info.kind)) or ("a " .. #(info.shape or {}) .. "-D dataset")), 2)
    end
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
local function shape_str(a)
  local s = {}
  for k = 1, a.ndim do s[k] = tostring(a.shape[k]) end
  return table.concat(s, "x")
end

-- the grid datasets a qmap file brings (copied into every result) must
-- agree with each other and with its maps: v_lists as long as num_pts
-- says, index_mapping no longer than the bins and inside the grid
local function check_qmap_grid(path, out)
  for _, name in ipairs{"dynamic", "static"} do
    local function ds(k) return "/qmap/" .. name .. k end
    local np = out[name .. "_num_pts"]
    local nbins = out[name].nbins
    if np then
      local nq, nphi = np:get(1), #np > 1 and np:get(2) or 1
      if not (math.tointeger(nq) and math.tointeger(nphi) and nq >= 1 and nphi >= 1) then
        error(string.format("%s: %s must be two integers >= 1", path, ds("_num_pts")), 0)
      end
      for k, n in pairs{_v_list_dim0 = nq, _v_list_dim1 = nphi} do
        local v = out[name .. k]
        if v and #v ~= n then
          error(string.format("%s: %s has %d values, %s says %d", path, ds(k), #v,
            ds("_num_pts"), n), 0)
        end
      end
      local im = out[name .. "_index_mapping"]
      if im then
        if #im > nbins then
          error(string.format("%s: %s has %d entries for the %d bins of %s", path,
            ds("_index_mapping"), #im, nbins, ds("_roi_map")), 0)
        end
        for k = 1, #im do
          local v = im:get(k)
          if not (math.tointeger(v) and v >= 0 and v < nq * nphi) then
            error(string.format("%s: %s[%d] = %s is not a grid index 0..%d", path,
              ds("_index_mapping"), k, tostring(v), nq * nphi - 1), 0)
          end
        end
      end
    end
  end
end

function M.read_qmap(path, g)
  local f <close> = h5.open(path)
  local maps = g and xpcs.maps(g) or nil
  local q = maps and maps.q or nil
  local phi = maps and maps.phi or nil
  local dmap = f:read("/qmap/dynamic_roi_map")
  local sname = f:exists("/qmap/static_roi_map") and "/qmap/static_roi_map"
  local smap = sname and f:read(sname) or dmap
  local mask = f:exists("/qmap/mask") and f:read("/qmap/mask") or nil
  local function part(m, ds)
    if q and shape_str(m) ~= shape_str(q) then
      error(string.format("%s: %s is %s, the detector %s", path, ds,
        shape_str(m), shape_str(q)), 0)
    end
    local ok, p = pcall(xpcs.partition, {map = m, q = q, phi = phi})
    if not ok then error(string.format("%s: %s: %s", path, ds, p), 0) end
    return p
  end
  if mask and shape_str(mask) ~= shape_str(dmap) then
    error(string.format("%s: /qmap/mask is %s, /qmap/dynamic_roi_map %s", path,
      shape_str(mask), shape_str(dmap)), 0)
  end
  local out = {
    dynamic = part(dmap, "/qmap/dynamic_roi_map"),
    static = part(smap, sname or "/qmap/dynamic_roi_map"),
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
  check_qmap_grid(path, out)
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
  if not f:exists(ds) then
    error(string.format("xpcsio.correlate: %s: no dataset %s", o.raw, ds), 2)
  end
  local info = f:info(ds)
  if info.kind ~= "dataset" or not info.shape or #info.shape ~= 3 then
    error(string.format("xpcsio.correlate: %s: %s is %s, expected a 3-D " ..
      "dataset of frames (frames x rows x cols)", o.raw, ds,
      info.kind ~= "dataset" and ("a " .. tostring(info.kind))
      or ("a " .. #(info.shape or {}) .. "-D dataset")), 2)
  end
  local total = info.shape[1]
  local first = o.first or 1
  local last = o.last or total
  local stride = o.stride or 1
  if math.type(stride) ~= "integer" or stride < 1 then
    error(string.format("xpcsio.correlate: stride must be an integer >= 1 " ..
      "(got %s)", tostring(stride)), 2)
  end
  -- a range past the end is an error, not clamped: a run asked for
  -- 100000 frames must not be analysed on 200 without a word
  if first < 1 or last < first or last > total then
    error(string.format("xpcsio.correlate: %s: %s: frames %d..%d asked, " ..
      "the file has 1..%d", o.raw, ds, first, last, total), 2)
  end
  local count = (last - first) // stride + 1
  local seg = o.segments and o.segments > 0 and
    math.max(1, count // o.segments) or 0
  local spare = {}   -- finished windows' correlators, reset for the next
  local function new(n)
    if n ~= count and #spare > 0 then return table.remove(spare) end
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
  -- blocks of the correlator's batch length: it then reads them where
  -- HDF5 put them, with no copy (frames left waiting are copied)
  local j = 0
  for _, block in h5.frames(f, ds, {first = first, count = count,
      step = stride, block = o.block or main:batch(), blocks = true}) do
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

-- per bin of partition p: mean |q|, the means of the in-plane components
-- qx, qy (1/m, so that <q cos chi> is the bin's mean and not its
-- centre's) and of their products qxx, qyy, qxy (1/m^2, the within-bin
-- spread of q cos chi), and the ring of each bin (nphi sectors per ring);
-- the fields fit.velocity takes. With the static partition st the g2 was
-- correlated with, a bin's moments are the plain means over its static
-- bins of their pixel means, as its g2 is the plain mean of theirs: a
-- mean over pixels weights the outer static rings (more pixels) more than
-- the g2 does, and made speeds up to 0.5 % low.
function M.bin_moments(p, maps, nphi, st)
  nphi = nphi or (p.nphi > 0 and p.nphi or 1)
  local qx, qy = maps.q * maps.ux, maps.q * maps.uy
  local mean = function(x) return p:bin_mean(x) end
  if st and st.nbins ~= p.nbins then
    -- static bins nest in dynamic ones (an error names one that does not)
    local s2d = st:nest(p):totable()
    mean = function(x)
      local sm, sum, n = st:bin_mean(x):totable(), {}, {}
      for d = 1, p.nbins do sum[d], n[d] = 0, 0 end
      for k, d in ipairs(s2d) do
        if d >= 1 and sm[k] == sm[k] then
          sum[d], n[d] = sum[d] + sm[k], n[d] + 1
        end
      end
      for d = 1, p.nbins do sum[d] = n[d] > 0 and sum[d] / n[d] or 0 / 0 end
      return array.from(sum)
    end
  end
  local ring = {}
  for b = 1, p.nbins do ring[b] = (b - 1) // nphi + 1 end
  return {q = st and mean(maps.q) or p.q_mean, qx = mean(qx), qy = mean(qy),
    qxx = mean(qx * qx), qyy = mean(qy * qy), qxy = mean(qx * qy),
    ring = ring, nphi = nphi, nq = (p.nbins + nphi - 1) // nphi,
    pixels = {bin = p.map:astype("f64"), qx = qx, qy = qy,
      w = st and M.static_weights(st) or nil}}
end

-- a simulated heterodyne experiment, correlated: the geometry table geo
-- (as xpcs.geometry takes it), partition options popts (as partitions)
-- and simulator options sopts (speckle.simulate's without geometry).
-- Returns the correlator's result, the simulator's truth, the partitions
-- and the bins' moments (with the static partition), ready for
-- M.velocity(r.tau * dt, r.g2, r.g2_err, {bins = bins, frame_time = dt}).
-- For tests, benchmarks and exercises.
function M.simulated_run(geo, popts, sopts)
  local qm = M.partitions(xpcs.geometry(geo), popts)
  local bins = M.bin_moments(qm.dynamic, qm.maps, nil, qm.static)
  local so = {geometry = geo}
  for k, v in pairs(sopts) do so[k] = v end
  local frames, truth = speckle.simulate(so)
  local c = xpcs.correlator{dynamic = qm.dynamic, static = qm.static,
    progress = false}
  c:push(frames)
  local r = c:result()
  c:close()
  return r, truth, qm, bins
end

-- each pixel's weight in its bin's g2 with the static partition st: the
-- g2 is the plain mean over the static bins, so a pixel weighs 1 / the
-- pixels of its static bin (0 outside every static bin)
function M.static_weights(st)
  local n = 1
  for _, d in ipairs(st.map.shape) do n = n * d end
  local map, cnt, w = st.map:reshape{n}:totable(), st.count:totable(), {}
  for i = 1, n do
    local s = map[i]
    w[i] = (s >= 1 and (cnt[s] or 0) > 0) and 1 / cnt[s] or 0
  end
  return array.from(w):reshape(st.map.shape)
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

-- ---- homodyne fits ----
-- With no resolved heterodyne oscillation (h = 1, or v = 0) the g2 is
-- fitted with the homodyne model, baseline + beta e^{-2 (tau/tau0)^gamma}
-- (fit.curve's "homodyne": Eq. 1 with h = 1), with the correlator's
-- multi-tau averaging when frame_time is given.

local HOM_MIN_POINTS = 8   -- as fit.heterodyne: fewer cannot judge a fit
local HOM_NAMES = {"baseline", "beta", "tau0", "gamma"}

-- rows of an n_tau x n_bins array or nested table (a vector: one bin)
local function hom_rows(a, n, what)
  if a == nil then return nil, 1 end
  if not array.isarray(a) then
    local ok, arr = pcall(array.from, a)
    if not ok then
      error(string.format("xpcsio.homodyne: %s must be an array or a "
        .. "table of numbers", what), 3)
    end
    a = arr
  end
  if a.ndim > 2 or a.shape[1] ~= n then
    error(string.format("xpcsio.homodyne: %s must be n_tau (%d) x n_bins "
      .. "(got %s)", what, n, table.concat(a.shape, " x ")), 3)
  end
  local t = a:totable()
  if a.ndim == 1 then
    for i = 1, n do t[i] = {t[i]} end
  end
  return t, a.ndim == 2 and a.shape[2] or 1
end

-- bin k's usable points (as fit.heterodyne's: tau > 0, g2 finite, error
-- finite and > 0), in delay order
local function hom_points(tau, g2, err, k)
  local x, y, e = {}, {}, err and {} or nil
  for i = 1, #tau do
    local t, g, s = tau[i], g2[i][k], err and err[i][k]
    if t > 0 and t < math.huge and g == g and math.abs(g) < math.huge and
        (not err or (s > 0 and s < math.huge)) then
      x[#x + 1], y[#y + 1] = t, g
      if e then e[#e + 1] = s end
    end
  end
  return x, y, e
end

-- the weights of the fits when o.pool_errors is not false: per ring and
-- delay the geometric mean of the ring's bins' errors, the same for every
-- bin of the ring (where its own error is usable; elsewhere NaN, as its
-- own). A bin's own error at a delay comes from the same pixels as its g2
-- there and fluctuates with it, so weighting by it pulls the fit towards
-- low values (the master fit's het_pool_errors says the same): on
-- simulated h = 1 stacks (64 x 64 px, 2000 frames, T = 10 tau0, 4 seeds)
-- the rings' tau0 and beta came out 1.7 and 1.1 % low with the own
-- errors (z rms 1.47), 0.3 and 0.4 % high with the pooled ones (1.21).
local function hom_pool(g2, err, ring)
  local sum, cnt, out = {}, {}, {}
  local function usable(i, k)
    local s, g = err[i][k], g2[i][k]
    return s > 0 and s < math.huge and g == g
  end
  for i = 1, #err do
    sum[i], cnt[i] = {}, {}
    for k = 1, #err[i] do
      if usable(i, k) then
        local r = ring[k]
        sum[i][r] = (sum[i][r] or 0) + math.log(err[i][k])
        cnt[i][r] = (cnt[i][r] or 0) + 1
      end
    end
  end
  for i = 1, #err do
    out[i] = {}
    for k = 1, #err[i] do
      local r = ring[k]
      out[i][k] = usable(i, k) and math.exp(sum[i][r] / cnt[i][r]) or 0 / 0
    end
  end
  return out
end

-- deterministic starts: beta from the first delays' g2 - baseline, tau0
-- where g2 - baseline first falls to beta e^-2 (the geometric mean of
-- the delays around it; the longest delay if it never does), gamma 1
local function hom_start(x, y, b)
  local m = math.min(3, #y)
  local beta = 0
  for i = 1, m do beta = beta + (y[i] - b) / m end
  beta = math.max(beta, 1e-4)
  local tau0 = x[#x]
  for i = 1, #x do
    if y[i] - b <= beta * math.exp(-2) then
      tau0 = i > 1 and math.sqrt(x[i - 1] * x[i]) or x[1]
      break
    end
  end
  return {baseline = b, beta = beta, tau0 = tau0, gamma = 1}
end

-- lag-1 correlation of the weighted residuals in delay order, within
-- [0, 0.98]: multi-tau noise is smooth across delays, so n points count
-- as n (1 - rho) / (1 + rho) (fit.heterodyne inflates its errors alike)
local function hom_rho(f, x, y, e, mo)
  local ym = fit.eval("homodyne", f, x, mo)
  local num, den, prev = 0, 0, nil
  for i = 1, #x do
    local r = (ym[i] - y[i]) / (e and e[i] or 1)
    den = den + r * r
    if prev then num = num + r * prev end
    prev = r
  end
  local rho = den > 0 and num / den or 0
  return math.min(math.max(rho, 0), 0.98)
end

local function hom_failed(reason, n)
  local r = {converged = false, reason = reason, n = n, chi2_red = 0 / 0,
    rho = 0 / 0}
  for _, k in ipairs(HOM_NAMES) do r[k], r[k .. "_err"] = 0 / 0, 0 / 0 end
  return r
end

-- why a finished fit is not to be used, or nil
local function hom_judge(f, fb)
  if not f.converged then return "not converged: " .. f.status end
  for j, k in ipairs(HOM_NAMES) do
    if j > 1 or fb then
      if f.at_bound[j] then return k .. " at a bound of its range" end
      local s = f[k .. "_err"]
      if not (s > 0 and s < math.huge) then
        return k .. " has no finite error"
      end
    end
  end
  return nil
end

-- one bin: the fit of its usable points, errors as fit.heterodyne's
-- (absolute with g2 errors, scaled up by chi2_red > 1 only, and by the
-- residuals' lag-1 correlation)
local function hom_fit(x, y, e, o)
  if #x < HOM_MIN_POINTS then
    return hom_failed(string.format("%d usable points (finite, tau > 0, "
      .. "error > 0); %d needed", #x, HOM_MIN_POINTS), #x)
  end
  local fb = o.fit_baseline and true or false
  local mo = {frame_time = o.frame_time, dpl = o.dpl}
  local p0 = hom_start(x, y, 1)
  -- tau0 within what the delays can tell (as fit.heterodyne's bounds)
  local tlo, thi = x[1] / 20, 1000 * x[#x]
  p0.tau0 = math.min(math.max(p0.tau0, tlo), thi)
  local ok, f = pcall(fit.curve, "homodyne", x, y, {p0 = p0,
    lower = {baseline = 0.5, beta = 0, tau0 = tlo, gamma = 0.2},
    upper = {baseline = 1.5, tau0 = thi, gamma = 3},
    fixed = {baseline = not fb}, sigma = e, scale_errors = "up",
    frame_time = o.frame_time, dpl = o.dpl})
  if not ok then
    return hom_failed("fit failed: " .. tostring(f):gsub("^.-fit%.curve: ", ""),
      #x)
  end
  local rho = hom_rho(f, x, y, e, mo)
  local r = {n = #x, chi2_red = f.chi2_red, rho = rho, status = f.status}
  local infl = math.sqrt((1 + rho) / (1 - rho))
  for _, k in ipairs(HOM_NAMES) do
    r[k], r[k .. "_err"] = f[k], f[k .. "_err"] * infl
  end
  local why = hom_judge(f, fb)
  r.converged, r.reason = why == nil, why or "converged"
  return r
end

-- the weighted mean of field k over the fits, weighted by their relative
-- precision (value / error)^2, its error scaled up by the scatter between
-- them when that exceeds their errors (never down). A bin's tau0 error
-- grows with its tau0 (relative errors about alike), so 1 / error^2
-- would favour the bins whose tau0 came out short: in the runs above
-- (bins scattering ~20 %) it made the rings' tau0 4 % low (z rms 1.55).
local function hom_mean(fits, k)
  local sw, swx, sww = 0, 0, 0
  for _, f in ipairs(fits) do
    local s = f[k .. "_err"]
    local w = (f[k] / s) ^ 2
    sw, swx, sww = sw + w, swx + w * f[k], sww + (w * s) ^ 2
  end
  local m, chi2 = swx / sw, 0
  for _, f in ipairs(fits) do chi2 = chi2 + ((f[k] - m) / f[k .. "_err"]) ^ 2 end
  local scale = #fits > 1 and math.max(1, chi2 / (#fits - 1)) or 1
  return m, math.sqrt(scale * sww) / sw
end

-- per ring: the weighted means of tau0, beta and gamma over its
-- converged bins, and the mean q of those bins
local function hom_rings(bins, ring, q)
  local by, nr = {}, 0
  for k, f in ipairs(bins) do
    local r = ring and ring[k] or 1
    nr = math.max(nr, r)
    by[r] = by[r] or {fits = {}, q = {}}
    if f.converged then
      local t = by[r]
      t.fits[#t.fits + 1] = f
      t.q[#t.q + 1] = q and q[k] or 0 / 0
    end
  end
  local rings = {}
  for r = 1, nr do
    local t = by[r] or {fits = {}, q = {}}
    local R = {ring = r, nbins = #t.fits}
    if #t.fits == 0 then
      R.reason = "no converged bin"
      for _, k in ipairs{"q", "tau0", "tau0_err", "beta", "beta_err",
                         "gamma", "gamma_err"} do R[k] = 0 / 0 end
    else
      local sq = 0
      for _, v in ipairs(t.q) do sq = sq + v end
      R.q, R.reason = sq / #t.q, "converged"
      for _, k in ipairs{"tau0", "beta", "gamma"} do
        R[k], R[k .. "_err"] = hom_mean(t.fits, k)
      end
    end
    rings[r] = R
  end
  return rings
end

-- homodyne fits of one g2 table (n_tau x n_bins as the correlator gives
-- it, tau in s; err of the same shape or nil): per bin baseline + beta
-- e^{-2 (tau/tau0)^gamma}, the baseline fixed at 1 unless o.fit_baseline,
-- with the multi-tau averaging of o.frame_time (s between correlated
-- frames) and o.dpl; per ring of o.bins (bin_moments; none: one ring)
-- the weighted means of tau0, beta and gamma over its converged bins.
-- Returns {bins = {per-bin fits}, rings = {per-ring means}}; a bin that
-- cannot be fitted gets NaN and its reason, not an error.
-- The g2 itself is biased by the correlator's symmetric normalisation
-- by static-bin means (an offset of order -beta tau0 / (T n) for static
-- bins of n pixels over a run of T; see fit.velocity's master tau_max):
-- with simulated_run's default static partition (about 9 pixels per
-- static bin on 64 x 64 px) at T = 10 tau0 the rings' tau0 came out 5 %
-- low (z rms 2.1), with the static bins equal to the dynamic ones
-- 0.3 % high (z rms 1.2).
function M.homodyne(tau, g2, err, o)
  o = o or {}
  if array.isarray(tau) then tau = tau:totable() end
  if type(tau) ~= "table" then
    error("xpcsio.homodyne: tau (delays, s) must be an array or a table", 2)
  end
  local n = #tau
  local rows, nb = hom_rows(g2, n, "g2")
  if rows == nil then error("xpcsio.homodyne: g2 is required", 2) end
  local erows, nbe = hom_rows(err, n, "err")
  if err ~= nil and nbe ~= nb then
    error(string.format("xpcsio.homodyne: err has %d bins, g2 %d", nbe, nb), 2)
  end
  -- the model's options checked once, by the model (in the fits their
  -- errors would become every bin's reason)
  local ok, msg = pcall(fit.eval, "homodyne", {1, 0, 1, 1}, {1},
    {frame_time = o.frame_time, dpl = o.dpl})
  if not ok then
    error("xpcsio.homodyne: " .. tostring(msg):gsub("^.-fit%.eval: ", ""), 2)
  end
  local b = o.bins or {}
  local ring, q = b.ring, b.q
  if array.isarray(q) then q = q:totable() end
  if ring and #ring ~= nb then
    error(string.format("xpcsio.homodyne: bins.ring has %d entries, g2 %d "
      .. "bins", #ring, nb), 2)
  end
  for k = 1, ring and nb or 0 do
    if math.type(ring[k]) == nil or ring[k] < 1 or ring[k] % 1 ~= 0 then
      error(string.format("xpcsio.homodyne: ring of bin %d must be a "
        .. "positive integer (got %s)", k, tostring(ring[k])), 2)
    end
  end
  if erows and o.pool_errors ~= false then
    local one = {}
    for k = 1, nb do one[k] = 1 end
    erows = hom_pool(rows, erows, ring or one)
  end
  local out = {}
  for k = 1, nb do
    local x, y, e = hom_points(tau, rows, erows, k)
    out[k] = hom_fit(x, y, e, o)
  end
  return {bins = out, rings = hom_rings(out, ring, q)}
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
-- {resolved = false, reason = ...} rather than an error, with the
-- homodyne fits of the same g2 (M.homodyne) in velocity.homodyne.
function M.velocity(tau, g2, err, o)
  local b = o.bins
  local flow = o.flow_angle_deg or 0
  local fits = fit.heterodyne(tau, g2, err, {spread = M.bin_spread(b, flow),
    frame_time = o.frame_time, dpl = o.dpl,
    fit_baseline = o.fit_baseline, pixels = b.pixels, flow_angle_deg = flow})
  local arg = {fits = fits, q = b.q, qx = b.qx, qy = b.qy, qxx = b.qxx,
    qyy = b.qyy, qxy = b.qxy, ring = b.ring, flow_angle_deg = flow,
    fit_angle = o.fit_angle, pixels = b.pixels}
  if o.master then
    arg.master = {tau = tau, g2 = g2, err = err, frame_time = o.frame_time,
      dpl = o.dpl}
  end
  local ok, vel = pcall(fit.velocity, arg)
  if not ok then
    vel = {resolved = false,
      reason = tostring(vel):gsub("^.-fit%.velocity: ", "")}
  end
  -- no heterodyne oscillation to go by (h = 1, or v = 0): the decay is
  -- still there, described by the homodyne model
  if not vel.resolved then
    vel.homodyne = M.homodyne(tau, g2, err, {bins = b,
      frame_time = o.frame_time, dpl = o.dpl, fit_baseline = o.fit_baseline})
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
