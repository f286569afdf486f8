"""FMI error codes and the exceptions that carry them."""

from . import _lib

SUCCESS = 0
ERR_ARG = 1
ERR_TIMEOUT = 2
ERR_PEER_LOST = 3
ERR_TRUNCATE = 4
ERR_CONNECT = 5
ERR_AUTH = 6
ERR_CONFIG = 7
ERR_CHANNEL = 8
ERR_UNSUPPORTED = 9
ERR_INTERNAL = 10


def error_string(code):
    """The library's static text for an error code."""
    s = _lib.lib.FMI_Error_string(int(code))
    return s.decode("utf-8", "replace") if s else ""


def last_error():
    """This thread's last detailed message from the library, or ""."""
    s = _lib.lib.FMI_Last_error()
    return s.decode("utf-8", "replace") if s else ""


class FMIError(Exception):
    """An FMI call failed. `code` is the FMI_ERR_* code, `message` the detail
    (FMI_Last_error() for library errors)."""

    code = None

    def __init__(self, message, code=None):
        if code is not None:
            self.code = code
        self.message = message
        super().__init__(message)

    def __str__(self):
        name = _CODE_NAMES.get(self.code, str(self.code))
        return "%s [%s]" % (self.message, name)


class ArgError(FMIError, ValueError):
    """FMI_ERR_ARG: a bad argument (also raised for bad arguments found in Python)."""
    code = ERR_ARG


class TimeoutError(FMIError, TimeoutError):  # noqa: A001 - deliberately also the builtin
    """FMI_ERR_TIMEOUT: the operation did not complete within FMI_TIMEOUT_MS."""
    code = ERR_TIMEOUT


class PeerLostError(FMIError):
    """FMI_ERR_PEER_LOST: a rank the operation needs died or left."""
    code = ERR_PEER_LOST


class TruncateError(FMIError):
    """FMI_ERR_TRUNCATE: a message was larger than the receive buffer."""
    code = ERR_TRUNCATE


class ConnectError(FMIError, ConnectionError):
    """FMI_ERR_CONNECT: a connection could not be made."""
    code = ERR_CONNECT


class AuthError(FMIError):
    """FMI_ERR_AUTH: the job token was refused."""
    code = ERR_AUTH


class ConfigError(FMIError):
    """FMI_ERR_CONFIG: invalid configuration (environment or file)."""
    code = ERR_CONFIG


class ChannelError(FMIError):
    """FMI_ERR_CHANNEL: a communication channel failed."""
    code = ERR_CHANNEL


class UnsupportedError(FMIError):
    """FMI_ERR_UNSUPPORTED: not supported (yet)."""
    code = ERR_UNSUPPORTED


class InternalError(FMIError):
    """FMI_ERR_INTERNAL: a bug in FMI."""
    code = ERR_INTERNAL


_BY_CODE = {
    cls.code: cls
    for cls in (ArgError, TimeoutError, PeerLostError, TruncateError, ConnectError, AuthError,
                ConfigError, ChannelError, UnsupportedError, InternalError)
}

_CODE_NAMES = {
    ERR_ARG: "FMI_ERR_ARG",
    ERR_TIMEOUT: "FMI_ERR_TIMEOUT",
    ERR_PEER_LOST: "FMI_ERR_PEER_LOST",
    ERR_TRUNCATE: "FMI_ERR_TRUNCATE",
    ERR_CONNECT: "FMI_ERR_CONNECT",
    ERR_AUTH: "FMI_ERR_AUTH",
    ERR_CONFIG: "FMI_ERR_CONFIG",
    ERR_CHANNEL: "FMI_ERR_CHANNEL",
    ERR_UNSUPPORTED: "FMI_ERR_UNSUPPORTED",
    ERR_INTERNAL: "FMI_ERR_INTERNAL",
}


def make_error(code, message=None):
    """The exception for `code`; `message` defaults to FMI_Last_error()."""
    if message is None:
        message = last_error() or error_string(code)
    cls = _BY_CODE.get(code)
    if cls is None:
        return FMIError(message, code)
    return cls(message)


def check(code):
    """Raises the exception for a non-zero FMI return code."""
    if code != 0:
        raise make_error(code)
