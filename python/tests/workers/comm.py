"""Communicators: the explicit (serverless) constructor, from_env, dup, split, hints,
context managers, wtime."""

import os

import numpy as np

import fmi
from _w import eq, expect, main, raises


def body(c):
    r, n = c.rank, c.size
    eq((r, n), (int(os.environ["FMI_RANK"]), int(os.environ["FMI_SIZE"])), "from_env rank/size")
    expect("rank %d of %d" % (r, n) in repr(c), "repr")
    expect(isinstance(c.handle, int) and c.handle != 0, "handle")

    # dup: same ranks, separate traffic (same tag on both does not mix)
    d = c.dup()
    eq((d.rank, d.size), (r, n), "dup rank/size")
    right, left = (r + 1) % n, (r - 1) % n
    q1 = c.isend(b"on c", right, tag=1)
    q2 = d.isend(b"on d", right, tag=1)
    eq(d.recv(left, 1), b"on d", "dup recv sees dup traffic")
    eq(c.recv(left, 1), b"on c", "orig recv sees orig traffic")
    fmi.waitall([q1, q2])
    eq(d.allreduce(r), sum(range(n)), "collective on dup")

    # split: parity, reversed order by key; UNDEFINED gives None
    s = c.split(r % 2, key=-r)
    members = [i for i in range(n) if i % 2 == r % 2]
    eq(s.size, len(members), "split size")
    eq(s.rank, sorted(members, reverse=True).index(r), "split rank ordered by key")
    eq(s.allgather(r), sorted(members, reverse=True), "split allgather in key order")
    eq(s.bcast(r if s.rank == 0 else None, root=0), max(members), "split bcast")
    none = c.split(fmi.UNDEFINED if r == 0 else 1)
    if r == 0:
        expect(none is None, "negative color gives None")
    else:
        eq(none.size, n - 1, "split without rank 0")
        eq(none.allreduce(1), n - 1, "collective without rank 0")
        none.free()
    s.free()

    # hints
    d.set_hint(fmi.HINT_CHEAP)
    d.set_hint("fast")
    eq(d.allreduce(np.ones(2)), np.full(2, float(n)), "works after hints")

    # context manager frees
    with c.dup() as e:
        eq(e.allreduce(1), n, "in with-block")
    raises(fmi.ArgError, e.allreduce, 1)
    d.free()

    # the serverless constructor: rank and size given, rendezvous and token from the
    # environment, another job name so it is a second job next to the first
    job = os.environ["FMI_JOB"] + "-explicit"
    with fmi.Communicator(r, n, comm_name=job) as x:
        eq((x.rank, x.size), (r, n), "explicit constructor")
        eq(x.allreduce(r + 1), n * (n + 1) // 2, "explicit job allreduce")
        eq(x.sendrecv(r, right, 0, left, 0), left, "explicit job p2p")

    t0 = fmi.wtime()
    c.barrier()
    expect(fmi.wtime() >= t0, "wtime is monotonic")


main(body)
