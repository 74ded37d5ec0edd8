"""Helpers of the Python tests about child processes.

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    import procs

procs.rchar(pid): the bytes process pid has read so far (rchar of
/proc/PID/io, read() and pread() of any file), None once it is gone.

procs.marks(text, field): the per-file records of a runner that prints
"BEGIN path", then "OK rest" or "ERR rest", then "END seconds" for each
file: {path: {"ok": bool, field: rest, "secs": int}}.
"""


def rchar(pid):
    try:
        with open(f"/proc/{pid}/io") as f:
            for line in f:
                if line.startswith("rchar:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def marks(text, field):
    res, cur = {}, None
    for line in text.splitlines():
        tag, _, rest = line.partition(" ")
        if tag == "BEGIN":
            cur = rest
            res[cur] = {}
        elif tag in ("OK", "ERR") and cur:
            res[cur]["ok"], res[cur][field] = tag == "OK", rest
        elif tag == "END" and cur:
            res[cur]["secs"] = int(rest)
    return res
