//! Logging to stderr, filtered by `FMI_LOG` (`off`, `error`, `warn`, `info`, `debug`,
//! `trace`; default `warn`). Every line names the process so interleaved output of
//! many ranks stays readable.

use log::{Level, LevelFilter, Log, Metadata, Record};
use std::io::Write;
use std::sync::Once;

struct StderrLogger;

impl Log for StderrLogger {
    fn enabled(&self, m: &Metadata) -> bool {
        m.level() <= log::max_level()
    }
    fn log(&self, r: &Record) {
        if !self.enabled(r.metadata()) || !r.target().starts_with("fmi") {
            return;
        }
        let lvl = match r.level() {
            Level::Error => "ERROR",
            Level::Warn => "WARN",
            Level::Info => "INFO",
            Level::Debug => "DEBUG",
            Level::Trace => "TRACE",
        };
        let rank = std::env::var("FMI_RANK").unwrap_or_default();
        // One write per line so lines of different threads do not interleave.
        let line = format!(
            "fmi[{}{}] {lvl} {}\n",
            std::process::id(),
            rank_suffix(&rank),
            r.args()
        );
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }
    fn flush(&self) {}
}

fn rank_suffix(rank: &str) -> String {
    if rank.is_empty() {
        String::new()
    } else {
        format!(" rank {rank}")
    }
}

/// Parses a `FMI_LOG` value.
pub fn parse_level(s: &str) -> Option<LevelFilter> {
    Some(match s.trim().to_ascii_lowercase().as_str() {
        "off" | "none" => LevelFilter::Off,
        "error" => LevelFilter::Error,
        "warn" | "warning" => LevelFilter::Warn,
        "info" => LevelFilter::Info,
        "debug" => LevelFilter::Debug,
        "trace" => LevelFilter::Trace,
        _ => return None,
    })
}

static INIT: Once = Once::new();

/// Installs the logger once per process. If the host program already installed a
/// `log` logger (a Rust program embedding FMI), that one is kept.
pub fn init() {
    INIT.call_once(|| {
        let var = std::env::var("FMI_LOG").ok();
        let level = match var.as_deref() {
            None | Some("") => LevelFilter::Warn,
            Some(v) => parse_level(v).unwrap_or_else(|| {
                eprintln!("fmi: FMI_LOG={v:?} is not one of off, error, warn, info, debug, trace; using warn");
                LevelFilter::Warn
            }),
        };
        if log::set_logger(&StderrLogger).is_ok() {
            log::set_max_level(level);
        }
    });
}
