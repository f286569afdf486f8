//! A throwaway redis-server for tests: a free loopback port, no persistence, killed
//! when the handle drops. A machine without redis-server fails the test (with how to
//! install it) rather than skipping it.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SERVER: &str = "/usr/bin/redis-server";

/// How long a fresh server has to answer PING.
const START_WAIT: Duration = Duration::from_secs(10);

/// A running redis-server.
pub struct RedisServer {
    child: Option<Child>,
    pub port: u16,
}

impl RedisServer {
    /// Starts a server; panics (failing the test) if it cannot.
    pub fn start() -> RedisServer {
        let bin = if Path::new(SERVER).exists() {
            SERVER.to_string()
        } else if let Some(p) = which("redis-server") {
            p
        } else {
            panic!("redis-server not found: run scripts/deps.sh (Debian package redis-server)");
        };
        // The port is free when we look; another process may take it before the
        // server binds, so a server that exits at once is retried on a new port.
        let mut last = String::new();
        for _ in 0..5 {
            let port = free_port();
            let mut child = Command::new(&bin)
                .args(["--port", &port.to_string()])
                .args(["--bind", "127.0.0.1"])
                .args(["--save", ""])
                .args(["--appendonly", "no"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {bin}: {e} (run scripts/deps.sh)"));
            let started = Instant::now();
            loop {
                if ping(port) {
                    return RedisServer {
                        child: Some(child),
                        port,
                    };
                }
                if let Ok(Some(status)) = child.try_wait() {
                    let mut err = String::new();
                    if let Some(mut s) = child.stderr.take() {
                        let _ = s.read_to_string(&mut err);
                    }
                    last = format!("redis-server on port {port} exited ({status}): {err}");
                    break;
                }
                if started.elapsed() > START_WAIT {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("redis-server on port {port} did not answer PING within {START_WAIT:?}");
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        panic!("could not start redis-server: {last}");
    }

    /// `redis://127.0.0.1:{port}`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// A `RedisConfig` for this server.
    pub fn config(&self) -> fmi::config::RedisConfig {
        fmi::config::RedisConfig { url: self.url() }
    }

    /// Kills the server now (to test what clients do when it is gone).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// How many keys match the glob `pattern`, asked of the server directly.
    pub fn count_keys(&self, pattern: &str) -> usize {
        self.keys(pattern).len()
    }

    /// The keys matching the glob `pattern`, sorted.
    pub fn keys(&self, pattern: &str) -> Vec<String> {
        let client = redis::Client::open(self.url()).expect("redis url");
        let mut con = client
            .get_connection_with_timeout(Duration::from_secs(5))
            .expect("connect to test redis-server");
        let mut keys = std::collections::BTreeSet::new();
        let mut cursor: u64 = 0;
        loop {
            let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(pattern)
                .arg("COUNT")
                .arg(1000)
                .query(&mut con)
                .expect("SCAN");
            keys.extend(batch);
            if next == 0 {
                return keys.into_iter().collect();
            }
            cursor = next;
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Whether a server on `port` answers PING (a raw RESP exchange: no client needed).
fn ping(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    if s.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 7];
    s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
}

fn which(cmd: &str) -> Option<String> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(cmd))
            .find(|p| p.is_file())
            .map(|p| p.to_string_lossy().into_owned())
    })
}
