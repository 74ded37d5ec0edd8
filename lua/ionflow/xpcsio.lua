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

-- the options of detector.frames/info that choose and shape a raw file's
-- reader (format, frames, gap, order, module), from d, plus the HDF5
-- dataset
local DET_KEYS = {"format", "frames", "gap", "order", "module"}
-- a stage timer: lap(k) adds the wall and process-CPU seconds since the
-- last lap (or since the stopwatch was made) to tm[k] = {wall, cpu};
-- with tm nil, lap does nothing
function M.stopwatch(tm)
  local w0, c0 = sys.time(), os.clock()
  return function(k)
    if tm then
      local w, c = sys.time(), os.clock()
      local t = tm[k] or {0, 0}
      tm[k], w0, c0 = {t[1] + w - w0, t[2] + c - c0}, w, c
    end
  end
end

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
  for _, m in ipairs(RAW_META) do g[m[2]] = readnum(f, m[1], path) end
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

-- How results are stored, as the facility's (boost_corr) are: measured
-- values (g2 and its errors, intensities, two-time maps) as float32,
-- whose 24-bit mantissa resolves 1.2e-7 in g2 - 1, far below any g2's
-- statistical error; integer maps and indices in the smallest unsigned
-- type that holds them; arrays of more than STORE_BIG elements chunked and
-- LZF-compressed (shuffled first: a third smaller on float32), which h5py,
-- and so the community viewer, decodes without a plugin. float64 stays
-- where precision needs it: delays (integers up to 2^53 and seconds),
-- q and phi lists, geometry and ionflow's own SI values.
local STORE_BIG = 8192

local function nelem(a)
  local n = 1
  for _, d in ipairs(a.shape) do n = n * d end
  return n
end

-- the smallest unsigned dtype for the integer values of a (i32 when
-- some are negative)
local function smallest_int(a)
  if nelem(a) == 0 then return "u8" end
  local lo, hi = a:min(), a:max()
  if lo < 0 then return "i32" end
  return hi <= 255 and "u8" or hi <= 65535 and "u16" or "u32"
end

-- write array a at path as dtype ("int": smallest_int), compressed when
-- large; attrs as w:write's
local function store(w, path, a, dtype, attrs)
  if not array.isarray(a) then a = array.from(a) end
  if dtype == "int" then dtype = smallest_int(a) end
  if dtype and a.dtype ~= dtype then a = a:astype(dtype) end
  w:write(path, a, {attrs = attrs,
    compress = nelem(a) > STORE_BIG and "lzf" or nil})
end
M.store_dtype = smallest_int

-- a content key for the viewer's qmap cache (it keys QMap objects by the
-- "hash" attribute of /xpcs/qmap): both maps' content hashes
local function qmap_hash(qm)
  local d, s = qm.dynamic.map, qm.static.map
  return string.format("ionflow-%dx%d-%s-%s", d.shape[1], d.shape[2],
    d:hash(), s:hash())
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
  store(w, root .. "/mask", mask, "u8")
  store(w, root .. "/dynamic_roi_map", d.map, "int")
  store(w, root .. "/static_roi_map", s.map, "int")
  for _, pr in ipairs{{"dynamic", d}, {"static", s}} do
    local name, p = pr[1], pr[2]
    local nq = p.nq > 0 and p.nq or p.nbins
    local np = p.nphi > 0 and p.nphi or 1
    local qc = centres(p.q_edges) or p.q_mean
    local pc = centres(p.phi_edges) or array.zeros{1}
    local map
    if name == "static" then
      local _, pos = static_columns(qm)
      map = array.zeros{#pos}
      for k, v in ipairs(pos) do map:set(k, v) end
    else
      map = array.arange(0, p.nbins, 1)
    end
    local function put(k, v, int)
      local own = grid[name .. k]
      if int then
        store(w, root .. "/" .. name .. k, own or v, int)
      else
        w:write(root .. "/" .. name .. k, own or v)
      end
    end
    put("_v_list_dim0", qc * ANGSTROM)
    put("_v_list_dim1", pc)
    put("_num_pts", array.from({nq, np}), "i32")
    put("_index_mapping", map, "int")
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
-- window, overlap, frame_time, block, progress, on_frame(i), events
-- (false: a photon-counting source is read as dense frames), async
-- (read the next block while the last is correlated; default: with more
-- than two threads), and
-- twotime = {bins = {...}, downsample = 1, max_frames = 20000} for the
-- two-time correlation of chosen dynamic bins (memory: 8 bytes x their
-- pixels x frames / downsample, plus 8 n^2 per bin for C). A part of the
-- pixels (correlate_ranks): rows = {first, last} (1-based, inclusive) of
-- every frame, reduce(array) -> its sum over the parts (c:result's and
-- the two-time maps'), share(array [, op]) -> its sum (or "min") over
-- the parts, the same on every part (block lengths; with normalize or
-- reject_sigma each frame's sum over the whole detector); empty = true:
-- a part without pixels, which reads nothing but makes every call of
-- reduce and share the others make, in the same order, and returns nil.
-- The dark image is cut to the rows.
function M.correlate(o)
  local dopts = M.detector_opts(o.detector, o.dataset)
  local rows, empty = o.rows, o.empty
  -- (both scale or drop a frame by its mean over all used pixels, which
  -- a part sees only through share)
  if (rows or empty) and (o.normalize or o.reject_sigma) and not o.share then
    error("xpcsio.correlate: a part of the rows cannot normalise or "
      .. "reject frames without share (both need each frame's mean over "
      .. "the whole detector)", 2)
  end
  if rows then
    local function part(p)
      return p and xpcs.partition{map = p.map:slice(1, rows[1], rows[2]):copy(),
        nbins = p.nbins}
    end
    o = setmetatable({dynamic = part(o.dynamic), static = part(o.static),
      dark = o.dark and o.dark:contiguous():reshape{o.dynamic.rows,
        o.dynamic.cols}:slice(1, rows[1], rows[2]):copy()},
      {__index = o})
  end
  local info = detector.info(o.raw, dopts)
  local total = info.frames
  if not total then   -- a Rigaku file without its count: detector says why
    for _ in detector.frames(o.raw, dopts) do end
  end
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
    error(string.format("xpcsio.correlate: %s: frames %d..%d asked, " ..
      "the file has 1..%d", info.dataset and o.raw .. ":" .. info.dataset
      or o.raw, first, last, total), 2)
  end
  local count = (last - first) // stride + 1
  local seg = o.segments and o.segments > 0 and
    math.max(1, count // o.segments) or 0
  -- a photon-counting source (Rigaku, sparse IMM) goes to the correlator
  -- as its events, never made dense, unless something needs the frames
  -- (dark, normalisation, rejection, windows, two-time, a part's rows) or
  -- o.events is false; the result is the same to the last bit
  local events = info.sparse and o.events ~= false and o.sparse ~= false
    and not (o.dark or o.normalize or o.reject_sigma or o.window
      or o.twotime or rows or o.share or empty)
  local spare = {}   -- finished windows' correlators, reset for the next
  local function new(n)
    if empty then return nil end
    if n ~= count and #spare > 0 then return table.remove(spare) end
    return xpcs.correlator{dynamic = o.dynamic, static = o.static,
      dark = o.dark, normalize = o.normalize, reject_sigma = o.reject_sigma,
      sparse = o.sparse, events = n == count and events or nil,
      segment_frames = n == count and seg or 0, dpl = o.dpl,
      threads = o.threads, total = n, progress = n == count and o.progress,
      -- (the end known: the last frames are correlated where they were
      -- read, not copied to wait for more)
      last = n == count and n or nil}
  end
  local main = new(count)
  local W = o.window
  local step = W and (W - (o.overlap or 0)) or nil
  if W and (W < 2 or step < 1) then
    error("xpcsio.correlate: window must be >= 2 and overlap < window", 2)
  end
  local active, windows = {}, {}
  local tt = o.twotime and not empty and xpcs.twotime{partition = o.dynamic,
    bins = o.twotime.bins, downsample = o.twotime.downsample,
    max_frames = o.twotime.max_frames}
  -- blocks of the correlator's batch length: it then reads them where
  -- HDF5 put them, with no copy (frames left waiting are copied); the
  -- parts agree on one length (their windows end in the same blocks)
  local block = o.block or (main and main:batch() or math.maxinteger)
  if o.share then block = math.tointeger(o.share({block}, "min"):get(1)) end
  -- the parts' frame means: each frame's sum over the whole detector
  local means_of
  if o.share and (o.normalize or o.reject_sigma) then
    local npx = o.share({main and main:pixels() or 0}):get(1)
    means_of = function(b, n)
      return o.share(b and main:frame_sums(b) or array.zeros{n}) / npx
    end
  end
  local function result(c)
    if c then return c:result(o.reduce) end
    o.reduce(nil)   -- (an empty part: the two reductions of c:result)
    o.reduce(nil)
  end
  -- Reading the next block while the last is correlated (push_async)
  -- needs a second block buffer; on one or two cores the reader only takes
  -- CPU from the correlator's threads, and the run is as fast or faster
  -- with one buffer, reused while its pages are warm (bench/README.md):
  -- o.async (default: more than two threads) chooses.
  local async = o.async
  if async == nil then async = sys.nproc() > 2 end
  -- o.timing: a table given {wall, process CPU} seconds spent reading,
  -- waiting for the correlator, on windows and in the result
  local lap = M.stopwatch(o.timing)
  local j = 0
  local function take(b, n)
    -- (the reader's blocks may follow the file's chunks: every part
    -- learns the length, an empty one from the others)
    if means_of then
      local m = math.tointeger(o.share({n}, "max"):get(1))
      if b and m ~= n then
        error(string.format("xpcsio.correlate: %s: parts read blocks of "
          .. "%d and %d frames", o.raw, n, m), 0)
      end
      n = m
    end
    local means = means_of and means_of(b, n)
    if main and means then
      main:push(b, nil, nil, means)
    elseif main and async then
      main:push_async(b)
    elseif main then
      main:push(b)
    end
    lap("wait")
    if tt then tt:push(b) end
    if W then
      for s = (j + step - 1) // step * step, j + n - 1, step do
        if s + W <= count then
          active[#active + 1] = {c = new(W), start = s, n = 0}
        end
      end
      -- (in the order they started: every part reduces them so)
      local k = 1
      while k <= #active do
        local a = active[k]
        local from = math.max(a.start, j)
        local cnt = math.min(a.start + W, j + n) - from
        if cnt > 0 then
          if a.c then a.c:push(b, from - j + 1, cnt, means) end
          a.n = a.n + cnt
        end
        if a.n == W then
          local r = result(a.c)
          if r then
            -- (reused: a new correlator's state would be faulted in again)
            spare[#spare + 1] = a.c:reset()
            windows[#windows + 1] = {g2 = r.g2, g2_err = r.g2_err,
              tau = r.tau, first = first + a.start * stride,
              last = first + (a.start + W - 1) * stride}
          end
          table.remove(active, k)
        else
          k = k + 1
        end
      end
    end
    if o.on_frame then for i = j + 1, j + n do o.on_frame(i) end end
    j = j + n
    lap("windows")
  end
  dopts.first, dopts.count, dopts.step = first, count, stride
  dopts.block, dopts.blocks = block, true
  if empty then
    while j < count do take(nil, means_of and 0 or math.min(block, count - j)) end
  elseif events then
    local it, st, ctl = detector.events(o.raw, dopts)
    lap("read")
    while true do
      local i, pix, cnt, per = it(st, ctl)
      lap("read")
      if i == nil then break end
      ctl = i
      main:push_events(pix, cnt, per)
      lap("wait")
      if o.on_frame then for f = j + 1, j + #per do o.on_frame(f) end end
      j = j + #per
    end
  else
    dopts.hold = async   -- (push_async holds a block while the next is read)
    -- a part: HDF5 reads only its rows (a hyperslab), Rigaku only the
    -- modules in them; IMM gives whole frames, cut here
    dopts.rows = rows
    local nrows = rows and rows[2] - rows[1] + 1
    local it, st, ctl = detector.frames(o.raw, dopts)
    lap("read")
    while true do
      local i, b = it(st, ctl)
      lap("read")
      if i == nil then break end
      ctl = i
      if rows and b.shape[2] ~= nrows then
        b = b:slice(2, rows[1], rows[2]):copy()
      end
      take(b, b.shape[1])
    end
  end
  if main then main:frames() end   -- (waits for the last push)
  lap("wait")
  local res = result(main)
  lap("result")
  if empty then
    for _ = 1, o.twotime and #o.twotime.bins or 0 do o.reduce(nil) end
    return nil
  end
  main:close()
  for _, c in ipairs(spare) do c:close() end
  table.sort(windows, function(a, b) return a.first < b.first end)
  res.windows = windows
  res.stride = stride
  res.first = first
  res.last = last
  res.frame_time = o.frame_time
  res.from_events = events
  res.dynamic, res.static = o.dynamic, o.static
  if tt then
    res.twotime = {bins = o.twotime.bins, downsample = o.twotime.downsample
      or 1, C = {}, g2 = {}}
    for k = 1, #o.twotime.bins do
      local r = tt:result(k, {reduce = o.reduce})
      res.twotime.C[k], res.twotime.g2[k], res.twotime.tau = r.C, r.g2, r.tau
    end
    tt:close()
  end
  return res
end

-- correlate(o) with the detector's rows split between the MPI ranks
-- (blocks of ceil(R/n) rows in rank order; a rank with none, or with no
-- used pixel in them, adds zeros), the sums reduced over the ranks
-- (g2 and its errors, I(q), frame means, windows, two-time maps; with
-- normalize or reject_sigma each frame's sum first): every rank with
-- pixels returns the result of the whole detector, equal to one
-- process's up to the order of the additions, with writer = true on the
-- first of them, reduced_bytes and reduce_seconds (what this rank handed
-- to MPI's reductions, and the time it spent in them, waiting for the
-- slowest rank included). One rank: correlate.
function M.correlate_ranks(o)
  local size, rank = mpi.size(), mpi.rank()
  if size == 1 then
    local res = M.correlate(o)
    res.writer = true
    return res
  end
  local R, C = o.dynamic.rows, o.dynamic.cols
  if not (o.dynamic.map:sum() > 0) then
    error("xpcsio.correlate_ranks: the partition has no pixels", 2)
  end
  local per = (R + size - 1) // size
  local r0, r1 = rank * per + 1, math.min((rank + 1) * per, R)
  local used = r1 >= r0 and o.dynamic.map:slice(1, r0, r1):sum() > 0
  -- bytes this rank hands to the reductions, seconds it spends in them
  -- (waiting for the slowest rank included)
  local reduced, waited = 0, 0
  -- every rank's sums have one length (a rank without pixels gives 0)
  local function reduce(buf)
    local t0 = sys.time()
    local n = math.tointeger(mpi.allreduce({buf and #buf or 0}, "max"):get(1))
    reduced = reduced + 8 * (n + 1)
    if buf and #buf ~= n then
      error(string.format("xpcsio.correlate_ranks: rank %d has %d sums, "
        .. "another rank %d", rank, #buf, n))
    end
    local r = mpi.allreduce(buf or array.zeros{n}, "sum")
    waited = waited + sys.time() - t0
    return r
  end
  -- what decides what a rank does (a block length, a frame's mean to
  -- reject it by): rank 0's copy, so that no rank decides otherwise
  local function share(x, op)
    local t0 = sys.time()
    reduced = reduced + 8 * #x
    local r = mpi.bcast(mpi.allreduce(x, op or "sum"))
    waited = waited + sys.time() - t0
    return r
  end
  local p = setmetatable({rows = used and {r0, r1} or nil, empty = not used,
    reduce = reduce, share = share}, {__index = o})
  local res = M.correlate(p)
  -- the image: every rank's rows (NaN where none of its pixels is used)
  local img = array.zeros{R, C}
  if r1 >= r0 then
    img:slice(1, r0, r1):assign(used and res.image or array.full({r1 - r0 + 1, C}, 0 / 0))
  end
  local t0 = sys.time()
  img = mpi.allreduce(img, "sum")
  local first = mpi.allreduce({used and rank or size}, "min"):get(1)
  reduced = reduced + 8 * (R * C + 1)
  if res then
    res.image = img
    res.writer = first == rank
    res.reduced_bytes, res.reduce_seconds = reduced, waited + sys.time() - t0
  end
  return res
end

-- every rank's word before a result of correlate_ranks is committed (all
-- ranks call it, the writer from write_result's commit): an error when
-- any rank failed its part or was interrupted (SIGTERM), so that the
-- writer drops its temporary file instead of renaming it. One rank: an
-- error only when this process was interrupted.
function M.ranks_agree(ok)
  local all, bad = mpi.agree(ok ~= false)
  if not all then
    error(string.format("rank %d of %d failed or was interrupted: no "
      .. "result written", bad, mpi.size()), 0)
  end
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
  store(w, mt .. "normalized_g2_partial", part, "f32")
  store(w, mt .. "normalized_g2_partial_err", perr, "f32")
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
  for i = 2, n do U:slice(1, i, i):slice(2, 1, i - 1):fill(0) end
  return U
end

local function write_twotime(w, T, stride)
  local n = #T.tau
  local g2 = array.zeros{n, #T.bins}
  local seg = array.zeros{n, 1, #T.bins}
  -- as boost_corr: maps numbered 1, 2, ... in the order of processed_bins
  -- (the viewer pairs them by position, not by the number in the name)
  for k in ipairs(T.bins) do
    store(w, string.format("/xpcs/twotime/correlation_map/c2_%05d", k),
      upper(T.C[k]), "f32")
    for i = 1, n do
      g2:set(i, k, T.g2[k]:get(i))
      seg:set(i, 1, k, T.g2[k]:get(i))
    end
  end
  store(w, "/xpcs/twotime/normalized_g2", g2, "f32")
  -- one segment: the whole series (the viewer needs the dataset)
  store(w, "/xpcs/twotime/normalized_g2_segments", seg, "f32")
  store(w, "/xpcs/twotime/processed_bins", T.bins, "int")
  w:write("/xpcs/twotime/delay_list", T.tau,
    {attrs = {units = "frames (x stride_frame x avg_frame)"}})
  w:write("/xpcs/twotime/config/stride_frame", stride)
  w:write("/xpcs/twotime/config/avg_frame", T.downsample)
end

-- write a correlation result in the APS 8-ID-I layout read by
-- pyXpcsViewer and written by boost_corr; meta: geometry, qmap ({dynamic,
-- static, mask}), options (a table of scalars/strings), commit (called
-- when all is written, before the file is renamed into place: an error
-- there leaves no file; ranks_agree under MPI). Delays are in
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
  store(w, mt .. "normalized_g2", res.g2, "f32")
  store(w, mt .. "normalized_g2_err", res.g2_err, "f32")
  w:write(mt .. "config/stride_frame", stride)
  w:write(mt .. "config/avg_frame", 1)
  if res.windows and #res.windows > 0 then write_partial(w, mt, res, ft) end
  if res.twotime then write_twotime(w, res.twotime, stride) end
  local sh = res.image.shape
  store(w, "/xpcs/temporal_mean/scattering_2d",
    res.image:reshape{1, sh[1], sh[2]}, "f32")
  local qm = meta.qmap or {static = res.static, dynamic = res.dynamic}
  local cols = qm.static and static_columns(qm)
  if not cols then
    cols = {}
    for b = 1, #res.iq do cols[b] = b end
  end
  local i1 = array.zeros{1, #cols}
  for k, b in ipairs(cols) do i1:set(1, k, res.iq:get(b)) end
  store(w, "/xpcs/temporal_mean/scattering_1d", i1, "f32")
  if res.iq_segments then
    local ns = res.iq_segments.shape[1]
    local seg = array.zeros{ns, #cols}
    for j = 1, ns do
      for k, b in ipairs(cols) do seg:set(j, k, res.iq_segments:get(j, b)) end
    end
    store(w, "/xpcs/temporal_mean/scattering_1d_segments", seg, "f32")
  end
  -- boost_corr: row 1 counts the used frames from 0, row 2 their mean
  -- intensity; the raw frame numbers (strides, rejections) go to /ionflow
  local n = res.nframes
  local ivt = array.zeros{2, n}
  for i = 1, n do
    ivt:set(1, i, i - 1)
    ivt:set(2, i, res.ivt:get(i))
  end
  -- (frame numbers as float32 are exact to 2^24 = 16.7 million frames)
  store(w, "/xpcs/spatial_mean/intensity_vs_time", ivt, "f32")
  if meta.qmap then write_qmap_group(w, "/xpcs/qmap", meta.qmap, meta.geometry) end
  local io = "/ionflow/xpcs/"
  store(w, io .. "g2_static", res.g2_static, "f32")
  store(w, io .. "frame_index", res.frame_index, "int")
  store(w, io .. "scattering_1d_bins", cols, "int")
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
  if meta.commit then meta.commit() end
  w:close()
end

-- a full two-time map from the stored triangle (as the viewer does)
local function symmetric(U)
  local n = U.shape[1]
  local C = U:copy()
  for i = 2, n do   -- row i left of the diagonal from column i above it
    C:slice(1, i, i):slice(2, 1, i - 1):assign(
      U:slice(2, i, i):slice(1, 1, i - 1):reshape{1, i - 1})
  end
  return C
end

-- a result file's reads: need() fails naming the file and the dataset,
-- opt() gives nil for what is absent and, for what cannot be read (a
-- filter this HDF5 lacks, a damaged chunk), nil with the reason kept in
-- unreadable[path], so that the rest of the analysis goes on
local function result_reader(f, path)
  local unreadable = {}
  local R = {unreadable = unreadable}
  function R.opt(p)
    if not f:exists(p) then return nil end
    local ok, v = pcall(f.read, f, p)
    if ok then return v end
    unreadable[p] = tostring(v)
    return nil
  end
  function R.need(p, what)
    if not f:exists(p) then
      error(string.format("xpcsio.read_result: %s: no %s (%s)", path, p, what), 0)
    end
    local ok, v = pcall(f.read, f, p)
    if not ok then error("xpcsio.read_result: " .. tostring(v), 0) end
    return v
  end
  -- a number stored as a scalar, a (1,) or a (1,1) array (APS
  -- frame_time is a (1,1) float32 in some files, a scalar elsewhere)
  function R.num(p)
    local v = R.opt(p)
    if array.isarray(v) then v = v:totable() end
    while type(v) == "table" do v = v[1] end
    return tonumber(v)
  end
  return R
end

-- g2 = 0 with error 0 is how boost_corr stores a delay without photon
-- pairs: no data, not a measured zero. Both become NaN (which every
-- fitter skips as a missing point); returns how many were marked.
local function mark_missing(g2, err)
  if not (g2 and err) then return 0, g2, err end
  local n, sz = 0, 1
  for _, d in ipairs(g2.shape) do sz = sz * d end
  local shape = g2.shape
  local G, E = g2:contiguous():reshape{sz}, err:contiguous():reshape{sz}
  for i = 1, sz do
    if G:get(i) == 0 and E:get(i) == 0 then
      G:set(i, 0 / 0)
      E:set(i, 0 / 0)
      n = n + 1
    end
  end
  return n, G:reshape(shape), E:reshape(shape)
end

-- a list as a flat Lua table (a (1, n) or (n,) array, or nil)
local function flat(a)
  if a == nil then return nil end
  if not array.isarray(a) then return {a} end
  local n = 1
  for _, d in ipairs(a.shape) do n = n * d end
  return a:contiguous():reshape{n}:totable()
end

-- q (1/m) and phi (deg) of each g2 column from the qmap's own grid: the
-- column's grid cell is dynamic_index_mapping (0-based, q major on a
-- dynamic_num_pts = {nq, nphi} grid; default: the column's order), its q
-- and phi the v_lists' entries (1/A, deg) -- what the viewer labels the
-- column with, never recomputed from /entry metadata that may disagree
local function grid_bins(path, nb, qlist, philist, imap, npts)
  local nq = npts and npts[1] or #qlist
  local nphi = npts and npts[2] or (philist and #philist or 1)
  if nphi < 1 then nphi = 1 end
  local q, phi, iq = {}, {}, {}
  for k = 1, nb do
    local cell = imap and imap[k] or (k - 1)
    local a, b = cell // nphi + 1, cell % nphi + 1
    if imap and #imap ~= nb or a > #qlist or a > nq then
      error(string.format("xpcsio.read_result: %s: g2 column %d has no "
        .. "q in the qmap (grid cell %d of %d q x %d phi, %d q values)",
        path, k, cell, nq, nphi, #qlist), 0)
    end
    q[k] = qlist[a] / ANGSTROM
    phi[k] = philist and philist[b] or 0
    iq[k] = a
  end
  return {q = q, phi = phi, ring = iq, nq = nq, nphi = nphi}
end

-- the legacy APS layout (before 2023: /exchange/norm-0-g2 delays x bins,
-- /exchange/tau in frames as a (1, n) row, /xpcs/dqlist and dphilist
-- per bin, /xpcs/dqmap or dynamicMap,
-- /measurement/instrument/detector/exposure_period)
local function read_legacy(R, path)
  local g2 = R.need("/exchange/norm-0-g2", "legacy APS layout")
  local err = R.opt("/exchange/norm-0-stderr")
  local nb = g2.shape[2] or 1
  local tau = flat(R.need("/exchange/tau", "legacy APS layout"))
  if g2.ndim ~= 2 or #tau ~= g2.shape[1] then
    error(string.format("xpcsio.read_result: %s: legacy APS layout: "
      .. "/exchange/norm-0-g2 is %s for %d delays (want delays x bins)",
      path, table.concat(g2.shape, " x "), #tau), 0)
  end
  local ql = flat(R.need("/xpcs/dqlist", "legacy APS layout: q per bin"))
  local pl = flat(R.opt("/xpcs/dphilist"))
  local bins
  if #ql == nb then       -- one q (and phi) per g2 column
    local idx = {}
    for k = 1, nb do idx[k] = k - 1 end
    bins = grid_bins(path, nb, ql, nil, idx, {nb, 1})
    for k = 1, nb do bins.phi[k] = pl and pl[k] or 0 end
    bins.nq, bins.nphi = nb, 1
  elseif pl and #ql * #pl == nb then
    bins = grid_bins(path, nb, ql, pl, nil, {#ql, #pl})
  else
    error(string.format("xpcsio.read_result: %s: legacy APS layout: "
      .. "%d g2 columns but %d q values in /xpcs/dqlist", path, nb, #ql), 0)
  end
  return {layout = "aps-legacy", tau = array.from(tau), g2 = g2,
    g2_err = err, bins = bins,
    stride = R.num("/xpcs/stride_frames") or 1,
    avg_frame = R.num("/xpcs/avg_frames") or 1,
    frame_time = R.num("/measurement/instrument/detector/exposure_period"),
    dynamic_roi_map = R.opt("/xpcs/dqmap") or R.opt("/xpcs/dynamicMap"),
    image = R.opt("/exchange/pixelSum"),
    q_list = array.from(ql), phi_list = pl and array.from(pl)}
end

-- the qmap's own geometry (energy, distance, pixel, beam centre), which
-- its q values were computed with; nil when incomplete. /entry's energy
-- only when the qmap has none (it can disagree with the qmap's).
local function qmap_geometry(R, map)
  local Q = "/xpcs/qmap/"
  local g = {energy_keV = R.num(Q .. "energy") or
      R.num("/entry/instrument/incident_beam/incident_energy"),
    distance = R.num(Q .. "detector_distance"), pixel = R.num(Q .. "pixel_size"),
    center_x = R.num(Q .. "beam_center_x"), center_y = R.num(Q .. "beam_center_y")}
  for _, k in ipairs{"energy_keV", "distance", "pixel", "center_x", "center_y"} do
    if g[k] == nil then return nil end
  end
  g.energy_from = R.num(Q .. "energy") and "qmap" or "entry"
  g.shape = map and {map.shape[1], map.shape[2]}
  return g
end

-- the /xpcs layout of boost_corr and write_result
local function read_aps(f, R, path)
  local opt, num = R.opt, R.num
  local out = {
    layout = "aps",
    tau = R.need("/xpcs/multitau/delay_list", "the delays of g2"),
    g2 = R.need("/xpcs/multitau/normalized_g2", "g2"),
    g2_err = opt("/xpcs/multitau/normalized_g2_err"),
    g2_partial = opt("/xpcs/multitau/normalized_g2_partial"),
    g2_partial_err = opt("/xpcs/multitau/normalized_g2_partial_err"),
    stride = num("/xpcs/multitau/config/stride_frame") or 1,
    avg_frame = num("/xpcs/multitau/config/avg_frame") or 1,
    image = opt("/xpcs/temporal_mean/scattering_2d"),
    ivt = opt("/xpcs/spatial_mean/intensity_vs_time"),
    frame_index = opt("/ionflow/xpcs/frame_index"),
    q_list = R.need("/xpcs/qmap/dynamic_v_list_dim0", "the q of the bins"),
    phi_list = opt("/xpcs/qmap/dynamic_v_list_dim1"),
    dynamic_roi_map = opt("/xpcs/qmap/dynamic_roi_map"),
    static_roi_map = opt("/xpcs/qmap/static_roi_map"),
    g2_static = opt("/ionflow/xpcs/g2_static"),
    twotime_g2 = opt("/xpcs/twotime/normalized_g2"),
    frame_time = num("/entry/instrument/detector_1/frame_time"),
    energy_keV = num("/entry/instrument/incident_beam/incident_energy"),
  }
  if out.tau.ndim ~= 1 then out.tau = array.from(flat(out.tau)) end
  local g2 = out.g2
  if g2.ndim == 1 then g2 = g2:reshape{g2.shape[1], 1} out.g2 = g2 end
  if g2.ndim ~= 2 or g2.shape[1] ~= #out.tau then
    error(string.format("xpcsio.read_result: %s: normalized_g2 is %s for "
      .. "%d delays (want delays x bins)", path, table.concat(g2.shape, " x "),
      #out.tau), 0)
  end
  if out.g2_err and (out.g2_err.ndim ~= 2 or out.g2_err.shape[1] ~= g2.shape[1]
      or out.g2_err.shape[2] ~= g2.shape[2]) then
    out.g2_err = out.g2_err:reshape(g2.shape)
  end
  local Q = "/xpcs/qmap/"
  out.bins = grid_bins(path, g2.shape[2], flat(out.q_list),
    flat(out.phi_list), flat(opt(Q .. "dynamic_index_mapping")),
    flat(opt(Q .. "dynamic_num_pts")))
  out.qmap_geometry = qmap_geometry(R, out.dynamic_roi_map)
  local cols, ns = opt("/ionflow/xpcs/scattering_1d_bins"), num("/ionflow/xpcs/static_bins")
  local function expand(a)
    if not (a and cols and ns) then return a end
    local m = a.shape[1]
    local e = array.full({m, ns}, 0 / 0)
    for j = 1, m do
      for k = 1, #cols do e:set(j, cols:get(k), a:get(j, k)) end
    end
    return e
  end
  local i1 = expand(opt("/xpcs/temporal_mean/scattering_1d"))
  out.iq = i1 and i1:reshape{i1.shape[2]}
  out.iq_segments = expand(opt("/xpcs/temporal_mean/scattering_1d_segments"))
  if f:exists("/xpcs/twotime/processed_bins") then
    local bins = opt("/xpcs/twotime/processed_bins")
    out.twotime = {bins = bins and flat(bins) or {}, C = {},
      tau = opt("/xpcs/twotime/delay_list"),
      downsample = num("/xpcs/twotime/config/avg_frame")}
    for k in ipairs(out.twotime.bins) do
      local c = opt(string.format("/xpcs/twotime/correlation_map/c2_%05d", k))
      out.twotime.C[k] = c and symmetric(c)
    end
  end
  return out
end

-- Read a result file: ionflow's (what write_result wrote: the same numbers
-- as the correlator's result, tau in used frames, iq and iq_segments per
-- static bin with NaN for the bins without a column, ivt with 0-based
-- frame numbers in row 1, the two-time maps made whole), boost_corr's
-- (the same /xpcs layout: float32, LZF, averaged runs) or the legacy APS
-- layout (/exchange/norm-0-g2, read as far as g2 and q go). Always:
-- layout ("aps" or "aps-legacy"), bins = {q (1/m), phi (deg), ring, nq,
-- nphi} per g2 column from the file's qmap (grid_bins), frame_time as a
-- number, g2_missing (delays without photon pairs, g2 = 0 with error 0,
-- made NaN in g2, g2_err and the partials), qmap_geometry (the qmap's
-- own, for pixel maps) and unreadable (path -> reason for the datasets
-- that could not be read and are not needed for g2).
function M.read_result(path)
  local f <close> = h5.open(path)
  local R = result_reader(f, path)
  local out
  if f:exists("/xpcs/multitau/normalized_g2") then
    out = read_aps(f, R, path)
  elseif f:exists("/exchange/norm-0-g2") then
    out = read_legacy(R, path)
  else
    error(string.format("xpcsio.read_result: %s: not an XPCS result: "
      .. "neither the APS layout (/xpcs/multitau/normalized_g2) nor the "
      .. "legacy APS layout (/exchange/norm-0-g2)", path), 2)
  end
  out.g2_missing, out.g2, out.g2_err = mark_missing(out.g2, out.g2_err)
  local _
  _, out.g2_partial, out.g2_partial_err =
    mark_missing(out.g2_partial, out.g2_partial_err)
  out.unreadable = R.unreadable
  return out
end

-- The velocity workflows (bin_moments, result_bins, simulated_run, static_weights,
-- bin_spread, homodyne, velocity, velocity_vs_time) live in
-- ionflow.velocity; they stay reachable here, loaded on first use.
local MOVED = {bin_moments = true, result_bins = true, plusminus = true,
  simulated_run = true,
  static_weights = true, bin_spread = true, homodyne = true,
  velocity = true, velocity_vs_time = true}
setmetatable(M, {__index = function(_, k)
  if MOVED[k] then return require("ionflow.velocity")[k] end
end})

return M
