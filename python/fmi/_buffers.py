"""Turning Python objects into (pointer, count, datatype) for the C API and back.

Supported objects:
  * bytes (read in place), bytearray, memoryview and other buffer-protocol objects
    such as array.array (read and written in place when C-contiguous);
  * Python scalars: int -> FMI_INT64, float -> FMI_DOUBLE, bool -> FMI_UINT8, or the
    datatype given with `dtype=`;
  * NumPy arrays and scalars (NumPy is imported only when such an object shows up or
    a dtype needs it). C-contiguous arrays in native byte order are passed without a
    copy; other arrays are copied when they are sent and rejected as receive buffers.

A "spec" is a small JSON-able dict that says how to build an object like a given one
(what a non-root rank of bcast/scatter needs to know).
"""

import array
import ctypes
import enum
import struct
import sys

from ._errors import ArgError


class Datatype(enum.IntEnum):
    """FMI element types (FMI_BYTE ... FMI_DOUBLE)."""
    BYTE = 0
    CHAR = 1
    INT8 = 2
    UINT8 = 3
    INT16 = 4
    UINT16 = 5
    INT32 = 6
    UINT32 = 7
    INT64 = 8
    UINT64 = 9
    FLOAT = 10
    DOUBLE = 11


# code -> (struct format, numpy dtype name, size)
_DT_INFO = {
    Datatype.BYTE: ("B", "uint8", 1),
    Datatype.CHAR: ("b", "int8", 1),
    Datatype.INT8: ("b", "int8", 1),
    Datatype.UINT8: ("B", "uint8", 1),
    Datatype.INT16: ("h", "int16", 2),
    Datatype.UINT16: ("H", "uint16", 2),
    Datatype.INT32: ("i", "int32", 4),
    Datatype.UINT32: ("I", "uint32", 4),
    Datatype.INT64: ("q", "int64", 8),
    Datatype.UINT64: ("Q", "uint64", 8),
    Datatype.FLOAT: ("f", "float32", 4),
    Datatype.DOUBLE: ("d", "float64", 8),
}

_NAMES = {
    "byte": Datatype.BYTE, "char": Datatype.CHAR,
    "int8": Datatype.INT8, "uint8": Datatype.UINT8, "int16": Datatype.INT16,
    "uint16": Datatype.UINT16, "int32": Datatype.INT32, "uint32": Datatype.UINT32,
    "int64": Datatype.INT64, "uint64": Datatype.UINT64, "float32": Datatype.FLOAT,
    "float64": Datatype.DOUBLE, "double": Datatype.DOUBLE,
}

# (kind, itemsize) of a NumPy dtype -> code
_NP_KIND = {
    ("i", 1): Datatype.INT8, ("i", 2): Datatype.INT16, ("i", 4): Datatype.INT32,
    ("i", 8): Datatype.INT64, ("u", 1): Datatype.UINT8, ("u", 2): Datatype.UINT16,
    ("u", 4): Datatype.UINT32, ("u", 8): Datatype.UINT64, ("f", 4): Datatype.FLOAT,
    ("f", 8): Datatype.DOUBLE, ("b", 1): Datatype.UINT8,
}

_PYTYPE_DT = {int: Datatype.INT64, float: Datatype.DOUBLE, bool: Datatype.UINT8}
_PYTYPE_NAME = {int: "int", float: "float", bool: "bool"}
_PYTYPE_BY_NAME = {"int": int, "float": float, "bool": bool}

_np_module = None


def numpy(required=True):
    """The numpy module, imported on first use; None if absent and not required."""
    global _np_module
    if _np_module is None:
        try:
            import numpy as np
        except ImportError:
            if required:
                raise ImportError("fmi: this needs NumPy (pip install numpy)") from None
            return None
        _np_module = np
    return _np_module


def _np_if_loaded():
    """numpy if the program has imported it (then objects may be NumPy ones)."""
    return _np_module or sys.modules.get("numpy")


def dt_size(code):
    return _DT_INFO[Datatype(code)][2]


def dt_format(code):
    return _DT_INFO[Datatype(code)][0]


def dt_numpy(code):
    return numpy().dtype(_DT_INFO[Datatype(code)][1])


def np_code(npdt):
    """FMI code of a NumPy dtype, or None if it has none (then bytes are moved)."""
    if not npdt.isnative or npdt.fields is not None or npdt.subdtype is not None:
        return None
    return _NP_KIND.get((npdt.kind, npdt.itemsize))


def dtype_desc(npdt):
    """A JSON-able description of a NumPy dtype (structured ones keep their fields)."""
    if npdt.fields is None and npdt.subdtype is None:
        return npdt.str
    return numpy().lib.format.dtype_to_descr(npdt)


def _tuples(x):
    if isinstance(x, list):
        return [tuple(_tuples(y) for y in item) if isinstance(item, list) else item for item in x]
    return x


def dtype_from(desc):
    """The NumPy dtype of a dtype_desc() (also after a JSON round trip)."""
    np = numpy()
    if isinstance(desc, str):
        return np.dtype(desc)
    return np.lib.format.descr_to_dtype(_tuples(desc))


class DType:
    """A resolved `dtype=` argument: the FMI code, and the NumPy dtype when the
    argument was a NumPy one (or `pytype` when it was int/float/bool)."""

    __slots__ = ("code", "npdtype", "pytype")

    def __init__(self, code, npdtype=None, pytype=None):
        self.code = code
        self.npdtype = npdtype
        self.pytype = pytype

    @property
    def size(self):
        return self.npdtype.itemsize if self.npdtype is not None else dt_size(self.code)


def resolve_dtype(dtype):
    """Accepts an fmi datatype (fmi.DOUBLE or its int code), a name ("byte", "char",
    "int8" ... "uint64", "float32", "float64", "double"), int/float/bool (Python
    scalars of FMI_INT64/FMI_DOUBLE/FMI_UINT8), or a NumPy dtype, type or name."""
    if dtype is None:
        return None
    if isinstance(dtype, DType):
        return dtype
    if dtype is int or dtype is float or dtype is bool:
        return DType(_PYTYPE_DT[dtype], pytype=dtype)
    if isinstance(dtype, (Datatype, int)) and not isinstance(dtype, bool):
        try:
            return DType(Datatype(int(dtype)))
        except ValueError:
            raise ArgError("unknown FMI datatype code %r" % (dtype,)) from None
    if isinstance(dtype, str) and dtype.lower() in _NAMES:
        return DType(_NAMES[dtype.lower()])
    np = numpy(required=False)
    if np is None:
        raise ArgError("dtype %r: without NumPy, use an fmi datatype (fmi.DOUBLE, ...), "
                       "one of %s, or int/float/bool" % (dtype, sorted(_NAMES)))
    try:
        npdt = np.dtype(dtype)
    except TypeError as e:
        raise ArgError("dtype %r is not a datatype: %s" % (dtype, e)) from None
    return DType(np_code(npdt), npdtype=npdt)


class In:
    """A readable buffer for the C API. `keep` holds what must stay alive."""

    __slots__ = ("ptr", "nbytes", "code", "count", "spec", "keep", "npdtype")

    def __init__(self, ptr, nbytes, code, spec, keep, npdtype=None):
        self.ptr = ptr
        self.nbytes = nbytes
        self.code = code
        self.count = nbytes // dt_size(code) if nbytes else 0
        self.spec = spec
        self.keep = keep
        # for a NumPy dtype without FMI code (moved as bytes), the real dtype
        self.npdtype = npdtype


def _addr_of_writable(obj, nbytes):
    """Address of a writable C-contiguous buffer (flattened to bytes) or None."""
    if nbytes == 0:
        return None, None
    c = (ctypes.c_char * nbytes).from_buffer(obj)
    return ctypes.addressof(c), c


def _bytes_ptr(b):
    """Address of a bytes object's data (read in place)."""
    if len(b) == 0:
        return None, b
    p = ctypes.c_char_p(b)
    return ctypes.cast(p, ctypes.c_void_p).value, (b, p)


def _fmt_code(fmt):
    """FMI code for a memoryview/array format, or None."""
    f = fmt.lstrip("@=")
    if f in ("B", "c"):
        return Datatype.BYTE
    if len(f) != 1 or f not in "bhHiIlLqQfd":
        return None
    size = struct.calcsize(f)
    if f == "b":
        return Datatype.INT8
    if f in "fd":
        return Datatype.FLOAT if size == 4 else Datatype.DOUBLE
    signed = f.islower()
    return {1: (Datatype.INT8, Datatype.UINT8), 2: (Datatype.INT16, Datatype.UINT16),
            4: (Datatype.INT32, Datatype.UINT32), 8: (Datatype.INT64, Datatype.UINT64)}[size][
        0 if signed else 1]


def _scalar_in(obj, dt):
    pytype = bool if isinstance(obj, bool) else (int if isinstance(obj, int) else float)
    if dt is None:
        dt = DType(_PYTYPE_DT[pytype], pytype=pytype)
    if dt.npdtype is not None and dt.code is None:
        np = numpy()
        a = np.asarray(obj, dtype=dt.npdtype)
        return In(a.ctypes.data, a.nbytes, Datatype.BYTE,
                  {"k": "npscalar", "np": dtype_desc(a.dtype)}, a, npdtype=a.dtype)
    fmt = dt_format(dt.code)
    size = dt_size(dt.code)
    buf = ctypes.create_string_buffer(size)
    value = obj
    if fmt in "fd":
        value = float(obj)
    elif isinstance(obj, float):
        if obj != int(obj):
            raise ArgError("float %r sent as integer datatype %s" % (obj, Datatype(dt.code).name))
        value = int(obj)
    else:
        value = int(obj)
    try:
        struct.pack_into(fmt, buf, 0, value)
    except struct.error as e:
        raise ArgError("%r does not fit datatype %s: %s" % (obj, Datatype(dt.code).name, e)) from None
    py = "float" if fmt in "fd" else ("bool" if pytype is bool and dt.pytype in (None, bool) else "int")
    spec = {"k": "scalar", "dt": int(dt.code), "py": py}
    return In(ctypes.addressof(buf), size, dt.code, spec, buf)


def _ndarray_in(a, dt):
    np = numpy()
    if dt is not None:
        target = dt.npdtype if dt.npdtype is not None else dt_numpy(dt.code)
        if a.dtype != target:
            a = a.astype(target)
    if not a.dtype.isnative:
        a = a.astype(a.dtype.newbyteorder("="))
    if not a.flags.c_contiguous:
        a = np.ascontiguousarray(a)
    code = np_code(a.dtype)
    if dt is not None and dt.npdtype is None:
        code = dt.code
    spec = {"k": "nd", "np": dtype_desc(a.dtype), "shape": list(a.shape)}
    if code is None:
        return In(a.ctypes.data if a.nbytes else None, a.nbytes, Datatype.BYTE, spec, a,
                  npdtype=a.dtype)
    return In(a.ctypes.data if a.nbytes else None, a.nbytes, code, spec, a)


def to_in(obj, dtype=None):
    """A readable In for `obj` (see the module doc)."""
    dt = resolve_dtype(dtype)
    if isinstance(obj, (bool, int, float)) and not _is_np_scalar(obj):
        return _scalar_in(obj, dt)
    np = _np_if_loaded()
    if np is not None:
        if isinstance(obj, np.ndarray):
            return _ndarray_in(obj, dt)
        if isinstance(obj, np.generic):
            r = _ndarray_in(np.asarray(obj), dt)
            r.spec = {"k": "npscalar", "np": r.spec["np"]}
            return r
    if isinstance(obj, bytes):
        ptr, keep = _bytes_ptr(obj)
        code = dt.code if dt is not None and dt.code is not None else Datatype.BYTE
        _check_multiple(len(obj), dt_size(code), "bytes")
        return In(ptr, len(obj), code, {"k": "bytes"}, keep)
    try:
        mv = memoryview(obj)
    except TypeError:
        raise TypeError(
            "fmi: cannot use a %s as a message; use bytes, a bytearray or other buffer, "
            "a Python int/float/bool or a NumPy array" % type(obj).__name__) from None
    if isinstance(obj, array.array):
        spec = {"k": "array", "tc": obj.typecode}
    elif isinstance(obj, bytearray):
        spec = {"k": "bytearray"}
    else:
        spec = {"k": "buffer", "fmt": mv.format}
    code = _fmt_code(mv.format)
    if code is None:
        code = Datatype.BYTE
    if dt is not None:
        code = dt.code if dt.code is not None else Datatype.BYTE
    if not mv.c_contiguous:
        mv = memoryview(mv.tobytes())
    flat = mv.cast("B") if mv.format != "B" or mv.ndim != 1 else mv
    _check_multiple(flat.nbytes, dt_size(code), "buffer")
    if flat.readonly:
        b = flat.tobytes()
        ptr, keep = _bytes_ptr(b)
        return In(ptr, len(b), code, spec, keep)
    ptr, c = _addr_of_writable(flat, flat.nbytes)
    return In(ptr, flat.nbytes, code, spec, (obj, flat, c))


def _is_np_scalar(obj):
    np = _np_if_loaded()
    return np is not None and isinstance(obj, np.generic)


def _check_multiple(nbytes, size, what):
    if nbytes % size:
        raise ArgError("%s of %d bytes is not a whole number of %d-byte elements" % (what, nbytes, size))


class Out:
    """A writable buffer for the C API; finish() gives the Python result."""

    __slots__ = ("ptr", "nbytes", "code", "count", "keep", "_finish")

    def __init__(self, ptr, nbytes, code, keep, finish):
        self.ptr = ptr
        self.nbytes = nbytes
        self.code = code
        self.count = nbytes // dt_size(code) if nbytes else 0
        self.keep = keep
        self._finish = finish

    def finish(self, nbytes=None):
        """The result; `nbytes` (what arrived) trims a freshly allocated result."""
        return self._finish(nbytes)


def to_out(obj, dtype=None, what="out"):
    """An Out writing into the caller's buffer (returned by finish())."""
    dt = resolve_dtype(dtype)
    np = _np_if_loaded()
    if np is not None and isinstance(obj, np.ndarray):
        if not obj.flags.c_contiguous:
            raise ArgError("%s: the NumPy array is not C-contiguous; receive into "
                           "np.ascontiguousarray(...) and copy" % what)
        if not obj.flags.writeable:
            raise ArgError("%s: the NumPy array is read-only" % what)
        if not obj.dtype.isnative:
            raise ArgError("%s: the NumPy array is not in native byte order" % what)
        code = np_code(obj.dtype)
        if dt is not None and dt.code is not None:
            code = dt.code
        if code is None:
            code = Datatype.BYTE
        _check_multiple(obj.nbytes, dt_size(code), what)
        return Out(obj.ctypes.data if obj.nbytes else None, obj.nbytes, code, obj,
                   lambda n: obj)
    if isinstance(obj, (bytes, bool, int, float, str)) or (np is not None and isinstance(obj, np.generic)):
        raise ArgError("%s: a %s is immutable; pass a bytearray, a writable buffer or a "
                       "NumPy array" % (what, type(obj).__name__))
    try:
        mv = memoryview(obj)
    except TypeError:
        raise TypeError("fmi: %s: cannot receive into a %s" % (what, type(obj).__name__)) from None
    if mv.readonly:
        raise ArgError("%s: the buffer is read-only" % what)
    if not mv.c_contiguous:
        raise ArgError("%s: the buffer is not C-contiguous" % what)
    code = _fmt_code(mv.format) or Datatype.BYTE
    if dt is not None and dt.code is not None:
        code = dt.code
    flat = mv.cast("B") if mv.format != "B" or mv.ndim != 1 else mv
    _check_multiple(flat.nbytes, dt_size(code), what)
    ptr, c = _addr_of_writable(flat, flat.nbytes)
    return Out(ptr, flat.nbytes, code, (obj, flat, c), lambda n: obj)


def spec_code(spec):
    """FMI code of the elements an object of `spec` has."""
    k = spec["k"]
    if k == "scalar":
        return Datatype(spec["dt"])
    if k in ("nd", "npscalar"):
        return np_code(dtype_from(spec["np"])) or Datatype.BYTE
    if k == "array":
        return _fmt_code(spec["tc"]) or Datatype.BYTE
    if k == "buffer":
        return _fmt_code(spec["fmt"]) or Datatype.BYTE
    if k == "raw":
        return Datatype(spec["dt"])
    return Datatype.BYTE


def spec_nbytes(spec, nbytes_hint=None):
    """Bytes of one object of `spec` (None: it depends, use nbytes_hint)."""
    k = spec["k"]
    if k == "scalar":
        return dt_size(spec["dt"])
    if k in ("nd", "npscalar"):
        n = dtype_from(spec["np"]).itemsize
        for d in spec.get("shape", ()):
            n *= d
        return n
    if "n" in spec:
        return spec["n"]
    return nbytes_hint


def alloc(spec, nblocks=None, nbytes=None):
    """A fresh Out for one object like `spec` (nblocks None), or for `nblocks` of them:
    a stacked NumPy array for NumPy specs, else a list. `nbytes` is the size of one
    object where the spec does not fix it (bytes, buffers)."""
    k = spec["k"]
    one = spec_nbytes(spec, nbytes)
    if one is None:
        raise ArgError("size of the object is unknown")
    total = one * (nblocks if nblocks is not None else 1)
    code = spec_code(spec)
    if k in ("nd", "npscalar"):
        np = numpy()
        shape = tuple(spec.get("shape", ()))
        if nblocks is not None:
            shape = (nblocks,) + shape
        a = np.empty(shape, dtype=dtype_from(spec["np"]))
        if k == "npscalar" and nblocks is None:
            return Out(a.ctypes.data, a.nbytes, code, a, lambda n: a[()])
        return Out(a.ctypes.data if a.nbytes else None, a.nbytes, code, a, lambda n: a)
    ba = bytearray(total)
    ptr, c = _addr_of_writable(ba, total)

    def convert(chunk):
        if k == "scalar":
            v = struct.unpack(dt_format(spec["dt"]), chunk)[0]
            return _PYTYPE_BY_NAME[spec["py"]](v)
        if k == "bytes":
            return bytes(chunk)
        if k == "bytearray":
            return bytearray(chunk)
        if k == "array":
            r = array.array(spec["tc"])
            r.frombytes(bytes(chunk))
            return r
        if k == "buffer":
            f = spec["fmt"].lstrip("@=")
            m = memoryview(bytearray(chunk))
            return m.cast(f) if f not in ("B",) and len(f) == 1 else m
        if k == "raw":
            np_ = numpy(required=False)
            if np_ is not None:
                return np_.frombuffer(bytearray(chunk), dtype=dt_numpy(spec["dt"]))
            r = array.array(dt_format(spec["dt"]))
            r.frombytes(bytes(chunk))
            return r
        raise AssertionError(k)

    def finish(n):
        if nblocks is None:
            if n is not None and n < total and k != "scalar":
                return convert(memoryview(ba)[:n])
            return convert(memoryview(ba)) if k != "bytearray" else ba
        return [convert(memoryview(ba)[i * one:(i + 1) * one]) for i in range(nblocks)]

    return Out(ptr, total, code, (ba, c), finish)


def pack_list(items, n, dtype=None):
    """n objects of one kind (scalars, bytes, buffers or NumPy arrays of one shape)
    as one In of n blocks, and the spec of one block."""
    items = list(items)
    if len(items) != n:
        raise ArgError("expected a list of %d items (one per rank), got %d" % (n, len(items)))
    if n == 0:
        raise ArgError("empty list")
    np = _np_if_loaded()
    first = items[0]
    if np is not None and isinstance(first, (np.ndarray, np.generic)):
        arrs = [np.asarray(x) for x in items]
        if dtype is not None:
            d = resolve_dtype(dtype)
            arrs = [x.astype(d.npdtype if d.npdtype is not None else dt_numpy(d.code)) for x in arrs]
        if any(x.shape != arrs[0].shape or x.dtype != arrs[0].dtype for x in arrs):
            raise ArgError("list items must have one shape and dtype")
        stacked = np.ascontiguousarray(np.stack(arrs))
        whole = to_in(stacked)
        spec = {"k": "nd", "np": dtype_desc(stacked.dtype), "shape": list(stacked.shape[1:])}
        if isinstance(first, np.generic):
            spec = {"k": "npscalar", "np": dtype_desc(stacked.dtype)}
        whole.spec = spec
        return whole, spec
    if all(isinstance(x, (bool, int, float)) for x in items):
        if dtype is None:
            if any(isinstance(x, float) for x in items):
                dtype = float
            elif all(isinstance(x, bool) for x in items):
                dtype = bool
            else:
                dtype = int
        ins = [to_in(x, dtype) for x in items]
        spec = ins[0].spec
        data = b"".join(ctypes.string_at(i.ptr, i.nbytes) for i in ins)
        ptr, keep = _bytes_ptr(data)
        return In(ptr, len(data), ins[0].code, spec, keep), spec
    ins = [to_in(x, dtype) for x in items]
    spec = dict(ins[0].spec)
    sizes = {i.nbytes for i in ins}
    if len(sizes) != 1:
        raise ArgError("list items must have the same size in bytes, got sizes %s" % sorted(sizes))
    spec["n"] = ins[0].nbytes
    data = b"".join(ctypes.string_at(i.ptr, i.nbytes) if i.nbytes else b"" for i in ins)
    ptr, keep = _bytes_ptr(data)
    return In(ptr, len(data), ins[0].code, spec, keep), spec
