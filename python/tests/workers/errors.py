"""Errors: FMI codes as exceptions with FMI_Last_error's message, Python-side argument
checks, and (with 2+ ranks) a peer that dies."""

import os

import numpy as np

import fmi
from _w import eq, expect, main, raises


def body(c):
    r, n = c.rank, c.size

    # library errors: code, class, message naming the function
    e = raises(fmi.ArgError, c.send, b"x", n + 3)
    eq(e.code, fmi.ERR_ARG, "bad dest code")
    expect(isinstance(e, fmi.FMIError) and isinstance(e, ValueError), "ArgError is FMIError and ValueError")
    expect("FMI_Send" in e.message, "message from FMI_Last_error names the call: %r" % e.message)
    expect("FMI_ERR_ARG" in str(e), "str() names the code: %s" % e)
    e = raises(fmi.ArgError, c.send, b"x", 0, tag=-5)
    eq(e.code, fmi.ERR_ARG, "negative tag")
    e = raises(fmi.ArgError, c.bcast, b"x", root=n)  # every rank fails alike, nobody hangs
    e = raises(fmi.ArgError, c.recv, n + 1, 0, out=bytearray(1))
    e = raises(fmi.FMIError, c.set_hint, 7)
    raises(fmi.ArgError, c.set_hint, "slow")
    eq(fmi.error_string(fmi.ERR_TRUNCATE) != "", True, "error_string")
    expect(fmi.last_error() != "", "last_error keeps the last message")

    # Python-side argument errors
    raises(TypeError, c.send, {"a": 1}, 0)
    raises(TypeError, c.send, "text", 0)  # str is not bytes: encode it
    raises(fmi.ArgError, c.allreduce, 1, dtype="no-such-type")
    raises(fmi.ArgError, c.allreduce, 1.5, dtype=fmi.INT32)
    raises(fmi.ArgError, c.allreduce, 2**70)
    raises(fmi.ArgError, c.recv, 0, 0, out=b"immutable")
    ro = np.zeros(4)
    ro.flags.writeable = False
    raises(fmi.ArgError, c.recv, 0, 0, out=ro)
    raises(fmi.ArgError, c.irecv)  # needs out= or count=
    raises(fmi.ArgError, c.allreduce, np.ones(3), out=np.zeros(4))
    raises(fmi.ArgError, c.send, b"abc", 0, dtype=fmi.INT16)  # 3 bytes: not whole int16s
    e = raises(fmi.ArgError, c.scatter, np.zeros(n + 1) if n > 1 else 5, root=0)
    raises(fmi.ArgError, c.alltoall, [1] * (n + 1))

    # the communicator after free()
    d = c.dup()
    d.free()
    d.free()  # idempotent
    e = raises(fmi.ArgError, d.barrier)
    expect("freed" in str(e), "freed message")
    expect("freed" in repr(d), "repr of a freed communicator")

    # a rank that dies: operations that need it fail with PeerLostError
    if n >= 2:
        eq(c.allreduce(1), n, "all alive")
        c.barrier()
        # the last rank dies once every other rank is done with the collectives above
        # (so none of them still needs a message from it)
        if r == n - 1:
            for _ in range(n - 1):
                c.recv(fmi.ANY_SOURCE, 99)
            print("WORKER OK errors rank %d of %d" % (r, n), flush=True)
            os._exit(0)  # no free, no atexit: the connections just close
        c.send(b"ready", n - 1, tag=99)
        if r == 0:
            e = raises(fmi.PeerLostError, c.recv, n - 1, 0)
            eq(e.code, fmi.ERR_PEER_LOST, "peer lost code")
            expect(str(n - 1) in e.message, "the message names the rank: %r" % e.message)
        e = raises(fmi.PeerLostError, c.allreduce, 1)
        expect("lost" in e.message, "collective names the loss: %r" % e.message)
        if n >= 3 and r < 2:
            # ranks that are alive can still talk to each other
            eq(c.sendrecv(r, 1 - r, 5, 1 - r, 5), 1 - r, "survivors still talk")


main(body)
