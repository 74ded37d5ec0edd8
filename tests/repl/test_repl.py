#!/usr/bin/python3
"""tests/repl/test_repl.py - the ionflow REPL through a pseudo-terminal and
the command line through pipes. Prints TAP. Every wait has a timeout, so a
broken REPL fails instead of hanging. $IONFLOW is the binary."""
import fcntl
import os
import pty
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXE = os.environ.get("IONFLOW") or os.path.join(TOP, "ionflow")
# the binary itself (arg[-1]): under valgrind EXE is tests/valgrind-run
REAL = os.environ.get("IONFLOW_REAL") or EXE
TMP = tempfile.mkdtemp(prefix="ionflow-repl-")
HIST = os.path.join(TMP, "history")

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from tap import ok, done  # noqa: E402


# escape sequences (bracketed paste, cursor moves) and the bell
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[=>]|\x07")


class Session:
    """ionflow on a pseudo-terminal: send keys, expect output."""

    def __init__(self, args=(), env=None, cwd=None):
        e = dict(os.environ)
        e.update(TERM="xterm", INPUTRC="/dev/null", IONFLOW_HISTORY=HIST,
                 LC_ALL="C.UTF-8")
        e.pop("IONFLOW_PROGRESS", None)
        if env:
            e.update(env)
        pid, fd = pty.fork()
        if pid == 0:
            try:
                if cwd:
                    os.chdir(cwd)
                os.execve(EXE, [EXE] + list(args), e)
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        self.raw = b""
        self.pos = 0
        self.status = None

    def text(self):
        return ANSI.sub("", self.raw.decode("utf-8", "replace")).replace("\r", "")

    def _read(self, timeout):
        r, _, _ = select.select([self.fd], [], [], timeout)
        if not r:
            return True
        try:
            data = os.read(self.fd, 4096)
        except OSError:
            return False
        if not data:
            return False
        self.raw += data
        return True

    def expect(self, pattern, timeout=5.0):
        """the match of pattern in the output not yet consumed, or None"""
        end = time.time() + timeout
        rx = re.compile(pattern)
        while True:
            m = rx.search(self.text(), self.pos)
            if m:
                self.pos = m.end()
                return m
            left = end - time.time()
            if left <= 0 or not self._read(min(left, 0.1)):
                m = rx.search(self.text(), self.pos)
                if m:
                    self.pos = m.end()
                return m

    def send(self, s):
        os.write(self.fd, s.encode())

    def line(self, s):
        """type a line and wait for its echo"""
        self.send(s + "\r")

    def prompt(self, timeout=5.0):
        return self.expect(r"ionflow> ", timeout)

    def wait(self, timeout=5.0):
        """exit status, or None (then the process is killed)"""
        end = time.time() + timeout
        while time.time() < end:
            self._read(0.05)
            pid, st = os.waitpid(self.pid, os.WNOHANG)
            if pid != 0:
                self.status = os.waitstatus_to_exitcode(st)
                return self.status
        self.kill()
        return None

    def kill(self):
        if self.status is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except OSError:
                pass
            self.status = -9
        try:
            os.close(self.fd)
        except OSError:
            pass

    def tail(self):
        return self.text()[-1500:]


def run(args, stdin="", env=None, timeout=20):
    e = dict(os.environ)
    if env:
        e.update(env)
    try:
        p = subprocess.run([EXE] + args, input=stdin.encode(), env=e,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout, cwd=TMP)
    except subprocess.TimeoutExpired:
        return None, "", "timeout"
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def write(name, text):
    path = os.path.join(TMP, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def test_basics():
    s = Session()
    ok(s.expect(r"ionflow \d+\.\d+\.\d+ \(Lua 5\.4") is not None,
       "banner names ionflow and its version", s.tail())
    ok(s.prompt() is not None, "prompt 'ionflow> '", s.tail())
    s.line("1 + 2, 'two', nil")
    ok(s.expect(r"\n3\ttwo\tnil\n") is not None,
       "an expression prints its values, tab separated", s.tail())
    s.line("x = 6*7")
    s.prompt()
    s.line("x")
    ok(s.expect(r"\n42\n") is not None, "x = 6*7 then x prints 42", s.tail())
    s.line("setmetatable({}, {__tostring = function() return 'custom' end})")
    ok(s.expect(r"\ncustom\n") is not None, "values print through tostring",
       s.tail())
    s.line("{3, 4, name = 'x', sub = {a = {b = {}}, 1}}")
    ok(s.expect(r'\n\{3, 4, name = "x", sub = \{1, a = \{\.\.\. 1 field\}\}\}\n')
       is not None, "a table prints its fields, nested to a depth", s.tail())
    s.line("r = {t = array.linspace(0, 1, 1000), list = {}}; for i = 1, 100 do r.list[i] = i end")
    s.prompt()
    s.line("r")
    ok(s.expect(r"\n\{list = \{1, 2, 3, 4, 5, 6, 7, 8, \.\.\. \(100 numbers\)\}, "
                r"t = array\(1000 f64\)\}\n") is not None,
       "long runs of numbers summarised", s.tail())
    s.line("r.text = string.rep('w', 70)")
    s.prompt()
    s.line("r")
    ok(s.expect(r"\n\{\n  list = \{1, 2, 3, 4, 5, 6, 7, 8, \.\.\. \(100 numbers\)\},\n"
                r"  t = array\(1000 f64\),\n  text = \"w+ \.\.\.,\n\}\n") is not None,
       "a table too long for a line: a field a line, long values cut", s.tail())
    s.line("error('boom')")
    m = s.expect(r"boom\nstack traceback:")
    ok(m is not None, "an error prints its message and a traceback", s.tail())
    s.line("x + 1")
    ok(s.expect(r"\n43\n") is not None, "the session goes on after an error",
       s.tail())
    s.line("function f(a)")
    ok(s.expect(r"\n +>> ") is not None, "an incomplete chunk asks for more",
       s.tail())
    s.line("  return a * 2")
    s.line("end")
    s.prompt()
    s.line("f(21)")
    ok(s.expect(r"\n42\n") is not None, "a function defined across lines",
       s.tail())
    s.line("local y = 1 +")
    s.expect(r">> ")
    s.line("")
    s.expect(r">> ")
    s.send("\x03")
    ok(s.prompt(2) is not None, "Ctrl-C in a continuation: fresh prompt",
       s.tail())
    s.line("print('after')")
    ok(s.expect(r"\nafter\n") is not None,
       "the discarded chunk does not come back", s.tail())
    s.send("discarded = 99")
    time.sleep(0.1)
    s.send("\x03")
    s.expect(r"\^C\n")
    s.prompt(2)
    s.line("discarded")
    ok(s.expect(r"\nnil\n") is not None,
       "Ctrl-C at the prompt discards the line", s.tail())
    s.send("abc")
    time.sleep(0.1)
    s.send("\x1a")
    time.sleep(0.2)
    s.line("def")
    m = s.expect(r"abcdef\nnil\n")
    ok(m is not None, "Ctrl-Z (not stoppable here) keeps the line", s.tail())
    s.send("ghi")
    time.sleep(0.1)
    fcntl.ioctl(s.fd, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    time.sleep(0.2)
    s.line("jkl")
    ok(s.expect(r"ghijkl\nnil\n") is not None,
       "a window resize keeps the line", s.tail())
    s.line("print(1")
    s.expect(r">> ")
    s.send("\x04")
    ok(s.expect(r"<eof>") is not None,
       "Ctrl-D in a continuation reports the incomplete chunk", s.tail())
    s.line("'still here'")
    ok(s.expect(r"\nstill here\n") is not None, "and the session goes on",
       s.tail())
    s.prompt()
    s.send("\x04")
    st = s.wait()
    ok(st == 0, "Ctrl-D exits with status 0", (st, s.tail()))


def test_interrupt():
    s = Session()
    s.prompt()
    s.line("while true do end")
    time.sleep(0.4)
    t0 = time.time()
    s.send("\x03")
    m = s.expect(r"interrupted[^\n]*\n(.|\n)*?ionflow> ", 3)
    dt = time.time() - t0
    ok(m is not None and dt < 1, "Ctrl-C stops a Lua loop within a second "
       "(%.2f s)" % dt, s.tail())
    s.line("sys.sleep(100)")
    time.sleep(0.4)
    t0 = time.time()
    s.send("\x03")
    m = s.expect(r"sys\.sleep: interrupted[^\n]*\n(.|\n)*?ionflow> ", 3)
    dt = time.time() - t0
    ok(m is not None and dt < 1, "Ctrl-C stops sys.sleep (C code) within a "
       "second (%.2f s)" % dt, s.tail())
    s.line("for i = 1, 3 do sys.sleep(100) end")
    time.sleep(0.4)
    s.send("\x03")
    ok(s.prompt(3) is not None, "and a C call inside a Lua loop", s.tail())
    s.line("got = io.read()")
    time.sleep(0.4)
    t0 = time.time()
    s.send("\x03")
    m = s.expect(r"interrupted[^\n]*\n(.|\n)*?ionflow> ", 3)
    dt = time.time() - t0
    ok(m is not None and dt < 1, "Ctrl-C ends a blocking io.read (%.2f s)" % dt,
       s.tail())
    s.line("6 * 7")
    ok(s.expect(r"\n42\n") is not None, "the REPL works after interrupts",
       s.tail())
    s.prompt()
    s.send("\x04")
    st = s.wait()
    ok(st == 0, "Ctrl-D exits 0 after interrupts", (st, s.tail()))


def test_completion():
    s = Session()
    s.prompt()
    s.send("sys.ti\t")
    ok(s.expect(r"sys\.time\(") is not None, "sys.ti<TAB> completes to sys.time(",
       s.tail())
    s.send(")\r")
    ok(s.expect(r"\n\d+\.\d+\n") is not None, "and runs", s.tail())
    s.send("pri\t'x')\r")
    ok(s.expect(r"print\('x'\)\nx\n") is not None, "a global function name",
       s.tail())
    s.send("tab\t")
    ok(s.expect(r"table\.") is not None, "a table name gets a dot", s.tail())
    s.send("\x03")
    s.prompt()
    s.line("s = 'abc'")
    s.prompt()
    s.send("s:up\t)\r")
    ok(s.expect(r"s:upper\(\)\nABC\n") is not None,
       "a method through the metatable's __index", s.tail())
    s.send("io.stdout:wr\t'w\\n')\r")
    ok(s.expect(r"io\.stdout:write\('w\\n'\)\nw\n") is not None,
       "a method of a userdata", s.tail())
    s.line("arr = array.zeros(3)")
    s.prompt()
    s.send("arr:su\t)\r")
    ok(s.expect(r"arr:sum\(\)\n0") is not None,
       "a method of an array (C __index over a method table)", s.tail())
    s.line("deep = {alpha = {beta = {gamma = 1}}}")
    s.prompt()
    s.send("deep.al\tbe\tga\t\r")
    ok(s.expect(r"deep\.alpha\.beta\.gamma\n1\n") is not None,
       "nested tables", s.tail())
    s.line("obj = setmetatable({}, {__index = function() error('ran') end})")
    s.prompt()
    s.send("obj.zz\t")
    time.sleep(0.3)
    s.send("\x03")
    s.prompt()
    ok("ran" not in s.text()[s.text().rfind("obj.zz"):],
       "completion never calls an __index function", s.tail())
    write("completeme.txt", "")
    s.send("io.open('%s/completem\t" % TMP)
    ok(s.expect(r"completeme\.txt'") is not None,
       "a file name inside a string", s.tail())
    s.send("\x03")
    s.prompt()
    s.send("uni\t")
    ok(s.expect(r"units\.") is not None,
       "a Lua module not loaded yet (lazy global)", s.tail())
    s.send("\x03")
    s.prompt()
    s.send("units.t\t")
    ok(s.expect(r"units\.to\(") is not None, "and its fields", s.tail())
    s.send("\x03")
    s.prompt()
    s.send("whi\t")
    ok(s.expect(r"while ") is not None, "a keyword", s.tail())
    s.send("\x03")
    s.prompt()
    s.send("\x04")
    ok(s.wait() == 0, "exit after completion", s.tail())


def test_history():
    if os.path.exists(HIST):
        os.remove(HIST)
    s = Session()
    s.prompt()
    s.line("print('hist' .. 'ory')")
    s.expect(r"\nhistory\n")
    s.line("function g()")
    s.line("return 7")
    s.line("end")
    s.prompt()
    s.send("\x04")
    s.wait()
    text = open(HIST).read() if os.path.exists(HIST) else ""
    ok("print('hist' .. 'ory')" in text, "the history file is written", text)
    ok(os.stat(HIST).st_mode & 0o077 == 0 if text else False,
       "and private to the user")
    s = Session()
    s.prompt()
    s.send("\x1b[A\r")
    s.prompt()
    s.line("g()")
    ok(s.expect(r"\n7\n") is not None,
       "a multi-line chunk comes back from history as one entry", s.tail())
    s.send("\x1b[A\x1b[A\x1b[A\r")
    ok(s.expect(r"\nhistory\n") is not None, "older entries come back",
       s.tail())
    s.send("\x04")
    s.wait()
    with open(HIST, "w") as f:
        for i in range(3000):
            f.write("#%d\nline%d = %d\n" % (1700000000 + i, i, i))
    s = Session()
    s.prompt()
    s.send("\x1b[A\r")
    ok(s.expect(r"line2999 = 2999") is not None, "the latest entry is kept",
       s.tail())
    s.send("\x04")
    s.wait()
    lines = [l for l in open(HIST).read().splitlines()
             if not re.match(r"#\d+$", l)]
    ok(len(lines) <= 1000 and len(lines) >= 900,
       "the history file is capped at 1000 entries (%d)" % len(lines))
    s = Session(env={"IONFLOW_HISTORY": ""})
    s.prompt()
    s.send("\x04")
    ok(s.wait() == 0, "IONFLOW_HISTORY='' runs without a history file")


def piped_ready(p, statement):
    """a piped REPL given a statement, back once it has run: a signal
    sent earlier, by a slow start (valgrind, a loaded machine), would come
    before its handler. The mark goes to stderr, whose first line it is
    (the banner is stdout's), so that stdout stays whole for the test."""
    p.stdin.write(statement + b" io.stderr:write('ready\\n')\n")
    p.stdin.flush()
    p.stderr.readline()


def test_pipe_idle_sigint():
    p = subprocess.Popen([EXE, "-i"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    piped_ready(p, b"x = 5")
    time.sleep(0.3)
    p.send_signal(signal.SIGINT)     # while it waits for a line
    time.sleep(0.2)
    try:
        out, err = p.communicate(b"print(x)\n", timeout=5)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
    ok(p.returncode == 0 and out.endswith(b"\n5\n"),
       "SIGINT while a piped REPL waits for input does not end it",
       (p.returncode, out, err))


def test_prompt_and_i():
    script = write("defs.lua", "defined = 'from script'\n")
    s = Session(["-i", script])
    s.prompt()
    s.line("defined")
    ok(s.expect(r"\nfrom script\n") is not None,
       "-i script: the REPL sees the script's globals", s.tail())
    s.line("_PROMPT = 'custom> '")
    ok(s.expect(r"custom> ") is not None, "_PROMPT changes the prompt",
       s.tail())
    s.line("os.exit(5)")
    ok(s.wait() == 5, "os.exit(5) from the REPL exits 5", s.tail())


def test_progress_tty():
    code = ("local b = sys.progress('work', 10) "
            "for i = 1, 10 do sys.sleep(0.06) b:update(i) end "
            "b:close() io.stderr:write('end\\n')")
    t0 = time.time()
    s = Session(["-e", code])
    st = s.wait(10)
    dt = time.time() - t0
    raw = s.raw.decode("utf-8", "replace")
    draws = raw.count("\rwork [")
    ok(st == 0 and 2 <= draws <= 10 * (dt - 0.3) + 1,
       "a bar on a terminal, at most 10 draws/s after 0.3 s "
       "(%d draws in %.2f s)" % (draws, dt), raw)
    ok(re.search(r"work \[#+[>.]*\] +\d+% [\d.]+/s ETA \d+:\d\d", raw)
       is not None, "label, bar, percentage, rate, ETA", raw)
    ok(raw.endswith("\r\x1b[Kend\r\n"), "the bar is erased at the end", raw)
    s = Session(["-e", code], env={"IONFLOW_PROGRESS": "0"})
    s.wait(10)
    ok("work" not in s.raw.decode("utf-8", "replace"),
       "IONFLOW_PROGRESS=0 turns it off", s.raw)


def test_command_line():
    rc, out, err = run([], "x = 6*7\nprint(x)\n")
    ok(rc == 0 and out == "42\n", "piped stdin runs as a script", (rc, out, err))
    rc, out, err = run(["-e", "print(1+1)"])
    ok(rc == 0 and out == "2\n", "-e", (rc, out, err))
    rc, out, err = run(["-e", "a=1", "-e", "print(a+1)"])
    ok(rc == 0 and out == "2\n", "several -e in order", (rc, out, err))
    rc, out, err = run(["-eprint(3)"])
    ok(rc == 0 and out == "3\n", "-e glued to its argument", (rc, out, err))
    rc, out, err = run(["missing.lua"])
    ok(rc != 0 and err.count("\n") == 1 and "missing.lua" in err and out == "",
       "a missing script: one line naming it, non-zero status", (rc, err))
    bad = write("bad.lua", "local function f()\n  error('kaputt')\nend\nf()\n")
    rc, out, err = run([bad])
    ok(rc == 1 and "bad.lua:2: kaputt" in err and "stack traceback" in err
       and "in local 'f'" in err, "a script error: traceback, status 1",
       (rc, err))
    syn = write("syntax.lua", "x = = 1\n")
    rc, out, err = run([syn])
    ok(rc == 1 and "syntax.lua:1:" in err, "a syntax error: status 1",
       (rc, err))
    args = write("args.lua", "print(#arg, arg[0], arg[1], arg[2], arg[-1], ...)\n")
    rc, out, err = run([args, "a", "b c"])
    ok(rc == 0 and out == "2\t%s\ta\tb c\t%s\ta\tb c\n" % (args, REAL),
       "the arg table and the script's ...", (rc, out, err))
    rc, out, err = run(["-e", "x=1", args, "z"])
    ok(out == "1\t%s\tz\tnil\tx=1\tz\n" % args,
       "arg[-k] holds the options", (rc, out, err))
    rc, out, err = run(["-", "p", "q"], "print(arg[0], ...)\n")
    ok(rc == 0 and out == "-\tp\tq\n", "'-' runs stdin with arguments",
       (rc, out, err))
    dash = write("-e", "print('a script named -e')\n")
    rc, out, err = run(["--", "-e"])
    ok(rc == 0 and out == "a script named -e\n" and dash,
       "'--' ends the options", (rc, out, err))
    rc, out, err = run(["-v"])
    ok(rc == 0 and re.match(r"ionflow \d+\.\d+\.\d+ \(Lua 5\.4\.\d+\)\n$", out),
       "-v prints the version", (rc, out, err))
    rc, out, err = run(["-x"])
    ok(rc == 1 and "unrecognized option '-x'" in err and "usage:" in err,
       "a bad option: usage and status 1", (rc, err))
    rc, out, err = run(["-e"])
    ok(rc == 1 and "'-e' needs argument" in err, "-e without its argument",
       (rc, err))
    moddir = os.path.join(TMP, "mods")
    os.makedirs(moddir, exist_ok=True)
    write("mods/mymod.lua", "return {answer = 42}\n")
    rc, out, err = run(["-l", "mymod", "-e", "print(mymod.answer)"],
                       env={"IONFLOW_PATH": moddir + "/?.lua"})
    ok(rc == 0 and out == "42\n", "-l with a module on IONFLOW_PATH",
       (rc, out, err))
    rc, out, err = run(["-l", "nosuchmod"])
    ok(rc == 1 and "nosuchmod" in err, "-l of a missing module fails",
       (rc, err))
    rc, out, err = run(["-e", "os.exit(3)"])
    ok(rc == 3, "os.exit(3) sets the status", (rc, err))
    rc, out, err = run(["-e", "print(require('ionflow.tap') ~= nil, "
                        "require('ionflow.sys') == sys)"])
    ok(rc == 0 and out == "true\ttrue\n",
       "ionflow's Lua modules and native modules load", (rc, out, err))


def test_pipe_repl():
    rc, out, err = run(["-i"], "6*7\nerror('e1')\nfunction f()\n"
                       "return 3\nend\nf(), 'two'\n")
    ok(rc == 0 and "\n42\n" in out and "\n3\ttwo\n" in out and "e1" in err,
       "-i on a pipe: expressions, errors, multi-line", (rc, out, err))
    ok("ionflow> " not in out, "no prompts when stdin is not a terminal",
       out)
    p = subprocess.Popen([EXE, "-i"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    piped_ready(p, b"sys.sleep(0)")
    p.stdin.write(b"sys.sleep(100)\n")
    p.stdin.flush()
    time.sleep(0.4)
    t0 = time.time()
    p.send_signal(signal.SIGINT)
    try:
        out, err = p.communicate(b"print('alive')\n", timeout=5)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
    dt = time.time() - t0
    ok(p.returncode == 0 and b"interrupted" in err and b"alive" in out
       and dt < 2, "SIGINT in a piped REPL interrupts the statement only",
       (p.returncode, out, err, dt))


def readme_tour():
    """the README's REPL tour: shell lines, REPL inputs (with their
    continuation lines) and the output each input prints"""
    with open(os.path.join(TOP, "README.md")) as f:
        text = f.read()
    block = text.split("## A tour of the REPL", 1)[1].split("\n\n", 2)[1]
    shell, steps = [], []
    for raw in block.splitlines():
        line = raw[4:]
        if line.startswith("$ "):
            shell.append(line[2:].split("#")[0].strip())
        elif line.startswith("ionflow> "):
            steps.append([line[len("ionflow> "):], []])
        elif line.lstrip().startswith(">> "):
            steps[-1][0] += "\n" + line.lstrip()[3:]
        elif steps:
            steps[-1][1].append(line)
        # (the banner before the first input is checked by test_basics)
    return shell, steps


def test_readme_tour():
    """every line of the README's tour runs as written and prints what the
    README shows, in a directory where `make sample` was run"""
    shell, steps = readme_tour()
    ok(shell == ["make sample", "./ionflow"] and len(steps) >= 5,
       "the README's tour: make sample, ./ionflow and its lines", (shell, steps))
    d = tempfile.mkdtemp(prefix="tour-", dir=TMP)
    p = subprocess.run([EXE, os.path.join(TOP, "scripts", "make-sample.lua")],
                       cwd=d, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=120)
    ok(p.returncode == 0 and os.path.exists(os.path.join(d, "scan_0042.h5")),
       "make sample's script writes scan_0042.h5", p.stdout.decode()[-500:])
    s = Session(cwd=d)
    s.prompt(10)
    for code, want in steps:
        for k, part in enumerate(code.split("\n")):
            s.line(part)
            if k + 1 < len(code.split("\n")):
                s.expect(r">> ", 5)
        m = s.expect(r"((.|\n)*?)ionflow> ", 60)
        got = m.group(1) if m else ""
        # the echo of the last input line, then what it printed
        printed = got.split("\n", 1)[1] if "\n" in got else ""
        ok(m is not None and printed.rstrip("\n") == "\n".join(want) and
           "error" not in printed, "README tour: " + code.splitlines()[0],
           (code, want, printed))
    s.send("\x04")
    s.wait()


def main():
    try:
        test_command_line()
        test_pipe_repl()
        test_pipe_idle_sigint()
        test_basics()
        test_interrupt()
        test_completion()
        test_history()
        test_prompt_and_i()
        test_progress_tty()
        test_readme_tour()
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    return done()


if __name__ == "__main__":
    raise SystemExit(main())
