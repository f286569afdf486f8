//! The Redis store against a real redis-server (started per test).

mod common;

use common::redis::RedisServer;
use fmi::channel::redis::RedisStore;
use fmi::channel::store::{ChannelKind, Store};
use fmi::config::RedisConfig;
use fmi::ErrorKind;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

fn soon() -> Option<Instant> {
    Some(Instant::now() + Duration::from_secs(10))
}

fn store(srv: &RedisServer, job: &str, rank: u32) -> RedisStore {
    RedisStore::connect(&srv.config(), job, rank).unwrap()
}

#[test]
fn put_get_replace() {
    let srv = RedisServer::start();
    let s = store(&srv, "pg", 0);
    assert_eq!(s.kind(), ChannelKind::Redis);
    s.put("k", b"one").unwrap();
    assert_eq!(s.get("k", soon()).unwrap(), b"one");
    // Reading leaves it in place.
    assert_eq!(s.get("k", soon()).unwrap(), b"one");
    s.put("k", b"two").unwrap();
    assert_eq!(s.get("k", soon()).unwrap(), b"two");
    s.put("empty", b"").unwrap();
    assert_eq!(s.get("empty", soon()).unwrap(), b"");
    let big: Vec<u8> = (0..1 << 20).map(|i| (i * 7) as u8).collect();
    s.put("big", &big).unwrap();
    assert_eq!(s.get("big", soon()).unwrap(), big);
    assert_eq!(
        srv.keys("fmi:pg:*"),
        ["fmi:pg:big", "fmi:pg:empty", "fmi:pg:k"]
    );
    s.delete(&["k".into(), "missing".into()]).unwrap();
    assert_eq!(srv.count_keys("fmi:pg:*"), 2);
}

#[test]
fn get_is_woken_by_a_later_put() {
    let srv = RedisServer::start();
    let reader = store(&srv, "wake", 1);
    let writer = store(&srv, "wake", 0);
    let t = thread::spawn(move || {
        let v = reader.get("late", soon()).unwrap();
        (v, Instant::now())
    });
    thread::sleep(Duration::from_millis(300));
    let put_at = Instant::now();
    writer.put("late", b"here").unwrap();
    let (v, got_at) = t.join().unwrap();
    assert_eq!(v, b"here");
    let lag = got_at.saturating_duration_since(put_at);
    assert!(
        lag < Duration::from_millis(50),
        "get returned {lag:?} after the put"
    );
}

#[test]
fn get_without_deadline_waits_across_slices() {
    let srv = RedisServer::start();
    let reader = store(&srv, "forever", 1);
    let writer = store(&srv, "forever", 0);
    let t = thread::spawn(move || reader.get("k", None).unwrap());
    // Longer than one blocking slice (2 s) of the store.
    thread::sleep(Duration::from_millis(2500));
    writer.put("k", b"v").unwrap();
    assert_eq!(t.join().unwrap(), b"v");
}

#[test]
fn get_times_out_at_its_deadline() {
    let srv = RedisServer::start();
    let s = store(&srv, "to", 0);
    let start = Instant::now();
    let e = s
        .get("never", Some(start + Duration::from_millis(300)))
        .unwrap_err();
    let took = start.elapsed();
    assert_eq!(e.kind, ErrorKind::Timeout, "{e}");
    assert!(e.msg.contains("fmi:to:never"), "{e}");
    assert!(took >= Duration::from_millis(300), "{took:?}");
    assert!(took < Duration::from_millis(800), "{took:?}");
    // A deadline already past still looks once, and does not block forever.
    s.put("there", b"x").unwrap();
    assert_eq!(s.get("there", Some(Instant::now())).unwrap(), b"x");
    let e = s.get("never", Some(Instant::now())).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Timeout);
}

#[test]
fn each_senders_order_is_kept_in_a_mailbox() {
    let srv = RedisServer::start();
    const N: u32 = 300;
    let senders: Vec<_> = (0..2u32)
        .map(|rank| {
            let s = store(&srv, "mb", rank);
            thread::spawn(move || {
                for i in 0..N {
                    let mut v = rank.to_le_bytes().to_vec();
                    v.extend_from_slice(&i.to_le_bytes());
                    s.push("r2", &v).unwrap();
                }
            })
        })
        .collect();
    let owner = store(&srv, "mb", 2);
    let mut next = [0u32; 2];
    let start = Instant::now();
    while next != [N, N] {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "stuck at {next:?}"
        );
        for v in owner.pop("r2", Duration::from_millis(500)).unwrap() {
            let rank = u32::from_le_bytes(v[..4].try_into().unwrap()) as usize;
            let i = u32::from_le_bytes(v[4..].try_into().unwrap());
            assert_eq!(i, next[rank], "sender {rank} out of order");
            next[rank] += 1;
        }
    }
    for t in senders {
        t.join().unwrap();
    }
    assert!(owner.pop("r2", Duration::ZERO).unwrap().is_empty());
}

#[test]
fn pop_returns_what_waits_and_empty_after_its_wait() {
    let srv = RedisServer::start();
    let s = store(&srv, "pop", 0);
    let start = Instant::now();
    assert!(s.pop("me", Duration::from_millis(200)).unwrap().is_empty());
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(200), "{took:?}");
    assert!(took < Duration::from_millis(700), "{took:?}");
    assert!(s.pop("me", Duration::ZERO).unwrap().is_empty());
    for v in [&b"a"[..], b"b", b"c"] {
        s.push("me", v).unwrap();
    }
    let got = s.pop("me", Duration::from_secs(5)).unwrap();
    assert_eq!(got, [b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
    s.push("me", b"d").unwrap();
    assert_eq!(s.pop("me", Duration::ZERO).unwrap(), [b"d".to_vec()]);
    // A popped-empty mailbox leaves no key behind.
    assert_eq!(srv.count_keys("fmi:pop:*"), 0);
}

#[test]
fn pop_is_woken_by_a_push() {
    let srv = RedisServer::start();
    let owner = store(&srv, "popwake", 0);
    let sender = store(&srv, "popwake", 1);
    let t = thread::spawn(move || {
        let v = owner.pop("m", Duration::from_secs(10)).unwrap();
        (v, Instant::now())
    });
    thread::sleep(Duration::from_millis(300));
    let at = Instant::now();
    sender.push("m", b"hi").unwrap();
    let (v, got_at) = t.join().unwrap();
    assert_eq!(v, [b"hi".to_vec()]);
    let lag = got_at.saturating_duration_since(at);
    assert!(
        lag < Duration::from_millis(50),
        "pop returned {lag:?} after the push"
    );
}

#[test]
fn many_readers_of_one_key_all_get_it() {
    let srv = RedisServer::start();
    const R: usize = 12;
    // Half share one store (its pool), half have their own.
    let shared = Arc::new(store(&srv, "bcast", 1));
    let ready = Arc::new(Barrier::new(R + 1));
    let readers: Vec<_> = (0..R)
        .map(|i| {
            let s: Arc<dyn Store> = if i % 2 == 0 {
                shared.clone()
            } else {
                Arc::new(store(&srv, "bcast", 2 + i as u32))
            };
            let ready = ready.clone();
            thread::spawn(move || {
                ready.wait();
                s.get("root", soon()).unwrap()
            })
        })
        .collect();
    ready.wait();
    thread::sleep(Duration::from_millis(200));
    store(&srv, "bcast", 0).put("root", b"all of you").unwrap();
    for r in readers {
        assert_eq!(r.join().unwrap(), b"all of you");
    }
    // Still one value, still readable.
    assert_eq!(shared.get("root", soon()).unwrap(), b"all of you");
}

#[test]
fn the_last_rank_to_leave_is_told_so() {
    let srv = RedisServer::start();
    let ranks: Vec<_> = (0..3).map(|r| store(&srv, "leave", r)).collect();
    ranks[0].put("a", b"1").unwrap();
    assert!(!ranks[0].leave(3).unwrap());
    assert!(!ranks[2].leave(3).unwrap());
    assert!(ranks[1].leave(3).unwrap());
    // The last one clears what is left, the counter included.
    ranks[1].clear_job().unwrap();
    assert_eq!(srv.count_keys("*"), 0);
}

#[test]
fn clear_job_removes_only_that_jobs_keys() {
    let srv = RedisServer::start();
    let a = store(&srv, "j", 0);
    let nested = store(&srv, "j:x", 0);
    let globby = store(&srv, "j*", 0);
    let other = store(&srv, "jj", 0);
    for s in [&a, &nested, &globby, &other] {
        s.put("k1", b"v").unwrap();
        s.put("k2", b"v").unwrap();
        s.push("mb", b"v").unwrap();
    }
    assert_eq!(srv.count_keys("*"), 12);
    assert_eq!(globby.count_job_keys().unwrap(), 3);
    assert_eq!(globby.clear_job().unwrap(), 3);
    assert_eq!(srv.count_keys("*"), 9);
    assert_eq!(a.count_job_keys().unwrap(), 3);
    assert_eq!(a.clear_job().unwrap(), 3);
    assert_eq!(a.count_job_keys().unwrap(), 0);
    assert_eq!(nested.count_job_keys().unwrap(), 3);
    assert_eq!(other.count_job_keys().unwrap(), 3);
    assert_eq!(a.clear_job().unwrap(), 0);
}

#[test]
fn server_down_is_a_channel_error_not_a_hang() {
    let mut srv = RedisServer::start();
    let url = srv.url();
    let s = Arc::new(store(&srv, "down", 0));
    s.put("k", b"v").unwrap();
    let waiter = {
        let s = s.clone();
        thread::spawn(move || s.get("never", None))
    };
    thread::sleep(Duration::from_millis(200));
    srv.kill();

    let start = Instant::now();
    let e = waiter.join().unwrap().unwrap_err();
    assert_eq!(e.kind, ErrorKind::Channel, "{e}");
    assert!(
        e.msg.contains(&url) && e.msg.contains("fmi:down:never"),
        "{e}"
    );
    for r in [
        s.put("k", b"v").err(),
        s.get("k", soon()).err(),
        s.push("m", b"v").err(),
        s.pop("m", Duration::from_secs(1)).err(),
        s.clear_job().err(),
    ] {
        let e = r.expect("an error with the server gone");
        assert_eq!(e.kind, ErrorKind::Channel, "{e}");
        assert!(e.msg.contains(&url), "{e}");
    }
    let e = RedisStore::connect(&RedisConfig { url: url.clone() }, "down", 1).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Channel, "{e}");
    assert!(e.msg.contains(&url), "{e}");
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn bad_urls_are_config_errors() {
    for url in ["not a url", "http://127.0.0.1:6379", ""] {
        let e = RedisStore::connect(&RedisConfig { url: url.into() }, "j", 0).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Config, "{url}: {e}");
    }
    // The password never shows in a message.
    let e = RedisStore::connect(
        &RedisConfig {
            url: "redis://:hunter2@127.0.0.1:1".into(),
        },
        "j",
        0,
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Channel, "{e}");
    assert!(!e.msg.contains("hunter2"), "{e}");
}

#[test]
fn usage_counts_requests_and_bytes() {
    let srv = RedisServer::start();
    let s = store(&srv, "use", 0);
    let u0 = s.usage();
    assert_eq!(u0, Default::default());
    s.put("k", b"12345").unwrap(); // DEL + RPUSH
    s.get("k", soon()).unwrap(); // BLMOVE
    s.push("m", b"abc").unwrap(); // RPUSH
    s.push("m", b"de").unwrap(); // RPUSH
    let got = s.pop("m", Duration::from_secs(1)).unwrap(); // BLMPOP (Redis 7) takes both
    assert_eq!(got.len(), 2);
    let u = s.usage();
    assert_eq!(u.writes, 4);
    assert_eq!(u.reads, 2);
    assert_eq!(u.bytes_written, 10);
    assert_eq!(u.bytes_read, 10);
    // A read that found nothing still counts.
    assert!(s.pop("m", Duration::ZERO).unwrap().is_empty());
    assert_eq!(s.usage().reads, 3);
    assert_eq!(s.usage().bytes_read, 10);
}
