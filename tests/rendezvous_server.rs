//! The rendezvous server against small blocking clients that speak the protocol of
//! `fmi::punch::proto` byte for byte.

use fmi::auth::{self, JobKeys};
use fmi::punch::proto::{Msg, RefuseCode, MAX_FRAME, VERSION};
use fmi::punch::server::{ServerConfig, ServerHandle, ServerStats};
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

mod common;

use common::proto_client::*;

/// A registered rank, with its host candidates.
fn rank(addr: SocketAddr, job: &str, r: u32, size: u32, token: &str) -> Client {
    let mut c = Client::connect(addr);
    let answer = c.register_with(job, r, size, token, vec![host_cand(r)]);
    match answer {
        Msg::Registered { reflexive } => assert_eq!(reflexive, c.local()),
        m => panic!("rank {r} of {job} not registered: {m:?}"),
    }
    c
}

fn host_cand(r: u32) -> SocketAddr {
    SocketAddr::from(([10, 0, (r >> 8) as u8, r as u8], 7000 + r as u16))
}

fn expect_refused(m: Msg, code: RefuseCode, words: &[&str]) {
    match m {
        Msg::Refused { code: c, reason } => {
            assert_eq!(c, code, "reason: {reason}");
            for w in words {
                assert!(reason.contains(w), "'{reason}' does not mention '{w}'");
            }
        }
        m => panic!("expected Refused {code:?}, got {m:?}"),
    }
}

fn expect_peer_info(m: Msg, rank: u32, candidates: &[SocketAddr]) {
    assert_eq!(
        m,
        Msg::PeerInfo {
            rank,
            candidates: candidates.to_vec()
        }
    );
}

#[test]
fn registration_reports_the_reflexive_address() {
    let srv = start_default();
    let mut c = Client::connect(srv.local_addr());
    let m = c.register_with("j", 0, 1, "tok", vec![]);
    assert_eq!(
        m,
        Msg::Registered {
            reflexive: c.local()
        }
    );
    // Nonces are fresh per connection.
    let other = Client::connect(srv.local_addr());
    assert_ne!(other.nonce, c.nonce);
}

#[test]
fn peer_info_reaches_both_sides() {
    let srv = start_default();
    let a = srv.local_addr();
    let mut r0 = Client::connect(a);
    // A repeated candidate, and the reflexive address among the candidates: both
    // must appear once.
    let c0 = vec![host_cand(0), host_cand(0), r0.local()];
    assert!(matches!(
        r0.register_with("pair", 0, 2, "tok", c0),
        Msg::Registered { .. }
    ));
    let mut r1 = rank(a, "pair", 1, 2, "tok");
    r0.send(&Msg::WantPeer { rank: 1 });
    expect_peer_info(r0.recv(), 1, &[host_cand(1), r1.local()]);
    expect_peer_info(r1.recv(), 0, &[host_cand(0), r0.local()]);
    // Asking for itself or for a rank outside the job is ignored, not fatal.
    r0.send(&Msg::WantPeer { rank: 0 });
    r0.send(&Msg::WantPeer { rank: 9 });
    r0.assert_quiet();
    r1.send(&Msg::WantPeer { rank: 0 });
    expect_peer_info(r1.recv(), 0, &[host_cand(0), r0.local()]);
    expect_peer_info(r0.recv(), 1, &[host_cand(1), r1.local()]);
}

#[test]
fn want_for_an_unregistered_rank_is_delivered_when_it_registers() {
    let srv = start_default();
    let a = srv.local_addr();
    let mut r0 = rank(a, "late", 0, 3, "tok");
    r0.send(&Msg::WantPeer { rank: 2 });
    // Twice: still one introduction.
    r0.send(&Msg::WantPeer { rank: 2 });
    r0.assert_quiet();
    let mut r1 = rank(a, "late", 1, 3, "tok");
    let mut r2 = rank(a, "late", 2, 3, "tok");
    expect_peer_info(r0.recv(), 2, &[host_cand(2), r2.local()]);
    expect_peer_info(r2.recv(), 0, &[host_cand(0), r0.local()]);
    r0.assert_quiet();
    r1.assert_quiet();
    r2.assert_quiet();
}

#[test]
fn a_want_dies_with_the_rank_that_wanted() {
    let srv = start_default();
    let a = srv.local_addr();
    let mut r0 = rank(a, "gone", 0, 3, "tok");
    let mut r1 = rank(a, "gone", 1, 3, "tok");
    r1.send(&Msg::WantPeer { rank: 2 });
    r1.send(&Msg::Bye);
    drop(r1);
    // r1 left: no PeerLost for it.
    r0.assert_quiet();
    let mut r2 = rank(a, "gone", 2, 3, "tok");
    r2.assert_quiet();
    r0.send(&Msg::WantPeer { rank: 1 });
    assert_eq!(r0.recv(), Msg::PeerLeft { rank: 1 });
}

#[test]
fn lost_ranks_are_broadcast_but_leaving_ranks_are_not() {
    let srv = start_default();
    let a = srv.local_addr();
    let mut r0 = rank(a, "loss", 0, 3, "tok");
    let mut r1 = rank(a, "loss", 1, 3, "tok");
    let r2 = rank(a, "loss", 2, 3, "tok");
    drop(r2);
    assert_eq!(r0.recv(), Msg::PeerLost { rank: 2 });
    assert_eq!(r1.recv(), Msg::PeerLost { rank: 2 });

    r1.send(&Msg::Bye);
    drop(r1);
    r0.assert_quiet();
    r0.send(&Msg::WantPeer { rank: 1 });
    assert_eq!(r0.recv(), Msg::PeerLeft { rank: 1 });
    r0.send(&Msg::WantPeer { rank: 2 });
    assert_eq!(r0.recv(), Msg::PeerLost { rank: 2 });
}

#[test]
fn a_rank_that_breaks_the_protocol_is_dropped_and_reported_lost() {
    let srv = start_default();
    let a = srv.local_addr();
    let mut r0 = rank(a, "rogue", 0, 2, "tok");
    let mut r1 = rank(a, "rogue", 1, 2, "tok");
    // Only the server sends PeerInfo.
    r1.send(&Msg::PeerInfo {
        rank: 0,
        candidates: vec![],
    });
    r1.assert_closed();
    assert_eq!(r0.recv(), Msg::PeerLost { rank: 1 });
    // Registering twice on one connection is a protocol error as well.
    let mut r1b = rank(a, "rogue", 1, 2, "tok");
    let again = r1b.register_msg("rogue", 1, 2, "tok", vec![]);
    r1b.send(&again);
    r1b.assert_closed();
    assert_eq!(r0.recv(), Msg::PeerLost { rank: 1 });
}

#[test]
fn abort_is_relayed_to_the_other_ranks() {
    let srv = start_default();
    let a = srv.local_addr();
    let mut r0 = rank(a, "ab", 0, 3, "tok");
    let mut r1 = rank(a, "ab", 1, 3, "tok");
    let mut r2 = rank(a, "ab", 2, 3, "tok");
    r1.send(&Msg::Abort { code: -7 });
    assert_eq!(r0.recv(), Msg::Aborted { rank: 1, code: -7 });
    assert_eq!(r2.recv(), Msg::Aborted { rank: 1, code: -7 });
    r1.assert_quiet();
}

#[test]
fn wrong_credentials_are_refused_with_auth() {
    let srv = start_default();
    let a = srv.local_addr();
    let _r0 = rank(a, "sec", 0, 2, "right");

    let mut c = Client::connect(a);
    let m = c.register_with("sec", 1, 2, "wrong", vec![]);
    expect_refused(m, RefuseCode::Auth, &["sec"]);
    c.assert_closed();

    // The right verifier but a MAC over another nonce (a replayed registration).
    let mut c = Client::connect(a);
    let mut m = c.register_msg("sec", 1, 2, "right", vec![]);
    if let Msg::Register { mac, .. } = &mut m {
        let keys = JobKeys::new("right", "sec");
        *mac = keys.server_mac(&auth::nonce(), "sec", 1);
    }
    c.send(&m);
    expect_refused(c.recv(), RefuseCode::Auth, &["sec", "1"]);
    c.assert_closed();

    // A MAC for another rank than the one claimed.
    let mut c = Client::connect(a);
    let mut m = c.register_msg("sec", 1, 2, "right", vec![]);
    if let Msg::Register { rank, .. } = &mut m {
        *rank = 0;
    }
    c.send(&m);
    expect_refused(c.recv(), RefuseCode::Auth, &["sec"]);

    // A bad MAC also keeps a new job from being created.
    let mut c = Client::connect(a);
    let mut m = with_verifier(c.register_msg("fresh", 0, 1, "t", vec![]), "t");
    if let Msg::Register { mac, .. } = &mut m {
        mac[0] ^= 1;
    }
    c.send(&m);
    expect_refused(c.recv(), RefuseCode::Auth, &["fresh"]);

    // The right token still works afterwards.
    let _r1 = rank(a, "sec", 1, 2, "right");
}

#[test]
fn bad_ranks_sizes_and_versions_are_refused() {
    let srv = start_default();
    let a = srv.local_addr();
    let _r0 = rank(a, "br", 0, 4, "tok");

    let mut c = Client::connect(a);
    expect_refused(
        c.register_with("br", 0, 4, "tok", vec![]),
        RefuseCode::BadRank,
        &["rank 0", "br", "already"],
    );
    c.assert_closed();

    let mut c = Client::connect(a);
    expect_refused(
        c.register_with("br", 4, 4, "tok", vec![]),
        RefuseCode::BadRank,
        &["rank 4", "br"],
    );

    let mut c = Client::connect(a);
    expect_refused(
        c.register_with("br", 1, 5, "tok", vec![]),
        RefuseCode::BadRank,
        &["br", "size"],
    );

    let mut c = Client::connect(a);
    expect_refused(
        c.register_with("other", 0, 0, "tok", vec![]),
        RefuseCode::BadRank,
        &["other"],
    );

    let mut c = Client::connect(a);
    expect_refused(
        c.register_with("", 0, 1, "tok", vec![]),
        RefuseCode::BadRank,
        &["job name"],
    );

    let mut c = Client::connect(a);
    let mut m = c.register_msg("br", 1, 4, "tok", vec![]);
    if let Msg::Register { version, .. } = &mut m {
        *version = VERSION + 1;
    }
    c.send(&m);
    expect_refused(c.recv(), RefuseCode::Protocol, &["version"]);

    // None of this disturbed the job: rank 1 can still join.
    let _r1 = rank(a, "br", 1, 4, "tok");
}

#[test]
fn bad_connections_are_dropped_without_disturbing_a_job() {
    let srv = start(ServerConfig {
        handshake_timeout: Duration::from_millis(400),
        ..ServerConfig::default()
    });
    let a = srv.local_addr();
    let mut r0 = rank(a, "good", 0, 2, "tok");

    let mut garbage = Client::connect(a);
    garbage.s.write_all(&[0x13; 64]).unwrap();
    let mut huge = Client::connect(a);
    huge.s
        .write_all(&((MAX_FRAME as u32 + 1).to_le_bytes()))
        .unwrap();
    let mut unknown_kind = Client::connect(a);
    unknown_kind.s.write_all(&[1, 0, 0, 0, 200]).unwrap();
    // Connects and says nothing: dropped after the handshake timeout.
    let mut silent = Client::connect(a);
    // Sends half a frame and stalls.
    let mut half = Client::connect(a);
    let reg = half.register_msg("good", 1, 2, "tok", vec![]).encode();
    half.s.write_all(&reg[..reg.len() / 2]).unwrap();
    // Never even reads its challenge.
    let mut mute = Client::raw(a);

    let started = Instant::now();
    garbage.assert_closed();
    huge.assert_closed();
    unknown_kind.assert_closed();
    silent.assert_closed();
    half.assert_closed();
    mute.assert_closed();
    assert!(started.elapsed() < Duration::from_secs(5));

    // The job completes its pairing as if nothing happened.
    let mut r1 = rank(a, "good", 1, 2, "tok");
    r1.send(&Msg::WantPeer { rank: 0 });
    expect_peer_info(r1.recv(), 0, &[host_cand(0), r0.local()]);
    expect_peer_info(r0.recv(), 1, &[host_cand(1), r1.local()]);
}

#[test]
fn jobs_with_the_same_rank_numbers_are_kept_apart() {
    let srv = start_default();
    let a = srv.local_addr();
    let mut a0 = rank(a, "A", 0, 2, "ta");
    let mut a1 = rank(a, "A", 1, 2, "ta");
    let mut b0 = rank(a, "B", 0, 2, "tb");
    let mut b1 = rank(a, "B", 1, 2, "tb");
    a0.send(&Msg::WantPeer { rank: 1 });
    expect_peer_info(a0.recv(), 1, &[host_cand(1), a1.local()]);
    expect_peer_info(a1.recv(), 0, &[host_cand(0), a0.local()]);
    b0.assert_quiet();
    b1.assert_quiet();

    b1.send(&Msg::Abort { code: 3 });
    assert_eq!(b0.recv(), Msg::Aborted { rank: 1, code: 3 });
    drop(b1);
    assert_eq!(b0.recv(), Msg::PeerLost { rank: 1 });
    a0.assert_quiet();
    a1.assert_quiet();
    // A token of one job does not open the other.
    let mut c = Client::connect(a);
    expect_refused(
        c.register_with("A", 1, 2, "tb", vec![]),
        RefuseCode::Auth,
        &["A"],
    );
}

#[test]
fn a_job_is_forgotten_when_its_last_connection_goes() {
    let srv = start_default();
    let a = srv.local_addr();
    let mut r0 = rank(a, "reuse", 0, 2, "first");
    let r1 = rank(a, "reuse", 1, 2, "first");
    drop(r1);
    assert_eq!(r0.recv(), Msg::PeerLost { rank: 1 });
    r0.send(&Msg::Bye);
    drop(r0);
    // The server handles the close asynchronously: retry for a while.
    let deadline = Instant::now() + WAIT;
    loop {
        let mut c = Client::connect(a);
        match c.register_with("reuse", 0, 3, "second", vec![]) {
            Msg::Registered { .. } => break,
            Msg::Refused { .. } if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20))
            }
            m => panic!("the old job was not forgotten: {m:?}"),
        }
    }
}

#[test]
fn limits_are_enforced_with_busy() {
    let srv = start(ServerConfig {
        max_connections: 2,
        max_jobs: 1,
        ..ServerConfig::default()
    });
    let a = srv.local_addr();
    let _r0 = rank(a, "one", 0, 2, "tok");
    let mut second_job = Client::connect(a);
    expect_refused(
        second_job.register_with("two", 0, 1, "tok", vec![]),
        RefuseCode::Busy,
        &["two"],
    );
    second_job.assert_closed();
    // Wait until the server has closed the refused connection, then fill the limit.
    let _r1 = {
        let deadline = Instant::now() + WAIT;
        loop {
            let mut c = Client::raw(a);
            match c.recv() {
                Msg::Challenge { nonce, .. } => {
                    c.nonce = nonce;
                    break c;
                }
                Msg::Refused { .. } if Instant::now() < deadline => {}
                m => panic!("unexpected {m:?}"),
            }
        }
    };
    let mut extra = Client::raw(a);
    assert!(matches!(
        extra.recv(),
        Msg::Refused {
            code: RefuseCode::Busy,
            ..
        }
    ));
    extra.assert_closed();
}

#[test]
fn idle_ranks_are_dropped_when_configured() {
    let srv = start(ServerConfig {
        idle_timeout: Some(Duration::from_millis(300)),
        ..ServerConfig::default()
    });
    let mut r0 = rank(srv.local_addr(), "idle", 0, 1, "tok");
    let started = Instant::now();
    r0.assert_closed();
    assert!(started.elapsed() >= Duration::from_millis(250));
}

#[test]
fn shutdown_closes_every_connection() {
    let srv = start_default();
    let a = srv.local_addr();
    let mut r0 = rank(a, "sd", 0, 2, "tok");
    let mut pending = Client::connect(a);
    srv.shutdown();
    r0.assert_closed();
    pending.assert_closed();
    assert!(TcpStream::connect(a).is_err());
}

#[test]
fn the_verifier_crosses_the_wire_only_for_a_new_job() {
    let srv = start_default();
    let a = srv.local_addr();
    // The first rank of a job is asked for it, on the same connection and nonce.
    let mut r0 = Client::connect(a);
    let m = r0.register_msg("tofu", 0, 3, "tok", vec![]);
    r0.send(&m);
    assert_eq!(r0.recv(), Msg::NeedVerifier);
    r0.send(&with_verifier(m, "tok"));
    assert!(matches!(r0.recv(), Msg::Registered { .. }));
    // Later ranks are checked by their MAC alone.
    let mut r1 = Client::connect(a);
    let m = r1.register_msg("tofu", 1, 3, "tok", vec![]);
    r1.send(&m);
    assert!(matches!(r1.recv(), Msg::Registered { .. }));
    // A verifier sent anyway changes nothing: the stored one decides.
    let mut r2 = Client::connect(a);
    let m = with_verifier(r2.register_msg("tofu", 2, 3, "other", vec![]), "other");
    r2.send(&m);
    expect_refused(r2.recv(), RefuseCode::Auth, &["wrong token", "tofu"]);
    // Asked for the verifier and sent none again: refused.
    let mut c = Client::connect(a);
    let m = c.register_msg("new", 0, 1, "tok", vec![]);
    c.send(&m);
    assert_eq!(c.recv(), Msg::NeedVerifier);
    c.send(&m);
    expect_refused(c.recv(), RefuseCode::Protocol, &["verifier"]);
    c.assert_closed();
}

#[test]
fn a_server_with_the_token_never_asks_and_admits_only_its_holders() {
    let srv = start(ServerConfig {
        token: Some("server-tok".into()),
        ..ServerConfig::default()
    });
    let a = srv.local_addr();
    // A new job is created without a verifier on the wire.
    let mut r0 = Client::connect(a);
    let m = r0.register_msg("tj", 0, 2, "server-tok", vec![]);
    r0.send(&m);
    assert!(matches!(r0.recv(), Msg::Registered { .. }));
    let _r1 = rank(a, "tj", 1, 2, "server-tok");
    // Another token cannot create a job, even with a verifier that matches its MAC.
    let mut c = Client::connect(a);
    let m = with_verifier(c.register_msg("mine", 0, 1, "other", vec![]), "other");
    c.send(&m);
    expect_refused(c.recv(), RefuseCode::Auth, &["wrong token", "mine"]);
    c.assert_closed();
    let mut c = Client::connect(a);
    expect_refused(
        c.register_with("mine", 0, 1, "other", vec![]),
        RefuseCode::Auth,
        &["wrong token", "mine"],
    );
    assert_eq!(srv.stats().jobs, 1);
}

#[test]
fn job_sizes_and_connections_per_job_are_bounded() {
    // A size no job of this server may have, whatever the token.
    let srv = start_default();
    let mut c = Client::connect(srv.local_addr());
    expect_refused(
        c.register_with("huge", 0, u32::MAX, "tok", vec![]),
        RefuseCode::Busy,
        &["huge", "65536"],
    );
    c.assert_closed();
    assert_eq!(srv.stats().jobs, 0);

    let srv = start(ServerConfig {
        max_job_connections: 2,
        ..ServerConfig::default()
    });
    let a = srv.local_addr();
    let mut c = Client::connect(a);
    expect_refused(
        c.register_with("big", 0, 3, "tok", vec![]),
        RefuseCode::Busy,
        &["big", "at most 2"],
    );
    // Registered and relay connections count together.
    let _r0 = rank(a, "two", 0, 2, "tok");
    let mut relay = Client::connect(a);
    relay.send(&relay_msg(&relay, "two", 0, 1, "tok"));
    relay.assert_quiet();
    let mut c = Client::connect(a);
    expect_refused(
        c.register_with("two", 1, 2, "tok", vec![]),
        RefuseCode::Busy,
        &["two", "limit of 2"],
    );
    let mut c = Client::connect(a);
    c.send(&relay_msg(&c, "two", 0, 1, "tok"));
    expect_refused(c.recv(), RefuseCode::Busy, &["two", "limit of 2"]);
    // Other jobs are not affected.
    let _other = rank(a, "three", 0, 1, "tok");
}

/// A relay request as a rank builds it.
fn relay_msg(c: &Client, job: &str, rank: u32, peer: u32, token: &str) -> Msg {
    Msg::Relay {
        job: job.into(),
        rank,
        peer,
        mac: JobKeys::new(token, job).server_mac(&c.nonce, job, rank),
    }
}

/// Raises the soft limit of open files to what the load test needs.
fn raise_nofile(want: u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < want {
            lim.rlim_cur = want.min(lim.rlim_max);
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
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

#[test]
fn a_thousand_ranks_of_one_job_register_and_pair_at_once() {
    const N: u32 = 1024;
    /// One client thread per rank, as the ranks of a real job are separate.
    const THREADS: u32 = N;
    /// Rank r asks for r+d for each d. No d is N-d of another, so no pair is asked
    /// for from both ends and every request is one introduction of two new peers.
    const OFFSETS: [u32; 3] = [1, 2, 17];
    // Client and server sockets live in this one process.
    raise_nofile(3 * N as u64 + 256);
    let srv = start_default();
    let a = srv.local_addr();
    let started = Instant::now();
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(THREADS as usize));
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let mine: Vec<u32> = (t..N).step_by(THREADS as usize).collect();
                barrier.wait();
                let mut clients: Vec<Client> = mine.iter().map(|_| Client::connect(a)).collect();
                let regs: Vec<Msg> = clients
                    .iter()
                    .zip(&mine)
                    .map(|(c, &r)| c.register_msg("load", r, N, "tok", vec![host_cand(r)]))
                    .collect();
                for (c, m) in clients.iter_mut().zip(&regs) {
                    c.send(m);
                }
                // Ranks that came before the job existed are asked for the verifier.
                let mut asked = 0;
                for (c, m) in clients.iter_mut().zip(regs) {
                    let mut answer = c.recv();
                    if answer == Msg::NeedVerifier {
                        asked += 1;
                        c.send(&with_verifier(m, "tok"));
                        answer = c.recv();
                    }
                    assert!(matches!(answer, Msg::Registered { .. }), "{answer:?}");
                }
                for (c, &r) in clients.iter_mut().zip(&mine) {
                    for d in OFFSETS {
                        c.send(&Msg::WantPeer { rank: (r + d) % N });
                    }
                }
                // Each rank hears of the ranks it asked for and of those that asked
                // for it, whichever registered first: exactly once each.
                let mut delivered = 0;
                for (c, &r) in clients.iter_mut().zip(&mine) {
                    let mut got = vec![];
                    for _ in 0..2 * OFFSETS.len() {
                        match c.recv() {
                            Msg::PeerInfo { rank, candidates } => {
                                assert_eq!(candidates.first(), Some(&host_cand(rank)));
                                assert_eq!(candidates.len(), 2);
                                got.push(rank);
                            }
                            m => panic!("rank {r}: unexpected {m:?}"),
                        }
                    }
                    got.sort_unstable();
                    let mut want: Vec<u32> = OFFSETS
                        .iter()
                        .flat_map(|d| [(r + d) % N, (r + N - d) % N])
                        .collect();
                    want.sort_unstable();
                    assert_eq!(got, want, "rank {r}");
                    delivered += got.len();
                }
                barrier.wait();
                // Nothing more than that.
                for c in &mut clients {
                    assert!(matches!(c.try_recv(Duration::ZERO), Got::Timeout));
                }
                // Orderly end: nobody is reported lost.
                for c in &mut clients {
                    c.send(&Msg::Bye);
                }
                (delivered, asked)
            })
        })
        .collect();
    let (mut total, mut asked) = (0, 0);
    for t in threads {
        let (d, a) = t.join().unwrap();
        total += d;
        asked += a;
    }
    let took = started.elapsed();
    eprintln!("{N} ranks registered and paired in {took:?} ({asked} asked for the verifier)");
    assert_eq!(total, 2 * OFFSETS.len() * N as usize);
    assert!(asked >= 1);
    assert!(took < Duration::from_secs(20), "took {took:?}");
    // Every client is gone: the server forgets the job.
    wait_for_stats(&srv, ServerStats::default());
}
