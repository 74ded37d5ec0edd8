-- make bench: runs every bench/*.lua (except this file) in its own
-- ionflow process, every bench/*.py with Debian's python3 and every
-- bench/*.c built with cc, and prints what each reports. Benchmarks report
-- throughput; they are not timed tests and never fail on speed.
local self = arg[0]
local dir = self:match("^(.*)/[^/]*$") or "."
local exe = arg[-1]

-- programs run with argument vectors (sys.run), never through a shell
local function cpu_model()
  local f = io.open("/proc/cpuinfo")
  local s = f and f:read("a") or ""
  if f then f:close() end
  return s:match("model name%s*:%s*([^\n]+)") or "unknown CPU"
end

print(string.format("ionflow benchmarks, %s", os.date("!%Y-%m-%d %H:%M UTC")))
print(string.format("machine: %s, %d cores, OMP_NUM_THREADS=%s",
  cpu_model(), sys.nproc(), os.getenv("OMP_NUM_THREADS") or "(unset)"))
local only = arg[1]
local files = {}
-- the plain reference implementations (NumPy) run in the same session, so
-- that every figure has its baseline measured on the same machine and load
local _, listing = sys.run({"ls", dir})
for name in listing:gmatch("[^\n]+") do
  local f = dir .. "/" .. name
  if (name:match("%.c$") or name:match("%.lua$") or name:match("%.py$")) and
     name ~= "run.lua" and (not only or f:find(only, 1, true)) then
    files[#files + 1] = f
  end
end
local failed = 0
for _, f in ipairs(files) do
  print("\n== " .. f:match("([^/]+)%.%a+$"))
  io.stdout:flush()
  local ok
  if f:match("%.c$") then	-- a C probe (the bandwidth bound): built here
    local bin = os.tmpname()
    ok = sys.run({"cc", "-O3", "-march=native", "-fopenmp", f, "-o", bin},
                 {capture = false}) == 0 and
         sys.run({bin}, {capture = false}) == 0
    os.remove(bin)
  else
    local runner = f:match("%.py$") and "/usr/bin/python3" or exe
    ok = sys.run({runner, f}, {capture = false}) == 0
  end
  if not ok then failed = failed + 1; print("(benchmark failed)") end
end
os.exit(failed == 0)
