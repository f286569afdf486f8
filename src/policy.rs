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

/// Placeholder.
#[derive(Debug, Clone, Default)]
pub struct Model;

impl Model {
    /// Placeholder.
    pub fn rank_cost(
        &self,
        _seconds: f64,
        _ranks: u32,
        _used: &[(
            crate::channel::store::ChannelKind,
            crate::channel::store::Usage,
        )],
    ) -> f64 {
        0.0
    }
}
