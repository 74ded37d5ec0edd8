#!/usr/bin/python3
"""Every fuzz harness (tests/fuzz/fuzz_NAME.c, linked with replay.c by
make check) runs over its seeds and its regression files, the inputs
that once crashed or hung it: none may end the process by a signal, fail,
or take more than 60 s. TAP output."""
import glob
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
from tap import ok, done  # noqa: E402

# (the build's directory: under valgrind $IONFLOW is tests/valgrind-run
# and the binary $IONFLOW_REAL)
build = os.path.dirname(os.environ.get("IONFLOW_REAL") or
                        os.environ.get("IONFLOW", "build/opt/ionflow"))
names = sorted(os.path.basename(p)[5:-2]
               for p in glob.glob(os.path.join(HERE, "fuzz_*.c")))
ok(len(names) >= 5, "harnesses found: " + " ".join(names))
# under SANITIZE=1 the replays leak-check as make fuzz does: libhdf5's own
# leaks on corrupt files are not ionflow's (tests/fuzz/lsan.supp)
env = dict(os.environ, LSAN_OPTIONS="suppressions=" +
           os.path.join(HERE, "lsan.supp"))
for name in names:
    exe = os.path.join(build, "fuzz", "replay_" + name)
    dirs = [os.path.join(HERE, d, name) for d in ("corpus", "regress")]
    dirs = [d for d in dirs if os.path.isdir(d)]
    n = sum(len(os.listdir(d)) for d in dirs)
    try:
        r = subprocess.run([exe] + dirs, capture_output=True, text=True,
                           timeout=60, env=env)
        ok(r.returncode == 0 and ("replayed %d inputs" % n) in r.stdout,
           "%s: %d seeds and regression files replay" % (name, n),
           "exit %d\n%s%s" % (r.returncode, r.stdout, r.stderr[-2000:]))
    except subprocess.TimeoutExpired:
        ok(False, "%s: %d seeds and regression files replay" % (name, n),
           "more than 60 s")
    except FileNotFoundError:
        ok(False, "%s: %s is built (make check builds it)" % (name, exe))

sys.exit(done())
