//! The rendezvous server's relay: two registered ranks each open a second
//! connection, send `Relay`, and once both are there the server copies bytes
//! between them. Blocking clients speak the protocol byte for byte.

use fmi::auth::JobKeys;
use fmi::punch::proto::{Msg, RefuseCode};
use fmi::punch::server::{ServerConfig, ServerHandle, ServerStats, RELAY_BUFFER};
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const TOKEN: &str = "relay-token";

mod common;

use common::proto_client::*;

/// Relay-side steps of the test client.
impl Client {
    /// Registers as `rank` of `job` (size `size`), answering `NeedVerifier`.
    fn register(addr: SocketAddr, job: &str, rank: u32, size: u32) -> Client {
        let mut c = Client::connect(addr);
        let answer = c.register_with(job, rank, size, TOKEN, vec![]);
        assert!(
            matches!(answer, Msg::Registered { .. }),
            "rank {rank}: {answer:?}"
        );
        c
    }

    /// Opens a relay connection and sends its request, with `extra` bytes after it
    /// in the same write.
    fn relay_with(
        addr: SocketAddr,
        job: &str,
        rank: u32,
        peer: u32,
        token: &str,
        extra: &[u8],
    ) -> Client {
        let mut c = Client::connect(addr);
        let mut bytes = Msg::Relay {
            job: job.into(),
            rank,
            peer,
            mac: JobKeys::new(token, job).server_mac(&c.nonce, job, rank),
        }
        .encode();
        bytes.extend_from_slice(extra);
        c.s.write_all(&bytes).expect("send relay request");
        c
    }

    fn relay(addr: SocketAddr, job: &str, rank: u32, peer: u32) -> Client {
        Client::relay_with(addr, job, rank, peer, TOKEN, b"")
    }

    /// Waits for `RelayReady` and returns the raw stream. Bytes read past it are
    /// returned too: they are the peer's.
    fn ready(mut self) -> (TcpStream, Vec<u8>) {
        assert_eq!(self.recv(), Msg::RelayReady);
        let rest = self.fr.take_rest();
        self.s.set_read_timeout(Some(WAIT)).unwrap();
        (self.s, rest)
    }
}

/// Reads exactly `n` bytes, after the `have` already there.
fn read_n(s: &mut TcpStream, mut have: Vec<u8>, n: usize) -> Vec<u8> {
    let start = have.len();
    have.resize(n, 0);
    s.read_exact(&mut have[start..])
        .expect("read relayed bytes");
    have
}

fn assert_eof(s: &mut TcpStream) {
    let mut b = [0u8; 1];
    assert_eq!(
        s.read(&mut b).expect("read to the end"),
        0,
        "expected the end"
    );
}

/// The server closed the stream: an end or a reset, not silence.
fn assert_dropped(s: &mut TcpStream) {
    let mut b = [0u8; 16];
    match s.read(&mut b) {
        Ok(0) => {}
        Err(e) if !matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
        other => panic!("expected the relay to be closed, got {other:?}"),
    }
}

/// Waits until the server's counts are `want`.
fn wait_for_stats(srv: &ServerHandle, want: ServerStats) {
    let deadline = Instant::now() + WAIT;
    while srv.stats() != want {
        assert!(
            Instant::now() < deadline,
            "server holds {:?}, expected {want:?}",
            srv.stats()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Two registered ranks of `job` and a spliced relay between them.
fn spliced(addr: SocketAddr, job: &str) -> (Client, Client, TcpStream, TcpStream) {
    let r0 = Client::register(addr, job, 0, 2);
    let r1 = Client::register(addr, job, 1, 2);
    let a = Client::relay(addr, job, 0, 1);
    let b = Client::relay(addr, job, 1, 0);
    let (a, rest_a) = a.ready();
    let (b, rest_b) = b.ready();
    assert!(rest_a.is_empty() && rest_b.is_empty());
    (r0, r1, a, b)
}

#[test]
fn bytes_go_both_ways_and_ends_pass_as_half_closes() {
    let srv = start(ServerConfig::default());
    let addr = srv.local_addr();
    let _r0 = Client::register(addr, "both", 0, 2);
    let _r1 = Client::register(addr, "both", 1, 2);
    // The first request waits, unanswered, for the second.
    let mut a = Client::relay(addr, "both", 0, 1);
    a.assert_quiet();
    assert_eq!(srv.stats().relays, 1);
    // The second brings bytes along in the same write: they are the peer's.
    let b = Client::relay_with(addr, "both", 1, 0, TOKEN, b"early bird");
    let (mut a, rest) = a.ready();
    let (mut b, rest_b) = b.ready();
    assert!(rest_b.is_empty());
    assert_eq!(read_n(&mut a, rest, 10), b"early bird");
    // Counts are published at the end of the server's loop turn.
    wait_for_stats(
        &srv,
        ServerStats {
            connections: 4,
            jobs: 1,
            relays: 2,
        },
    );

    a.write_all(b"hello from 0").unwrap();
    assert_eq!(read_n(&mut b, vec![], 12), b"hello from 0");
    b.write_all(b"hello from 1").unwrap();
    assert_eq!(read_n(&mut a, vec![], 12), b"hello from 1");

    // 0 is done sending: 1 sees the end, and can still answer.
    a.shutdown(Shutdown::Write).unwrap();
    assert_eof(&mut b);
    b.write_all(b"last words").unwrap();
    assert_eq!(read_n(&mut a, vec![], 10), b"last words");
    b.shutdown(Shutdown::Write).unwrap();
    assert_eof(&mut a);
    // Both ends finished: the server drops the relay and keeps the job.
    wait_for_stats(
        &srv,
        ServerStats {
            connections: 2,
            jobs: 1,
            relays: 0,
        },
    );
}

/// The byte at `i` of the stream from rank `from`.
fn pattern(from: u32, i: usize) -> u8 {
    let x = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ ((from as u64) << 61);
    (x >> 56) as u8
}

/// Writes `total` pattern bytes, counting them in `written` as they go.
fn writer(mut s: TcpStream, from: u32, total: usize, written: Arc<AtomicUsize>) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut i = 0;
    while i < total {
        let n = buf.len().min(total - i);
        for (k, b) in buf[..n].iter_mut().enumerate() {
            *b = pattern(from, i + k);
        }
        s.write_all(&buf[..n]).expect("relay write");
        i += n;
        written.store(i, Ordering::Release);
    }
    s.shutdown(Shutdown::Write).unwrap();
}

/// Reads and checks the pattern of `from` until the end: first not at all for
/// `stall`, then slowly. Returns the byte count.
fn slow_reader(mut s: TcpStream, from: u32, stall: Duration) -> usize {
    std::thread::sleep(stall);
    let mut buf = vec![0u8; 64 * 1024];
    let mut i = 0;
    let mut chunks = 0;
    loop {
        let n = s.read(&mut buf).expect("relay read");
        if n == 0 {
            return i;
        }
        for (k, &b) in buf[..n].iter().enumerate() {
            assert_eq!(b, pattern(from, i + k), "byte {} from rank {from}", i + k);
        }
        i += n;
        chunks += 1;
        if chunks % 32 == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

#[test]
fn megabytes_both_ways_with_slow_readers_and_bounded_buffers() {
    const TOTAL: usize = 48 << 20;
    let srv = start(ServerConfig::default());
    let addr = srv.local_addr();
    let (_r0, _r1, a, b) = spliced(addr, "bulk");
    let stall = Duration::from_millis(1500);
    let started = Instant::now();
    let (wa, wb) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let threads = [
        {
            let (s, w) = (a.try_clone().unwrap(), wa.clone());
            std::thread::spawn(move || writer(s, 0, TOTAL, w))
        },
        {
            let (s, w) = (b.try_clone().unwrap(), wb.clone());
            std::thread::spawn(move || writer(s, 1, TOTAL, w))
        },
    ];
    let readers = [
        std::thread::spawn(move || slow_reader(b, 0, stall)),
        std::thread::spawn(move || slow_reader(a, 1, stall)),
    ];
    // While nobody reads, the writers get only as far as socket buffers and the
    // server's bounded queue take them.
    std::thread::sleep(stall - Duration::from_millis(300));
    let ahead = wa.load(Ordering::Acquire).max(wb.load(Ordering::Acquire));
    eprintln!(
        "with nobody reading, a writer got {} KiB ahead",
        ahead >> 10
    );
    assert!(
        ahead < TOTAL,
        "the relay buffered everything ({ahead} bytes)"
    );
    // Loopback socket buffers take a few MiB each way on top of the server's.
    assert!(ahead < RELAY_BUFFER + (24 << 20), "{ahead} bytes in flight");
    for t in threads {
        t.join().unwrap();
    }
    for r in readers {
        assert_eq!(r.join().unwrap(), TOTAL);
    }
    eprintln!("relayed 2 x {} MiB in {:?}", TOTAL >> 20, started.elapsed());
    wait_for_stats(
        &srv,
        ServerStats {
            connections: 2,
            jobs: 1,
            relays: 0,
        },
    );
}

#[test]
fn megabytes_sent_before_the_peer_asks_all_arrive() {
    const TOTAL: usize = 8 << 20;
    let srv = start(ServerConfig::default());
    let addr = srv.local_addr();
    let _r0 = Client::register(addr, "eager", 0, 2);
    let _r1 = Client::register(addr, "eager", 1, 2);
    // Rank 1 sends its request and, without waiting, far more than the server
    // keeps for a waiting request: the rest must wait in the socket, not be lost.
    let first: Vec<u8> = (0..4096).map(|i| pattern(1, i)).collect();
    let b = Client::relay_with(addr, "eager", 1, 0, TOKEN, &first);
    let mut raw = b.s.try_clone().unwrap();
    let written = Arc::new(AtomicUsize::new(0));
    let w = written.clone();
    let sender = std::thread::spawn(move || {
        let rest: Vec<u8> = (first.len()..TOTAL).map(|i| pattern(1, i)).collect();
        raw.write_all(&rest).expect("early write");
        w.store(TOTAL, Ordering::Release);
    });
    std::thread::sleep(Duration::from_millis(300));
    // The kernel buffers take some of it, the server a little: not all.
    assert!(written.load(Ordering::Acquire) < TOTAL);
    let a = Client::relay(addr, "eager", 0, 1);
    let (mut a, rest) = a.ready();
    let got = read_n(&mut a, rest, TOTAL);
    for (i, &x) in got.iter().enumerate() {
        assert_eq!(x, pattern(1, i), "byte {i}");
    }
    sender.join().unwrap();
    // And the other way, once spliced.
    let (mut b, rest) = b.ready();
    assert!(rest.is_empty());
    a.write_all(b"thanks").unwrap();
    assert_eq!(read_n(&mut b, vec![], 6), b"thanks");
}

#[test]
fn bad_requests_are_refused() {
    let srv = start(ServerConfig::default());
    let addr = srv.local_addr();
    let _r0 = Client::register(addr, "bad", 0, 3);
    let r1 = Client::register(addr, "bad", 1, 3);

    let mut c = Client::relay_with(addr, "bad", 0, 1, "other token", b"");
    match c.recv() {
        Msg::Refused { code, reason } => {
            assert_eq!(code, RefuseCode::Auth);
            assert!(
                reason.contains("wrong token") && reason.contains("bad"),
                "{reason}"
            );
        }
        m => panic!("{m:?}"),
    }
    c.assert_closed_silently();

    let expect = |mut c: Client, words: &[&str]| {
        match c.recv() {
            Msg::Refused { code, reason } => {
                assert_eq!(code, RefuseCode::BadRank, "{reason}");
                for w in words {
                    assert!(reason.contains(w), "'{reason}' does not mention '{w}'");
                }
            }
            m => panic!("{m:?}"),
        }
        c.assert_closed_silently();
    };
    expect(
        Client::relay(addr, "nojob", 0, 1),
        &["nojob", "not registered"],
    );
    // Rank 2 never registered: it cannot ask.
    expect(
        Client::relay(addr, "bad", 2, 0),
        &["rank 2", "not registered"],
    );
    expect(Client::relay(addr, "bad", 0, 3), &["rank 3", "size 3"]);
    expect(Client::relay(addr, "bad", 0, 0), &["rank 0"]);
    drop(r1);
    // Once the server saw rank 1 go, it is lost.
    let deadline = Instant::now() + WAIT;
    loop {
        let mut c = Client::relay(addr, "bad", 0, 1);
        match c.try_recv(QUIET) {
            Got::Msg(Msg::Refused { reason, .. }) if reason.contains("lost") => break,
            _ if Instant::now() < deadline => {}
            other => panic!("relay to a lost rank: {other:?}"),
        }
    }
    assert_eq!(srv.stats().relays, 0);
}

#[test]
fn an_unmatched_request_is_closed_after_the_wait() {
    let srv = start(ServerConfig {
        relay_wait: Duration::from_millis(300),
        ..ServerConfig::default()
    });
    let addr = srv.local_addr();
    let _r0 = Client::register(addr, "alone", 0, 2);
    let _r1 = Client::register(addr, "alone", 1, 2);
    let started = Instant::now();
    let mut a = Client::relay(addr, "alone", 0, 1);
    a.assert_closed_silently();
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_secs(5),
        "closed after {took:?}"
    );
    wait_for_stats(
        &srv,
        ServerStats {
            connections: 2,
            jobs: 1,
            relays: 0,
        },
    );
}

#[test]
fn a_newer_request_replaces_a_waiting_one() {
    let srv = start(ServerConfig::default());
    let addr = srv.local_addr();
    let _r0 = Client::register(addr, "again", 0, 2);
    let _r1 = Client::register(addr, "again", 1, 2);
    let mut old = Client::relay(addr, "again", 0, 1);
    old.assert_quiet();
    let new = Client::relay(addr, "again", 0, 1);
    old.assert_closed_silently();
    let b = Client::relay(addr, "again", 1, 0);
    let (mut new, _) = new.ready();
    let (mut b, _) = b.ready();
    new.write_all(b"x").unwrap();
    assert_eq!(read_n(&mut b, vec![], 1), b"x");
}

#[test]
fn spliced_relays_are_not_idle_but_die_with_their_job() {
    let srv = start(ServerConfig {
        idle_timeout: Some(Duration::from_millis(400)),
        ..ServerConfig::default()
    });
    let addr = srv.local_addr();
    let (mut r0, mut r1, mut a, mut b) = spliced(addr, "quiet");
    // The ranks stay active on their control connections; the relay is silent
    // for longer than the idle timeout and still works.
    for _ in 0..10 {
        r0.send(&Msg::WantPeer { rank: 1 });
        r1.send(&Msg::WantPeer { rank: 0 });
        std::thread::sleep(Duration::from_millis(100));
    }
    a.write_all(b"still here").unwrap();
    assert_eq!(read_n(&mut b, vec![], 10), b"still here");
    // A request still waiting when the job ends goes too.
    let mut waiting = Client::relay(addr, "quiet", 1, 0);
    waiting.assert_quiet();
    assert_eq!(srv.stats().relays, 3);

    r0.send(&Msg::Bye);
    r1.send(&Msg::Bye);
    drop((r0, r1));
    waiting.assert_closed_silently();
    assert_dropped(&mut a);
    assert_dropped(&mut b);
    wait_for_stats(&srv, ServerStats::default());
}
