"""TAP output for the Python tests (run through tests/run-test by prove).

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    from tap import ok, diag, done

ok(cond, name, diag=None, skip=None) prints one test line (the diagnostic
under a failure; skip= marks it skipped) and returns cond; done() prints
the plan and returns the exit status.
"""
_count = 0
_failed = 0


def ok(cond, name, diag=None, skip=None):
    global _count, _failed
    _count += 1
    if skip:
        print(f"ok {_count} - {name} # SKIP {skip}", flush=True)
        return True
    if not cond:
        _failed += 1
    print(f"{'' if cond else 'not '}ok {_count} - {name}", flush=True)
    if not cond and diag is not None:
        for line in str(diag).splitlines() or [""]:
            print("#   " + line, flush=True)
    return cond


def diag(msg):
    for line in str(msg).splitlines():
        print(f"# {line}", flush=True)


def done():
    print(f"1..{_count}", flush=True)
    return 1 if _failed else 0
