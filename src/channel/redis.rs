//! The Redis mediated channel: a [`Store`] on one Redis server (6.2 or later).
//!
//! Layout, all under the job's namespace `fmi:{job}:`:
//! - a key written with [`Store::put`] is a one-element list, so that readers can
//!   wait for it with `BLMOVE k k LEFT RIGHT t`: the server wakes them when it
//!   appears (push-style, no polling), and moving the element onto the same list
//!   leaves it in place for the other readers;
//! - a mailbox is the list `fmi:{job}:mb:{mailbox}` (RPUSH by senders, BLPOP and
//!   LPOP by its owner).
//!
//! The job name is written with `%` and `:` percent-encoded, so that the namespace
//! of job `a` (`fmi:a:`) is not a prefix of job `a:b`'s and `clear_job` of one never
//! removes keys of another.

use crate::channel::store::{ChannelKind, Store, Usage};
use crate::config::RedisConfig;
use crate::error::{Error, ErrorKind, Result};
use parking_lot::Mutex;
use redis::{Client, Connection, RedisError, RedisResult};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Longest wait for a TCP connection and the handshake with the server.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Longest single blocking command: longer waits are loops of these, so that no
/// command blocks the server (or this thread, should the server die silently) for
/// long.
const SLICE: Duration = Duration::from_secs(2);

/// Socket read and write timeout: a reply that takes longer than the longest
/// blocking command plus this margin means the server is gone.
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// Idle connections kept for reuse; more are opened when threads block at once.
const POOL_MAX: usize = 16;

/// Most values one `pop` takes after the first (one `LPOP key count`); the rest
/// stay for the next call.
const DRAIN_MAX: usize = 4096;

/// Most keys one `DEL`/`UNLINK` names.
const DEL_BATCH: usize = 512;

/// A Redis server as the mediated channel of one rank of one job.
pub struct RedisStore {
    client: Client,
    /// The URL without its password, for messages.
    url: String,
    /// `fmi:{job}:`, the job part encoded (see the module doc).
    prefix: String,
    /// Idle connections. A blocking command needs a connection of its own, so each
    /// call takes one and gives it back when it succeeded.
    pool: Mutex<Vec<Connection>>,
    writes: AtomicU64,
    reads: AtomicU64,
    /// The server has BLMPOP (Redis 7); older ones get BLPOP and a drain.
    blmpop: AtomicBool,
    bytes_written: AtomicU64,
    bytes_read: AtomicU64,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("url", &self.url)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Connects to `cfg.url` as rank `rank` of `job` and checks the server answers.
    ///
    /// A URL that does not parse is an `ErrorKind::Config` error; a server that
    /// cannot be reached within [`CONNECT_TIMEOUT`] an `ErrorKind::Channel` one.
    pub fn connect(cfg: &RedisConfig, job: &str, rank: u32) -> Result<RedisStore> {
        let url = redact(&cfg.url);
        let client = Client::open(cfg.url.as_str())
            .map_err(|e| Error::config(format!("bad Redis URL {url}: {e}")))?;
        let store = RedisStore {
            client,
            url,
            prefix: format!("fmi:{}:", encode_job(job)),
            pool: Mutex::new(Vec::new()),
            writes: AtomicU64::new(0),
            reads: AtomicU64::new(0),
            blmpop: AtomicBool::new(true),
            bytes_written: AtomicU64::new(0),
            bytes_read: AtomicU64::new(0),
        };
        // Fail here, with the URL, rather than at the first put or get.
        store.with_conn("PING", "", |c| redis::cmd("PING").query::<()>(c))?;
        log::debug!(
            "redis: rank {rank} of job {job:?} connected to {}",
            store.url
        );
        Ok(store)
    }

    /// The full Redis key of a relative key.
    pub fn full_key(&self, key: &str) -> String {
        format!("{}{}", self.prefix, key)
    }

    fn mailbox_key(&self, mailbox: &str) -> String {
        format!("{}mb:{}", self.prefix, mailbox)
    }

    /// Runs `f` on a pooled (or new) connection. `op` and `key` only name what
    /// failed. A connection on which something failed is dropped: its stream may
    /// hold half a reply.
    fn with_conn<T>(
        &self,
        op: &str,
        key: &str,
        f: impl FnOnce(&mut Connection) -> RedisResult<T>,
    ) -> Result<T> {
        let pooled = self.pool.lock().pop();
        let mut con = match pooled {
            Some(c) => c,
            None => self
                .open()
                .map_err(|e| self.err(&format!("connect (for {op})"), key, &e))?,
        };
        match f(&mut con) {
            Ok(v) => {
                let mut pool = self.pool.lock();
                if pool.len() < POOL_MAX {
                    pool.push(con);
                }
                Ok(v)
            }
            Err(e) => Err(self.err(op, key, &e)),
        }
    }

    fn open(&self) -> RedisResult<Connection> {
        let con = self.client.get_connection_with_timeout(CONNECT_TIMEOUT)?;
        con.set_read_timeout(Some(SLICE + IO_TIMEOUT))?;
        con.set_write_timeout(Some(IO_TIMEOUT))?;
        Ok(con)
    }

    fn err(&self, op: &str, key: &str, e: &RedisError) -> Error {
        let what = if key.is_empty() {
            op.to_string()
        } else {
            format!("{op} {key}")
        };
        Error::new(
            ErrorKind::Channel,
            format!("Redis {}: {what}: {e}", self.url),
        )
    }

    fn wrote(&self, commands: u64, bytes: usize) {
        self.writes.fetch_add(commands, Ordering::Relaxed);
        self.bytes_written
            .fetch_add(bytes as u64, Ordering::Relaxed);
    }

    fn read(&self, commands: u64, bytes: usize) {
        self.reads.fetch_add(commands, Ordering::Relaxed);
        self.bytes_read.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// Deletes full keys in batches; returns how many existed.
    fn del_full(&self, op: &str, keys: &[String]) -> Result<usize> {
        let mut n = 0;
        for batch in keys.chunks(DEL_BATCH) {
            let first = batch.first().map(String::as_str).unwrap_or("");
            let gone: usize = self.with_conn(op, first, |c| redis::cmd(op).arg(batch).query(c))?;
            self.wrote(1, 0);
            n += gone;
        }
        Ok(n)
    }

    /// Every key of the job now (SCAN may repeat a key; the set does not).
    fn scan_job(&self) -> Result<HashSet<String>> {
        let pattern = format!("{}*", glob_escape(&self.prefix));
        let mut keys = HashSet::new();
        let mut cursor: u64 = 0;
        loop {
            let (next, batch): (u64, Vec<String>) = self.with_conn("SCAN", &pattern, |c| {
                redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(&pattern)
                    .arg("COUNT")
                    .arg(1000)
                    .query(c)
            })?;
            self.read(1, 0);
            keys.extend(batch);
            if next == 0 {
                return Ok(keys);
            }
            cursor = next;
        }
    }
}

impl Store for RedisStore {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Redis
    }

    fn put(&self, key: &str, value: &[u8]) -> Result<()> {
        let k = self.full_key(key);
        // One atomic step, so a reader never sees the old and new value together
        // (the list has exactly one element whenever it exists).
        self.with_conn("put (DEL+RPUSH)", &k, |c| {
            redis::pipe()
                .atomic()
                .cmd("DEL")
                .arg(&k)
                .ignore()
                .cmd("RPUSH")
                .arg(&k)
                .arg(value)
                .ignore()
                .query::<()>(c)
        })?;
        self.wrote(2, value.len());
        Ok(())
    }

    fn get(&self, key: &str, deadline: Option<Instant>) -> Result<Vec<u8>> {
        let k = self.full_key(key);
        loop {
            let wait = match deadline {
                Some(d) => d.saturating_duration_since(Instant::now()).min(SLICE),
                None => SLICE,
            };
            let got: Option<Vec<u8>> = self.with_conn("BLMOVE", &k, |c| {
                redis::cmd("BLMOVE")
                    .arg(&k)
                    .arg(&k)
                    .arg("LEFT")
                    .arg("RIGHT")
                    .arg(redis_timeout(wait))
                    .query(c)
            })?;
            self.read(1, got.as_ref().map_or(0, Vec::len));
            if let Some(v) = got {
                return Ok(v);
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(Error::timeout(format!(
                    "Redis {}: key {k} did not appear before the deadline",
                    self.url
                )));
            }
        }
    }

    fn delete(&self, keys: &[String]) -> Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        let full: Vec<String> = keys.iter().map(|k| self.full_key(k)).collect();
        self.del_full("DEL", &full)?;
        Ok(())
    }

    fn push(&self, mailbox: &str, value: &[u8]) -> Result<()> {
        let k = self.mailbox_key(mailbox);
        self.with_conn("RPUSH", &k, |c| {
            redis::cmd("RPUSH").arg(&k).arg(value).query::<()>(c)
        })?;
        self.wrote(1, value.len());
        Ok(())
    }

    fn pop(&self, mailbox: &str, wait: Duration) -> Result<Vec<Vec<u8>>> {
        let k = self.mailbox_key(mailbox);
        let deadline = Instant::now() + wait;
        let mut out = Vec::new();
        if !wait.is_zero() && self.blmpop.load(Ordering::Relaxed) {
            // Redis 7: wait for the first value and take what else is there in one
            // round trip.
            loop {
                let slice = deadline
                    .saturating_duration_since(Instant::now())
                    .min(SLICE);
                if slice.is_zero() {
                    return Ok(out);
                }
                let got: Result<Option<KeyAndValues>> = self.with_conn("BLMPOP", &k, |c| {
                    redis::cmd("BLMPOP")
                        .arg(redis_timeout(slice))
                        .arg(1)
                        .arg(&k)
                        .arg("LEFT")
                        .arg("COUNT")
                        .arg(DRAIN_MAX)
                        .query(c)
                });
                match got {
                    Ok(Some((_, vs))) => {
                        self.read(1, vs.iter().map(Vec::len).sum());
                        return Ok(vs);
                    }
                    Ok(None) => self.read(1, 0),
                    Err(e) if e.msg.to_ascii_lowercase().contains("unknown command") => {
                        // Redis 6.2: BLPOP, then drain.
                        self.blmpop.store(false, Ordering::Relaxed);
                        break;
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        if !wait.is_zero() {
            loop {
                let slice = deadline
                    .saturating_duration_since(Instant::now())
                    .min(SLICE);
                if slice.is_zero() {
                    break;
                }
                let got: Option<(Vec<u8>, Vec<u8>)> = self.with_conn("BLPOP", &k, |c| {
                    redis::cmd("BLPOP")
                        .arg(&k)
                        .arg(redis_timeout(slice))
                        .query(c)
                })?;
                self.read(1, got.as_ref().map_or(0, |(_, v)| v.len()));
                if let Some((_, v)) = got {
                    out.push(v);
                    break;
                }
            }
            if out.is_empty() {
                return Ok(out);
            }
        }
        // What else is there, without waiting (all of it when `wait` was zero).
        let rest: Option<Vec<Vec<u8>>> = self.with_conn("LPOP", &k, |c| {
            redis::cmd("LPOP").arg(&k).arg(DRAIN_MAX).query(c)
        })?;
        let rest = rest.unwrap_or_default();
        self.read(1, rest.iter().map(Vec::len).sum());
        out.extend(rest);
        Ok(out)
    }

    fn clear_job(&self) -> Result<usize> {
        let keys: Vec<String> = self.scan_job()?.into_iter().collect();
        self.del_full("UNLINK", &keys)
    }

    fn count_job_keys(&self) -> Result<usize> {
        Ok(self.scan_job()?.len())
    }

    fn leave(&self, size: u32) -> Result<bool> {
        // One atomic counter: exactly one rank sees it reach the size.
        let k = self.full_key("left");
        let n: u64 = self.with_conn("INCR", &k, |c| redis::cmd("INCR").arg(&k).query(c))?;
        self.wrote(1, 0);
        Ok(n >= size as u64)
    }

    fn usage(&self) -> Usage {
        Usage {
            writes: self.writes.load(Ordering::Relaxed),
            reads: self.reads.load(Ordering::Relaxed),
            bytes_written: self.bytes_written.load(Ordering::Relaxed),
            bytes_read: self.bytes_read.load(Ordering::Relaxed),
        }
    }
}

/// BLMPOP's answer: the list it popped from and the values.
type KeyAndValues = (Vec<u8>, Vec<Vec<u8>>);

/// A blocking command's timeout in seconds with millisecond precision, at least
/// 1 ms: Redis reads a timeout that rounds to 0 ms as "block forever".
fn redis_timeout(d: Duration) -> String {
    let ms = d.as_nanos().div_ceil(1_000_000).max(1);
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// `job` with `%` and `:` percent-encoded (see the module doc).
fn encode_job(job: &str) -> String {
    job.replace('%', "%25").replace(':', "%3A")
}

/// `s` with the characters special in Redis glob patterns backslash-escaped.
fn glob_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        if matches!(ch, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

/// `url` without a password (`redis://user:secret@h` -> `redis://user:***@h`), as
/// messages and logs may show it.
fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let rest = &url[scheme_end + 3..];
    let auth_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..auth_end].rfind('@') else {
        return url.to_string();
    };
    let userinfo = &rest[..at];
    let user = userinfo.split(':').next().unwrap_or("");
    if userinfo.contains(':') {
        format!("{}{user}:***{}", &url[..scheme_end + 3], &rest[at..])
    } else {
        url.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_never_round_to_forever() {
        assert_eq!(redis_timeout(Duration::ZERO), "0.001");
        assert_eq!(redis_timeout(Duration::from_micros(10)), "0.001");
        assert_eq!(redis_timeout(Duration::from_millis(1500)), "1.500");
        assert_eq!(redis_timeout(Duration::from_secs(2)), "2.000");
    }

    #[test]
    fn job_names_do_not_nest() {
        assert_eq!(encode_job("a:b"), "a%3Ab");
        assert_eq!(encode_job("50%"), "50%25");
        assert_eq!(encode_job("plain-job_1"), "plain-job_1");
    }

    #[test]
    fn glob_specials_are_escaped() {
        assert_eq!(glob_escape("fmi:j*[x]?\\:"), "fmi:j\\*\\[x\\]\\?\\\\:");
    }

    #[test]
    fn passwords_stay_out_of_messages() {
        assert_eq!(redact("redis://:pw@h:6379/0"), "redis://:***@h:6379/0");
        assert_eq!(redact("redis://u:pw@h"), "redis://u:***@h");
        assert_eq!(redact("redis://h:6379"), "redis://h:6379");
        assert_eq!(redact("redis://u@h"), "redis://u@h");
        assert_eq!(redact("garbage"), "garbage");
    }
}
