//! A real job runs through a rendezvous server to its end while other threads
//! hammer the same server with garbage, oversized frames, silent and stalled
//! connections, and requests with bad MACs. The job must not notice, and once it
//! and the hammering are over the server must hold nothing.

mod common;

use fmi::auth::{self, JobKeys};
use fmi::coll;
use fmi::comm::Comm;
use fmi::datatype::Datatype;
use fmi::op::{Builtin, Op};
use fmi::punch::proto::{FrameReader, Msg, RefuseCode, MAX_FRAME, VERSION};
use fmi::punch::server::{Server, ServerConfig, ServerStats};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const RANKS: u32 = 4;
const ROUNDS: usize = 1500;
/// Elements of each allreduce.
const COUNT: usize = 64;
/// Short, so that silent connections are reaped while the test watches.
const HANDSHAKE: Duration = Duration::from_millis(300);
/// Silent or stalled connections each hammer opens (and never closes itself).
const HELD: usize = 300;

fn val(rank: u32, round: usize, i: usize) -> i64 {
    (rank as i64 + 1) * 1_000_003 + (round * COUNT + i) as i64 * 7919 - 12345
}

/// One rank of the job: allreduces and a ring exchange, every result checked.
fn rank_body(comm: Comm) {
    let (me, n) = (comm.rank(), comm.size());
    let sum = Op::Builtin(Builtin::Sum);
    for round in 0..ROUNDS {
        let mine: Vec<u8> = (0..COUNT)
            .flat_map(|i| val(me, round, i).to_ne_bytes())
            .collect();
        let mut out = vec![0u8; COUNT * 8];
        coll::allreduce(&comm, Some(&mine), &mut out, Datatype::Int64, &sum).unwrap();
        for (i, c) in out.chunks_exact(8).enumerate() {
            let want: i64 = (0..n).map(|r| val(r, round, i)).sum();
            assert_eq!(i64::from_ne_bytes(c.try_into().unwrap()), want);
        }
        let next = ((me + 1) % n) as i32;
        let prev = ((me + n - 1) % n) as i32;
        let msg = [me.to_ne_bytes(), (round as u32).to_ne_bytes()].concat();
        let mut got = [0u8; 8];
        comm.sendrecv(&msg, next, 7, &mut got, prev, 7).unwrap();
        assert_eq!(&got[..4], &(prev as u32).to_ne_bytes());
        assert_eq!(&got[4..], &(round as u32).to_ne_bytes());
    }
    comm.barrier().unwrap();
}

/// Connects with a read timeout, or `None` if the server is unreachable for a
/// moment (its accept queue may be full under the hammering).
fn connect(addr: SocketAddr) -> Option<TcpStream> {
    let s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    Some(s)
}

/// Reads the challenge's nonce.
fn challenge(s: &mut TcpStream) -> Option<[u8; 32]> {
    match read_msg(s)? {
        Msg::Challenge { version, nonce } if version == VERSION => Some(nonce),
        m => panic!("expected a challenge, got {m:?}"),
    }
}

fn read_msg(s: &mut TcpStream) -> Option<Msg> {
    let mut fr = FrameReader::default();
    let mut buf = [0u8; 1024];
    loop {
        if let Some(m) = fr.next_msg().expect("the server sent garbage") {
            return Some(m);
        }
        match s.read(&mut buf) {
            Ok(0) => return None,
            Ok(n) => fr.push(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
}

/// Reads until the server closes the connection; panics if it never does.
fn until_closed(s: &mut TcpStream) {
    let mut buf = [0u8; 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                panic!("the server kept a bad connection open")
            }
            Err(_) => return,
        }
    }
}

/// A cheap xorshift, so the garbage differs every time.
fn noise(seed: &mut u64, len: usize) -> Vec<u8> {
    (0..len)
        .map(|_| {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            *seed as u8
        })
        .collect()
}

/// Runs `f(held, round)` until `stop`, counting the rounds; returns what it kept
/// open.
fn hammer(
    stop: &Arc<AtomicBool>,
    count: &Arc<AtomicUsize>,
    f: impl Fn(&mut Vec<TcpStream>, u64) + Send + 'static,
) -> std::thread::JoinHandle<Vec<TcpStream>> {
    let (stop, count) = (stop.clone(), count.clone());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        let mut round = 0;
        while !stop.load(Ordering::Acquire) {
            f(&mut held, round);
            round += 1;
            count.fetch_add(1, Ordering::Relaxed);
            std::thread::sleep(Duration::from_millis(2));
        }
        held
    })
}

#[test]
fn a_job_completes_while_the_server_is_hammered() {
    let srv = Server::bind(
        "127.0.0.1:0".parse().unwrap(),
        ServerConfig {
            handshake_timeout: HANDSHAKE,
            token: Some(common::config("").token),
            ..ServerConfig::default()
        },
    )
    .unwrap()
    .spawn()
    .unwrap();
    let addr = srv.local_addr();
    let job = format!("abuse-{}", auth::new_token());
    let stop = Arc::new(AtomicBool::new(false));
    let counts: Vec<Arc<AtomicUsize>> = (0..6).map(|_| Arc::new(AtomicUsize::new(0))).collect();
    let started = Instant::now();

    let mut hammers = Vec::new();
    // Garbage right after the challenge, or instead of reading it.
    hammers.push(hammer(&stop, &counts[0], move |_, round| {
        let mut seed = (round + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let Some(mut s) = connect(addr) else { return };
        // A leading zero length is garbage too; make sure most frames are not.
        let mut g = noise(&mut seed, 256);
        g[0] |= 1;
        if s.write_all(&g).is_ok() {
            until_closed(&mut s);
        }
    }));
    // Frame lengths past the limit.
    hammers.push(hammer(&stop, &counts[1], move |_, round| {
        let Some(mut s) = connect(addr) else { return };
        let len = if round % 2 == 0 {
            u32::MAX
        } else {
            MAX_FRAME as u32 + 1
        };
        if s.write_all(&len.to_le_bytes()).is_ok() {
            until_closed(&mut s);
        }
    }));
    // Connect and say nothing, ever: the handshake timeout must reap them.
    hammers.push(hammer(&stop, &counts[2], move |held, _| {
        if held.len() < HELD {
            held.extend(connect(addr));
        } else {
            std::thread::sleep(Duration::from_millis(20));
        }
    }));
    // Half a registration, then a stall.
    let j = job.clone();
    hammers.push(hammer(&stop, &counts[3], move |held, _| {
        if held.len() >= HELD {
            return std::thread::sleep(Duration::from_millis(20));
        }
        let Some(mut s) = connect(addr) else { return };
        let Some(nonce) = challenge(&mut s) else {
            return;
        };
        let reg = Msg::Register {
            version: VERSION,
            job: j.clone(),
            rank: 1,
            size: RANKS,
            candidates: vec![],
            mac: JobKeys::new("test-token", &j).server_mac(&nonce, &j, 1),
            verifier: None,
        }
        .encode();
        if s.write_all(&reg[..reg.len() - 5]).is_ok() {
            held.push(s);
        }
    }));
    // Registrations of the job's ranks with another token.
    let j = job.clone();
    let refused_auth = Arc::new(AtomicUsize::new(0));
    let refused = refused_auth.clone();
    hammers.push(hammer(&stop, &counts[4], move |_, round| {
        let Some(mut s) = connect(addr) else { return };
        let Some(nonce) = challenge(&mut s) else {
            return;
        };
        let keys = JobKeys::new("not-the-token", &j);
        let rank = (round % RANKS as u64) as u32;
        let reg = Msg::Register {
            version: VERSION,
            job: j.clone(),
            rank,
            size: RANKS,
            candidates: vec![],
            mac: keys.server_mac(&nonce, &j, rank),
            verifier: Some(keys.server_verifier()),
        };
        if s.write_all(&reg.encode()).is_err() {
            return;
        }
        match read_msg(&mut s) {
            Some(Msg::Refused {
                code: RefuseCode::Auth,
                reason,
            }) => {
                assert!(
                    reason.contains("wrong token") && reason.contains(&j),
                    "{reason}"
                );
                refused.fetch_add(1, Ordering::Relaxed);
            }
            other => panic!("a registration with another token got {other:?}"),
        }
        until_closed(&mut s);
    }));
    // Relay requests for the job with bad MACs.
    let j = job.clone();
    hammers.push(hammer(&stop, &counts[5], move |_, _| {
        let Some(mut s) = connect(addr) else { return };
        let Some(nonce) = challenge(&mut s) else {
            return;
        };
        let mut mac = JobKeys::new("test-token", &j).server_mac(&nonce, &j, 0);
        mac[7] ^= 0x40;
        let relay = Msg::Relay {
            job: j.clone(),
            rank: 0,
            peer: 1,
            mac,
        };
        if s.write_all(&relay.encode()).is_err() {
            return;
        }
        match read_msg(&mut s) {
            Some(Msg::Refused {
                code: RefuseCode::Auth,
                ..
            }) => {}
            // Before the job's first registration or after its end.
            Some(Msg::Refused {
                code: RefuseCode::BadRank,
                reason,
            }) if reason.contains("not registered") => {}
            other => panic!("a relay with a bad MAC got {other:?}"),
        }
        until_closed(&mut s);
    }));

    // The job, with the hammering already under way.
    std::thread::sleep(Duration::from_millis(100));
    let mut peak = 0;
    let ranks: Vec<_> = (0..RANKS)
        .map(|r| {
            let (job, addr) = (job.clone(), addr.to_string());
            std::thread::Builder::new()
                .name(format!("rank{r}"))
                .spawn(move || {
                    let comm = Comm::join(r, RANKS, &job, common::config(&addr)).expect("join");
                    rank_body(comm);
                })
                .unwrap()
        })
        .collect();
    while !ranks.iter().all(|r| r.is_finished()) {
        peak = peak.max(srv.stats().connections);
        std::thread::sleep(Duration::from_millis(5));
    }
    let failed: Vec<usize> = ranks
        .into_iter()
        .enumerate()
        .filter_map(|(r, h)| h.join().is_err().then_some(r))
        .collect();
    assert!(failed.is_empty(), "ranks {failed:?} failed");
    let job_time = started.elapsed();

    stop.store(true, Ordering::Release);
    // Keep every silent and stalled connection open on this side: the server
    // alone must get rid of them.
    let held: Vec<TcpStream> = hammers
        .into_iter()
        .flat_map(|h| h.join().expect("a hammer failed"))
        .collect();
    let counts: Vec<usize> = counts.iter().map(|c| c.load(Ordering::Relaxed)).collect();
    eprintln!(
        "job of {RANKS} ranks x {ROUNDS} rounds done in {job_time:?} under hammering: \
         {counts:?} rounds of garbage, oversized, silent, stalled, bad registration, bad relay; \
         {} held open; peak {} server connections",
        held.len(),
        peak
    );
    assert!(
        counts.iter().all(|&c| c > 0),
        "a hammer never ran: {counts:?}"
    );
    assert!(!held.is_empty());
    assert!(refused_auth.load(Ordering::Relaxed) > 0);
    // The bad connections were there alongside the job's.
    assert!(peak > RANKS as usize);

    let deadline = Instant::now() + HANDSHAKE + Duration::from_secs(10);
    while srv.stats() != ServerStats::default() {
        assert!(
            Instant::now() < deadline,
            "the server still holds {:?}",
            srv.stats()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(held);
}
