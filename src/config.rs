//! Configuration: `FMI_*` environment variables and an optional JSON file in the shape
//! of the original FMI's `fmi.json` (`backends.{Direct,Redis,S3}`, `model.*`). The
//! environment wins over the file, so a launcher can override a deployed file.
//!
//! File errors name `path:line:col` and the reason; unknown keys (the original's
//! `fault_tolerance`, typos) are logged with their line and ignored, so a file
//! written for the C++ FMI loads unchanged.

use crate::channel::store::ChannelKind;
use crate::comm::{HINT_CHEAP, HINT_FAST};
use crate::error::{Error, Result};
use crate::policy::Model;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::time::Duration;

/// Default for `FMI_TIMEOUT_MS`.
pub const DEFAULT_TIMEOUT_MS: u64 = 120_000;
/// Default for `FMI_EAGER_LIMIT`.
pub const DEFAULT_EAGER_LIMIT: usize = 64 * 1024;
/// Default for `FMI_SPIN_US` when the host has a core per rank.
pub const DEFAULT_SPIN_US: u64 = 200;
/// Default for `FMI_PUNCH_TIMEOUT_MS`: hole punching through NATs that allow it
/// succeeds within a few round trips of both sides dialling, so seconds are plenty.
pub const DEFAULT_PUNCH_TIMEOUT_MS: u64 = 3_000;
/// Region of S3 when neither the file nor the environment names one (AWS's default).
pub const DEFAULT_S3_REGION: &str = "us-east-1";

/// A Redis server used as a mediated channel (`FMI_REDIS_URL`, `backends.Redis`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisConfig {
    /// `redis://host:port` (optionally `redis://:password@host:port/db`).
    pub url: String,
}

/// An S3-compatible object store used as a mediated channel (`FMI_S3_*`,
/// `backends.S3`, `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Config {
    /// `http(s)://host:port` of an S3-compatible server; `None` means AWS's
    /// regional endpoint (`https://s3.{region}.amazonaws.com`).
    pub endpoint: Option<String>,
    pub bucket: String,
    pub region: String,
    pub access_key: String,
    pub secret_key: String,
    /// Longest pause between two polls of an object that is not there yet; polls
    /// start at 1 ms and double up to this (`backends.S3.timeout`, in ms).
    pub max_poll: Duration,
}

/// Default for [`S3Config::max_poll`].
pub const DEFAULT_S3_MAX_POLL_MS: u64 = 50;

/// Settings of one communicator world.
#[derive(Debug, Clone)]
pub struct Config {
    /// `host:port` of `fmi-rendezvous` (`FMI_RENDEZVOUS`).
    pub rendezvous: Option<String>,
    /// Job secret (`FMI_TOKEN`); empty means an unauthenticated job.
    pub token: String,
    /// Bound on every blocking call (`FMI_TIMEOUT_MS`; 0 = none).
    pub timeout: Option<Duration>,
    /// Messages up to this many bytes go eagerly (`FMI_EAGER_LIMIT`).
    pub eager_limit: usize,
    /// How long a blocked call spins after the last progress before it sleeps.
    pub spin: Duration,
    /// How long a pair tries direct connections before it relays (`FMI_PUNCH_TIMEOUT_MS`).
    pub punch_timeout: Duration,
    /// Whether a pair that cannot connect directly relays through the rendezvous
    /// server (`FMI_RELAY`, default on; `0` turns it off).
    pub relay: bool,
    /// The channel every operation uses (`FMI_CHANNEL`); `None` lets the policy
    /// choose per operation among the configured ones.
    pub channel: Option<ChannelKind>,
    /// What the policy optimises: `comm::HINT_FAST` or `comm::HINT_CHEAP` (`FMI_HINT`).
    pub hint: i32,
    /// The Redis channel, if configured (`FMI_REDIS_URL`, `backends.Redis`).
    pub redis: Option<RedisConfig>,
    /// The S3 channel, if configured (a bucket: `FMI_S3_BUCKET`, `backends.S3`).
    pub s3: Option<S3Config>,
    /// Parameters of the cost model (`model.*` of the file; `fmi-calibrate` measures them).
    pub model: Model,
    /// Whether direct TCP connections may be used (`backends.Direct.enabled`).
    pub direct: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            rendezvous: None,
            token: String::new(),
            timeout: Some(Duration::from_millis(DEFAULT_TIMEOUT_MS)),
            eager_limit: DEFAULT_EAGER_LIMIT,
            spin: Duration::from_micros(DEFAULT_SPIN_US),
            punch_timeout: Duration::from_millis(DEFAULT_PUNCH_TIMEOUT_MS),
            relay: true,
            channel: None,
            hint: HINT_FAST,
            redis: None,
            s3: None,
            model: Model::default(),
            direct: true,
        }
    }
}

/// Where variables come from: the process environment, or a map in tests.
type Vars<'a> = &'a dyn Fn(&str) -> Option<String>;

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn var_u64(vars: Vars, name: &str) -> Result<Option<u64>> {
    match vars(name) {
        None => Ok(None),
        Some(v) => v
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| Error::config(format!("{name}={v:?} is not a non-negative integer"))),
    }
}

fn timeout_from_ms(ms: u64) -> Option<Duration> {
    (ms > 0).then(|| Duration::from_millis(ms))
}

impl Config {
    /// Reads the optional file, then the environment.
    pub fn load(path: Option<&str>) -> Result<Config> {
        // The file's warnings come before any world exists to set logging up.
        crate::log::init();
        let mut c = Config::default();
        if let Some(p) = path {
            c.apply_file(p)?;
        }
        c.apply_env()?;
        Ok(c)
    }

    /// The channels this configuration can use, in the policy's order.
    pub fn channels(&self) -> Vec<ChannelKind> {
        let mut v = Vec::new();
        if self.direct {
            v.push(ChannelKind::Direct);
        }
        if self.redis.is_some() {
            v.push(ChannelKind::Redis);
        }
        if self.s3.is_some() {
            v.push(ChannelKind::S3);
        }
        v
    }

    fn apply_env(&mut self) -> Result<()> {
        self.apply_vars(&env)
    }

    fn apply_vars(&mut self, vars: Vars) -> Result<()> {
        if let Some(v) = vars("FMI_RENDEZVOUS") {
            self.rendezvous = Some(v);
        }
        if let Some(v) = vars("FMI_TOKEN") {
            self.token = v;
        }
        if let Some(ms) = var_u64(vars, "FMI_TIMEOUT_MS")? {
            self.timeout = timeout_from_ms(ms);
        }
        if let Some(n) = var_u64(vars, "FMI_EAGER_LIMIT")? {
            let max = crate::wire::MAX_EAGER_PAYLOAD;
            if n > max {
                return Err(Error::config(format!(
                    "FMI_EAGER_LIMIT={n} exceeds the protocol's limit of {max} bytes"
                )));
            }
            self.eager_limit = n as usize;
        }
        if let Some(ms) = var_u64(vars, "FMI_PUNCH_TIMEOUT_MS")? {
            self.punch_timeout = Duration::from_millis(ms);
        }
        if let Some(v) = vars("FMI_RELAY") {
            self.relay = match v.trim() {
                "1" | "on" | "yes" | "true" => true,
                "0" | "off" | "no" | "false" => false,
                _ => {
                    return Err(Error::config(format!(
                        "FMI_RELAY={v:?} is not one of 1, 0, on, off"
                    )))
                }
            };
        }
        match var_u64(vars, "FMI_SPIN_US")? {
            Some(us) => self.spin = Duration::from_micros(us),
            None => {
                // More ranks on this host than cores: spinning would only steal the
                // core from the rank we wait for.
                let local = match var_u64(vars, "FMI_LOCAL_SIZE")? {
                    Some(n) => n,
                    None => var_u64(vars, "MPI_LOCALNRANKS")?.unwrap_or(1), // set by Hydra
                };
                let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
                if local > cores {
                    self.spin = Duration::from_micros(10);
                }
            }
        }
        self.apply_channel_vars(vars)
    }

    /// `FMI_CHANNEL`, `FMI_HINT`, `FMI_REDIS_URL`, `FMI_S3_*` and the AWS credentials.
    fn apply_channel_vars(&mut self, vars: Vars) -> Result<()> {
        if let Some(v) = vars("FMI_CHANNEL") {
            self.channel = match v.trim().to_ascii_lowercase().as_str() {
                "auto" => None,
                s => Some(ChannelKind::parse(s).ok_or_else(|| {
                    Error::config(format!(
                        "FMI_CHANNEL={v:?} is not one of direct, redis, s3, auto"
                    ))
                })?),
            };
        }
        if let Some(v) = vars("FMI_HINT") {
            self.hint = match v.trim().to_ascii_lowercase().as_str() {
                "fast" => HINT_FAST,
                "cheap" => HINT_CHEAP,
                _ => {
                    return Err(Error::config(format!(
                        "FMI_HINT={v:?} is not one of fast, cheap"
                    )))
                }
            };
        }
        if let Some(url) = vars("FMI_REDIS_URL") {
            self.redis = Some(RedisConfig { url });
        }
        if let Some(bucket) = vars("FMI_S3_BUCKET") {
            match &mut self.s3 {
                Some(s3) => s3.bucket = bucket,
                None => {
                    self.s3 = Some(S3Config {
                        endpoint: None,
                        bucket,
                        region: String::new(),
                        access_key: String::new(),
                        secret_key: String::new(),
                        max_poll: Duration::from_millis(DEFAULT_S3_MAX_POLL_MS),
                    })
                }
            }
        }
        if let Some(s3) = &mut self.s3 {
            if let Some(e) = vars("FMI_S3_ENDPOINT") {
                s3.endpoint = Some(e);
            }
            // FMI_S3_REGION names this channel's region and beats the file; the
            // generic AWS variables only fill in when the file named none.
            if let Some(r) = vars("FMI_S3_REGION") {
                s3.region = r;
            }
            if s3.region.is_empty() {
                s3.region = vars("AWS_REGION")
                    .or_else(|| vars("AWS_DEFAULT_REGION"))
                    .unwrap_or_else(|| DEFAULT_S3_REGION.to_string());
            }
            if let Some(k) = vars("AWS_ACCESS_KEY_ID") {
                s3.access_key = k;
            }
            if let Some(k) = vars("AWS_SECRET_ACCESS_KEY") {
                s3.secret_key = k;
            }
        }
        if let Some(ch) = self.channel {
            if !self.channels().contains(&ch) {
                let how = match ch {
                    ChannelKind::Direct => "backends.Direct.enabled is false",
                    ChannelKind::Redis => "set FMI_REDIS_URL or enable backends.Redis",
                    ChannelKind::S3 => "set FMI_S3_BUCKET or enable backends.S3",
                };
                return Err(Error::config(format!(
                    "FMI_CHANNEL={} but that channel is not configured ({how})",
                    ch.name()
                )));
            }
        }
        Ok(())
    }

    /// Applies the original FMI JSON shape. Errors name the file, line and reason;
    /// returns the warnings it logged.
    fn apply_file(&mut self, path: &str) -> Result<Vec<String>> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::config(format!("cannot read config file {path}: {e}")))?;
        let v = parse_json(path, &text)?;
        let f = FileCtx {
            path,
            keys: key_positions(&text),
            warnings: Default::default(),
        };
        let top = f.object(&v, "")?;
        for (k, v) in top {
            match k.as_str() {
                "backends" => self.apply_backends(&f, v)?,
                "model" => self.model = f.model(v, self.model.clone())?,
                _ => f.unknown(k),
            }
        }
        Ok(f.warnings.take())
    }

    fn apply_backends(&mut self, f: &FileCtx, v: &Value) -> Result<()> {
        for (name, b) in f.object(v, "backends")? {
            let at = format!("backends.{name}");
            match ChannelKind::parse(name) {
                Some(ChannelKind::Direct) => self.apply_direct(f, &at, b)?,
                Some(ChannelKind::Redis) => self.apply_redis(f, &at, b)?,
                Some(ChannelKind::S3) => self.apply_s3(f, &at, b)?,
                None => f.unknown(&at),
            }
        }
        Ok(())
    }

    fn apply_direct(&mut self, f: &FileCtx, at: &str, v: &Value) -> Result<()> {
        let (mut host, mut port) = (None, None);
        for (k, x) in f.object(v, at)? {
            let key = format!("{at}.{k}");
            match k.as_str() {
                "enabled" => self.direct = f.boolean(x, &key)?,
                "host" => host = Some(f.string(x, &key)?),
                "port" => port = Some(f.port(x, &key)?),
                "max_timeout" => self.timeout = timeout_from_ms(f.uint(x, &key)?),
                _ => f.unknown(&key),
            }
        }
        match (host, port) {
            (Some(h), Some(p)) => self.rendezvous = Some(format!("{h}:{p}")),
            (None, None) => {}
            _ => {
                return Err(f.err(
                    at,
                    "needs both a string \"host\" and a \"port\" between 0 and 65535",
                ))
            }
        }
        Ok(())
    }

    fn apply_redis(&mut self, f: &FileCtx, at: &str, v: &Value) -> Result<()> {
        let (mut enabled, mut host, mut port) = (false, "127.0.0.1".to_string(), 6379);
        for (k, x) in f.object(v, at)? {
            let key = format!("{at}.{k}");
            match k.as_str() {
                "enabled" => enabled = f.boolean(x, &key)?,
                "host" => host = f.string(x, &key)?,
                "port" => port = f.port(x, &key)?,
                // the original's poll interval and budget: our Redis waits by being
                // told, and the budget is FMI_TIMEOUT_MS
                "timeout" | "max_timeout" => {
                    f.uint(x, &key)?;
                }
                _ => f.unknown(&key),
            }
        }
        if enabled {
            self.redis = Some(RedisConfig {
                url: format!("redis://{host}:{port}"),
            });
        }
        Ok(())
    }

    fn apply_s3(&mut self, f: &FileCtx, at: &str, v: &Value) -> Result<()> {
        let mut enabled = false;
        let (mut bucket, mut region) = (None, String::new());
        let mut max_poll = Duration::from_millis(DEFAULT_S3_MAX_POLL_MS);
        for (k, x) in f.object(v, at)? {
            let key = format!("{at}.{k}");
            match k.as_str() {
                "enabled" => enabled = f.boolean(x, &key)?,
                "bucket_name" => bucket = Some(f.string(x, &key)?),
                "s3_region" => region = f.string(x, &key)?,
                "timeout" => {
                    let ms = f.uint(x, &key)?;
                    if ms == 0 {
                        return Err(f.err(&key, "must be at least 1 (milliseconds)"));
                    }
                    max_poll = Duration::from_millis(ms);
                }
                // the budget is FMI_TIMEOUT_MS
                "max_timeout" => {
                    f.uint(x, &key)?;
                }
                _ => f.unknown(&key),
            }
        }
        if enabled {
            let bucket = bucket
                .filter(|b| !b.is_empty())
                .ok_or_else(|| f.err(at, "is enabled but names no \"bucket_name\""))?;
            self.s3 = Some(S3Config {
                endpoint: None,
                bucket,
                region,
                access_key: String::new(),
                secret_key: String::new(),
                max_poll,
            });
        }
        Ok(())
    }
}

fn parse_json(path: &str, text: &str) -> Result<Value> {
    serde_json::from_str(text).map_err(|e| {
        Error::config(format!(
            "{path}:{}:{}: invalid JSON: {e}",
            e.line(),
            e.column()
        ))
    })
}

/// A config file being read: its name and where each key is, for messages.
struct FileCtx<'a> {
    path: &'a str,
    keys: HashMap<String, (usize, usize)>,
    /// The warnings logged so far (tests read them).
    warnings: std::cell::RefCell<Vec<String>>,
}

impl FileCtx<'_> {
    /// `path:line:col` of `key` (dotted), or just the path for the whole file.
    fn at(&self, key: &str) -> String {
        match self.keys.get(key) {
            Some((l, c)) => format!("{}:{l}:{c}", self.path),
            None => format!("{}:1:1", self.path),
        }
    }

    fn err(&self, key: &str, reason: &str) -> Error {
        let what = if key.is_empty() { "the file" } else { key };
        Error::config(format!("{}: {what} {reason}", self.at(key)))
    }

    fn unknown(&self, key: &str) {
        let line = self.keys.get(key).map_or(1, |p| p.0);
        let w = format!("{}:{line}: unknown key {key}, ignored", self.path);
        log::warn!("{w}");
        self.warnings.borrow_mut().push(w);
    }

    fn object<'v>(&self, v: &'v Value, key: &str) -> Result<&'v Map<String, Value>> {
        v.as_object()
            .ok_or_else(|| self.err(key, &format!("must be an object, not {}", kind(v))))
    }

    fn string(&self, v: &Value, key: &str) -> Result<String> {
        v.as_str()
            .map(str::to_string)
            .ok_or_else(|| self.err(key, &format!("must be a string, not {}", kind(v))))
    }

    /// A bool; the original's `"true"`/`"false"` strings too (it read every value
    /// as text).
    fn boolean(&self, v: &Value, key: &str) -> Result<bool> {
        match v {
            Value::Bool(b) => Ok(*b),
            Value::String(s) if s == "true" => Ok(true),
            Value::String(s) if s == "false" => Ok(false),
            _ => Err(self.err(key, &format!("must be true or false, not {}", kind(v)))),
        }
    }

    /// A non-negative integer; a string of digits too (as the original accepted).
    fn uint(&self, v: &Value, key: &str) -> Result<u64> {
        let n = match v {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        };
        n.ok_or_else(|| {
            self.err(
                key,
                &format!("must be a non-negative integer, not {}", kind(v)),
            )
        })
    }

    fn port(&self, v: &Value, key: &str) -> Result<u16> {
        let n = self.uint(v, key)?;
        u16::try_from(n).map_err(|_| self.err(key, &format!("{n} is not a port (0 to 65535)")))
    }

    /// A finite number (a numeric string too), at least `min` (or above it, when
    /// `strict`).
    fn number(&self, v: &Value, key: &str, min: f64, strict: bool) -> Result<f64> {
        let x = match v {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        }
        .filter(|x| x.is_finite())
        .ok_or_else(|| self.err(key, &format!("must be a number, not {}", kind(v))))?;
        if x < min || (strict && x == min) {
            let bound = if strict { "above" } else { "at least" };
            return Err(self.err(key, &format!("must be {bound} {min}, not {x}")));
        }
        Ok(x)
    }

    /// `model.*` over `m`: keys not given keep their value.
    fn model(&self, v: &Value, mut m: Model) -> Result<Model> {
        for (section, s) in self.object(v, "model")? {
            let at = format!("model.{section}");
            if !matches!(section.as_str(), "FaaS" | "S3" | "Redis" | "Direct") {
                self.unknown(&at);
                continue;
            }
            let fields = self.object(s, &at)?;
            for (k, x) in fields {
                let key = format!("{at}.{k}");
                // positive: bandwidths, sizes, rates; non-negative: times and prices
                let pos = |f: &Self| f.number(x, &key, 0.0, true);
                let nonneg = |f: &Self| f.number(x, &key, 0.0, false);
                match (section.as_str(), k.as_str()) {
                    ("FaaS", "gib_second_price") => m.faas.gib_second_price = nonneg(self)?,
                    ("FaaS", "memory_gib") => m.faas.memory_gib = pos(self)?,
                    ("S3", "bandwidth") => m.s3.bandwidth = pos(self)?,
                    ("S3", "overhead") => m.s3.overhead = nonneg(self)?,
                    ("S3", "transfer_price") => m.s3.transfer_price = nonneg(self)?,
                    ("S3", "download_price") => m.s3.download_price = nonneg(self)?,
                    ("S3", "upload_price") => m.s3.upload_price = nonneg(self)?,
                    ("Redis", "bandwidth_single") => m.redis.bandwidth_single = pos(self)?,
                    ("Redis", "bandwidth_multiple") => m.redis.bandwidth_multiple = pos(self)?,
                    ("Redis", "overhead") => m.redis.overhead = nonneg(self)?,
                    ("Redis", "transfer_price") => m.redis.transfer_price = nonneg(self)?,
                    ("Redis", "instance_price") => m.redis.instance_price = nonneg(self)?,
                    ("Redis", "requests_per_hour") => m.redis.requests_per_hour = pos(self)?,
                    ("Redis", "include_infrastructure_costs") => {
                        m.redis.include_infrastructure_costs = self.boolean(x, &key)?
                    }
                    ("Direct", "bandwidth") => m.direct.bandwidth = pos(self)?,
                    ("Direct", "overhead") => m.direct.overhead = nonneg(self)?,
                    ("Direct", "transfer_price") => m.direct.transfer_price = nonneg(self)?,
                    ("Direct", "vm_price") => m.direct.vm_price = nonneg(self)?,
                    ("Direct", "requests_per_hour") => m.direct.requests_per_hour = pos(self)?,
                    ("Direct", "include_infrastructure_costs") => {
                        m.direct.include_infrastructure_costs = self.boolean(x, &key)?
                    }
                    _ => self.unknown(&key),
                }
            }
        }
        Ok(m)
    }
}

/// What a JSON value is, for messages.
fn kind(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("{s:?}"),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

/// Line and column (1-based) of every key of a JSON text that parsed, by dotted path
/// (`model.Redis.overhead`; array elements as `list[2]`). The first of duplicate
/// keys wins.
fn key_positions(text: &str) -> HashMap<String, (usize, usize)> {
    struct Frame {
        path: String,
        object: bool,
        expect_key: bool,
        key: String,
        index: usize,
    }
    let child = |f: &Frame| {
        if !f.object {
            format!("{}[{}]", f.path, f.index)
        } else if f.path.is_empty() {
            f.key.clone()
        } else {
            format!("{}.{}", f.path, f.key)
        }
    };
    let mut out = HashMap::new();
    let mut stack: Vec<Frame> = Vec::new();
    let (mut line, mut col) = (1, 0);
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        col += 1;
        match c {
            '\n' => (line, col) = (line + 1, 0),
            '{' | '[' => {
                let path = stack.last().map_or_else(String::new, child);
                stack.push(Frame {
                    path,
                    object: c == '{',
                    expect_key: c == '{',
                    key: String::new(),
                    index: 0,
                });
            }
            '}' | ']' => {
                stack.pop();
            }
            ',' => {
                if let Some(f) = stack.last_mut() {
                    if f.object {
                        f.expect_key = true;
                    } else {
                        f.index += 1;
                    }
                }
            }
            ':' => {
                if let Some(f) = stack.last_mut() {
                    f.expect_key = false;
                }
            }
            '"' => {
                let at = (line, col);
                let mut s = String::new();
                while let Some(d) = chars.next() {
                    col += 1;
                    match d {
                        '"' => break,
                        '\\' => {
                            if let Some(e) = chars.next() {
                                col += 1;
                                s.push(e);
                            }
                        }
                        _ => s.push(d),
                    }
                }
                if let Some(f) = stack.last_mut() {
                    if f.object && f.expect_key {
                        f.key = s;
                        out.entry(child(f)).or_insert(at);
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// The `model` section of the original shape, in its key order.
fn model_value(m: &Model) -> Value {
    json!({
        "FaaS": {
            "gib_second_price": m.faas.gib_second_price,
            "memory_gib": m.faas.memory_gib,
        },
        "S3": {
            "bandwidth": m.s3.bandwidth,
            "overhead": m.s3.overhead,
            "transfer_price": m.s3.transfer_price,
            "download_price": m.s3.download_price,
            "upload_price": m.s3.upload_price,
        },
        "Redis": {
            "bandwidth_single": m.redis.bandwidth_single,
            "bandwidth_multiple": m.redis.bandwidth_multiple,
            "overhead": m.redis.overhead,
            "transfer_price": m.redis.transfer_price,
            "instance_price": m.redis.instance_price,
            "requests_per_hour": m.redis.requests_per_hour,
            "include_infrastructure_costs": m.redis.include_infrastructure_costs,
        },
        "Direct": {
            "bandwidth": m.direct.bandwidth,
            "overhead": m.direct.overhead,
            "transfer_price": m.direct.transfer_price,
            "vm_price": m.direct.vm_price,
            "requests_per_hour": m.direct.requests_per_hour,
            "include_infrastructure_costs": m.direct.include_infrastructure_costs,
        }
    })
}

/// A new file in the original shape: Redis and S3 disabled, Direct enabled without
/// host and port (those would pin the rendezvous server), the default model.
fn new_file_value() -> Value {
    json!({
        "backends": {
            "S3": {
                "enabled": false,
                "bucket_name": "",
                "s3_region": DEFAULT_S3_REGION,
                "timeout": DEFAULT_S3_MAX_POLL_MS,
                "max_timeout": DEFAULT_TIMEOUT_MS
            },
            "Redis": {
                "enabled": false,
                "host": "127.0.0.1",
                "port": 6379,
                "timeout": 1,
                "max_timeout": DEFAULT_TIMEOUT_MS
            },
            "Direct": {
                "enabled": true
            }
        },
        "model": model_value(&Model::default())
    })
}

/// Four significant digits: what a measurement on a shared machine is worth.
fn significant(x: f64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let scale = 10f64.powi(3 - x.abs().log10().floor() as i32);
    (x * scale).round() / scale
}

/// Writes measured `(channel, overhead ms, bandwidth MB/s)` into `model.{Direct,
/// Redis,S3}.{overhead,bandwidth}` of the file at `path` (Redis: `bandwidth_single`),
/// keeping every other key and the order of all of them. A missing file is created
/// in the original shape with the default model. The file is replaced atomically.
pub fn write_model(path: &str, updates: &[(ChannelKind, f64, f64)]) -> Result<()> {
    let mut root = match std::fs::read_to_string(path) {
        Ok(text) => parse_json(path, &text)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => new_file_value(),
        Err(e) => return Err(Error::config(format!("cannot read {path}: {e}"))),
    };
    let top = root
        .as_object_mut()
        .ok_or_else(|| Error::config(format!("{path}: the file is not a JSON object")))?;
    let model = top
        .entry("model")
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
        .ok_or_else(|| Error::config(format!("{path}: model is not an object")))?;
    for &(ch, overhead, bandwidth) in updates {
        if !(overhead.is_finite() && overhead >= 0.0 && bandwidth.is_finite() && bandwidth > 0.0) {
            return Err(Error::arg(format!(
                "{} overhead {overhead} ms, bandwidth {bandwidth} MB/s: not a measurement",
                ch.name()
            )));
        }
        let (section, bw_key) = match ch {
            ChannelKind::Direct => ("Direct", "bandwidth"),
            ChannelKind::Redis => ("Redis", "bandwidth_single"),
            ChannelKind::S3 => ("S3", "bandwidth"),
        };
        let s = model
            .entry(section)
            .or_insert_with(|| Value::Object(Map::new()))
            .as_object_mut()
            .ok_or_else(|| Error::config(format!("{path}: model.{section} is not an object")))?;
        s.insert("overhead".into(), json!(significant(overhead)));
        s.insert(bw_key.into(), json!(significant(bandwidth)));
    }
    let mut text = serde_json::to_string_pretty(&root)
        .map_err(|e| Error::internal(format!("cannot format {path}: {e}")))?;
    text.push('\n');
    let tmp = format!("{path}.tmp{}", std::process::id());
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            Error::config(format!("cannot write {path}: {e}"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> tempfile_path::Path {
        tempfile_path::Path::new(text)
    }

    mod tempfile_path {
        pub struct Path(pub std::path::PathBuf);
        impl Path {
            pub fn new(text: &str) -> Path {
                let p = std::env::temp_dir().join(format!(
                    "fmi-config-test-{}-{}.json",
                    std::process::id(),
                    crate::auth::new_token()
                ));
                std::fs::write(&p, text).unwrap();
                Path(p)
            }
            pub fn s(&self) -> &str {
                self.0.to_str().unwrap()
            }
        }
        impl Drop for Path {
            fn drop(&mut self) {
                let _ = std::fs::remove_file(&self.0);
            }
        }
    }

    #[test]
    fn reads_original_shape() {
        let f = write(
            r#"{"backends": {"Direct": {"host": "10.0.0.1", "port": 10000, "max_timeout": 500, "enabled": true}}}"#,
        );
        let mut c = Config::default();
        c.apply_file(f.s()).unwrap();
        assert_eq!(c.rendezvous.as_deref(), Some("10.0.0.1:10000"));
        assert_eq!(c.timeout, Some(Duration::from_millis(500)));
    }

    #[test]
    fn malformed_file_names_line() {
        let f = write(
            "{\n  \"backends\": {\n    \"Direct\": { \"host\": \"x\" \"port\": 1 }\n  }\n}\n",
        );
        let e = Config::default().apply_file(f.s()).unwrap_err();
        assert_eq!(e.kind, crate::ErrorKind::Config);
        assert!(e.msg.contains(":3:"), "{}", e.msg);
        let f = write(r#"{"backends": {"Direct": {"host": "x", "port": 70000}}}"#);
        assert!(Config::default().apply_file(f.s()).is_err());
        assert!(Config::default()
            .apply_file("/nonexistent/fmi.json")
            .is_err());
    }

    /// The original FMI's shipped `config/fmi.json` (McLavish/fmi), unchanged.
    const ORIGINAL: &str = r#"{
  "backends": {
    "S3": {
      "enabled": false,
      "bucket_name": "romanboe-uploadtest",
      "s3_region": "eu-central-1",
      "timeout": 100,
      "max_timeout": 1000
    },
    "Redis": {
      "enabled": false,
      "host": "127.0.0.1",
      "port": 6379,
      "timeout": 1,
      "max_timeout": 1000
    },
    "Direct": {
      "enabled": true,
      "host": "127.0.0.1",
      "port": 10000,
      "max_timeout": 1000
    }
  },
  "model": {
    "FaaS": {
      "gib_second_price": 0.0000166667
    },
    "S3": {
      "bandwidth": 50.0,
      "overhead": 40.4,
      "transfer_price": 0.0,
      "download_price": 0.00000043,
      "upload_price": 0.0000054
    },
    "Redis": {
      "bandwidth_single": 100.0,
      "bandwidth_multiple": 400.0,
      "overhead": 5.2,
      "transfer_price": 0.0,
      "instance_price": 0.0038,
      "requests_per_hour": 1000,
      "include_infrastructure_costs": true
    },
    "Direct": {
      "bandwidth": 400.0,
      "overhead": 0.34,
      "transfer_price": 0.0,
      "vm_price": 0.0134,
      "requests_per_hour": 1000,
      "include_infrastructure_costs": true
    }
  },
  "fault_tolerance": {
    "enabled": false,
    "control_backend": "Redis",
    "control_host": "127.0.0.1",
    "control_port": 6379,
    "poll_interval_ms": 250,
    "preferred_data_backend": "Direct"
  }
}
"#;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn original_file_loads_unchanged() {
        let f = write(ORIGINAL);
        let mut c = Config::default();
        let warnings = c.apply_file(f.s()).unwrap();
        assert_eq!(c.model, Model::default());
        assert_eq!(c.rendezvous.as_deref(), Some("127.0.0.1:10000"));
        assert_eq!(c.timeout, Some(Duration::from_millis(1000)));
        assert!(c.direct && c.redis.is_none() && c.s3.is_none());
        assert_eq!(
            warnings,
            vec![format!(
                "{}:53: unknown key fault_tolerance, ignored",
                f.s()
            )]
        );
    }

    #[test]
    fn file_enables_redis_and_s3() {
        let text = ORIGINAL
            .replacen("\"enabled\": false", "\"enabled\": true", 2)
            .replace("\"port\": 6379", "\"port\": 6380");
        let f = write(&text);
        let mut c = Config::default();
        c.apply_file(f.s()).unwrap();
        assert_eq!(c.redis.clone().unwrap().url, "redis://127.0.0.1:6380");
        let s3 = c.s3.clone().unwrap();
        assert_eq!(s3.bucket, "romanboe-uploadtest");
        assert_eq!(s3.region, "eu-central-1");
        assert_eq!(s3.max_poll, Duration::from_millis(100));
        // the environment adds credentials, keeps the file's region
        c.apply_vars(&vars(&[
            ("AWS_ACCESS_KEY_ID", "AK"),
            ("AWS_SECRET_ACCESS_KEY", "SK"),
            ("AWS_REGION", "us-west-2"),
        ]))
        .unwrap();
        let s3 = c.s3.clone().unwrap();
        assert_eq!(
            (s3.access_key.as_str(), s3.secret_key.as_str()),
            ("AK", "SK")
        );
        assert_eq!(s3.region, "eu-central-1");
        // ... unless FMI_S3_REGION says otherwise
        c.apply_vars(&vars(&[("FMI_S3_REGION", "ap-south-1")]))
            .unwrap();
        assert_eq!(c.s3.unwrap().region, "ap-south-1");
        // enabled without a bucket is an error at that section
        let f = write(r#"{"backends": {"S3": {"enabled": true}}}"#);
        let e = Config::default().apply_file(f.s()).unwrap_err();
        assert!(e.msg.contains(":1:15: backends.S3"), "{}", e.msg);
    }

    #[test]
    fn model_section_partial_and_extension() {
        let f = write(
            r#"{"model": {"Direct": {"overhead": 0.05, "bandwidth": 1200},
                        "FaaS": {"memory_gib": 1.5}}}"#,
        );
        let mut c = Config::default();
        c.apply_file(f.s()).unwrap();
        let mut want = Model::default();
        want.direct.overhead = 0.05;
        want.direct.bandwidth = 1200.0;
        want.faas.memory_gib = 1.5;
        assert_eq!(c.model, want);
    }

    #[test]
    fn unknown_keys_warn_with_line() {
        let f = write("{\n  \"model\": {\n    \"Redis\": {\n      \"foo\": 1\n    },\n    \"GCP\": {}\n  },\n  \"backends\": {\"Direct\": {\"recover\": true}}\n}\n");
        let w = Config::default().apply_file(f.s()).unwrap();
        let p = f.s();
        assert_eq!(
            w,
            vec![
                format!("{p}:4: unknown key model.Redis.foo, ignored"),
                format!("{p}:6: unknown key model.GCP, ignored"),
                format!("{p}:8: unknown key backends.Direct.recover, ignored"),
            ]
        );
    }

    #[test]
    fn wrong_types_and_values_name_line_and_column() {
        let cases = [
            (
                "{\n  \"backends\": {\n    \"Redis\": {\"port\": \"x\"}\n  }\n}",
                ":3:15: backends.Redis.port must be a non-negative integer, not \"x\"",
            ),
            (
                "{\"model\": {\n  \"S3\": {\n    \"bandwidth\": -5}}}",
                ":3:5: model.S3.bandwidth must be above 0, not -5",
            ),
            (
                "{\"model\": {\"Redis\": {\"include_infrastructure_costs\": 1}}}",
                ":1:22: model.Redis.include_infrastructure_costs must be true or false, not 1",
            ),
            (
                "{\"model\": {\"Direct\": {\"overhead\": null}}}",
                ":1:23: model.Direct.overhead must be a number, not null",
            ),
            (
                "{\"model\": [1]}",
                ":1:2: model must be an object, not an array",
            ),
            ("[1, 2]", ":1:1: the file must be an object, not an array"),
            (
                "{\"backends\": {\"Direct\": {\"host\": \"h\", \"port\": 65536}}}",
                ":1:39: backends.Direct.port 65536 is not a port",
            ),
        ];
        for (text, want) in cases {
            let f = write(text);
            let e = Config::default().apply_file(f.s()).unwrap_err();
            assert_eq!(e.kind, crate::ErrorKind::Config);
            assert!(e.msg.starts_with(f.s()), "{}", e.msg);
            assert!(e.msg.contains(want), "{} does not contain {want}", e.msg);
        }
    }

    #[test]
    fn channel_and_hint_from_environment() {
        let mut c = Config::default();
        c.apply_vars(&vars(&[("FMI_CHANNEL", "Direct"), ("FMI_HINT", "cheap")]))
            .unwrap();
        assert_eq!((c.channel, c.hint), (Some(ChannelKind::Direct), HINT_CHEAP));
        c.apply_vars(&vars(&[("FMI_CHANNEL", "auto"), ("FMI_HINT", "fast")]))
            .unwrap();
        assert_eq!((c.channel, c.hint), (None, HINT_FAST));
        for (k, v) in [("FMI_CHANNEL", "carrier-pigeon"), ("FMI_HINT", "2")] {
            let e = Config::default().apply_vars(&vars(&[(k, v)])).unwrap_err();
            assert_eq!(e.kind, crate::ErrorKind::Config);
            assert!(e.msg.contains(&format!("{k}={v:?}")), "{}", e.msg);
        }
        // a forced channel must be configured
        let e = Config::default()
            .apply_vars(&vars(&[("FMI_CHANNEL", "redis")]))
            .unwrap_err();
        assert!(e.msg.contains("FMI_REDIS_URL"), "{}", e.msg);
        let mut c = Config::default();
        c.apply_vars(&vars(&[
            ("FMI_CHANNEL", "redis"),
            ("FMI_REDIS_URL", "redis://10.0.0.2:6379"),
        ]))
        .unwrap();
        assert_eq!(c.channel, Some(ChannelKind::Redis));
        assert_eq!(c.redis.unwrap().url, "redis://10.0.0.2:6379");
        assert_eq!(
            Config::default().channels(),
            vec![ChannelKind::Direct],
            "direct only by default"
        );
    }

    #[test]
    fn s3_from_environment() {
        let mut c = Config::default();
        c.apply_vars(&vars(&[("FMI_S3_ENDPOINT", "http://x:9000")]))
            .unwrap();
        assert!(c.s3.is_none(), "no bucket, no S3");
        let region = |pairs: &[(&str, &str)]| {
            let mut all = vec![("FMI_S3_BUCKET", "b")];
            all.extend_from_slice(pairs);
            let mut c = Config::default();
            c.apply_vars(&vars(&all)).unwrap();
            c.s3.unwrap().region
        };
        assert_eq!(region(&[]), "us-east-1");
        assert_eq!(region(&[("AWS_DEFAULT_REGION", "eu-west-1")]), "eu-west-1");
        assert_eq!(
            region(&[
                ("AWS_DEFAULT_REGION", "eu-west-1"),
                ("AWS_REGION", "eu-west-3")
            ]),
            "eu-west-3"
        );
        assert_eq!(
            region(&[("AWS_REGION", "eu-west-3"), ("FMI_S3_REGION", "local")]),
            "local"
        );
        let mut c = Config::default();
        c.apply_vars(&vars(&[
            ("FMI_S3_BUCKET", "fmi"),
            ("FMI_S3_ENDPOINT", "http://127.0.0.1:9000"),
            ("AWS_ACCESS_KEY_ID", "minio"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
        ]))
        .unwrap();
        let s3 = c.s3.unwrap();
        assert_eq!(s3.bucket, "fmi");
        assert_eq!(s3.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(
            (s3.access_key.as_str(), s3.secret_key.as_str()),
            ("minio", "secret")
        );
        assert_eq!(s3.max_poll, Duration::from_millis(DEFAULT_S3_MAX_POLL_MS));
    }

    #[test]
    fn environment_wins_over_file() {
        let text = ORIGINAL.replacen("\"enabled\": false", "\"enabled\": true", 2);
        let f = write(&text);
        let mut c = Config::default();
        c.apply_file(f.s()).unwrap();
        c.apply_vars(&vars(&[
            ("FMI_REDIS_URL", "redis://r:1"),
            ("FMI_S3_BUCKET", "other"),
            ("FMI_RENDEZVOUS", "10.1.1.1:9"),
        ]))
        .unwrap();
        assert_eq!(c.redis.unwrap().url, "redis://r:1");
        assert_eq!(c.s3.unwrap().bucket, "other");
        assert_eq!(c.rendezvous.as_deref(), Some("10.1.1.1:9"));
    }

    #[test]
    fn write_model_keeps_other_keys_and_order() {
        let f = write(ORIGINAL);
        write_model(
            f.s(),
            &[
                (ChannelKind::Direct, 0.0123456, 2345.678),
                (ChannelKind::Redis, 0.25, 900.0),
            ],
        )
        .unwrap();
        let text = std::fs::read_to_string(f.s()).unwrap();
        let expected = ORIGINAL
            .replace("\"overhead\": 0.34", "\"overhead\": 0.01235")
            .replace("\"bandwidth\": 400.0", "\"bandwidth\": 2346.0")
            .replace("\"overhead\": 5.2", "\"overhead\": 0.25")
            .replace("\"bandwidth_single\": 100.0", "\"bandwidth_single\": 900.0");
        assert_eq!(text, expected);
        let mut c = Config::default();
        c.apply_file(f.s()).unwrap();
        assert_eq!(c.model.link(ChannelKind::Direct), (0.01235, 2346.0));
        assert_eq!(c.model.redis.bandwidth_multiple, 400.0);
        // nonsense is refused and the file left alone
        assert!(write_model(f.s(), &[(ChannelKind::S3, f64::NAN, 1.0)]).is_err());
        assert_eq!(std::fs::read_to_string(f.s()).unwrap(), expected);
    }

    #[test]
    fn write_model_creates_the_original_shape() {
        let f = write("");
        std::fs::remove_file(&f.0).unwrap();
        write_model(f.s(), &[(ChannelKind::S3, 12.5, 80.0)]).unwrap();
        let mut c = Config::default();
        let warnings = c.apply_file(f.s()).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(c.model.link(ChannelKind::S3), (12.5, 80.0));
        assert_eq!(c.model.direct, Model::default().direct);
        assert!(c.direct && c.redis.is_none() && c.s3.is_none());
        assert_eq!(c.rendezvous, None);
        let v: Value = serde_json::from_str(&std::fs::read_to_string(f.s()).unwrap()).unwrap();
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["backends", "model"]);
    }

    #[test]
    fn key_positions_track_nesting() {
        let k = key_positions("{\"a\": {\"b\": [1, {\"c\": \"x\\\"y\"}], \"d\": 2},\n \"e\": 3}");
        assert_eq!(k["a"], (1, 2));
        assert_eq!(k["a.b"], (1, 8));
        assert_eq!(k["a.b[1].c"], (1, 18));
        assert_eq!(k["a.d"], (1, 33));
        assert_eq!(k["e"], (2, 2));
    }
}
