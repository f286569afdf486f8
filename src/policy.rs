//! Placeholder until the model lands (h/policy).

/// Collective operations, as the model prices them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Send,
    Bcast,
    Barrier,
    Gather,
    Scatter,
    Reduce,
    Allreduce,
    Scan,
    Allgather,
    Alltoall,
    ReduceScatter,
}

/// Placeholder.
pub fn choose(
    _op: Op,
    _bytes: usize,
    _ranks: u32,
    _hint: i32,
    available: &[crate::channel::store::ChannelKind],
    _cfg: &crate::config::Config,
) -> crate::channel::store::ChannelKind {
    available[0]
}
