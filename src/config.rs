//! Configuration: `FMI_*` environment variables and an optional JSON file in the shape
//! of the original FMI's `fmi.json` (`backends.Direct.host/port/max_timeout`). The
//! environment wins over the file, so a launcher can override a deployed file.

use crate::error::{Error, Result};
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
    /// The channel every operation must use (`FMI_CHANNEL`); `None` lets the
    /// policy choose per operation.
    pub channel: Option<crate::channel::store::ChannelKind>,
    /// Default hint of new communicators (`FMI_HINT`): fast or cheap.
    pub hint: i32,
    /// The Redis channel, when configured.
    pub redis: Option<RedisConfig>,
    /// The S3 channel, when configured.
    pub s3: Option<S3Config>,
    /// Whether direct connections may be used (`backends.Direct.enabled`).
    pub direct: bool,
    /// The performance and cost model.
    pub model: crate::policy::Model,
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
            hint: 0,
            redis: None,
            s3: None,
            direct: true,
            model: Default::default(),
        }
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn env_u64(name: &str) -> Result<Option<u64>> {
    match env(name) {
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
        let mut c = Config::default();
        if let Some(p) = path {
            c.apply_file(p)?;
        }
        c.apply_env()?;
        Ok(c)
    }

    fn apply_env(&mut self) -> Result<()> {
        if let Some(v) = env("FMI_RENDEZVOUS") {
            self.rendezvous = Some(v);
        }
        if let Some(v) = env("FMI_REDIS_URL") {
            self.redis = Some(RedisConfig { url: v });
        }
        if let Some(v) = env("FMI_CHANNEL") {
            self.channel = match v.trim() {
                "auto" => None,
                s => Some(crate::channel::store::ChannelKind::parse(s).ok_or_else(|| {
                    Error::config(format!(
                        "FMI_CHANNEL={v:?} is not one of direct, redis, s3, auto"
                    ))
                })?),
            };
        }
        if let Some(v) = env("FMI_TOKEN") {
            self.token = v;
        }
        if let Some(ms) = env_u64("FMI_TIMEOUT_MS")? {
            self.timeout = timeout_from_ms(ms);
        }
        if let Some(n) = env_u64("FMI_EAGER_LIMIT")? {
            let max = crate::wire::MAX_EAGER_PAYLOAD;
            if n > max {
                return Err(Error::config(format!(
                    "FMI_EAGER_LIMIT={n} exceeds the protocol's limit of {max} bytes"
                )));
            }
            self.eager_limit = n as usize;
        }
        if let Some(ms) = env_u64("FMI_PUNCH_TIMEOUT_MS")? {
            self.punch_timeout = Duration::from_millis(ms);
        }
        if let Some(v) = env("FMI_RELAY") {
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
        match env_u64("FMI_SPIN_US")? {
            Some(us) => self.spin = Duration::from_micros(us),
            None => {
                // More ranks on this host than cores: spinning would only steal the
                // core from the rank we wait for.
                let local = match env_u64("FMI_LOCAL_SIZE")? {
                    Some(n) => n,
                    None => env_u64("MPI_LOCALNRANKS")?.unwrap_or(1), // set by Hydra
                };
                let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
                if local > cores {
                    self.spin = Duration::from_micros(10);
                }
            }
        }
        Ok(())
    }

    /// Applies the original FMI JSON shape. Errors name the file, line and reason.
    fn apply_file(&mut self, path: &str) -> Result<()> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::config(format!("cannot read config file {path}: {e}")))?;
        let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
            Error::config(format!(
                "{path}:{}:{}: invalid JSON: {e}",
                e.line(),
                e.column()
            ))
        })?;
        let direct = v
            .get("backends")
            .and_then(|b| b.get("Direct").or_else(|| b.get("direct")));
        if let Some(d) = direct {
            let host = d.get("host").and_then(|h| h.as_str());
            let port = d.get("port").and_then(|p| p.as_u64());
            match (host, port) {
                (Some(h), Some(p)) if p <= u16::MAX as u64 => {
                    self.rendezvous = Some(format!("{h}:{p}"))
                }
                (None, None) => {}
                _ => {
                    return Err(Error::config(format!(
                        "{path}: backends.Direct needs a string \"host\" and a \"port\" between 0 and 65535"
                    )))
                }
            }
            if let Some(t) = d.get("max_timeout") {
                let ms = t.as_u64().ok_or_else(|| {
                    Error::config(format!(
                        "{path}: backends.Direct.max_timeout must be a non-negative integer (milliseconds)"
                    ))
                })?;
                self.timeout = timeout_from_ms(ms);
            }
        }
        Ok(())
    }
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
}
