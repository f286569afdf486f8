"""Every collective with NumPy arrays, every root, the built-in ops, in place and
into given arrays."""

import numpy as np

import fmi
from _w import eq, expect, main


def contrib(r, shape=(5,), dtype=np.int64):
    return (np.arange(int(np.prod(shape))).reshape(shape) * 3 + r + 1).astype(dtype)


def body(c):
    r, n = c.rank, c.size
    ranks = range(n)

    # bcast from every root: others pass None, a buffer to fill, or out=
    for root in ranks:
        a = np.arange(12, dtype=np.float32).reshape(3, 4) + root
        got = c.bcast(a if r == root else None, root=root)
        eq(got, a, "bcast root %d" % root)
        eq((got.dtype, got.shape), (a.dtype, a.shape), "bcast dtype/shape")
        if r == root:
            expect(got is a, "root gets its own object back")
        buf = np.zeros((3, 4), dtype=np.float32)
        got = c.bcast(a if r == root else buf, root=root)
        eq(got, a, "bcast into a buffer")
        if r != root:
            expect(got is buf, "bcast filled the given array in place")
        out = np.zeros(12, dtype=np.float32)
        got = c.bcast(a, root=root, out=out if r != root else None)
        if r != root:
            expect(got is out, "bcast out=")
            eq(out, a.ravel(), "bcast out= values")
    big = np.arange(1 << 18, dtype=np.float64)  # 2 MiB
    eq(c.bcast(big if r == 0 else None), big, "2 MiB bcast")
    eq(c.bcast(np.float32(2.5) if r == 0 else None), np.float32(2.5), "NumPy scalar bcast")

    # reduce / allreduce with every built-in op on integers and floats
    for dt in (np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64,
               np.uint64, np.float32, np.float64):
        xs = [contrib(i, dtype=dt) for i in ranks]
        want = {
            fmi.SUM: np.sum(xs, axis=0, dtype=dt),
            fmi.PROD: np.prod(xs, axis=0, dtype=dt),
            fmi.MIN: np.min(xs, axis=0),
            fmi.MAX: np.max(xs, axis=0),
        }
        if np.dtype(dt).kind in "iu":
            want[fmi.BAND] = np.bitwise_and.reduce(xs)
            want[fmi.BOR] = np.bitwise_or.reduce(xs)
            want[fmi.BXOR] = np.bitwise_xor.reduce(xs)
        for op, w in want.items():
            eq(c.allreduce(xs[r], op=op), w.astype(dt), "allreduce %s %s" % (op, np.dtype(dt)))
        for root in ranks:
            got = c.reduce(xs[r], op=fmi.SUM, root=root)
            if r == root:
                eq(got, want[fmi.SUM].astype(dt), "reduce root %d" % root)
            else:
                expect(got is None, "reduce elsewhere gives None")
    # logical ops on bools and ints
    bools = [np.array([i % 2 == 0, True, False, i == 0]) for i in ranks]
    eq(c.allreduce(bools[r], op=fmi.LAND), np.logical_and.reduce(bools), "LAND bool")
    eq(c.allreduce(bools[r], op=fmi.LOR), np.logical_or.reduce(bools), "LOR bool")
    eq(c.allreduce(bools[r], op=fmi.LXOR), np.logical_xor.reduce(bools), "LXOR bool")
    ints = [np.array([i % 2, 1, 0, 5], dtype=np.int32) for i in ranks]
    # (one rank: the result is the input, as in MPI)
    want = ints[0] if n == 1 else np.logical_and.reduce(ints).astype(np.int32)
    eq(c.allreduce(ints[r], op=fmi.LAND), want, "LAND int")

    # in place (out is the input) and into a given array: no new array
    x = np.full(1000, r + 1.0)
    got = c.allreduce(x, out=x)
    expect(got is x, "allreduce in place returns the array")
    eq(x, np.full(1000, n * (n + 1) / 2), "allreduce in place")
    out = np.empty((2, 3))
    got = c.allreduce(np.ones((2, 3)) * r, out=out)
    expect(got is out, "allreduce out=")
    eq(out, np.full((2, 3), float(sum(ranks))), "allreduce out values")
    # 1M doubles
    m = np.arange(1 << 20, dtype=np.float64) * (r + 1)
    got = c.allreduce(m)
    expect(bool(np.array_equal(got, np.arange(1 << 20, dtype=np.float64) * (n * (n + 1) // 2))),
           "1M allreduce")
    # non-contiguous input is copied
    s = np.arange(20.0).reshape(4, 5)[:, ::2] + r
    eq(c.allreduce(s), np.arange(20.0).reshape(4, 5)[:, ::2] * n + sum(ranks), "strided allreduce")
    # dtype override converts
    eq(c.allreduce(np.array([1.5, 2.5]), dtype=np.int32), np.array([n, 2 * n], dtype=np.int32),
       "dtype override")

    # scan / exscan
    v = np.array([r + 1, 2 * (r + 1)], dtype=np.int64)
    eq(c.scan(v), np.array([sum(range(1, r + 2)), 2 * sum(range(1, r + 2))]), "scan")
    ex = c.exscan(v)
    if r == 0:
        expect(ex is None, "exscan at rank 0 is None")
        keep = np.array([-7, -7])
        expect(c.exscan(v, out=keep) is keep and list(keep) == [-7, -7], "exscan out at rank 0 untouched")
    else:
        eq(ex, np.array([sum(range(1, r + 1)), 2 * sum(range(1, r + 1))]), "exscan")
        c.exscan(v, out=np.empty(2, dtype=np.int64))
    eq(c.scan(np.float64(r), op=fmi.MAX), np.float64(r), "scan NumPy scalar")

    # gather / allgather: a new first axis
    mine = np.array([[r, r * 10]], dtype=np.int16)
    for root in ranks:
        g = c.gather(mine, root=root)
        if r == root:
            eq(g.shape, (n, 1, 2), "gather shape")
            eq(g[:, 0, 1], np.arange(n) * 10, "gather values")
        else:
            expect(g is None, "gather elsewhere None")
    ag = c.allgather(np.float64(r))
    eq(ag, np.arange(n, dtype=np.float64), "allgather NumPy scalars")
    out = np.zeros((n, 2), dtype=np.int16)
    expect(c.allgather(mine[0], out=out) is out, "allgather out=")
    eq(out[:, 1], np.arange(n, dtype=np.int16) * 10, "allgather out values")

    # scatter: shape (n, k) gives (k,), shape (n*k,) gives (k,); others pass None
    for root in ranks:
        src = np.arange(n * 3, dtype=np.uint32).reshape(n, 3) + root
        got = c.scatter(src if r == root else None, root=root)
        eq(got, np.arange(3, dtype=np.uint32) + 3 * r + root, "scatter (n,3) root %d" % root)
        got = c.scatter(src.ravel() if r == root else None, root=root)
        eq(got, np.arange(3, dtype=np.uint32) + 3 * r + root, "scatter flat")
        out = np.empty(3, dtype=np.uint32)
        expect(c.scatter(src if r == root else None, root=root, out=out) is out, "scatter out=")
    # a list of arrays
    got = c.scatter([np.full(2, i, dtype=np.float64) for i in ranks] if r == 0 else None)
    eq(got, np.full(2, r, dtype=np.float64), "scatter list of arrays")

    # alltoall: block j of rank i -> block i of rank j
    send = np.array([[r * 100 + j, -(r * 100 + j)] for j in ranks], dtype=np.int64)
    got = c.alltoall(send)
    eq(got, np.array([[i * 100 + r, -(i * 100 + r)] for i in ranks], dtype=np.int64), "alltoall")
    out = np.empty_like(send)
    expect(c.alltoall(send, out=out) is out, "alltoall out=")

    # reduce_scatter: block r of the sum
    rs = c.reduce_scatter(np.arange(n * 2, dtype=np.float64).reshape(n, 2) * (r + 1))
    eq(rs, np.arange(n * 2, dtype=np.float64).reshape(n, 2)[r] * (n * (n + 1) / 2), "reduce_scatter")

    # empty arrays
    eq(c.allreduce(np.zeros(0)).shape, (0,), "empty allreduce")
    eq(c.bcast(np.zeros((0, 3)) if r == 0 else None).shape, (0, 3), "empty bcast")
    c.barrier()


main(body)
