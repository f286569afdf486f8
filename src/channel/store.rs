//! Mediated channels: storage that every rank of a job can reach (Redis, an
//! S3-compatible object store), for functions that cannot connect directly or when
//! the policy finds storage cheaper. A store only moves bytes under names; matching
//! (for point to point) and collective shapes live above it.
//!
//! Names are relative: an implementation puts every key of a job under that job's
//! own namespace (`fmi:{job}:` in Redis, `{job}/` in a bucket), so that
//! [`Store::clear_job`] can remove all of them at once.

use crate::error::Result;
use std::time::{Duration, Instant};

/// The channels the policy chooses between.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ChannelKind {
    /// TCP connections between ranks (hole-punched, or relayed).
    Direct,
    /// A Redis server.
    Redis,
    /// An S3-compatible object store.
    S3,
}

impl ChannelKind {
    /// Every channel, in the order logs and tables list them.
    pub const ALL: [ChannelKind; 3] = [ChannelKind::Direct, ChannelKind::Redis, ChannelKind::S3];

    /// Lower-case name, as in `FMI_CHANNEL`.
    pub fn name(self) -> &'static str {
        match self {
            ChannelKind::Direct => "direct",
            ChannelKind::Redis => "redis",
            ChannelKind::S3 => "s3",
        }
    }

    /// Parses `direct`, `redis` or `s3` (any case; the original's `Direct`, `Redis`, `S3`).
    pub fn parse(s: &str) -> Option<ChannelKind> {
        match s.trim().to_ascii_lowercase().as_str() {
            "direct" => Some(ChannelKind::Direct),
            "redis" => Some(ChannelKind::Redis),
            "s3" => Some(ChannelKind::S3),
            _ => None,
        }
    }
}

/// What a store has done so far, for the cost model (requests and bytes are what
/// storage services bill).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Writes (PUT, SET, RPUSH ...).
    pub writes: u64,
    /// Reads (GET, LIST, BLPOP ...), including ones that found nothing.
    pub reads: u64,
    /// Bytes written.
    pub bytes_written: u64,
    /// Bytes read.
    pub bytes_read: u64,
}

/// Storage shared by the ranks of one job, as seen by one rank.
///
/// Every method may block on the network; none may block past its deadline or wait.
/// Failures of the store itself (connection refused, HTTP 5xx, ...) are
/// `ErrorKind::Channel` errors whose message names the store and the key.
pub trait Store: Send + Sync {
    /// Which channel this is.
    fn kind(&self) -> ChannelKind;

    /// Stores `value` under `key`, replacing what was there.
    fn put(&self, key: &str, value: &[u8]) -> Result<()>;

    /// Waits until `key` exists and returns its value, leaving it in place (several
    /// ranks may read one key). Waits by being told (Redis) or by polling with
    /// bounded backoff (S3). Past `deadline`: `ErrorKind::Timeout` naming the key.
    fn get(&self, key: &str, deadline: Option<Instant>) -> Result<Vec<u8>>;

    /// Deletes keys; missing ones are not an error.
    fn delete(&self, keys: &[String]) -> Result<()>;

    /// Appends `value` to the mailbox `mailbox`. Values one rank pushes to one
    /// mailbox are popped in the order pushed.
    fn push(&self, mailbox: &str, value: &[u8]) -> Result<()>;

    /// Takes what is waiting in `mailbox` (only one rank pops a given mailbox),
    /// waiting up to `wait` for the first value; an empty vector when none came.
    /// Each sender's values come out in the order it pushed them.
    fn pop(&self, mailbox: &str, wait: Duration) -> Result<Vec<Vec<u8>>>;

    /// Removes every key of the job, whoever wrote it: after a failure, when no
    /// rank can be trusted to clean up after itself. Returns how many went.
    fn clear_job(&self) -> Result<usize>;

    /// How many keys of the job exist now (for cleanup checks and tests).
    fn count_job_keys(&self) -> Result<usize>;

    /// This rank leaves the job: records that, and says whether it was the last of
    /// the job's `size` ranks to do so (then nobody needs the job's keys any more,
    /// and the caller clears them).
    fn leave(&self, size: u32) -> Result<bool>;

    /// Requests and bytes so far.
    fn usage(&self) -> Usage;
}
