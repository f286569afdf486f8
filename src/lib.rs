//! FMI: fast and cheap message passing for serverless functions.
//!
//! The safe core lives in the modules below; `capi` turns it into the C ABI of
//! `include/fmi.h`. See `README.md` for the architecture.

pub mod auth;
pub mod bootstrap;
pub mod capi;
pub mod channel;
pub mod coll;
pub mod comm;
pub mod config;
pub mod datatype;
pub mod engine;
pub mod error;
pub mod group;
pub mod log;
pub mod op;
pub mod policy;
pub mod pmi;
pub mod punch;
pub mod wire;

pub use error::{Error, ErrorKind, Result};
