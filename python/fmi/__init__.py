"""FMI: MPI-like message passing between serverless functions (FMI-rs, over ctypes).

    import fmi
    with fmi.Communicator.from_env() as comm:          # fmirun -n 4 python3 script.py
        total = comm.allreduce(comm.rank, op=fmi.SUM)  # Python scalars
        data = comm.bcast(b"hello" if comm.rank == 0 else None, root=0)
        import numpy as np
        grad = comm.allreduce(np.ones(3)) / comm.size   # NumPy arrays, zero-copy

In a function, join by rank and size instead (rendezvous address and token from the
environment, FMI_RENDEZVOUS and FMI_TOKEN):

    comm = fmi.Communicator(rank, size, comm_name=job)

libfmi.so is looked up in: $FMI_LIBRARY, this package's directory, $FMI_PREFIX/lib,
the FMI-rs checkout the package was installed from (target/release), the prefix of
`fmirun` on PATH, then the system (ctypes.util.find_library, LD_LIBRARY_PATH).
"""

from ._lib import path as library_path
from ._errors import (
    SUCCESS, ERR_ARG, ERR_TIMEOUT, ERR_PEER_LOST, ERR_TRUNCATE, ERR_CONNECT, ERR_AUTH,
    ERR_CONFIG, ERR_CHANNEL, ERR_UNSUPPORTED, ERR_INTERNAL,
    FMIError, ArgError, TimeoutError, PeerLostError, TruncateError, ConnectError, AuthError,
    ConfigError, ChannelError, UnsupportedError, InternalError,
    error_string, last_error,
)
from ._buffers import Datatype
from ._comm import (
    Communicator, Request, Status, Op, waitall, wtime,
    ANY_SOURCE, ANY_TAG, TAG_UB, UNDEFINED, HINT_FAST, HINT_CHEAP,
    SUM, PROD, MIN, MAX, LAND, LOR, LXOR, BAND, BOR, BXOR,
)

__version__ = "0.1.0"

for _cls in (Communicator, Request, Status, Op, Datatype, FMIError, ArgError, TimeoutError,
             PeerLostError, TruncateError, ConnectError, AuthError, ConfigError, ChannelError,
             UnsupportedError, InternalError):
    _cls.__module__ = "fmi"
del _cls

BYTE = Datatype.BYTE
CHAR = Datatype.CHAR
INT8 = Datatype.INT8
UINT8 = Datatype.UINT8
INT16 = Datatype.INT16
UINT16 = Datatype.UINT16
INT32 = Datatype.INT32
UINT32 = Datatype.UINT32
INT64 = Datatype.INT64
UINT64 = Datatype.UINT64
FLOAT = Datatype.FLOAT
DOUBLE = Datatype.DOUBLE

__all__ = [
    "Communicator", "Request", "Status", "Op", "Datatype", "waitall", "wtime",
    "error_string", "last_error", "library_path",
    "ANY_SOURCE", "ANY_TAG", "TAG_UB", "UNDEFINED", "HINT_FAST", "HINT_CHEAP",
    "SUM", "PROD", "MIN", "MAX", "LAND", "LOR", "LXOR", "BAND", "BOR", "BXOR",
    "BYTE", "CHAR", "INT8", "UINT8", "INT16", "UINT16", "INT32", "UINT32", "INT64",
    "UINT64", "FLOAT", "DOUBLE",
    "SUCCESS", "ERR_ARG", "ERR_TIMEOUT", "ERR_PEER_LOST", "ERR_TRUNCATE", "ERR_CONNECT",
    "ERR_AUTH", "ERR_CONFIG", "ERR_CHANNEL", "ERR_UNSUPPORTED", "ERR_INTERNAL",
    "FMIError", "ArgError", "PeerLostError", "TruncateError", "ConnectError",
    "AuthError", "ConfigError", "ChannelError", "UnsupportedError", "InternalError",
]
