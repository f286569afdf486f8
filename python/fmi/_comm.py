"""Communicator, Request, Status and Op over the C API."""

import array
import ctypes
import json
import os
import struct

from . import _lib
from ._buffers import (Datatype, alloc, dtype_desc, dtype_from, dt_format, dt_numpy, dt_size,
                       numpy, pack_list, resolve_dtype, spec_nbytes, to_in, to_out)
from ._errors import ArgError, check, make_error

lib = _lib.lib
byref = ctypes.byref
c_double = ctypes.c_double

ANY_SOURCE = -1
ANY_TAG = -1
TAG_UB = 2**31 - 1
UNDEFINED = -1
HINT_FAST = 0
HINT_CHEAP = 1


def wtime():
    """Seconds since an arbitrary point in the past (monotonic), FMI_Wtime."""
    return lib.FMI_Wtime()


class Status:
    """What a receive, probe or wait reports: source, tag, error and nbytes."""

    __slots__ = ("source", "tag", "error", "nbytes")

    def __init__(self, source=ANY_SOURCE, tag=ANY_TAG, error=0, nbytes=0):
        self.source = source
        self.tag = tag
        self.error = error
        self.nbytes = nbytes

    def _set(self, st):
        self.source = st.source
        self.tag = st.tag
        self.error = st.error
        self.nbytes = st.bytes
        return self

    def count(self, dtype=Datatype.BYTE):
        """Number of elements of `dtype` received."""
        return self.nbytes // resolve_dtype(dtype).size

    def __repr__(self):
        return "Status(source=%d, tag=%d, error=%d, nbytes=%d)" % (
            self.source, self.tag, self.error, self.nbytes)


def _fill(status, st):
    if status is not None:
        status._set(st)
    return status


class Op:
    """A reduction operation.

    The built-in ones are fmi.SUM, PROD, MIN, MAX, LAND, LOR, LXOR, BAND, BOR, BXOR.
    `Op(fn, commutative=True, associative=True)` makes one from a Python callable
    `fn(in_, inout)` that sets `inout[i] = in_[i] (op) inout[i]`, where `in_` holds
    the contributions of lower ranks. Both are NumPy arrays (memoryviews when NumPy
    is not installed) of the reduced datatype; `fn` may instead return the result.
    A non-associative op is applied strictly left to right in rank order.
    Free it with free() (or a `with` block) once no collective uses it any more.
    """

    def __init__(self, fn, commutative=True, associative=True):
        if not callable(fn):
            raise TypeError("fmi.Op: fn must be callable")
        self._fn = fn
        self.commutative = bool(commutative)
        self.associative = bool(associative)
        self.name = getattr(fn, "__name__", "user")
        self._builtin = False
        self._errors = []
        self._view = None  # NumPy dtype of the data while a collective runs
        self._np = numpy(required=False)
        # The C callback must live as long as the op: FMI calls it by pointer.
        self._cfunc = _lib.FMI_User_function(self._call)
        h = _lib.FMI_Op()
        check(lib.FMI_Op_create(self._cfunc, int(self.commutative), int(self.associative),
                                None, byref(h)))
        self.handle = h.value

    @classmethod
    def _make_builtin(cls, handle, name):
        op = cls.__new__(cls)
        op._fn = None
        op.commutative = True
        op.associative = True
        op.name = name
        op._builtin = True
        op._errors = []
        op._view = None
        op._cfunc = None
        op.handle = handle
        return op

    def __index__(self):
        return self.handle

    __int__ = __index__

    def __repr__(self):
        if self._builtin:
            return "fmi.%s" % self.name
        return "fmi.Op(%s, commutative=%s, associative=%s)" % (
            self.name, self.commutative, self.associative)

    def _call(self, inp, inout, count, dt, ctx):
        # Called by FMI (with the GIL taken by ctypes); exceptions cannot cross C, so
        # they are kept and raised by the collective once it returns.
        try:
            if count == 0:
                return
            code = Datatype(dt)
            nbytes = count * dt_size(code)
            np = self._np
            if np is not None:
                d = self._view if self._view is not None else dt_numpy(code)
                a = np.frombuffer((ctypes.c_char * nbytes).from_address(inp), dtype=d)
                a.flags.writeable = False
                b = np.frombuffer((ctypes.c_char * nbytes).from_address(inout), dtype=d)
                r = self._fn(a, b)
                if r is not None and r is not b:
                    b[...] = r
            else:
                fmt = dt_format(code)
                a = memoryview((ctypes.c_ubyte * nbytes).from_address(inp)).cast("B")
                b = memoryview((ctypes.c_ubyte * nbytes).from_address(inout)).cast("B")
                if fmt != "B":
                    a, b = a.cast(fmt), b.cast(fmt)
                a = a.toreadonly()
                r = self._fn(a, b)
                if r is not None and r is not b:
                    for i, v in enumerate(r):
                        b[i] = v
        except BaseException as e:  # noqa: B902 - reported after the collective
            self._errors.append(e)

    def _raise_pending(self):
        if self._errors:
            e = self._errors[0]
            del self._errors[:]
            raise e

    def free(self):
        """Frees a user op (built-in ones stay)."""
        if self._builtin or self.handle is None:
            return
        h = _lib.FMI_Op(self.handle)
        self.handle = None
        check(lib.FMI_Op_free(byref(h)))
        self._cfunc = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.free()

    def __del__(self):
        try:
            if not self._builtin and self.handle is not None:
                self.free()
        except Exception:
            pass


SUM = Op._make_builtin(0, "SUM")
PROD = Op._make_builtin(1, "PROD")
MIN = Op._make_builtin(2, "MIN")
MAX = Op._make_builtin(3, "MAX")
LAND = Op._make_builtin(4, "LAND")
LOR = Op._make_builtin(5, "LOR")
LXOR = Op._make_builtin(6, "LXOR")
BAND = Op._make_builtin(7, "BAND")
BOR = Op._make_builtin(8, "BOR")
BXOR = Op._make_builtin(9, "BXOR")
_BUILTINS = {op.handle: op for op in (SUM, PROD, MIN, MAX, LAND, LOR, LXOR, BAND, BOR, BXOR)}


def _resolve_op(op):
    if isinstance(op, Op):
        if op.handle is None:
            raise ArgError("the op has been freed")
        return op
    if isinstance(op, int) and op in _BUILTINS:
        return _BUILTINS[op]
    if callable(op):
        raise TypeError("fmi: wrap the function as fmi.Op(fn, commutative=..., associative=...)")
    raise ArgError("unknown op %r" % (op,))


class Request:
    """A pending isend/irecv. wait() returns the received object (None for isend)."""

    def __init__(self, keep, finish=None):
        self._h = _lib.FMI_Request()
        self._keep = keep
        self._finish = finish
        self._result = None
        self.status = Status()

    @property
    def done(self):
        return not self._h.value

    def _complete(self, st, rc):
        self.status._set(st)
        self._keep = None
        if self._finish is not None:
            self._result = self._finish(st.bytes)
            self._finish = None
        if rc != 0:
            raise make_error(rc)
        return self._result

    def wait(self, status=None):
        """Waits for completion; returns the received object (None for a send)."""
        if self.done:
            _fill(status, _to_c_status(self.status))
            return self._result
        st = _lib.FMI_Status()
        rc = lib.FMI_Wait(byref(self._h), byref(st))
        _fill(status, st)
        return self._complete(st, rc)

    def test(self, status=None):
        """(True, result) once complete, else (False, None)."""
        if self.done:
            return True, self._result
        st = _lib.FMI_Status()
        flag = ctypes.c_int(0)
        rc = lib.FMI_Test(byref(self._h), byref(flag), byref(st))
        if not flag.value:
            check(rc)
            return False, None
        _fill(status, st)
        return True, self._complete(st, rc)

    @staticmethod
    def waitall(requests):
        """Waits for all; returns their results in order. Raises the first failure
        after every request has completed."""
        requests = list(requests)
        n = len(requests)
        if n == 0:
            return []
        hs = (_lib.FMI_Request * n)(*[r._h.value for r in requests])
        sts = (_lib.FMI_Status * n)()
        rc = lib.FMI_Waitall(n, hs, sts)
        first = None
        results = []
        for i, r in enumerate(requests):
            if r.done:
                results.append(r._result)
                continue
            r._h.value = hs[i]
            try:
                results.append(r._complete(sts[i], sts[i].error))
            except Exception as e:  # noqa: B902
                results.append(None)
                first = first or e
        if first is not None:
            raise first
        check(rc)
        return results

    def __del__(self):
        # The library may still write into the buffer: never let it go first.
        try:
            if self._h.value:
                lib.FMI_Wait(byref(self._h), None)
        except Exception:
            pass


def _to_c_status(s):
    st = _lib.FMI_Status()
    st.source, st.tag, st.error, st.bytes = s.source, s.tag, s.error, s.nbytes
    return st


def waitall(requests):
    """fmi.waitall([req, ...]) -> results; see Request.waitall."""
    return Request.waitall(requests)


def _spec_like(like, nbytes):
    """Spec of a received message of `nbytes` that should look like `like` (spec, nbytes
    of the object sent)."""
    spec, sent = like
    k = spec["k"]
    if k == "scalar":
        if nbytes == dt_size(spec["dt"]):
            return spec
        if nbytes % dt_size(spec["dt"]) == 0:
            return {"k": "raw", "dt": spec["dt"], "n": nbytes}
    elif k in ("nd", "npscalar"):
        size = dtype_from(spec["np"]).itemsize
        if nbytes == sent:
            return spec
        if nbytes % size == 0:
            return {"k": "nd", "np": spec["np"], "shape": [nbytes // size]}
    elif k in ("bytes", "bytearray"):
        return {"k": k, "n": nbytes}
    elif k == "array":
        if nbytes % array.array(spec["tc"]).itemsize == 0:
            return {"k": "array", "tc": spec["tc"], "n": nbytes}
    return {"k": "bytes", "n": nbytes}


_HDR = 256  # fixed first header message of bcast/scatter


def _block_spec(data, n, what):
    """Spec of one of n equal blocks of `data` (scatter, reduce_scatter)."""
    spec = dict(data.spec)
    k = spec["k"]
    if k == "nd":
        shape = spec["shape"]
        if not shape:
            raise ArgError("%s: a 0-d array cannot be split into %d blocks" % (what, n))
        if shape[0] == n:
            spec["shape"] = shape[1:]
        elif shape[0] % n == 0:
            spec["shape"] = [shape[0] // n] + shape[1:]
        else:
            raise ArgError("%s: the first dimension (%d) is not a multiple of the size (%d)"
                           % (what, shape[0], n))
        return spec
    if k in ("scalar", "npscalar"):
        raise ArgError("%s: a scalar cannot be split into %d blocks; pass a list of %d"
                       % (what, n, n))
    if data.nbytes % n or (data.nbytes // n) % dt_size(data.code):
        raise ArgError("%s: %d bytes cannot be split into %d blocks of whole elements"
                       % (what, data.nbytes, n))
    spec["n"] = data.nbytes // n
    return spec


class Communicator:
    """A group of ranks that talk to each other (an FMI_Comm).

    Communicator(rank, size, comm_name=None, config_path=None) joins job
    `comm_name` (default: FMI_JOB) as `rank` of `size`, the serverless way;
    Communicator.from_env() joins the job fmirun, mpiexec, Slurm or a Kubernetes
    indexed job describe. Free it with free() or a `with` block.

    Messages are bytes, buffers (bytearray, memoryview, array.array), Python scalars
    (int -> int64, float -> double, bool -> uint8; `dtype=` overrides) or NumPy
    arrays (C-contiguous ones are used in place). Receiving and collective calls
    return a new object like the one sent, or fill `out=` and return it.
    """

    def __init__(self, rank, size, comm_name=None, config_path=None):
        self._h = _lib.FMI_Comm()
        name = comm_name.encode() if isinstance(comm_name, str) else comm_name
        path = None if config_path is None else os.fsencode(config_path)
        check(lib.FMI_Comm_create(int(rank), int(size), name, path, byref(self._h)))
        self._init()

    @classmethod
    def _wrap(cls, handle):
        c = cls.__new__(cls)
        c._h = handle
        c._init()
        return c

    def _init(self):
        r = ctypes.c_int()
        s = ctypes.c_int()
        check(lib.FMI_Comm_rank(self._h, byref(r)))
        check(lib.FMI_Comm_size(self._h, byref(s)))
        self._rank = r.value
        self._size = s.value

    @classmethod
    def from_env(cls):
        """Joins the job described by the environment (FMI_RANK/FMI_SIZE from fmirun,
        PMI_*, SLURM_*, JOB_COMPLETION_INDEX with FMI_SIZE); else a world of one."""
        h = _lib.FMI_Comm()
        check(lib.FMI_Comm_from_env(byref(h)))
        return cls._wrap(h)

    # ---- basics ---------------------------------------------------------------------

    @property
    def rank(self):
        return self._rank

    @property
    def size(self):
        return self._size

    @property
    def handle(self):
        """The FMI_Comm pointer (an int), for passing to C code."""
        return self._c().value

    def _c(self):
        if not self._h:
            raise ArgError("the communicator has been freed")
        return self._h

    def __repr__(self):
        if not self._h:
            return "<fmi.Communicator (freed)>"
        return "<fmi.Communicator rank %d of %d>" % (self._rank, self._size)

    def dup(self):
        """Collective: a communicator with the same ranks whose traffic is separate."""
        h = _lib.FMI_Comm()
        check(lib.FMI_Comm_dup(self._c(), byref(h)))
        return Communicator._wrap(h)

    def split(self, color, key=0):
        """Collective: ranks with the same color form a new communicator ordered by
        key (ties by rank). A negative color (fmi.UNDEFINED) gives None."""
        h = _lib.FMI_Comm()
        check(lib.FMI_Comm_split(self._c(), int(color), int(key), byref(h)))
        if not h.value:
            return None
        return Communicator._wrap(h)

    def set_hint(self, hint):
        """fmi.HINT_FAST / fmi.HINT_CHEAP (or "fast" / "cheap")."""
        if isinstance(hint, str):
            try:
                hint = {"fast": HINT_FAST, "cheap": HINT_CHEAP}[hint.lower()]
            except KeyError:
                raise ArgError("hint must be 'fast' or 'cheap', not %r" % hint) from None
        check(lib.FMI_Comm_set_hint(self._c(), int(hint)))

    def cost(self, seconds):
        """Modelled cost in US dollars of this rank's share of the job when it runs
        for `seconds` (FMI_Comm_cost); sum it over the ranks for the job's."""
        usd = c_double(0.0)
        check(lib.FMI_Comm_cost(self._c(), float(seconds), byref(usd)))
        return usd.value

    def barrier(self):
        check(lib.FMI_Barrier(self._c()))

    def free(self):
        """Frees the communicator (idempotent). Freeing the last one of a job sends what
        is queued and waits for the peers' hosts to acknowledge it."""
        if self._h:
            try:
                check(lib.FMI_Comm_free(byref(self._h)))
            finally:
                self._h = _lib.FMI_Comm()

    close = free

    def abort(self, errorcode=1):
        """Ends every rank of the job with exit status `errorcode` (does not return)."""
        lib.FMI_Abort(self._h, int(errorcode))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.free()

    def __del__(self):
        try:
            if self._h:
                self.free()
        except Exception:
            pass

    # ---- point to point -------------------------------------------------------------

    def send(self, obj, dest, tag=0, *, dtype=None):
        """Sends `obj` to rank `dest` with `tag` (>= 0)."""
        d = to_in(obj, dtype)
        check(lib.FMI_Send(d.ptr, d.count, d.code, int(dest), int(tag), self._c()))

    def _spec_for_recv(self, nbytes, dtype):
        dt = resolve_dtype(dtype)
        if dt is None:
            return {"k": "bytes", "n": nbytes}
        if nbytes % dt.size:
            raise ArgError("the message has %d bytes, not a whole number of %d-byte elements"
                           % (nbytes, dt.size))
        if dt.pytype is not None:
            if nbytes != dt.size:
                raise ArgError("recv(dtype=%s) expects one element, the message has %d bytes"
                               % (dt.pytype.__name__, nbytes))
            return {"k": "scalar", "dt": int(dt.code),
                    "py": "float" if dt.pytype is float else dt.pytype.__name__}
        if dt.npdtype is not None:
            return {"k": "nd", "np": dtype_desc(dt.npdtype), "shape": [nbytes // dt.size]}
        return {"k": "raw", "dt": int(dt.code), "n": nbytes}

    def recv(self, source=ANY_SOURCE, tag=ANY_TAG, *, out=None, dtype=None, status=None,
             _like=None):
        """Receives a message from `source` (or fmi.ANY_SOURCE) with `tag` (or
        fmi.ANY_TAG). With `out` it is written there (TruncateError if larger) and
        `out` is returned; otherwise a new object: bytes, or with `dtype` a NumPy array
        (array.array without NumPy) of that type, or a scalar for dtype=int/float/bool.
        `status` (an fmi.Status) is filled in."""
        c = self._c()
        st = _lib.FMI_Status()
        if out is not None:
            o = to_out(out, dtype)
            rc = lib.FMI_Recv(o.ptr, o.count, o.code, int(source), int(tag), c, byref(st))
            _fill(status, st)
            check(rc)
            return out
        check(lib.FMI_Probe(int(source), int(tag), c, byref(st)))
        if _like is not None and dtype is None:
            spec = _spec_like(_like, st.bytes)
        else:
            spec = self._spec_for_recv(st.bytes, dtype)
        o = alloc(spec, nbytes=st.bytes)
        rc = lib.FMI_Recv(o.ptr, o.count, o.code, st.source, st.tag, c, byref(st))
        _fill(status, st)
        check(rc)
        return o.finish(st.bytes)

    def sendrecv(self, sendobj, dest, sendtag=0, source=ANY_SOURCE, recvtag=ANY_TAG, *,
                 out=None, dtype=None, status=None):
        """Sends `sendobj` to `dest` and receives from `source` at once. The received
        object is returned as by recv(), except that without `out` and `dtype` it is of
        the kind of `sendobj` (same scalar type, NumPy dtype and, for as many bytes,
        shape)."""
        d = to_in(sendobj, dtype)
        c = self._c()
        if out is not None:
            o = to_out(out, dtype)
            if o.code == d.code:
                st = _lib.FMI_Status()
                rc = lib.FMI_Sendrecv(d.ptr, d.count, int(dest), int(sendtag), o.ptr, o.count,
                                      int(source), int(recvtag), d.code, c, byref(st))
                _fill(status, st)
                check(rc)
                return out
        req = self.isend(sendobj, dest, sendtag, dtype=dtype)
        try:
            r = self.recv(source, recvtag, out=out, dtype=dtype, status=status,
                          _like=(d.spec, d.nbytes))
        finally:
            req.wait()
        return r

    def isend(self, obj, dest, tag=0, *, dtype=None):
        """Starts a send; returns a Request (the object is kept alive until it is done)."""
        d = to_in(obj, dtype)
        r = Request(keep=d)
        check(lib.FMI_Isend(d.ptr, d.count, d.code, int(dest), int(tag), self._c(), byref(r._h)))
        return r

    def irecv(self, out=None, source=ANY_SOURCE, tag=ANY_TAG, *, count=None, dtype=None):
        """Starts a receive into `out`, or into a new buffer of `count` elements of
        `dtype` (default bytes); Request.wait() returns the received object."""
        if out is not None:
            o = to_out(out, dtype)
        elif count is not None:
            dt = resolve_dtype(dtype)
            nbytes = int(count) * (dt.size if dt is not None else 1)
            if dt is not None and dt.pytype is not None and count != 1:
                raise ArgError("irecv(dtype=%s) receives one element" % dt.pytype.__name__)
            o = alloc(self._spec_for_recv(nbytes, dtype), nbytes=nbytes)
        else:
            raise ArgError("irecv needs out= (a buffer) or count= (and dtype=)")
        r = Request(keep=o, finish=o.finish)
        check(lib.FMI_Irecv(o.ptr, o.count, o.code, int(source), int(tag), self._c(),
                            byref(r._h)))
        return r

    def probe(self, source=ANY_SOURCE, tag=ANY_TAG):
        """Blocks until a matching message can be received; its Status."""
        st = _lib.FMI_Status()
        check(lib.FMI_Probe(int(source), int(tag), self._c(), byref(st)))
        return Status()._set(st)

    def iprobe(self, source=ANY_SOURCE, tag=ANY_TAG):
        """The Status of a matching message if there is one now, else None."""
        st = _lib.FMI_Status()
        flag = ctypes.c_int(0)
        check(lib.FMI_Iprobe(int(source), int(tag), self._c(), byref(flag), byref(st)))
        return Status()._set(st) if flag.value else None

    # ---- collectives ----------------------------------------------------------------

    def _bcast_header(self, root, spec):
        """Broadcasts `spec` (a dict, at the root) and returns it everywhere. A spec
        {"err": msg} makes every rank raise ArgError."""
        c = self._c()
        buf = ctypes.create_string_buffer(_HDR)
        if self._rank == root:
            text = json.dumps(spec, separators=(",", ":")).encode()
            struct.pack_into("<Q", buf, 0, len(text))
            head = text[:_HDR - 8]
            ctypes.memmove(ctypes.addressof(buf) + 8, head, len(head))
        check(lib.FMI_Bcast(buf, _HDR, Datatype.BYTE, int(root), c))
        n = struct.unpack_from("<Q", buf, 0)[0]
        text = buf.raw[8:8 + min(n, _HDR - 8)]
        if n > _HDR - 8:
            rest = ctypes.create_string_buffer(n - (_HDR - 8))
            if self._rank == root:
                tail = json.dumps(spec, separators=(",", ":")).encode()[_HDR - 8:]
                ctypes.memmove(rest, tail, len(tail))
            check(lib.FMI_Bcast(rest, len(rest), Datatype.BYTE, int(root), c))
            text += rest.raw
        got = json.loads(text.decode())
        if "err" in got:
            if self._rank == root:
                return got
            raise ArgError("the root (rank %d) could not start the collective: %s"
                           % (root, got["err"]))
        return got

    def _root_prepare(self, root, fn):
        """At the root, fn() -> (data, spec); a Python error there is broadcast so that
        the other ranks raise too instead of waiting."""
        try:
            return fn()
        except (ArgError, TypeError, ValueError) as e:
            self._bcast_header(root, {"err": str(e)})
            raise

    def _into(self, out, nbytes, spec, what):
        """An Out: the caller's `out` (checked to hold exactly nbytes) or a new one."""
        if out is None:
            return alloc(spec, nbytes=spec_nbytes(spec, nbytes)), False
        o = to_out(out, what=what)
        if o.nbytes != nbytes:
            return o, ("%s has %d bytes, the data has %d" % (what, o.nbytes, nbytes))
        return o, False

    def bcast(self, obj, root=0, *, out=None, dtype=None):
        """Broadcasts the root's `obj`; every rank returns it (the root its own object).
        Other ranks may pass None: they learn type and shape from the root. A writable
        buffer of the right size (in `obj` or `out`) is filled in place and returned."""
        c = self._c()
        root = int(root)
        if self._rank == root:
            def prep():
                d = to_in(obj, dtype)
                spec = dict(d.spec)
                spec["n"] = d.nbytes
                return d, spec
            d, spec = self._root_prepare(root, prep)
            self._bcast_header(root, spec)
            check(lib.FMI_Bcast(d.ptr, d.nbytes, Datatype.BYTE, root, c))
            return obj
        spec = self._bcast_header(root, None)
        n = spec["n"]
        target = out
        if target is None and obj is not None and not isinstance(obj, (bytes, bool, int, float)):
            try:
                o = to_out(obj)
                if o.nbytes == n:
                    target = obj
            except (ArgError, TypeError):
                pass
        o, mismatch = self._into(target, n, spec, "out")
        if mismatch:
            o = alloc(spec, nbytes=n)
        check(lib.FMI_Bcast(o.ptr, n, Datatype.BYTE, root, c))
        if mismatch:
            raise ArgError("bcast: " + mismatch)
        return o.finish(None)

    def _reduction(self, cfunc, obj, op, out, dtype, what, extra=(), result_here=True,
                   keep_out=False):
        d = to_in(obj, dtype)
        op = _resolve_op(op)
        if d.npdtype is not None and op._builtin:
            raise TypeError("fmi.%s: NumPy dtype %s has no FMI datatype; built-in ops need "
                            "one of int8..uint64, float32, float64 (or use an fmi.Op)"
                            % (what, d.npdtype))
        if not result_here:
            o = None
        elif out is not None:
            o = to_out(out, dtype, what="out")
            if o.nbytes != d.nbytes:
                raise ArgError("%s: out has %d bytes, the data has %d" % (what, o.nbytes, d.nbytes))
        else:
            o = alloc(d.spec, nbytes=d.nbytes)
        send = d.ptr
        if o is not None and d.ptr is not None and d.ptr == o.ptr:
            send = _lib.IN_PLACE
        op._view = d.npdtype
        op._errors = []
        try:
            rc = cfunc(send, o.ptr if o is not None else None, d.count, d.code, op.handle,
                       *extra, self._c())
        finally:
            op._view = None
        op._raise_pending()
        check(rc)
        if o is None:
            return None
        if keep_out and out is None:
            return None
        return o.finish(None)

    def reduce(self, obj, op=SUM, root=0, *, out=None, dtype=None):
        """Reduces every rank's `obj` with `op`; the root returns the result, the others
        None."""
        here = self._rank == int(root)
        return self._reduction(lib.FMI_Reduce, obj, op, out, dtype, "reduce",
                               extra=(int(root),), result_here=here)

    def allreduce(self, obj, op=SUM, *, out=None, dtype=None):
        """Reduces every rank's `obj` with `op`; every rank returns the (bit-identical)
        result. `out=obj` reduces in place."""
        return self._reduction(lib.FMI_Allreduce, obj, op, out, dtype, "allreduce")

    def scan(self, obj, op=SUM, *, out=None, dtype=None):
        """Inclusive prefix reduction: rank r returns x0 op ... op xr."""
        return self._reduction(lib.FMI_Scan, obj, op, out, dtype, "scan")

    def exscan(self, obj, op=SUM, *, out=None, dtype=None):
        """Exclusive prefix reduction: rank r > 0 returns x0 op ... op x(r-1); rank 0
        returns None (or `out`, unchanged)."""
        return self._reduction(lib.FMI_Exscan, obj, op, out, dtype, "exscan",
                               keep_out=self._rank == 0)

    def reduce_scatter(self, obj, op=SUM, *, out=None, dtype=None):
        """Reduces n equal blocks of `obj` (n = size; a list of n items, or an object
        split like scatter's) and returns block `rank` of the result."""
        n = self._size
        if isinstance(obj, (list, tuple)):
            d, bspec = pack_list(obj, n, dtype)
        else:
            d = to_in(obj, dtype)
            bspec = _block_spec(d, n, "reduce_scatter")
        op = _resolve_op(op)
        if d.npdtype is not None and op._builtin:
            raise TypeError("fmi.reduce_scatter: dtype %s has no FMI datatype" % d.npdtype)
        blk = d.nbytes // n
        if out is not None:
            o = to_out(out, dtype)
            if o.nbytes != blk:
                raise ArgError("reduce_scatter: out has %d bytes, a block has %d" % (o.nbytes, blk))
        else:
            o = alloc(bspec, nbytes=blk)
        op._view = d.npdtype
        op._errors = []
        try:
            rc = lib.FMI_Reduce_scatter_block(d.ptr, o.ptr, blk // dt_size(d.code), d.code,
                                              op.handle, self._c())
        finally:
            op._view = None
        op._raise_pending()
        check(rc)
        return o.finish(None)

    def gather(self, obj, root=0, *, out=None, dtype=None):
        """Every rank's `obj` (all of one size) to the root, which returns them: a
        NumPy array with a new first axis of length size, or a list. Others: None."""
        d = to_in(obj, dtype)
        root = int(root)
        if self._rank != root:
            check(lib.FMI_Gather(d.ptr, None, d.nbytes, Datatype.BYTE, root, self._c()))
            return None
        o = self._gather_target(d, out, "gather")
        check(lib.FMI_Gather(d.ptr, o.ptr, d.nbytes, Datatype.BYTE, root, self._c()))
        return o.finish(None)

    def _gather_target(self, d, out, what):
        n = self._size
        if out is not None:
            o = to_out(out, what="out")
            if o.nbytes != n * d.nbytes:
                raise ArgError("%s: out has %d bytes, %d ranks x %d bytes are coming"
                               % (what, o.nbytes, n, d.nbytes))
            return o
        spec = dict(d.spec)
        spec.setdefault("n", d.nbytes)
        return alloc(spec, nblocks=n, nbytes=d.nbytes)

    def allgather(self, obj, *, out=None, dtype=None):
        """Every rank returns every rank's `obj` (all of one size), as gather does."""
        d = to_in(obj, dtype)
        o = self._gather_target(d, out, "allgather")
        check(lib.FMI_Allgather(d.ptr, o.ptr, d.nbytes, Datatype.BYTE, self._c()))
        return o.finish(None)

    def scatter(self, obj, root=0, *, out=None, dtype=None):
        """The root's `obj` split into size blocks, block i to rank i: a list of size
        items, a NumPy array split along its first axis (shape (size, ...) gives each
        rank shape (...)), or bytes/buffers split evenly. Other ranks pass None (or
        anything); they learn type and shape from the root."""
        root = int(root)
        n = self._size
        c = self._c()
        if self._rank == root:
            def prep():
                if isinstance(obj, (list, tuple)):
                    return pack_list(obj, n, dtype)
                d = to_in(obj, dtype)
                return d, _block_spec(d, n, "scatter")
            d, bspec = self._root_prepare(root, prep)
            bspec = dict(bspec)
            bspec["n"] = d.nbytes // n
            self._bcast_header(root, bspec)
            send = d.ptr
        else:
            bspec = self._bcast_header(root, None)
            d = None
            send = None
        blk = bspec["n"]
        o, mismatch = self._into(out, blk, bspec, "out")
        if mismatch:
            o = alloc(bspec, nbytes=blk)
        check(lib.FMI_Scatter(send, o.ptr, blk, Datatype.BYTE, root, c))
        if mismatch:
            raise ArgError("scatter: " + mismatch)
        del d
        return o.finish(None)

    def alltoall(self, obj, *, out=None, dtype=None):
        """Block j of rank i's `obj` goes to block i of rank j's result. `obj` is a list
        of size items (the result is a list), or a NumPy array / bytes / buffer split
        evenly along its first axis (the result has the same type and shape)."""
        n = self._size
        if isinstance(obj, (list, tuple)):
            d, bspec = pack_list(obj, n, dtype)
            blk = d.nbytes // n
            bspec = dict(bspec)
            bspec["n"] = blk
            o = to_out(out, what="out") if out is not None else alloc(bspec, nblocks=n, nbytes=blk)
        else:
            d = to_in(obj, dtype)
            _block_spec(d, n, "alltoall")
            blk = d.nbytes // n
            if out is not None:
                o = to_out(out, what="out")
            else:
                spec = dict(d.spec)
                spec["n"] = d.nbytes
                o = alloc(spec, nbytes=d.nbytes)
        if o.nbytes != d.nbytes:
            raise ArgError("alltoall: out has %d bytes, the data has %d" % (o.nbytes, d.nbytes))
        check(lib.FMI_Alltoall(d.ptr, o.ptr, blk, Datatype.BYTE, self._c()))
        return o.finish(None)
