//! Rendezvous: the server that ranks register with, and its protocol.

pub mod client;
pub mod proto;
pub mod server;
