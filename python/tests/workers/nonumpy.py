"""Without NumPy: bytes, buffers and scalars work; user ops get memoryviews."""

import sys

sys.modules["numpy"] = None  # `import numpy` now fails, as if it were not installed

import array  # noqa: E402

import fmi  # noqa: E402
from _w import eq, expect, main, raises  # noqa: E402


def body(c):
    r, n = c.rank, c.size
    right, left = (r + 1) % n, (r - 1) % n
    eq(c.allreduce(r), sum(range(n)), "int allreduce")
    eq(c.bcast(b"abc" if r == 0 else None), b"abc", "bytes bcast")
    eq(c.allgather(r * 1.5), [i * 1.5 for i in range(n)], "allgather floats")
    c.send(array.array("d", [r, r]), right, tag=1)
    got = c.recv(left, 1, dtype=fmi.DOUBLE)
    eq((type(got), list(got)), (array.array, [left, left]), "recv dtype= gives array.array")
    c.send(array.array("i", [r]), right, tag=2)
    got = c.recv(left, 2, dtype="int32")
    eq(list(got), [left], "dtype by name without NumPy")

    seen = []

    def mul(a, b):
        seen.append((type(a).__name__, a.format, a.readonly, b.readonly))
        for i in range(len(b)):
            b[i] = a[i] * b[i]

    with fmi.Op(mul) as op:
        got = c.allreduce(array.array("q", [r + 1, 2]), op=op)
        prod = 1
        for i in range(n):
            prod *= i + 1
        eq(list(got), [prod, 2 ** n], "user op on memoryviews")
        if seen:  # (not every rank combines)
            eq(seen[0], ("memoryview", "q", True, False), "fn gets memoryviews")
        eq(c.allreduce(float(r + 1), op=op), float(prod), "user op on a float")
    with fmi.Op(lambda a, b: [x - y for x, y in zip(a, b)], commutative=False,
                associative=False) as op:
        want = 0
        for i in range(n):
            want = i if i == 0 else want - i
        eq(c.allreduce(r, op=op), want, "returned list copied into inout, rank order")
    raises(fmi.ArgError, c.allreduce, 1, dtype="complex128")
    expect("numpy" not in sys.modules or sys.modules["numpy"] is None, "NumPy was not imported")


main(body)
