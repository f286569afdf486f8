//! A real S3-compatible server (s3s-fs, installed by `scripts/s3-server.sh install`)
//! on a free loopback port, for one test; killed when dropped.

#![allow(dead_code)]

use fmi::channel::s3::S3Store;
use fmi::config::S3Config;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Bucket every test server has.
pub const BUCKET: &str = "fmi-test";

/// The installed server binary, or a failure that says how to install it: a test
/// that needs the server must not pass without one.
pub fn binary() -> PathBuf {
    let bin = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("build/tools/bin/s3s-fs");
    assert!(
        bin.is_file(),
        "the S3 test server is not installed ({} is missing): run `scripts/s3-server.sh install`",
        bin.display()
    );
    bin
}

/// One running server and the settings to reach it.
pub struct S3Server {
    child: Option<Child>,
    dir: PathBuf,
    /// Endpoint, bucket (created), region and credentials of this server.
    pub cfg: S3Config,
}

impl S3Server {
    /// Starts a server with fresh credentials and data directory, and creates
    /// [`BUCKET`].
    pub fn start() -> S3Server {
        let bin = binary();
        let dir = std::env::temp_dir().join(format!(
            "fmi-s3-test-{}-{}",
            std::process::id(),
            fmi::auth::new_token()
        ));
        std::fs::create_dir_all(dir.join("data")).unwrap();
        let log = dir.join("log");
        let access = format!("fmi-test-{}", fmi::auth::new_token());
        let secret = fmi::auth::new_token();
        // Port 0: the kernel picks a free port, which the server then logs.
        let child = Command::new(bin)
            .args(["--host", "127.0.0.1", "--port", "0"])
            .args(["--access-key", &access, "--secret-key", &secret])
            .arg(dir.join("data"))
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut server = S3Server {
            child: Some(child),
            dir,
            cfg: S3Config {
                endpoint: None,
                bucket: BUCKET.into(),
                region: "us-east-1".into(),
                access_key: access,
                secret_key: secret,
                max_poll: Duration::from_millis(50),
            },
        };
        let t = Instant::now();
        let endpoint = loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if let Some(i) = text.find("http://127.0.0.1:") {
                let rest = &text[i..];
                let end = rest
                    .find(|c: char| !(c.is_ascii_alphanumeric() || ":/.".contains(c)))
                    .unwrap_or(rest.len());
                break rest[..end].to_string();
            }
            if let Some(st) = server.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("s3s-fs exited ({st}) before listening: {text}");
            }
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "s3s-fs did not report its address: {text}"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        server.cfg.endpoint = Some(endpoint);
        S3Store::create_bucket(&server.cfg).unwrap();
        server
    }

    /// Kills the server now (for failure tests) and waits for it.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
