//! Error type of the safe core, and the numeric codes the C API returns.

use std::fmt;

/// What went wrong, one variant per `FMI_ERR_*` code of the C API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// Bad argument from the caller.
    Arg,
    /// An operation did not complete within the configured timeout.
    Timeout,
    /// A peer rank died or left while an operation needed it.
    PeerLost,
    /// A received message was larger than the receive buffer.
    Truncate,
    /// A connection could not be established.
    Connect,
    /// Authentication failed (wrong job token).
    Auth,
    /// Invalid configuration.
    Config,
    /// A communication channel failed.
    Channel,
    /// The operation is not supported.
    Unsupported,
    /// A bug in FMI.
    Internal,
}

impl ErrorKind {
    /// The C API's numeric code (`FMI_ERR_*`).
    pub fn code(self) -> i32 {
        match self {
            ErrorKind::Arg => 1,
            ErrorKind::Timeout => 2,
            ErrorKind::PeerLost => 3,
            ErrorKind::Truncate => 4,
            ErrorKind::Connect => 5,
            ErrorKind::Auth => 6,
            ErrorKind::Config => 7,
            ErrorKind::Channel => 8,
            ErrorKind::Unsupported => 9,
            ErrorKind::Internal => 10,
        }
    }
}

/// An error with a human-readable message (what `FMI_Last_error()` returns).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub msg: String,
}

impl Error {
    pub fn new(kind: ErrorKind, msg: impl Into<String>) -> Self {
        Error {
            kind,
            msg: msg.into(),
        }
    }
    pub fn arg(msg: impl Into<String>) -> Self {
        Self::new(ErrorKind::Arg, msg)
    }
    pub fn timeout(msg: impl Into<String>) -> Self {
        Self::new(ErrorKind::Timeout, msg)
    }
    pub fn peer_lost(msg: impl Into<String>) -> Self {
        Self::new(ErrorKind::PeerLost, msg)
    }
    pub fn connect(msg: impl Into<String>) -> Self {
        Self::new(ErrorKind::Connect, msg)
    }
    pub fn config(msg: impl Into<String>) -> Self {
        Self::new(ErrorKind::Config, msg)
    }
    pub fn internal(msg: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, msg)
    }
    pub fn code(&self) -> i32 {
        self.kind.code()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.msg)
    }
}

impl std::error::Error for Error {}

/// The text of a caught panic, for the message that replaces it at a C boundary.
pub fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

/// Result of the safe core.
pub type Result<T> = std::result::Result<T, Error>;
