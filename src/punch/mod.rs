//! Rendezvous: the server that ranks register with, and its protocol.

pub mod proto;
pub mod server;
