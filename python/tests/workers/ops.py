"""User reduction ops from Python callables: flags honoured (rank order for
non-commutative, left-to-right for non-associative), NumPy views, returned results,
dtypes without an FMI datatype, exceptions, freeing."""

import functools

import numpy as np

import fmi
from _w import eq, expect, main, raises


def body(c):
    r, n = c.rank, c.size
    ranks = range(n)

    # commutative + associative, in place on the inout array
    calls = []

    def add(a, b):
        calls.append((type(a), a.dtype, b.flags.writeable, a.flags.writeable))
        b += a

    with fmi.Op(add) as op_add:
        got = c.allreduce(np.arange(4, dtype=np.int32) * (r + 1), op=op_add)
        eq(got, np.arange(4, dtype=np.int32) * (n * (n + 1) // 2), "user add")
        if n > 1 and calls:
            expect(calls[0] == (np.ndarray, np.dtype(np.int32), True, False),
                   "fn gets NumPy arrays of the dtype, `in` read-only, `inout` writable: %r" % calls[:1])
        eq(c.allreduce(r + 1, op=op_add), n * (n + 1) // 2, "user add on a Python int")
        eq(c.allreduce(r + 0.5, op=op_add), sum(i + 0.5 for i in ranks), "user add on a float")
        for root in ranks:
            eq(c.reduce(r, op=op_add, root=root), sum(ranks) if r == root else None, "user reduce")
        eq(c.scan(r, op=op_add), sum(range(r + 1)), "user scan")
        eq(c.exscan(r, op=op_add), None if r == 0 else sum(range(r)), "user exscan")
        eq(c.reduce_scatter([j for j in ranks], op=op_add), r * n, "user reduce_scatter")
        # a large vector: the function sees whole vectors, results are exact
        v = np.arange(100000, dtype=np.int64) + r
        eq(c.allreduce(v, op=op_add), np.arange(100000, dtype=np.int64) * n + sum(ranks),
           "user add 100k")
    expect(op_add.handle is None, "with-block freed the op")
    raises(fmi.ArgError, c.allreduce, 1, op=op_add)

    # neither commutative nor associative: left fold in rank order, (in, inout) = (lower, higher)
    def affine(a, b):
        return 3 * a + b  # returned, not written: fmi copies it into inout

    op_aff = fmi.Op(affine, commutative=False, associative=False)
    xs = [np.array([i + 1, 2 * i - 1], dtype=np.int64) for i in ranks]
    fold = functools.reduce(lambda acc, x: 3 * acc + x, xs)
    for _ in range(3):  # bit-identical and repeatable
        eq(c.allreduce(xs[r], op=op_aff), fold, "non-commutative non-associative allreduce")
    for root in ranks:
        got = c.reduce(xs[r], op=op_aff, root=root)
        if r == root:
            eq(got, fold, "non-commutative reduce at root %d" % root)
    eq(c.scan(xs[r], op=op_aff), functools.reduce(lambda acc, x: 3 * acc + x, xs[:r + 1]),
       "non-commutative scan")
    # string concatenation as an op: the order is visible
    def concat(a, b):
        return np.array([x + y for x, y in zip(a.tolist(), b.tolist())], dtype="S8")

    op_cat = fmi.Op(concat, commutative=False, associative=True)
    got = c.allreduce(np.array([b"%d" % r, b"x"], dtype="S8"), op=op_cat)
    eq(got.tolist(), [b"".join(b"%d" % i for i in ranks)[:8], (b"x" * n)[:8]],
       "concat in rank order (S8, moved as bytes)")
    op_cat.free()
    op_aff.free()

    # dtypes without an FMI datatype: fn gets arrays of the real dtype
    cmul = fmi.Op(lambda a, b: a * b)
    z = np.array([1j, 1 + r * 1j], dtype=np.complex128)
    want = functools.reduce(lambda p, q: p * q, [np.array([1j, 1 + i * 1j]) for i in ranks])
    expect(bool(np.allclose(c.allreduce(z, op=cmul), want)), "complex product")
    raises(TypeError, c.allreduce, z, op=fmi.SUM)  # built-in ops need an FMI datatype
    st = np.zeros(2, dtype=[("lo", np.int32), ("hi", np.int32)])
    st["lo"], st["hi"] = r, -r

    def minmax(a, b):
        b["lo"] = np.minimum(a["lo"], b["lo"])
        b["hi"] = np.maximum(a["hi"], b["hi"])

    with fmi.Op(minmax) as op_mm:
        got = c.allreduce(st, op=op_mm)
        eq((got["lo"].tolist(), got["hi"].tolist()), ([0, 0], [0, 0]), "structured dtype op")
    cmul.free()

    # an exception in fn is raised by the collective (where fn ran); the comm survives
    def bad(a, b):
        raise ValueError("bad op on rank %d" % r)

    op_bad = fmi.Op(bad)
    if n > 1:
        try:
            c.reduce(np.ones(3), op=op_bad, root=0)
            expect(r != 0, "the root combines, so its call must raise")
        except ValueError as e:
            expect("bad op" in str(e), "the original exception: %s" % e)
    op_bad.free()
    eq(c.allreduce(1), n, "communicator still works after a failing op")

    # plain functions are refused with a hint; freeing twice is harmless
    e = raises(TypeError, c.allreduce, 1, op=lambda a, b: a)
    expect("fmi.Op" in str(e), "hint to wrap in fmi.Op")
    o = fmi.Op(lambda a, b: None)
    o.free()
    o.free()
    fmi.SUM.free()  # built-ins stay
    eq(c.allreduce(2, op=fmi.SUM), 2 * n, "SUM after free() on it")
    eq(int(fmi.MAX), 3, "built-in handles are the C values")
    c.barrier()


main(body)
