//! The rendezvous server (being written).
