"""Helpers shared by the worker scripts (run under fmirun, one process per rank)."""

import os
import sys
import traceback

import fmi

comm = None


def start():
    global comm
    comm = fmi.Communicator.from_env()
    return comm


def expect(cond, what):
    if not cond:
        raise AssertionError("rank %d: %s" % (comm.rank if comm else -1, what))


def eq(got, want, what):
    ok = got == want
    try:
        ok = bool(ok)
    except ValueError:  # NumPy arrays
        import numpy as np
        ok = isinstance(got, np.ndarray) and got.shape == np.shape(want) and bool(np.all(got == want))
    if not ok:
        raise AssertionError("rank %d: %s: got %r, want %r" % (comm.rank, what, got, want))


def raises(exc, fn, *args, **kw):
    try:
        fn(*args, **kw)
    except exc as e:
        return e
    raise AssertionError("rank %d: %s did not raise %s" % (comm.rank, getattr(fn, "__name__", fn), exc))


def main(body):
    """Runs body(comm); prints 'WORKER OK <name> rank R of N' on success."""
    name = os.path.splitext(os.path.basename(sys.argv[0]))[0]
    c = start()
    try:
        body(c)
    except BaseException:
        traceback.print_exc()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(1)
    r, n = c.rank, c.size
    c.free()
    print("WORKER OK %s rank %d of %d" % (name, r, n), flush=True)
