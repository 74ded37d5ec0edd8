-- tests of the sys module: clock, interruptible sleep, threads, terminal
-- test, memory, version, progress callbacks
local t = require "ionflow.tap"
local exe = os.getenv("IONFLOW") or arg[-1]

-- run a shell command, returning its output (stdout and stderr) and status
local function run(cmd)
  local f = assert(io.popen(cmd .. " 2>&1"))
  local out = f:read("a")
  local okk, how, code = f:close()
  return out, okk, code
end

local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

t.is(require "ionflow.sys", sys, "require 'ionflow.sys' is the global")

-- clock
local a, b = sys.time(), sys.time()
t.ok(type(a) == "number" and b >= a, "sys.time is monotonic")
t.ok(b - a < 1e-3, "two readings are less than a millisecond apart")
local c0, t0 = os.clock(), sys.time()
sys.sleep(0.1)
local dt, dc = sys.time() - t0, os.clock() - c0
t.ok(dt >= 0.1 and dt < 0.6, ("sleep(0.1) took %.4f s by sys.time"):format(dt))
t.ok(dc < 0.05, ("sleeping does not burn CPU (%.4f s)"):format(dc))
t.lives(function() sys.sleep(0) end, "sleep(0)")
t.errors(function() sys.sleep(-1) end, "finite number >= 0", "negative sleep")
t.errors(function() sys.sleep(0/0) end, "finite number", "NaN sleep")
t.errors(function() sys.sleep(math.huge) end, "finite number", "infinite sleep")
t.errors(function() sys.sleep("x") end, "number expected", "non-number sleep")
t.errors(function() sys.sleep(1, 42) end, "nil, boolean or function",
  "bad progress argument")

-- progress callbacks through sys.sleep
local calls, last = 0, {}
sys.sleep(0.45, function(done, total, label)
  calls = calls + 1
  last = {done, total, label}
end)
t.ok(calls >= 3 and calls <= 6, "callback about 10 times a second (" .. calls .. ")")
t.ok(last[1] >= 0.45 and last[2] == 0.45 and last[3] == "sleep",
  "last call: done >= total, total, label")
t0 = sys.time()
t.errors(function() sys.sleep(5, function() error("stop here") end) end,
  "stop here", "an error in the callback propagates")
t.ok(sys.time() - t0 < 1, "and stops the primitive at once")
t.errors(function() sys.sleep(5, function() return false end) end,
  "stopped by the progress callback", "returning false stops it")
t.lives(function() sys.sleep(0.01, false) end, "false: no bar")

-- progress bars for Lua loops
do
  local seen = 0
  local bar = sys.progress("loop", 3, function(done) seen = done end)
  t.ok(tostring(bar):find("loop", 1, true), "tostring of a bar")
  for i = 1, 3 do sys.sleep(0.11); t.ok(bar:update(i), "update " .. i) end
  bar:close()
  t.is(seen, 3, "close reports the final count")
  local stopped = sys.progress("s", 10, function() return false end)
  sys.sleep(0.11)
  t.is(stopped:update(1), false, "update returns false when asked to stop")
  local failing = sys.progress("f", 10, function() error("bar failed") end)
  sys.sleep(0.11)
  t.errors(function() failing:update(1) end, "bar failed",
    "a failing callback raises from update")
  t.lives(function()
    local b <close> = sys.progress("closing", 2)
    b:update(1)
  end, "a bar as a to-be-closed variable")
end

-- the bar itself: only on a terminal, unless IONFLOW_PROGRESS=1 forces it
do
  local code = q("local b = sys.progress('work', 4) for i = 1, 4 do " ..
    "sys.sleep(0.12) b:update(i) end b:close()")
  local piped = run(q(exe) .. " -e " .. code)
  t.is(piped, "", "no bar when stderr is not a terminal")
  local forced = run("IONFLOW_PROGRESS=1 " .. q(exe) .. " -e " .. code)
  t.ok(forced:find("\rwork %[[#>.]+%] +%d+%% ") and
    forced:sub(-4) == "\r\27[K", "IONFLOW_PROGRESS=1 forces it, erased at the end")
end

-- threads: against OMP_NUM_THREADS in a child
t.ok(math.type(sys.nproc()) == "integer" and sys.nproc() >= 1, "nproc >= 1")
local out = run("OMP_NUM_THREADS=3 " .. q(exe) .. " -e 'io.write(sys.nproc())'")
t.is(out, "3", "nproc follows OMP_NUM_THREADS")

-- terminal test: in a pipe nothing is a terminal
out = run(q(exe) .. " -e 'io.write(tostring(sys.isatty(1)), tostring(sys.isatty(io.stdout)))' </dev/null | cat")
t.is(out, "falsefalse", "stdout into a pipe is not a terminal")
t.is(sys.isatty(-1), false, "a negative fd is not a terminal")
t.is(sys.isatty(12345), false, "a closed fd is not a terminal")
local tmp = os.tmpname()
local fh = io.open(tmp, "w")
t.is(sys.isatty(fh), false, "a file is not a terminal")
fh:close()
t.errors(function() sys.isatty(fh) end, "closed file", "closed file handle")
os.remove(tmp)

-- memory: against /proc/self/status, and growth by a known allocation
local function vmrss()
  for line in io.lines("/proc/self/status") do
    local kb = line:match("^VmRSS:%s+(%d+) kB")
    if kb then return tonumber(kb) * 1024 end
  end
end
local now, peak = sys.rss()
local ref = vmrss()
t.ok(math.type(now) == "integer" and peak >= now, "rss: integers, peak >= now")
t.ok(math.abs(now - ref) < 0.1 * ref + 2^20,
  ("rss %d agrees with VmRSS %d"):format(now, ref))
local big = string.rep("x", 64 * 2^20)
local now2, peak2 = sys.rss()
t.ok(now2 - now >= 60 * 2^20, ("a 64 MiB string adds to rss (%d)"):format(now2 - now))
t.ok(peak2 >= now2, "peak covers it")
-- a child's peak is its own, not the large process's that started it
local rc, cout = sys.run({exe, "-e", "local _, p = sys.rss() print(p)"})
local cpeak = rc == 0 and tonumber(cout)
t.ok(cpeak and cpeak < 48 * 2^20 and cpeak < now2 - 32 * 2^20,
  ("a child started by a process of %d MiB has its own peak (%s)"):format(
    now2 >> 20, tostring(cout)))
big = nil
collectgarbage()

-- version
t.ok(sys.version:match("^%d+%.%d+%.%d+$"), "version " .. sys.version)
out = run(q(exe) .. " -v </dev/null")
t.ok(out:find("ionflow " .. sys.version, 1, true), "-v prints it")

-- Ctrl-C inside the C primitive of a script: SIGINT to a child
-- (the signal is sent once the child says it is in the sleep: a fixed
-- delay raced a slow start under the sanitizers)
local ready = os.tmpname()
out = run("sh -c " .. q(q(exe) .. " -e 'io.stderr:write(\"ready\\n\"); sys.sleep(30)' 2>" ..
  q(ready) .. " & p=$!; i=0; while ! grep -q ready " .. q(ready) ..
  " && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done; sleep 0.05; " ..
  "t0=$(date +%s%N); kill -INT $p; wait $p; s=$?; t1=$(date +%s%N); " ..
  "cat " .. q(ready) .. "; echo status=$s; echo ms=$(( (t1 - t0) / 1000000 ))"))
os.remove(ready)
local el = (tonumber(out:match("ms=(%d+)")) or 1e6) / 1000
t.ok(out:find("sys.sleep: interrupted", 1, true), "SIGINT stops sys.sleep")
t.ok(out:find("status=1", 1, true), "and the script exits with status 1")
t.ok(el < 3, ("within a few seconds of the signal (%.2f s)"):format(el))

-- programs and directories without a shell
do
  local dir = t.tmpdir()
  local odd = dir .. "/a b/$(touch " .. dir .. "/PWNED)/c'd"
  t.ok(sys.mkdir(odd) == true and sys.mkdir(odd) == true, "sys.mkdir -p, twice")
  local f = io.open(odd .. "/x", "w"); t.ok(f ~= nil, "the odd name is a directory"); f:close()
  t.ok(t.slurp(dir .. "/PWNED") == nil, "sys.mkdir: no shell ran the name")
  t.errors(function() sys.mkdir(odd .. "/x/y") end, "not a directory", "mkdir under a file")
  t.errors(function() sys.mkdir("") end, "empty", "mkdir of an empty name")
  local code, out = sys.run{"sh", "-c", "printf '%s|' \"$@\"; echo err >&2; exit 3", "sh",
                            "$(touch " .. dir .. "/PWNED)", "a b"}
  t.is(code, 3, "sys.run: the exit code")
  t.is(out, "$(touch " .. dir .. "/PWNED)|a b|err\n", "sys.run: arguments reach it verbatim, "
       .. "stdout and stderr collected")
  t.ok(t.slurp(dir .. "/PWNED") == nil, "sys.run: no shell ran an argument")
  local big = string.rep("0123456789", 100000)
  code, out = sys.run({"cat"}, {stdin = big})
  t.ok(code == 0 and out == big, "sys.run: 1 MB through stdin and back")
  code, out = sys.run({"head", "-c", "3"}, {stdin = big})
  t.ok(code == 0 and out == "012", "a program that stops reading its input")
  code = sys.run({"sh", "-c", "kill -TERM $$"})
  t.is(code, 128 + 15, "a program ended by a signal: 128 + the signal")
  t.errors(function() sys.run{dir .. "/no-such-program"} end, "cannot start",
           "sys.run of a missing program")
  t.errors(function() sys.run{} end, "1 to 4096", "an empty argument vector")
  t.errors(function() sys.run{"echo", 3} end, "not a string", "a number in the vector")
  local script = dir .. "/gone"
  f = io.open(script, "w"); f:write("x"); f:close()
  local t0 = sys.time()
  -- (a program of 2 s, so that "at once" has room even under valgrind,
  -- whose fork is slow)
  t.ok(sys.spawn({"sleep", "2"}, {remove = script}), "sys.spawn starts a program")
  t.ok(sys.time() - t0 < 1, "sys.spawn returns at once")
  t.ok(t.slurp(script) ~= nil, "its file is still there while it runs")
  local gone = false
  for _ = 1, 300 do
    if t.slurp(script) == nil then gone = true; break end
    sys.sleep(0.02)
  end
  t.ok(gone, "sys.spawn: the file is removed when the program ends")
  t.errors(function() sys.spawn{dir .. "/no-such-program"} end, "not found",
           "sys.spawn of a missing program")
  t.ok(sys.rmtree(dir .. "/a b") and io.open(dir .. "/a b") == nil, "sys.rmtree")
  t.ok(sys.rmtree(dir .. "/a b"), "sys.rmtree of a missing path is fine")
end

t.done()
