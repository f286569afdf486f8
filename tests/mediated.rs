//! Point to point and collectives through the Redis channel, ranks as threads of
//! this process (the C suites do the same across processes, in
//! scripts/channel-test.sh): the engine's error paths that need a store.

mod common;

use common::redis::RedisServer;
use fmi::channel::redis::RedisStore;
use fmi::channel::store::{ChannelKind, Store};
use fmi::comm::Comm;
use fmi::config::{Config, RedisConfig};
use fmi::ErrorKind;
use std::time::Duration;

fn redis_config(url: String) -> Config {
    Config {
        channel: Some(ChannelKind::Redis),
        redis: Some(RedisConfig { url }),
        timeout: Some(Duration::from_secs(20)),
        ..Config::default()
    }
}

fn job() -> String {
    format!("mediated-{}", fmi::auth::new_token())
}

#[test]
fn forged_and_malformed_frames_are_dropped_and_traffic_goes_on() {
    let srv = RedisServer::start();
    let job = job();
    let (a, b) = std::thread::scope(|sc| {
        let h: Vec<_> = (0..2)
            .map(|r| {
                let (url, job) = (srv.url(), job.clone());
                sc.spawn(move || Comm::join(r, 2, &job, redis_config(url)).unwrap())
            })
            .collect();
        let mut it = h.into_iter().map(|h| h.join().unwrap());
        (it.next().unwrap(), it.next().unwrap())
    });
    // Someone with access to the store pushes junk into rank 1's mailbox: a frame
    // too short to decode, and one claiming to come from a rank the job lacks.
    let intruder = RedisStore::connect(&srv.config(), &job, 7).unwrap();
    intruder.push("p2p/1", &[0; 5]).unwrap();
    let mut forged = vec![0u8; 21];
    forged[5..9].copy_from_slice(&9u32.to_le_bytes());
    forged.extend_from_slice(b"forged");
    intruder.push("p2p/1", &forged).unwrap();
    a.send(b"real", 1, 3).unwrap();
    let mut buf = [0u8; 16];
    let st = b
        .recv(&mut buf, fmi::comm::ANY_SOURCE, fmi::comm::ANY_TAG)
        .unwrap();
    assert_eq!((st.source, st.tag, &buf[..st.bytes]), (0, 3, &b"real"[..]));
    // A synchronous send completes once the receiver has taken it.
    std::thread::scope(|sc| {
        let s = sc.spawn(|| a.ssend(b"sync", 1, 4));
        std::thread::sleep(Duration::from_millis(100));
        assert!(!s.is_finished(), "ssend completed before a receive took it");
        let st = b.recv(&mut buf, 0, 4).unwrap();
        assert_eq!(&buf[..st.bytes], b"sync");
        s.join().unwrap().unwrap();
    });
    let mut x = [a.rank() as u8 + 1];
    std::thread::scope(|sc| {
        sc.spawn(|| {
            let mut y = [b.rank() as u8 + 1];
            fmi::coll::bcast(&b, &mut y, 0).unwrap();
            assert_eq!(y, [1]);
        });
        fmi::coll::bcast(&a, &mut x, 0).unwrap();
    });
    drop((a, b));
    // The last rank to leave clears the job, the intruder's junk included.
    assert_eq!(intruder.count_job_keys().unwrap(), 0);
}

#[test]
fn a_forced_store_that_is_down_fails_the_join() {
    let srv = RedisServer::start();
    let url = srv.url();
    drop(srv);
    let e = Comm::join(0, 2, &job(), redis_config(url)).err().unwrap();
    assert_eq!(e.kind, ErrorKind::Channel, "{}", e.msg);
    assert!(e.msg.contains("Redis"), "{}", e.msg);
}

#[test]
fn a_receive_from_a_silent_rank_times_out_and_the_job_is_cleared() {
    let srv = RedisServer::start();
    let job = job();
    let mut cfg = redis_config(srv.url());
    cfg.timeout = Some(Duration::from_millis(300));
    let (a, b) = std::thread::scope(|sc| {
        let h: Vec<_> = (0..2)
            .map(|r| {
                let (cfg, job) = (cfg.clone(), job.clone());
                sc.spawn(move || Comm::join(r, 2, &job, cfg).unwrap())
            })
            .collect();
        let mut it = h.into_iter().map(|h| h.join().unwrap());
        (it.next().unwrap(), it.next().unwrap())
    });
    a.send(b"never received", 1, 1).unwrap();
    let mut buf = [0u8; 4];
    let e = a.recv(&mut buf, 1, 2).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Timeout, "{}", e.msg);
    // After a failure every leaving rank clears the job: rank 0 alone suffices.
    drop(a);
    assert_eq!(srv.count_keys(&format!("fmi:{job}:*")), 0);
    drop(b);
}
