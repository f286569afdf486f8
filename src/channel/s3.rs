//! The S3 channel: a bucket of an S3-compatible object store as the mediated
//! channel of a job.
//!
//! Requests are signed as presigned URLs by `rusty-s3` (no I/O of its own) and
//! sent by one blocking `ureq` agent, whose pool keeps connections alive between
//! requests. Object stores cannot notify, so waiting is polling with bounded
//! backoff: 1 ms, doubling up to [`S3Config::max_poll`].
//!
//! Layout in the bucket: every object of the job under `{job}/`; a mailbox is the
//! prefix `{job}/mb/{mailbox}/`, holding one object per pushed value named
//! `{sender:06}-{seq:012}`, where `seq` counts the sender's pushes to that mailbox.

use crate::channel::store::{ChannelKind, Store, Usage};
use crate::config::S3Config;
use crate::error::{Error, ErrorKind, Result};
use parking_lot::Mutex;
use rusty_s3::actions::{
    CreateBucket, DeleteObjectsResponse, ListObjectsV2, ObjectIdentifier, S3Action,
};
use rusty_s3::{Bucket, Credentials, UrlStyle};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a presigned URL stays valid. It is used at once, so this only has to
/// cover clock skew between us and the server.
const SIGN_VALIDITY: Duration = Duration::from_secs(15 * 60);
/// Connecting to a store that is down must fail fast, not hang a rank.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Bound on one whole request, so that a server that stops answering mid-way
/// cannot block a rank for ever.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// S3's limit on the keys of one DeleteObjects request.
const DELETE_BATCH: usize = 1000;
/// First pause between two polls.
const FIRST_POLL: Duration = Duration::from_millis(1);

/// Status and body of one answered request.
struct Reply {
    status: u16,
    body: Vec<u8>,
}

/// Next sequence number expected from each sender of one mailbox.
type NextSeq = HashMap<u32, u64>;

/// What every request needs: the agent, the signed bucket, and names for messages.
struct Client {
    agent: ureq::Agent,
    bucket: Bucket,
    creds: Credentials,
    /// The endpoint as configured (or AWS's), for error messages.
    endpoint: String,
    writes: AtomicU64,
    reads: AtomicU64,
    bytes_written: AtomicU64,
    bytes_read: AtomicU64,
}

/// The S3 mediated channel of one rank of one job.
pub struct S3Store {
    client: Client,
    job: String,
    rank: u32,
    max_poll: Duration,
    /// Next sequence number of this rank's pushes, per mailbox. The lock of a
    /// mailbox is held across its PUT, so that this rank's values land in
    /// sequence order and a failed PUT cannot be overtaken by a later one.
    push_seq: Mutex<HashMap<String, Arc<Mutex<u64>>>>,
    /// Next sequence number expected from each sender, per popped mailbox.
    pop_next: Mutex<HashMap<String, Arc<Mutex<NextSeq>>>>,
}

impl std::fmt::Debug for S3Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Store")
            .field("endpoint", &self.client.endpoint)
            .field("bucket", &self.client.bucket.name())
            .field("job", &self.job)
            .field("rank", &self.rank)
            .finish()
    }
}

impl Client {
    fn new(cfg: &S3Config) -> Result<Client> {
        if cfg.bucket.trim().is_empty() {
            return Err(Error::config(
                "S3 channel: no bucket configured (FMI_S3_BUCKET or backends.S3.bucket)",
            ));
        }
        if cfg.region.trim().is_empty() {
            return Err(Error::config(
                "S3 channel: no region configured (FMI_S3_REGION or backends.S3.region)",
            ));
        }
        if cfg.access_key.is_empty() || cfg.secret_key.is_empty() {
            return Err(Error::config(
                "S3 channel: no credentials configured (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)",
            ));
        }
        // Custom endpoints (MinIO, Ceph, test servers) are often addressed by IP
        // or without wildcard DNS, which only path-style URLs work with; AWS
        // prefers virtual-host style.
        let (endpoint, style) = match &cfg.endpoint {
            Some(e) => (e.trim().to_string(), UrlStyle::Path),
            None => (
                format!("https://s3.{}.amazonaws.com", cfg.region.trim()),
                UrlStyle::VirtualHost,
            ),
        };
        let url: url::Url = endpoint.parse().map_err(|e| {
            Error::config(format!("S3 endpoint {endpoint:?} is not a valid URL: {e}"))
        })?;
        // Keep-alive saves a TLS handshake per request, which matters over https.
        // Over plain http (a server next to the functions) a connection costs little,
        // and reusing one meets servers that do not set TCP_NODELAY (s3s-fs does not):
        // their header and body writes then wait out the client's delayed ACK, 40 ms
        // per request.
        let idle = if url.scheme() == "https" { 16 } else { 0 };
        let bucket = Bucket::new(
            url,
            style,
            cfg.bucket.trim().to_string(),
            cfg.region.trim().to_string(),
        )
        .map_err(|e| {
            Error::config(format!(
                "S3 endpoint {endpoint:?} with bucket {:?}: {e}",
                cfg.bucket
            ))
        })?;
        let agent: ureq::Agent = ureq::Agent::config_builder()
            // Statuses are answers we interpret (404 = not there yet), not errors.
            .http_status_as_error(false)
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .timeout_global(Some(REQUEST_TIMEOUT))
            .max_idle_connections(idle)
            .build()
            .into();
        Ok(Client {
            agent,
            bucket,
            creds: Credentials::new(cfg.access_key.clone(), cfg.secret_key.clone()),
            endpoint,
            writes: AtomicU64::new(0),
            reads: AtomicU64::new(0),
            bytes_written: AtomicU64::new(0),
            bytes_read: AtomicU64::new(0),
        })
    }

    /// "S3 {endpoint} bucket {bucket}", the start of every message.
    fn place(&self) -> String {
        format!("S3 {} bucket {}", self.endpoint, self.bucket.name())
    }

    /// Sends one request and reads the whole answer. `what` names the request
    /// and key for messages; `sent` is the body size, for usage.
    fn send(
        &self,
        write: bool,
        what: &str,
        sent: usize,
        f: impl FnOnce(
            &ureq::Agent,
        ) -> std::result::Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<Reply> {
        if write {
            self.writes.fetch_add(1, Ordering::Relaxed);
            self.bytes_written.fetch_add(sent as u64, Ordering::Relaxed);
        } else {
            self.reads.fetch_add(1, Ordering::Relaxed);
        }
        let failed = |e: ureq::Error| {
            let kind = match e {
                ureq::Error::Timeout(_) => "timed out",
                ureq::Error::ConnectionFailed | ureq::Error::HostNotFound => "unreachable",
                _ => "failed",
            };
            Error::new(
                ErrorKind::Channel,
                format!("{}: {what} {kind}: {e}", self.place()),
            )
        };
        let resp = f(&self.agent).map_err(failed)?;
        let status = resp.status().as_u16();
        let mut body = resp.into_body();
        // ureq caps bodies at 10 MB by default; values may be larger.
        let body = body
            .with_config()
            .limit(u64::MAX)
            .read_to_vec()
            .map_err(failed)?;
        self.bytes_read
            .fetch_add(body.len() as u64, Ordering::Relaxed);
        Ok(Reply { status, body })
    }

    /// The error for an unexpected answer, with S3's own code and message.
    fn unexpected(&self, what: &str, r: &Reply) -> Error {
        let text = String::from_utf8_lossy(&r.body);
        let code = xml_field(&text, "Code").unwrap_or_default();
        let msg = xml_field(&text, "Message").unwrap_or_default();
        let hint = if r.status == 403 {
            " (check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and FMI_S3_REGION)"
        } else {
            ""
        };
        let mut text = format!("{}: {what}: HTTP {}", self.place(), r.status);
        for part in [code, msg] {
            if !part.is_empty() {
                text = text + " " + &part;
            }
        }
        Error::new(ErrorKind::Channel, text + hint)
    }

    fn head_bucket(&self) -> Result<Reply> {
        let url = self
            .bucket
            .head_bucket(Some(&self.creds))
            .sign(SIGN_VALIDITY);
        self.send(false, "HEAD bucket", 0, |a| a.head(url.as_str()).call())
    }

    fn put(&self, key: &str, value: &[u8]) -> Result<()> {
        let url = self
            .bucket
            .put_object(Some(&self.creds), key)
            .sign(SIGN_VALIDITY);
        let what = format!("PUT {key}");
        let r = self.send(true, &what, value.len(), |a| {
            a.put(url.as_str()).send(value)
        })?;
        match r.status {
            200..=299 => Ok(()),
            _ => Err(self.unexpected(&what, &r)),
        }
    }

    /// The value of `key`, or `None` if there is no such object.
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let url = self
            .bucket
            .get_object(Some(&self.creds), key)
            .sign(SIGN_VALIDITY);
        let what = format!("GET {key}");
        let r = self.send(false, &what, 0, |a| a.get(url.as_str()).call())?;
        match r.status {
            200..=299 => Ok(Some(r.body)),
            // A missing bucket is also a 404, but waiting would never end.
            404 if !String::from_utf8_lossy(&r.body).contains("NoSuchBucket") => Ok(None),
            _ => Err(self.unexpected(&what, &r)),
        }
    }

    /// Every key under `prefix`, in the store's (lexical) order.
    fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        let what = format!("LIST {prefix}");
        loop {
            let mut action: ListObjectsV2<'_> = self.bucket.list_objects_v2(Some(&self.creds));
            action.with_prefix(prefix);
            if let Some(t) = &token {
                action.with_continuation_token(t.clone());
            }
            let url = action.sign(SIGN_VALIDITY);
            let r = self.send(false, &what, 0, |a| a.get(url.as_str()).call())?;
            if !(200..=299).contains(&r.status) {
                return Err(self.unexpected(&what, &r));
            }
            let text = String::from_utf8_lossy(&r.body);
            let page = ListObjectsV2::parse_response(&text).map_err(|e| {
                Error::new(
                    ErrorKind::Channel,
                    format!("{}: {what}: unreadable answer: {e}", self.place()),
                )
            })?;
            keys.extend(page.contents.into_iter().map(|c| c.key));
            match page.next_continuation_token {
                Some(t) => token = Some(t),
                None => return Ok(keys),
            }
        }
    }

    /// Deletes `keys` (full keys); missing ones are not an error.
    fn delete(&self, keys: &[String]) -> Result<()> {
        for chunk in keys.chunks(DELETE_BATCH) {
            let ids: Vec<ObjectIdentifier> = chunk
                .iter()
                .map(|k| ObjectIdentifier::new(k.clone()))
                .collect();
            let mut action = self.bucket.delete_objects(Some(&self.creds), ids.iter());
            // Only failures are reported, so the answer stays small.
            action.set_quiet(true);
            let url = action.sign(SIGN_VALIDITY);
            let (body, md5) = action.body_with_md5();
            let what = format!("DELETE {} keys from {}", chunk.len(), chunk[0]);
            let r = self.send(true, &what, body.len(), |a| {
                a.post(url.as_str())
                    .header("content-md5", &md5)
                    .header("content-type", "application/xml")
                    .send(body.as_bytes())
            })?;
            match r.status {
                200..=299 => {}
                // A server without DeleteObjects: one request per key instead.
                405 | 501 => {
                    for k in chunk {
                        self.delete_one(k)?;
                    }
                    continue;
                }
                _ => return Err(self.unexpected(&what, &r)),
            }
            let text = String::from_utf8_lossy(&r.body);
            let answer = DeleteObjectsResponse::parse(&text).map_err(|e| {
                Error::new(
                    ErrorKind::Channel,
                    format!("{}: {what}: unreadable answer: {e}", self.place()),
                )
            })?;
            if let Some(e) = answer.errors.iter().find(|e| e.code != "NoSuchKey") {
                return Err(Error::new(
                    ErrorKind::Channel,
                    format!(
                        "{}: DELETE {}: {} {}",
                        self.place(),
                        e.key,
                        e.code,
                        e.message
                    ),
                ));
            }
        }
        Ok(())
    }

    fn delete_one(&self, key: &str) -> Result<()> {
        let url = self
            .bucket
            .delete_object(Some(&self.creds), key)
            .sign(SIGN_VALIDITY);
        let what = format!("DELETE {key}");
        let r = self.send(true, &what, 0, |a| a.delete(url.as_str()).call())?;
        match r.status {
            200..=299 | 404 => Ok(()),
            _ => Err(self.unexpected(&what, &r)),
        }
    }
}

/// The text of the first `<name>...</name>` in an S3 error document.
fn xml_field(text: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let start = text.find(&open)? + open.len();
    let end = text[start..].find(&format!("</{name}>"))? + start;
    Some(text[start..end].to_string())
}

/// Sender and sequence number of a mailbox object's name (`{sender:06}-{seq:012}`);
/// `None` for anything else (such as objects of a mailbox whose name extends this
/// one's with a `/`).
fn parse_entry(name: &str) -> Option<(u32, u64)> {
    let (sender, seq) = name.split_once('-')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(sender) || !digits(seq) {
        return None;
    }
    Some((sender.parse().ok()?, seq.parse().ok()?))
}

/// Sleeps `pause`, or until `deadline` if that comes first; false once the
/// deadline has passed (then without sleeping).
fn pause_until(pause: Duration, deadline: Option<Instant>) -> bool {
    match deadline {
        None => {
            std::thread::sleep(pause);
            true
        }
        Some(d) => {
            let now = Instant::now();
            if now >= d {
                return false;
            }
            std::thread::sleep(pause.min(d - now));
            true
        }
    }
}

impl S3Store {
    /// Opens the bucket of `cfg` for rank `rank` of `job`. Fails with a
    /// `Config` error if settings are missing or the bucket does not exist (or
    /// refuses these credentials), and with a `Channel` error if the endpoint
    /// cannot be reached.
    pub fn connect(cfg: &S3Config, job: &str, rank: u32) -> Result<S3Store> {
        if job.is_empty() || job.contains('/') {
            // A `/` would let one job's prefix contain another's.
            return Err(Error::config(format!(
                "S3 channel: job name {job:?} must be non-empty and without '/'"
            )));
        }
        let client = Client::new(cfg)?;
        let r = client.head_bucket()?;
        match r.status {
            200..=299 => {}
            404 => {
                return Err(Error::config(format!(
                    "{}: the bucket {:?} does not exist (create it, or set FMI_S3_BUCKET)",
                    client.place(),
                    client.bucket.name()
                )))
            }
            401 | 403 => {
                return Err(Error::config(format!(
                    "{}: access to bucket {:?} denied (HTTP {}): check AWS_ACCESS_KEY_ID, \
                     AWS_SECRET_ACCESS_KEY and FMI_S3_REGION",
                    client.place(),
                    client.bucket.name(),
                    r.status
                )))
            }
            _ => return Err(client.unexpected("HEAD bucket", &r)),
        }
        Ok(S3Store {
            client,
            job: job.to_string(),
            rank,
            max_poll: cfg.max_poll.max(FIRST_POLL),
            push_seq: Mutex::new(HashMap::new()),
            pop_next: Mutex::new(HashMap::new()),
        })
    }

    /// Creates the bucket of `cfg`; one that exists and is ours already is fine.
    /// For tests and setup scripts: a job expects its bucket to exist.
    pub fn create_bucket(cfg: &S3Config) -> Result<()> {
        let client = Client::new(cfg)?;
        let action: CreateBucket<'_> = client.bucket.create_bucket(&client.creds);
        let url = action.sign(SIGN_VALIDITY);
        // The location constraint, except for us-east-1, which takes none.
        let body = action.body();
        let r = client.send(true, "CREATE bucket", body.len(), |a| {
            a.put(url.as_str()).send(body.as_bytes())
        })?;
        match r.status {
            200..=299 => Ok(()),
            // Servers answer BucketAlreadyOwnedByYou or BucketAlreadyExists for a
            // bucket we own; on AWS the latter also means someone else's, so
            // whether we can use it decides.
            409 if client.head_bucket()?.status / 100 == 2 => Ok(()),
            _ => Err(client.unexpected("CREATE bucket", &r)),
        }
    }

    fn full(&self, key: &str) -> String {
        format!("{}/{key}", self.job)
    }

    fn mailbox_prefix(&self, mailbox: &str) -> String {
        format!("{}/mb/{mailbox}/", self.job)
    }

    fn check_name(what: &str, name: &str) -> Result<()> {
        if name.is_empty() {
            return Err(Error::arg(format!("S3 channel: empty {what}")));
        }
        Ok(())
    }
}

impl Store for S3Store {
    fn kind(&self) -> ChannelKind {
        ChannelKind::S3
    }

    fn put(&self, key: &str, value: &[u8]) -> Result<()> {
        Self::check_name("key", key)?;
        self.client.put(&self.full(key), value)
    }

    fn get(&self, key: &str, deadline: Option<Instant>) -> Result<Vec<u8>> {
        Self::check_name("key", key)?;
        let full = self.full(key);
        let mut pause = FIRST_POLL.min(self.max_poll);
        loop {
            if let Some(v) = self.client.get(&full)? {
                return Ok(v);
            }
            if !pause_until(pause, deadline) {
                return Err(Error::timeout(format!(
                    "{}: waiting for key {full}: deadline passed",
                    self.client.place()
                )));
            }
            pause = (pause * 2).min(self.max_poll);
        }
    }

    fn delete(&self, keys: &[String]) -> Result<()> {
        let full: Vec<String> = keys.iter().map(|k| self.full(k)).collect();
        self.client.delete(&full)
    }

    fn push(&self, mailbox: &str, value: &[u8]) -> Result<()> {
        Self::check_name("mailbox name", mailbox)?;
        let seq = self
            .push_seq
            .lock()
            .entry(mailbox.to_string())
            .or_default()
            .clone();
        let mut seq = seq.lock();
        let key = format!(
            "{}{:06}-{:012}",
            self.mailbox_prefix(mailbox),
            self.rank,
            *seq
        );
        // Spent even if the PUT fails: its object may have landed, and reusing
        // the number could overwrite it.
        *seq += 1;
        self.client.put(&key, value)
    }

    fn pop(&self, mailbox: &str, wait: Duration) -> Result<Vec<Vec<u8>>> {
        Self::check_name("mailbox name", mailbox)?;
        let deadline = Instant::now() + wait;
        let prefix = self.mailbox_prefix(mailbox);
        let next = self
            .pop_next
            .lock()
            .entry(mailbox.to_string())
            .or_default()
            .clone();
        let mut next = next.lock();
        let mut pause = FIRST_POLL.min(self.max_poll);
        loop {
            // Per sender, in sequence order (the listing's order is the store's).
            let mut by_sender: BTreeMap<u32, BTreeMap<u64, String>> = BTreeMap::new();
            for key in self.client.list(&prefix)? {
                if let Some((sender, seq)) = parse_entry(&key[prefix.len()..]) {
                    by_sender.entry(sender).or_default().insert(seq, key);
                }
            }
            let mut out = Vec::new();
            let mut done = Vec::new();
            for (sender, entries) in by_sender {
                let expected = next.entry(sender).or_insert(0);
                for (seq, key) in entries {
                    if seq < *expected {
                        // Delivered before, but its delete failed: remove now.
                        done.push(key);
                        continue;
                    }
                    if seq > *expected {
                        // A predecessor has not landed yet; it must come first.
                        break;
                    }
                    match self.client.get(&key)? {
                        Some(v) => {
                            out.push(v);
                            done.push(key);
                            *expected += 1;
                        }
                        None => break,
                    }
                }
            }
            if !done.is_empty() {
                self.client.delete(&done)?;
            }
            if !out.is_empty() {
                return Ok(out);
            }
            if !pause_until(pause, Some(deadline)) {
                return Ok(out);
            }
            pause = (pause * 2).min(self.max_poll);
        }
    }

    fn clear_job(&self) -> Result<usize> {
        let keys = self.client.list(&format!("{}/", self.job))?;
        self.client.delete(&keys)?;
        Ok(keys.len())
    }

    fn count_job_keys(&self) -> Result<usize> {
        Ok(self.client.list(&format!("{}/", self.job))?.len())
    }

    fn leave(&self, size: u32) -> Result<bool> {
        // S3 has no atomic counter: each rank leaves a marker, then counts them.
        // Lists are strongly consistent, so the last to write sees every marker;
        // two ranks may both see all of them, and clearing twice is harmless.
        let dir = format!("{}/left/", self.job);
        self.client.put(&format!("{dir}{:06}", self.rank), &[])?;
        Ok(self.client.list(&dir)?.len() >= size as usize)
    }

    fn usage(&self) -> Usage {
        let c = &self.client;
        Usage {
            writes: c.writes.load(Ordering::Relaxed),
            reads: c.reads.load(Ordering::Relaxed),
            bytes_written: c.bytes_written.load(Ordering::Relaxed),
            bytes_read: c.bytes_read.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> S3Config {
        S3Config {
            endpoint: Some("http://127.0.0.1:1".into()),
            bucket: "b".into(),
            region: "us-east-1".into(),
            access_key: "k".into(),
            secret_key: "s".into(),
            max_poll: Duration::from_millis(50),
        }
    }

    #[test]
    fn entry_names() {
        assert_eq!(parse_entry("000003-000000000012"), Some((3, 12)));
        assert_eq!(parse_entry("x/000003-000000000012"), None);
        assert_eq!(parse_entry("000003-"), None);
        assert_eq!(parse_entry("-1"), None);
        assert_eq!(parse_entry("000003-00000000001a"), None);
    }

    #[test]
    fn error_fields() {
        let t = "<Error><Code>NoSuchKey</Code><Message>gone</Message></Error>";
        assert_eq!(xml_field(t, "Code").as_deref(), Some("NoSuchKey"));
        assert_eq!(xml_field(t, "Message").as_deref(), Some("gone"));
        assert_eq!(xml_field(t, "Resource"), None);
    }

    #[test]
    fn bad_settings_are_config_errors() {
        let mut c = cfg();
        c.bucket.clear();
        let e = S3Store::connect(&c, "j", 0).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Config);
        assert!(e.msg.contains("bucket"), "{}", e.msg);
        let mut c = cfg();
        c.endpoint = Some("not a url".into());
        assert_eq!(
            S3Store::connect(&c, "j", 0).unwrap_err().kind,
            ErrorKind::Config
        );
        assert_eq!(
            S3Store::connect(&cfg(), "a/b", 0).unwrap_err().kind,
            ErrorKind::Config
        );
    }

    #[test]
    fn unreachable_endpoint_is_channel_error() {
        let t = Instant::now();
        let e = S3Store::connect(&cfg(), "j", 0).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Channel);
        assert!(e.msg.contains("127.0.0.1:1"), "{}", e.msg);
        assert!(t.elapsed() < Duration::from_secs(5));
    }
}
