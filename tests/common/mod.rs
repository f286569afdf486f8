//! Runs a job of N ranks as threads of this test process against an in-process
//! rendezvous server: each rank has its own world, connections and engine, exactly as
//! separate processes would.
#![allow(dead_code)]

pub mod proto_client;
pub mod redis;
pub mod s3;

use fmi::comm::Comm;
use fmi::config::Config;
use fmi::punch::server::{Server, ServerConfig};
use std::time::Duration;

pub fn config(server: &str) -> Config {
    Config {
        rendezvous: Some(server.to_string()),
        token: "test-token".into(),
        timeout: Some(Duration::from_secs(30)),
        spin: Duration::from_micros(20),
        ..Config::default()
    }
}

/// Runs `f(comm)` on `n` ranks; panics in any rank fail the test.
pub fn run<F>(n: u32, f: F)
where
    F: Fn(Comm) + Send + Sync + Clone + 'static,
{
    run_with(n, |_| {}, f)
}

pub fn run_with<F, C>(n: u32, tweak: C, f: F)
where
    F: Fn(Comm) + Send + Sync + Clone + 'static,
    C: Fn(&mut Config) + Send + Sync + Clone + 'static,
{
    let server = Server::bind("127.0.0.1:0".parse().unwrap(), ServerConfig::default())
        .unwrap()
        .spawn()
        .unwrap();
    let addr = server.local_addr().to_string();
    let job = format!("test-{}", fmi::auth::new_token());
    let handles: Vec<_> = (0..n)
        .map(|r| {
            let (f, tweak, addr, job) = (f.clone(), tweak.clone(), addr.clone(), job.clone());
            std::thread::Builder::new()
                .name(format!("rank{r}"))
                .spawn(move || {
                    let mut cfg = config(&addr);
                    tweak(&mut cfg);
                    let comm = Comm::join(r, n, &job, cfg).expect("join");
                    f(comm);
                })
                .unwrap()
        })
        .collect();
    let mut failed = Vec::new();
    for (r, h) in handles.into_iter().enumerate() {
        if h.join().is_err() {
            failed.push(r);
        }
    }
    server.shutdown();
    assert!(failed.is_empty(), "ranks {failed:?} failed");
}
