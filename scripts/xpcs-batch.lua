-- xpcs-batch.lua: correlate (and optionally fit) many raw XPCS files, one
-- result each, resumably, one summary line per file.
--
--   ionflow scripts/xpcs-batch.lua LIST|DIR -o OUTDIR [--fit] [--part K/N]
--       [xpcs-correlate.lua options]
--
-- Every file is correlated by its own process (xpcs-correlate.lua, run
-- without a shell), so that a file that fails, crashes or is killed ends
-- only its own line: the others go on, and the exit status says that one
-- failed. Results are written atomically (a temporary file renamed into
-- place), so a result that exists is complete and is skipped on a rerun;
-- the temporary files a killed run left behind are removed and that file
-- is done again. Under mpirun every rank takes every size-th file of the
-- list (of its --part, under a scheduler's job array).
local usage = [==[
usage: ionflow scripts/xpcs-batch.lua LIST|DIR -o OUTDIR [--fit]
  [--part K/N] [--qmap QMAP.h5] [--q-bins N] [--phi-bins N]
  [xpcs-correlate.lua options]

Correlates every raw frame file of LIST (one path a line, '#' comments,
relative to the current directory) or of DIR (its *.h5, *.hdf5, *.imm,
*.bin and *.bin.000 files, sorted by name) with xpcs-correlate.lua, one
process per file, into OUTDIR/NAME_result.h5 (NAME: the file's name
without its extension); with --fit also xpcs-velocity.lua on that result
into OUTDIR/NAME_fit.h5. A file whose results exist is skipped (results
are written atomically: one that exists is complete); temporary files a
killed run left are removed and the file is done again. Prints one line
per file: frames, wall time (s), speed (frames/s and MB/s of the raw
file), status (ok, skipped, failed: the error, killed: the signal). A
failed file does not stop the others; the exit status is 1 when any
failed. Under mpirun rank r of size takes files r+1, r+1+size, ...

Options (defaults in brackets):
  -o OUTDIR           directory for the results (made if missing) [none]
  --fit               also fit: xpcs-velocity.lua on every result [off]
  --part K/N          only files K, K+N, K+2N, ... of the list (1 <= K
                      <= N; a job array's task K of N) [1/1]
  --dry-run           list what would be done, run nothing [off]
  Passed to xpcs-correlate.lua as given: --qmap, --q-bins, --phi-bins,
  --fold, --log, --dataset, --frames, --stride, --window, --overlap,
  --normalize, --reject, --format, --nframes, --metadata, --twotime,
  --downsample, --gap, --module-order, --module (see its --help)

Example:
  ionflow scripts/make-sample.lua -o run1.h5 --qmap "" --frames 200
  ionflow scripts/xpcs-batch.lua . -o results --q-bins 8]==]

local cli = require "ionflow.cli"

local PASS_VALUES = {"qmap", "q_bins", "phi_bins", "dataset", "frames",
  "stride", "window", "overlap", "reject", "format", "nframes", "metadata",
  "twotime", "downsample", "gap", "module_order", "module"}
local PASS_FLAGS = {"fold", "log", "normalize"}

local function spec()
  local values, flags = {out = true, part = true}, {fit = true,
    dry_run = true}
  for _, k in ipairs(PASS_VALUES) do values[k] = true end
  for _, k in ipairs(PASS_FLAGS) do flags[k] = true end
  return {name = "xpcs-batch", usage = usage, flags = flags,
    values = values, positional = {"input"}, short = {o = "out"}}
end

local o = cli.parse(arg, spec())
if not o.input then o:die("no LIST or DIR") end
if not o.out then o:die("no output directory (-o)") end
local part_k, part_n = 1, 1
if o.part then
  local k, n = o.part:match("^(%d+)/(%d+)$")
  k, n = tonumber(k), tonumber(n)
  if not k or n < 1 or k < 1 or k > n then
    o:die("--part needs K/N with 1 <= K <= N, got " .. o.part)
  end
  part_k, part_n = k, n
end

local RAW_EXT = {"%.bin%.000$", "%.hdf5$", "%.h5$", "%.imm$", "%.bin$"}

-- the file's name without directory and raw extension, or nil when it is
-- not a raw file's name
local function stem(path)
  local base = path:match("([^/]+)$") or path
  for _, e in ipairs(RAW_EXT) do
    local s = base:gsub(e, "")
    if s ~= base then return s end
  end
  return nil
end

local function isdir(path)
  return (pcall(sys.dir, path))
end

-- the raw files: a directory's raw files by name, or a list file's lines
local function inputs(src)
  local files = {}
  if isdir(src) then
    for _, n in ipairs(sys.dir(src)) do
      local p = src .. "/" .. n
      if stem(n) and not n:match("_result%.h5$") and not n:match("_fit%.h5$")
         and not n:match("_qmap%.h5$") and not isdir(p) then
        files[#files + 1] = p
      end
    end
    return files
  end
  local f, err = io.open(src)
  if not f then error(err, 0) end
  local ln = 0
  for line in f:lines() do
    ln = ln + 1
    line = line:gsub("#.*$", ""):match("^%s*(.-)%s*$")
    if line ~= "" then files[#files + 1] = line end
  end
  f:close()
  return files
end

-- this run's share: --part K/N, then every size-th file for the rank
local function share(files, rank, size)
  local mine = {}
  for i, p in ipairs(files) do
    local j = (i - 1) // part_n
    if (i - 1) % part_n == part_k - 1 and j % size == rank then
      mine[#mine + 1] = {index = i, raw = p}
    end
  end
  return mine
end

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

local function filesize(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local n = f:seek("end")
  f:close()
  return n
end

local function escape(s) return (s:gsub("[%^%$%(%)%%%.%[%]%*%+%-%?]", "%%%0")) end

-- the temporary files an interrupted writer of path left (h5.create
-- writes PATH.tmp-XXXXXX, then renames)
local function remove_stale(path)
  local dir, base = path:match("^(.*)/([^/]+)$")
  local pat = "^" .. escape(base) .. "%.tmp%-"
  for _, n in ipairs(sys.dir(dir)) do
    if n:match(pat) then os.remove(dir .. "/" .. n) end
  end
end

-- the ionflow binary that runs this script, and the scripts beside it
local function exe()
  local k = -1
  while arg[k - 1] do k = k - 1 end
  return arg[k]
end
local HERE = arg[0]:match("^(.*)/[^/]*$") or "."

local function correlate_argv(raw, out)
  local argv = {exe(), HERE .. "/xpcs-correlate.lua", raw, "-o", out}
  for _, k in ipairs(PASS_VALUES) do
    if o[k] then
      argv[#argv + 1] = "--" .. k:gsub("_", "-")
      argv[#argv + 1] = o[k]
    end
  end
  for _, k in ipairs(PASS_FLAGS) do
    if o[k] then argv[#argv + 1] = "--" .. k end
  end
  return argv
end

-- the last line of a child's output that says something
local function last_line(out)
  local msg
  for line in (out or ""):gmatch("[^\n]+") do
    if line:match("%S") then msg = line end
  end
  -- the script's name and a Lua position say nothing about the file
  msg = (msg or "no message"):gsub("^%s+", ""):gsub("^xpcs%-[%w]+: ", "")
    :gsub("^[^:]*%.lua:%d+: ", "")
  return #msg > 120 and msg:sub(1, 117) .. "..." or msg
end

local function status_of(code, out)
  if code == 0 then return "ok" end
  if code > 128 and code < 160 then
    return string.format("killed (signal %d)", code - 128)
  end
  return "failed: " .. last_line(out)
end

-- one file: its results, or skipped; returns the summary row
local function process(job)
  local row = {index = job.index, raw = job.raw, frames = "-", time = "-",
    speed = "-", status = "ok"}
  local name = stem(job.raw)
  local res = o.out .. "/" .. name .. "_result.h5"
  local fit = o.fit and (o.out .. "/" .. name .. "_fit.h5") or nil
  if exists(res) and (not fit or exists(fit)) then
    row.status = "skipped (done)"
    return row
  end
  if o.dry_run then
    row.status = "to do"
    return row
  end
  local t0 = sys.time()
  local code, out = 0, nil
  if not exists(res) then
    remove_stale(res)
    code, out = sys.run(correlate_argv(job.raw, res))
    local n = out and out:match(":%s*(%d+) frames, %d+ delays")
    if n then row.frames = n end
  end
  if code == 0 and fit then
    remove_stale(fit)
    code, out = sys.run({exe(), HERE .. "/xpcs-velocity.lua", res, "-o", fit})
  end
  local dt = sys.time() - t0
  row.time = string.format("%.2f", dt)
  row.status = status_of(code, out)
  local nf, bytes = tonumber(row.frames), filesize(job.raw)
  if code == 0 and nf and dt > 0 then
    row.speed = string.format("%.0f fr/s %.1f MB/s", nf / dt,
      (bytes or 0) / dt / 1e6)
  end
  row.failed = code ~= 0
  return row
end

local FMT = "%5s %-40s %7s %8s %22s  %s\n"

local function summary_line(r)
  local raw = #r.raw > 40 and "..." .. r.raw:sub(-37) or r.raw
  io.stdout:write(string.format(FMT, r.index, raw, r.frames, r.time,
    r.speed, r.status))
  io.stdout:flush()
end

local rank, size = 0, 1
if mpi then rank, size = mpi.rank(), mpi.size() end

local ok, files = pcall(inputs, o.input)
if not ok then
  io.stderr:write("xpcs-batch: ", tostring(files), "\n")
  os.exit(1)
end
local names, dup = {}, nil
for _, p in ipairs(files) do
  local s = stem(p)
  if not s then
    io.stderr:write("xpcs-batch: ", p, ": not a raw file name (",
      ".h5, .hdf5, .imm, .bin, .bin.000)\n")
    os.exit(1)
  end
  if names[s] then dup = dup or {names[s], p} end
  names[s] = p
end
if dup then
  io.stderr:write(string.format("xpcs-batch: %s and %s would write the same result\n",
    dup[1], dup[2]))
  os.exit(1)
end
if not o.dry_run then sys.mkdir(o.out) end

if rank == 0 then
  io.stdout:write(string.format(FMT, "#", "raw file", "frames", "time(s)",
    "speed", "status"))
end
local done, failed, skipped = 0, 0, 0
for _, job in ipairs(share(files, rank, size)) do
  local r = process(job)
  summary_line(r)
  if r.failed then failed = failed + 1
  elseif r.status:match("^skipped") then skipped = skipped + 1
  else done = done + 1 end
end
if mpi and size > 1 then
  local t = mpi.allreduce(array.from{done, failed, skipped}, "sum")
  done, failed, skipped = t:get(1), t:get(2), t:get(3)
  -- every rank is done: the exit status below is no rank's failure
  mpi.finalize()
end
if rank == 0 then
  io.stdout:write(string.format("%d files: %d done, %d skipped, %d failed\n",
    #share(files, 0, 1), math.tointeger(done), math.tointeger(skipped),
    math.tointeger(failed)))
end
os.exit(failed > 0 and 1 or 0)
