//! The S3 channel against a real S3-compatible server (s3s-fs) on loopback.
//! Each test starts its own server; `scripts/s3-server.sh install` provides it.

mod common;

use common::s3::S3Server;
use fmi::channel::s3::S3Store;
use fmi::channel::store::{ChannelKind, Store};
use fmi::ErrorKind;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Slack for scheduling and HTTP round trips on a loaded 2-core machine.
const SLACK: Duration = Duration::from_millis(400);

fn store(s: &S3Server, job: &str, rank: u32) -> S3Store {
    S3Store::connect(&s.cfg, job, rank).unwrap()
}

#[test]
fn put_get_overwrite_and_large_values() {
    let s = S3Server::start();
    let st = store(&s, "j", 0);
    assert_eq!(st.kind(), ChannelKind::S3);
    st.put("a", b"one").unwrap();
    assert_eq!(st.get("a", None).unwrap(), b"one");
    st.put("a", b"two").unwrap();
    assert_eq!(st.get("a", None).unwrap(), b"two");
    st.put("empty", b"").unwrap();
    assert_eq!(st.get("empty", None).unwrap(), b"");
    // Larger than ureq's default body limit (10 MB).
    let big: Vec<u8> = (0..11 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    st.put("big/x y", &big).unwrap();
    assert_eq!(st.get("big/x y", None).unwrap(), big);
    st.delete(&["a".into(), "missing".into()]).unwrap();
    assert_eq!(st.count_job_keys().unwrap(), 2);
}

#[test]
fn get_waits_for_a_later_put() {
    let s = S3Server::start();
    let reader = store(&s, "j", 0);
    let writer = store(&s, "j", 1);
    let delay = Duration::from_millis(300);
    let t = Instant::now();
    let h = std::thread::spawn(move || {
        std::thread::sleep(delay);
        writer.put("late", b"here").unwrap();
        Instant::now()
    });
    let v = reader
        .get("late", Some(Instant::now() + Duration::from_secs(10)))
        .unwrap();
    let got = Instant::now();
    let put_done = h.join().unwrap();
    assert_eq!(v, b"here");
    assert!(t.elapsed() >= delay);
    // Found within one poll interval (max_poll) of the PUT completing.
    let lag = got.saturating_duration_since(put_done);
    assert!(lag <= s.cfg.max_poll + SLACK, "lag {lag:?}");
}

#[test]
fn get_times_out_naming_the_key() {
    let s = S3Server::start();
    let st = store(&s, "j", 0);
    let wait = Duration::from_millis(200);
    let t = Instant::now();
    let e = st.get("never", Some(Instant::now() + wait)).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Timeout);
    assert!(e.msg.contains("j/never"), "{}", e.msg);
    assert!(t.elapsed() >= wait);
    assert!(
        t.elapsed() < wait + s.cfg.max_poll + SLACK,
        "{:?}",
        t.elapsed()
    );
}

#[test]
fn mailbox_keeps_each_senders_order() {
    let s = S3Server::start();
    let rx = store(&s, "j", 0);
    let n = 40u32;
    let senders: Vec<_> = (1..=2u32)
        .map(|r| {
            let tx = store(&s, "j", r);
            std::thread::spawn(move || {
                for i in 0..n {
                    tx.push("inbox0", format!("{r}:{i}").as_bytes()).unwrap();
                }
            })
        })
        .collect();
    let mut got: Vec<String> = Vec::new();
    let t = Instant::now();
    while got.len() < 2 * n as usize {
        assert!(t.elapsed() < Duration::from_secs(30), "got {got:?}");
        for v in rx.pop("inbox0", Duration::from_millis(500)).unwrap() {
            got.push(String::from_utf8(v).unwrap());
        }
    }
    for h in senders {
        h.join().unwrap();
    }
    for r in 1..=2u32 {
        let mine: Vec<&String> = got
            .iter()
            .filter(|v| v.starts_with(&format!("{r}:")))
            .collect();
        let want: Vec<String> = (0..n).map(|i| format!("{r}:{i}")).collect();
        assert_eq!(mine, want.iter().collect::<Vec<_>>());
    }
    // Delivered values are gone from the store.
    assert_eq!(rx.count_job_keys().unwrap(), 0);
}

#[test]
fn pop_waits_for_a_missing_predecessor() {
    let s = S3Server::start();
    let rx = store(&s, "j", 0);
    let raw = store(&s, "j", 9);
    // Sender 5's second value lands before its first.
    raw.put("mb/box/000005-000000000001", b"second").unwrap();
    assert!(rx
        .pop("box", Duration::from_millis(100))
        .unwrap()
        .is_empty());
    raw.put("mb/box/000005-000000000000", b"first").unwrap();
    let got = rx.pop("box", Duration::from_secs(5)).unwrap();
    assert_eq!(got, vec![b"first".to_vec(), b"second".to_vec()]);
}

#[test]
fn pop_is_empty_after_wait() {
    let s = S3Server::start();
    let rx = store(&s, "j", 0);
    let wait = Duration::from_millis(200);
    let t = Instant::now();
    assert!(rx.pop("nobody", wait).unwrap().is_empty());
    assert!(t.elapsed() >= wait);
    assert!(
        t.elapsed() < wait + s.cfg.max_poll + SLACK,
        "{:?}",
        t.elapsed()
    );
}

#[test]
fn many_readers_of_one_key() {
    let s = S3Server::start();
    let readers: Vec<_> = (1..=8u32)
        .map(|r| {
            let st = store(&s, "j", r);
            std::thread::spawn(move || {
                st.get("shared", Some(Instant::now() + Duration::from_secs(10)))
                    .unwrap()
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(100));
    store(&s, "j", 0).put("shared", b"for all").unwrap();
    for h in readers {
        assert_eq!(h.join().unwrap(), b"for all");
    }
}

#[test]
fn the_last_rank_to_leave_is_told_so() {
    let s = S3Server::start();
    let ranks: Vec<_> = (0..3).map(|r| store(&s, "j", r)).collect();
    ranks[0].put("x", b"1").unwrap();
    assert!(!ranks[2].leave(3).unwrap());
    assert!(!ranks[0].leave(3).unwrap());
    assert!(ranks[1].leave(3).unwrap());
    // The last one clears what is left, the markers included.
    ranks[1].clear_job().unwrap();
    assert_eq!(ranks[0].count_job_keys().unwrap(), 0);
}

#[test]
fn clear_job_removes_only_that_job() {
    let s = S3Server::start();
    let a = store(&s, "job-a", 0);
    let a1 = store(&s, "job-a", 1);
    let b = store(&s, "job-a-b", 0); // Shares a's name as a prefix, not its namespace.
    for i in 0..7 {
        a.put(&format!("k{i}"), b"v").unwrap();
    }
    a1.push("inbox0", b"m").unwrap();
    b.put("k0", b"v").unwrap();
    b.push("inbox0", b"m").unwrap();
    assert_eq!(a1.clear_job().unwrap(), 8);
    assert_eq!(a.count_job_keys().unwrap(), 0);
    assert_eq!(b.count_job_keys().unwrap(), 2);
}

#[test]
fn clear_job_pages_through_more_than_a_listing() {
    let s = S3Server::start();
    let a = Arc::new(store(&s, "j", 0));
    // More than one ListObjectsV2 page (1000 keys), written by 4 threads.
    let hs: Vec<_> = (0..4)
        .map(|t| {
            let a = a.clone();
            std::thread::spawn(move || {
                for i in 0..260 {
                    a.put(&format!("k{t}-{i}"), b"").unwrap();
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    assert_eq!(a.count_job_keys().unwrap(), 1040);
    assert_eq!(a.clear_job().unwrap(), 1040);
    assert_eq!(a.count_job_keys().unwrap(), 0);
}

#[test]
fn killed_server_gives_channel_errors_quickly() {
    let mut s = S3Server::start();
    let st = store(&s, "j", 0);
    st.put("a", b"1").unwrap();
    s.kill();
    let t = Instant::now();
    let e = st.put("b", b"2").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Channel);
    assert!(
        e.msg.contains("j/b") && e.msg.contains("127.0.0.1"),
        "{}",
        e.msg
    );
    let e = st
        .get("a", Some(Instant::now() + Duration::from_secs(60)))
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Channel);
    assert_eq!(
        st.pop("inbox0", Duration::from_secs(60)).unwrap_err().kind,
        ErrorKind::Channel
    );
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    let e = S3Store::connect(&s.cfg, "j", 1).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Channel);
}

#[test]
fn wrong_credentials_and_missing_bucket_are_clear_errors() {
    let s = S3Server::start();
    let mut cfg = s.cfg.clone();
    cfg.secret_key = "wrong".into();
    let e = S3Store::connect(&cfg, "j", 0).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Config);
    assert!(e.msg.contains("AWS_SECRET_ACCESS_KEY"), "{}", e.msg);
    let mut cfg = s.cfg.clone();
    cfg.bucket = "no-such-bucket".into();
    let e = S3Store::connect(&cfg, "j", 0).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Config);
    assert!(e.msg.contains("no-such-bucket"), "{}", e.msg);
    // Creating it again is fine; then it can be used.
    S3Store::create_bucket(&cfg).unwrap();
    S3Store::create_bucket(&cfg).unwrap();
    store(&s, "j", 0).put("k", b"v").unwrap();
}

#[test]
fn usage_counts_requests_and_bytes() {
    let s = S3Server::start();
    let st = store(&s, "j", 0);
    let u0 = st.usage(); // connect's HEAD
    assert_eq!((u0.writes, u0.reads, u0.bytes_written), (0, 1, 0));
    st.put("k", &[7u8; 100]).unwrap();
    assert_eq!(st.get("k", None).unwrap().len(), 100);
    let u = st.usage();
    assert_eq!(u.writes, 1);
    assert_eq!(u.reads, 2);
    assert_eq!(u.bytes_written, 100);
    assert_eq!(u.bytes_read - u0.bytes_read, 100);
    // A pop of an empty mailbox still costs (LIST) reads, and writes nothing.
    st.pop("inbox0", Duration::from_millis(20)).unwrap();
    let u2 = st.usage();
    assert!(u2.reads > u.reads);
    assert_eq!(u2.writes, u.writes);
}
