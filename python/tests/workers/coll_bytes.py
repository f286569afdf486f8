"""Every collective with bytes, bytearrays, array.array, Python scalars and lists."""

import array
import functools
import operator

import fmi
from _w import eq, expect, main, raises


def body(c):
    r, n = c.rank, c.size
    ranks = range(n)

    # bcast: bytes, scalars of each Python type, bytearray filled in place
    for root in ranks:
        msg = b"root %d says hi" % root
        eq(c.bcast(msg if r == root else None, root=root), msg, "bcast bytes")
        got = c.bcast(root * 7 if r == root else None, root=root)
        eq((got, type(got)), (root * 7, int), "bcast int")
        got = c.bcast(root + 0.125 if r == root else None, root=root)
        eq((got, type(got)), (root + 0.125, float), "bcast float")
        got = c.bcast(root == 0 if r == root else None, root=root)
        eq((got, type(got)), (root == 0, bool), "bcast bool")
        ba = bytearray(b"%08d" % root) if r == root else bytearray(8)
        got = c.bcast(ba, root=root)
        eq(bytes(got), b"%08d" % root, "bcast bytearray")
        expect(got is ba, "bytearray filled in place")
        got = c.bcast(array.array("i", [root, -root]) if r == root else None, root=root)
        eq(got, array.array("i", [root, -root]), "bcast array.array")
    got = c.bcast(3 if r == 0 else None, dtype=fmi.INT16)
    eq(got, 3, "bcast int as INT16")
    long_msg = bytes(range(256)) * 4096  # 1 MiB
    eq(c.bcast(long_msg if r == 0 else None), long_msg, "1 MiB bytes bcast")

    # reductions of Python scalars: the same Python type comes back
    eq(c.allreduce(r + 1), n * (n + 1) // 2, "allreduce int")
    eq(c.allreduce(r + 0.5), sum(i + 0.5 for i in ranks), "allreduce float")
    eq(c.allreduce(r + 1, op=fmi.PROD), functools.reduce(operator.mul, range(1, n + 1)), "PROD int")
    eq(c.allreduce(float(r), op=fmi.MAX), float(n - 1), "MAX float")
    eq(c.allreduce(-r, op=fmi.MIN), -(n - 1), "MIN int")
    eq(c.allreduce(r == 0, op=fmi.LOR), True, "LOR bool")
    eq(c.allreduce(r == 0, op=fmi.LAND), n == 1, "LAND bool")
    eq(c.allreduce(1 << r, op=fmi.BOR), (1 << n) - 1, "BOR int")
    eq(c.allreduce(0xFF, op=fmi.BXOR), 0xFF if n % 2 else 0, "BXOR int")
    eq(c.allreduce(2**40 + r), n * 2**40 + sum(ranks), "int64 range")
    got = c.allreduce(r, dtype=fmi.DOUBLE)
    eq((got, type(got)), (float(sum(ranks)), float), "int reduced as DOUBLE gives float")
    eq(c.allreduce(100, dtype=fmi.INT8), (100 * n + 128) % 256 - 128, "INT8 wraps")
    for root in ranks:
        got = c.reduce(r, op=fmi.SUM, root=root)
        eq(got, sum(ranks) if r == root else None, "reduce root %d" % root)
    eq(c.scan(r + 1), (r + 1) * (r + 2) // 2, "scan int")
    eq(c.exscan(r + 1), None if r == 0 else r * (r + 1) // 2, "exscan int")
    eq(c.scan(float(r), op=fmi.MAX), float(r), "scan MAX float")

    # reductions of bytes and buffers (element-wise on their datatype)
    got = c.allreduce(bytes([1 << (r % 8), 0xF0]), op=fmi.BOR)
    want = bytes([functools.reduce(operator.or_, (1 << (i % 8) for i in ranks)), 0xF0])
    eq(got, want, "BOR bytes")
    eq(type(got), bytes, "bytes back")
    aa = array.array("d", [r, 2.0 * r])
    got = c.allreduce(aa)
    eq(got, array.array("d", [sum(ranks), 2.0 * sum(ranks)]), "allreduce array.array")
    eq(type(got), array.array, "array.array back")
    inplace = array.array("q", [r, 1])
    expect(c.allreduce(inplace, out=inplace) is inplace, "array in place")
    eq(list(inplace), [sum(ranks), n], "array in place values")
    ba = bytearray([r + 1] * 4)
    eq(c.allreduce(ba, op=fmi.MAX, dtype=fmi.UINT8), bytearray([n] * 4), "bytearray MAX")

    # gather / allgather: lists
    for root in ranks:
        g = c.gather(r * r, root=root)
        eq(g, [i * i for i in ranks] if r == root else None, "gather ints")
        g = c.gather(b"%03d" % r, root=root)
        eq(g, [b"%03d" % i for i in ranks] if r == root else None, "gather bytes")
    eq(c.allgather(r + 0.5), [i + 0.5 for i in ranks], "allgather floats")
    eq(c.allgather(bytearray([r, r])), [bytearray([i, i]) for i in ranks], "allgather bytearrays")
    eq(c.allgather(array.array("h", [r])), [array.array("h", [i]) for i in ranks], "allgather arrays")
    out = bytearray(2 * n)
    expect(c.allgather(bytes([r, r]), out=out) is out, "allgather out=")
    eq(bytes(out), bytes(i for i in ranks for _ in range(2)), "allgather out values")

    # scatter: a list of scalars / of bytes, or bytes split evenly
    for root in ranks:
        eq(c.scatter([i * 11 for i in ranks] if r == root else None, root=root), r * 11,
           "scatter ints")
        eq(c.scatter([b"<%d>" % i for i in ranks] if r == root else None, root=root),
           b"<%d>" % r, "scatter bytes list")
        blob = b"".join(b"%04d" % i for i in ranks)
        eq(c.scatter(blob if r == root else None, root=root), b"%04d" % r, "scatter bytes split")
        eq(c.scatter([float(i) for i in ranks] if r == root else None, root=root), float(r),
           "scatter floats")
        out = bytearray(4)
        expect(c.scatter(blob if r == root else None, root=root, out=out) is out, "scatter out=")

    # alltoall: lists in, lists out; bytes in, bytes out
    eq(c.alltoall([r * 10 + j for j in ranks]), [i * 10 + r for i in ranks], "alltoall ints")
    eq(c.alltoall([b"%d>%d" % (r, j) for j in ranks]), [b"%d>%d" % (i, r) for i in ranks],
       "alltoall bytes list")
    got = c.alltoall(bytes([r * 16 + j for j in ranks]))
    eq(got, bytes([i * 16 + r for i in ranks]), "alltoall bytes")

    # reduce_scatter on a list of scalars
    eq(c.reduce_scatter([(r + 1) * (j + 1) for j in ranks]), (r + 1) * n * (n + 1) // 2,
       "reduce_scatter ints")

    # errors raised in Python at the root reach every rank (nobody waits forever)
    e = raises(fmi.ArgError, c.scatter, [1] * (n + 1) if r == 0 else None, root=0)
    expect("list of %d" % n in str(e) or "root" in str(e), "scatter error text: %s" % e)
    e = raises((fmi.ArgError, TypeError), c.bcast, object() if r == 0 else None, root=0)
    c.barrier()


main(body)
