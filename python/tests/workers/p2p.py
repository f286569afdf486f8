"""Point to point: send/recv/sendrecv/isend/irecv/probe with bytes, buffers, scalars
and NumPy arrays, at any size (size 1 talks to itself)."""

import array
import time

import numpy as np

import fmi
from _w import eq, expect, main, raises


def body(c):
    r, n = c.rank, c.size
    right, left = (r + 1) % n, (r - 1) % n

    # ring with sendrecv: every kind of object, returned as a new object
    eq(c.sendrecv(b"from %d" % r, right, 1, left, 1), b"from %d" % left, "bytes ring")
    eq(c.sendrecv(r * 1000, right, 2, left, 2), left * 1000, "int ring")
    expect(type(c.sendrecv(r, right, 2, left, 2)) is int, "int ring gives int")
    eq(c.sendrecv(r + 0.5, right, 3, left, 3, dtype=float), left + 0.5, "float ring")
    eq(c.sendrecv(r + 0.5, right, 3, left, 3, dtype=float), left + 0.5, "float ring")
    for dt in (np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64,
               np.uint64, np.float32, np.float64):
        a = (np.arange(10) + r).astype(dt)
        got = c.sendrecv(a, right, 4, left, 4, dtype=dt)
        eq(got.dtype, np.dtype(dt), "dtype kept %s" % dt)
        eq(got, (np.arange(10) + left).astype(dt), "ndarray ring %s" % np.dtype(dt))

    # blocking send/recv with explicit source and tags, status filled in
    reqs = [c.isend(np.full((3, 4), r, dtype=np.float64), right, tag=7),
            c.isend(b"x" * r, right, tag=8)]
    st = fmi.Status()
    out = np.empty((3, 4))
    got = c.recv(left, 7, out=out, status=st)
    expect(got is out, "recv into out returns out")
    eq(out, np.full((3, 4), left, dtype=np.float64), "recv into ndarray")
    eq((st.source, st.tag, st.nbytes, st.error), (left, 7, 96, 0), "status")
    eq(st.count(fmi.DOUBLE), 12, "status.count")
    eq(c.recv(fmi.ANY_SOURCE, fmi.ANY_TAG), b"x" * left, "any source/tag")
    fmi.waitall(reqs)

    # scalars with a dtype override (int32) and bool
    c.send(-5, right, tag=9, dtype=fmi.INT32)
    st = fmi.Status()
    eq(c.recv(left, 9, dtype="int32", status=st), np.array([-5], dtype=np.int32), "int32 scalar as array")
    eq(st.nbytes, 4, "int32 is 4 bytes")
    c.send(True, right, tag=9)
    eq(c.recv(left, 9, dtype=bool), True, "bool scalar")
    c.send(2**62 + r, right, tag=9)
    eq(c.recv(left, 9, dtype=int), 2**62 + left, "int64 scalar")

    # receive into bytearray, memoryview slice and array.array
    c.send(bytes(range(r, r + 16)), right, tag=10)
    ba = bytearray(16)
    expect(c.recv(left, 10, out=ba) is ba, "bytearray out identity")
    eq(bytes(ba), bytes(range(left, left + 16)), "into bytearray")
    c.send(array.array("d", [r, r + 0.25]), right, tag=11)
    aa = array.array("d", [0.0, 0.0])
    c.recv(left, 11, out=aa)
    eq(list(aa), [left, left + 0.25], "into array.array")
    c.send(b"abcd", right, tag=12)
    big = bytearray(b"-" * 8)
    st = fmi.Status()
    c.recv(left, 12, out=memoryview(big)[2:6], status=st)
    eq(bytes(big), b"--abcd--", "into memoryview slice")
    # recv with a dtype but no buffer: a new NumPy array
    c.send(np.arange(5, dtype=np.float32), right, tag=13)
    got = c.recv(left, 13, dtype=fmi.FLOAT)
    eq(got, np.arange(5, dtype=np.float32), "recv dtype=fmi.FLOAT")

    # a shorter message into a larger buffer: status says how much came
    c.send(b"12", right, tag=14)
    st = fmi.Status()
    buf = bytearray(10)
    c.recv(left, 14, out=buf, status=st)
    eq((st.nbytes, bytes(buf[:2])), (2, b"12"), "short message")

    # truncation: TruncateError, the buffer holds the first bytes, the link still works
    c.send(b"0123456789", right, tag=15)
    small = bytearray(4)
    e = raises(fmi.TruncateError, c.recv, left, 15, out=small)
    eq(e.code, fmi.ERR_TRUNCATE, "truncate code")
    expect(isinstance(e, fmi.FMIError), "TruncateError is an FMIError")
    expect(len(e.message) > 0, "truncate message from FMI_Last_error")
    eq(bytes(small), b"0123", "truncated prefix")
    eq(c.sendrecv(b"after", right, 16, left, 16), b"after", "usable after truncation")

    # non-contiguous: sent as a copy, refused as a receive buffer
    m = np.arange(20.0).reshape(4, 5)
    c.send(m[:, 1], right, tag=17)
    eq(c.recv(left, 17, dtype=np.float64), np.arange(20.0).reshape(4, 5)[:, 1], "strided send")
    c.send(b"z" * 16, right, tag=18)
    e = raises(fmi.ArgError, c.recv, left, 18, out=np.zeros(4)[::2])
    expect("contiguous" in str(e), "non-contiguous out error says why: %s" % e)
    eq(c.recv(left, 18), b"z" * 16, "message still there after refused out")

    # dtypes without an FMI datatype travel as bytes
    z = np.array([1 + 2j, r - 1j])
    c.send(z, right, tag=19)
    eq(c.recv(left, 19, dtype=np.complex128), np.array([1 + 2j, left - 1j]), "complex128")
    c.send(np.array([r], dtype=">i4"), right, tag=20)  # big-endian: converted on send
    eq(c.recv(left, 20, dtype=np.int32), np.array([left], dtype=np.int32), "byte-swapped")

    # isend/irecv: into a buffer, into a new buffer (count), test(), waitall
    big_n = 1 << 19  # 4 MiB of doubles: the rendezvous protocol
    src = np.arange(big_n, dtype=np.float64) + r
    dst = np.empty(big_n)
    rr = c.irecv(dst, left, 21)
    rs = c.isend(src, right, 21)
    r2 = c.irecv(source=left, tag=22, count=3, dtype=np.int64)
    rs2 = c.isend(np.array([r, r, r], dtype=np.int64), right, 22)
    res = fmi.waitall([rr, rs, r2, rs2])
    expect(res[0] is dst and res[1] is None, "waitall results")
    expect(bool(np.array_equal(dst, np.arange(big_n, dtype=np.float64) + left)), "4 MiB irecv")
    eq(res[2], np.array([left] * 3, dtype=np.int64), "irecv count=")
    expect(rr.done and rr.status.source == left and rr.status.nbytes == 8 * big_n, "request status")
    rq = c.irecv(bytearray(3), left, 23)
    c.send(b"abc", right, 23)
    for _ in range(100000):
        done, val = rq.test()
        if done:
            break
    else:
        val = rq.wait()
    eq(bytes(val), b"abc", "test() then result")
    eq(rq.wait(), val, "wait after completion returns the result again")
    r3 = c.irecv(source=left, tag=24, count=64)
    c.send(b"short", right, 24)
    eq(r3.wait(), b"short", "irecv new bytes trimmed to what came")

    # probe / iprobe
    c.send(b"probe-me", right, tag=25)
    st = c.probe(left, 25)
    eq((st.source, st.tag, st.nbytes), (left, 25, 8), "probe")
    eq(c.recv(st.source, st.tag), b"probe-me", "recv after probe")
    expect(c.iprobe(left, 999) is None, "iprobe with nothing pending")
    c.send(b"later", right, tag=26)
    deadline = time.time() + 20
    while time.time() < deadline:
        st = c.iprobe(left, 26)
        if st is not None:
            break
    expect(st is not None and st.nbytes == 5, "iprobe finds the message")
    c.recv(left, 26)

    # zero-length messages
    c.send(b"", right, tag=27)
    eq(c.recv(left, 27), b"", "empty bytes")
    c.send(np.zeros(0), right, tag=28)
    eq(c.recv(left, 28, dtype=np.float64).shape, (0,), "empty array")

    # message order on one tag
    for i in range(20):
        c.send(i, right, tag=29)
    eq([c.recv(left, 29, dtype=int) for _ in range(20)], list(range(20)), "non-overtaking")
    c.barrier()


main(body)
