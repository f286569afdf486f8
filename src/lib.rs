//! FMI: fast and cheap message passing for serverless functions.
//!
//! The safe core lives in the modules below; `capi` turns it into the C ABI of
//! `include/fmi.h`. See `README.md` for the architecture.

pub mod auth;
pub mod error;
pub mod punch;
pub mod wire;

pub use error::{Error, ErrorKind, Result};
