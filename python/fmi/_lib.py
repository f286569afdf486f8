"""Finding and loading libfmi.so, and the C prototypes (include/fmi.h)."""

import ctypes
import ctypes.util
import os
import shutil

_PKG_DIR = os.path.dirname(os.path.abspath(__file__))
_LIBNAME = "libfmi.so"


def _source_repo():
    """The FMI-rs checkout this package comes from, if any."""
    # Built from a checkout: setup.py recorded it.
    try:
        from ._origin import SOURCE_REPO  # type: ignore
    except ImportError:
        SOURCE_REPO = None
    if SOURCE_REPO:
        return SOURCE_REPO
    # Used in place (PYTHONPATH=python or an editable install): python/fmi/ -> repo.
    repo = os.path.dirname(os.path.dirname(_PKG_DIR))
    return repo if os.path.exists(os.path.join(repo, "Cargo.toml")) else None


def candidates():
    """(description, path) pairs in the order they are tried."""
    out = []
    env = os.environ.get("FMI_LIBRARY")
    if env:
        out.append(("FMI_LIBRARY", env))
    out.append(("package directory", os.path.join(_PKG_DIR, _LIBNAME)))
    prefix = os.environ.get("FMI_PREFIX")
    if prefix:
        out.append(("FMI_PREFIX", os.path.join(prefix, "lib", _LIBNAME)))
    repo = _source_repo()
    if repo:
        tdir = os.environ.get("CARGO_TARGET_DIR")
        if tdir:
            if not os.path.isabs(tdir):
                tdir = os.path.join(repo, tdir)
            out.append(("CARGO_TARGET_DIR", os.path.join(tdir, "release", _LIBNAME)))
        out.append(("source checkout", os.path.join(repo, "target", "release", _LIBNAME)))
    fmirun = shutil.which("fmirun")
    if fmirun:
        bindir = os.path.dirname(os.path.realpath(fmirun))
        out.append(("prefix of fmirun on PATH", os.path.join(os.path.dirname(bindir), "lib", _LIBNAME)))
    return out


def load():
    """Loads libfmi.so; ImportError naming every place tried otherwise."""
    tried = []
    for what, path in candidates():
        if not os.path.exists(path):
            if what == "FMI_LIBRARY":
                raise ImportError(
                    "fmi: FMI_LIBRARY=%s does not exist (unset it to search the usual places)" % path
                )
            tried.append("%s: %s (not found)" % (what, path))
            continue
        try:
            return ctypes.CDLL(path), path
        except OSError as e:
            if what == "FMI_LIBRARY":
                raise ImportError("fmi: cannot load FMI_LIBRARY=%s: %s" % (path, e)) from e
            tried.append("%s: %s (%s)" % (what, path, e))
    found = ctypes.util.find_library("fmi")
    if found:
        try:
            return ctypes.CDLL(found), found
        except OSError as e:
            tried.append("ctypes.util.find_library('fmi'): %s (%s)" % (found, e))
    else:
        tried.append("ctypes.util.find_library('fmi'): nothing")
    # The dynamic linker's own search (LD_LIBRARY_PATH, ld.so.cache).
    try:
        return ctypes.CDLL(_LIBNAME), _LIBNAME
    except OSError as e:
        tried.append("dynamic linker (LD_LIBRARY_PATH, ld.so.cache): %s" % e)
    raise ImportError(
        "fmi: cannot find libfmi.so. Install FMI (scripts/install.sh --prefix DIR) and set "
        "FMI_PREFIX=DIR or FMI_LIBRARY=/path/to/libfmi.so. Tried:\n  " + "\n  ".join(tried)
    )


lib, path = load()

c_int = ctypes.c_int
c_size_t = ctypes.c_size_t
c_void_p = ctypes.c_void_p
c_char_p = ctypes.c_char_p
c_double = ctypes.c_double
POINTER = ctypes.POINTER

FMI_Comm = c_void_p
FMI_Request = c_void_p
FMI_Datatype = ctypes.c_int32
FMI_Op = ctypes.c_int32


class FMI_Status(ctypes.Structure):
    _fields_ = [
        ("source", ctypes.c_int32),
        ("tag", ctypes.c_int32),
        ("error", ctypes.c_int32),
        ("bytes", c_size_t),
    ]


FMI_User_function = ctypes.CFUNCTYPE(None, c_void_p, c_void_p, c_size_t, FMI_Datatype, c_void_p)

# FMI_IN_PLACE is ((void *)-1).
IN_PLACE = c_void_p(ctypes.c_size_t(-1).value)

_pComm = POINTER(FMI_Comm)
_pReq = POINTER(FMI_Request)
_pStatus = POINTER(FMI_Status)
_psize = POINTER(c_size_t)

_PROTOS = {
    "FMI_Comm_create": (c_int, c_int, c_char_p, c_char_p, _pComm),
    "FMI_Comm_from_env": (_pComm,),
    "FMI_Comm_rank": (FMI_Comm, POINTER(c_int)),
    "FMI_Comm_size": (FMI_Comm, POINTER(c_int)),
    "FMI_Comm_dup": (FMI_Comm, _pComm),
    "FMI_Comm_split": (FMI_Comm, c_int, c_int, _pComm),
    "FMI_Comm_set_hint": (FMI_Comm, c_int),
    "FMI_Comm_cost": (FMI_Comm, c_double, POINTER(c_double)),
    "FMI_Comm_free": (_pComm,),
    "FMI_Send": (c_void_p, c_size_t, FMI_Datatype, c_int, c_int, FMI_Comm),
    "FMI_Recv": (c_void_p, c_size_t, FMI_Datatype, c_int, c_int, FMI_Comm, _pStatus),
    "FMI_Sendrecv": (c_void_p, c_size_t, c_int, c_int, c_void_p, c_size_t, c_int, c_int,
                     FMI_Datatype, FMI_Comm, _pStatus),
    "FMI_Isend": (c_void_p, c_size_t, FMI_Datatype, c_int, c_int, FMI_Comm, _pReq),
    "FMI_Irecv": (c_void_p, c_size_t, FMI_Datatype, c_int, c_int, FMI_Comm, _pReq),
    "FMI_Wait": (_pReq, _pStatus),
    "FMI_Test": (_pReq, POINTER(c_int), _pStatus),
    "FMI_Waitall": (c_size_t, _pReq, _pStatus),
    "FMI_Probe": (c_int, c_int, FMI_Comm, _pStatus),
    "FMI_Iprobe": (c_int, c_int, FMI_Comm, POINTER(c_int), _pStatus),
    "FMI_Barrier": (FMI_Comm,),
    "FMI_Bcast": (c_void_p, c_size_t, FMI_Datatype, c_int, FMI_Comm),
    "FMI_Reduce": (c_void_p, c_void_p, c_size_t, FMI_Datatype, FMI_Op, c_int, FMI_Comm),
    "FMI_Allreduce": (c_void_p, c_void_p, c_size_t, FMI_Datatype, FMI_Op, FMI_Comm),
    "FMI_Scan": (c_void_p, c_void_p, c_size_t, FMI_Datatype, FMI_Op, FMI_Comm),
    "FMI_Exscan": (c_void_p, c_void_p, c_size_t, FMI_Datatype, FMI_Op, FMI_Comm),
    "FMI_Reduce_scatter_block": (c_void_p, c_void_p, c_size_t, FMI_Datatype, FMI_Op, FMI_Comm),
    "FMI_Gather": (c_void_p, c_void_p, c_size_t, FMI_Datatype, c_int, FMI_Comm),
    "FMI_Scatter": (c_void_p, c_void_p, c_size_t, FMI_Datatype, c_int, FMI_Comm),
    "FMI_Allgather": (c_void_p, c_void_p, c_size_t, FMI_Datatype, FMI_Comm),
    "FMI_Alltoall": (c_void_p, c_void_p, c_size_t, FMI_Datatype, FMI_Comm),
    "FMI_Op_create": (FMI_User_function, c_int, c_int, c_void_p, POINTER(FMI_Op)),
    "FMI_Op_free": (POINTER(FMI_Op),),
    "FMI_Abort": (FMI_Comm, c_int),
}

for _name, _args in _PROTOS.items():
    _f = getattr(lib, _name)
    _f.argtypes = list(_args)
    _f.restype = c_int

lib.FMI_Error_string.argtypes = [c_int]
lib.FMI_Error_string.restype = c_char_p
lib.FMI_Last_error.argtypes = []
lib.FMI_Last_error.restype = c_char_p
lib.FMI_Wtime.argtypes = []
lib.FMI_Wtime.restype = ctypes.c_double
