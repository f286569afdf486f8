//! Collective algorithms, written once over the point-to-point layer, one file per
//! collective. They run on the communicator's collective context, so they never
//! match user messages.

pub mod allgather;
pub mod barrier;

/// Internal tags, one per collective, to make stray messages easy to tell apart.
pub(crate) mod tags {
    pub const BARRIER: i32 = 1;
    pub const ALLGATHER: i32 = 2;
}
