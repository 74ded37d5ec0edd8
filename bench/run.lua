-- make bench: runs every bench/*.lua (except this file) in its own
-- ionflow process, every bench/*.py with Debian's python3 and every
-- bench/*.c built with cc, and prints what each reports. Benchmarks report
-- throughput; they are not timed tests and never fail on speed.
local self = arg[0]
local dir = self:match("^(.*)/[^/]*$") or "."
local exe = arg[-1]

local function sh(cmd)
  local p = io.popen(cmd)
  local out = p:read("a")
  p:close()
  return (out:gsub("%s+$", ""))
end

print(string.format("ionflow benchmarks, %s", os.date("!%Y-%m-%d %H:%M UTC")))
print(string.format("machine: %s, %s cores, OMP_NUM_THREADS=%s",
  sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'"),
  sh("nproc"), os.getenv("OMP_NUM_THREADS") or "(unset)"))
local only = arg[1]
local files = {}
-- the plain reference implementations (NumPy) run in the same session, so
-- that every figure has its baseline measured on the same machine and load
for f in sh("ls " .. dir .. "/*.c " .. dir .. "/*.lua " .. dir .. "/*.py 2>/dev/null"):gmatch("[^\n]+") do
  if not f:match("/run%.lua$") and (not only or f:find(only, 1, true)) then
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
    ok = os.execute(string.format("cc -O3 -march=native -fopenmp %q -o %q",
      f, bin)) and os.execute(string.format("%q", bin))
    os.remove(bin)
  else
    local runner = f:match("%.py$") and "/usr/bin/python3" or exe
    ok = os.execute(string.format("%q %q", runner, f))
  end
  if not ok then failed = failed + 1; print("(benchmark failed)") end
end
os.exit(failed == 0)
