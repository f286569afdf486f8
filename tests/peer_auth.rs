//! A process that learned a job's server verifier (say, by reading a registration off
//! the network) but not its token can register with the server, yet every real rank
//! refuses it: the peer key is a different derivation of the token. The real rank
//! reports FMI_ERR_AUTH, and the impostor is told it was refused.

mod common;

use common::proto_client::Client;
use fmi::auth::{self, JobKeys};
use fmi::channel::direct::Hello;
use fmi::comm::Comm;
use fmi::punch::proto::{Msg, VERSION};
use fmi::punch::server::{Server, ServerConfig, ServerHandle};
use fmi::wire::{Header, Kind, HEADER_LEN};
use fmi::ErrorKind;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

/// Registers as `rank` with only the verifier, announcing `listen` as candidate.
fn register_impostor(
    server: SocketAddr,
    job: &str,
    rank: u32,
    size: u32,
    verifier: [u8; 32],
    listen: SocketAddr,
) -> Client {
    let mut c = Client::connect(server);
    c.send(&Msg::Register {
        version: VERSION,
        job: job.into(),
        rank,
        size,
        candidates: vec![listen],
        mac: auth::server_mac_with(&verifier, &c.nonce, job, rank),
        verifier: Some(verifier),
    });
    match c.recv() {
        Msg::Registered { .. } => {}
        m => panic!("impostor not registered: {m:?}"),
    }
    c
}

const TOKEN: &str = "the-real-token";

/// A fresh server and job: its address, the job name and the job's server verifier
/// (what an eavesdropper on a registration could learn).
fn new_job() -> (ServerHandle, SocketAddr, String, [u8; 32]) {
    let server = Server::bind("127.0.0.1:0".parse().unwrap(), ServerConfig::default())
        .unwrap()
        .spawn()
        .unwrap();
    let addr = server.local_addr();
    let job = format!("auth-{}", auth::new_token());
    let verifier = JobKeys::new(TOKEN, &job).server_verifier();
    (server, addr, job, verifier)
}

fn read_frame(s: &mut TcpStream) -> (Header, Vec<u8>) {
    let mut h = [0u8; HEADER_LEN];
    s.read_exact(&mut h).expect("frame header");
    let h = Header::decode(&h).expect("valid header");
    let mut payload = vec![0u8; h.len as usize];
    s.read_exact(&mut payload).expect("frame payload");
    (h, payload)
}

fn write_frame(s: &mut TcpStream, kind: Kind, payload: &[u8]) {
    let h = Header::new(kind, 0, 0, payload.len() as u64, 0).encode();
    s.write_all(&h).unwrap();
    s.write_all(payload).unwrap();
}

#[test]
fn an_impostor_with_the_verifier_but_not_the_token_is_refused_by_peers() {
    let (server, addr, job, verifier) = new_job();
    let token = TOKEN;

    // The impostor takes rank 1 and waits for rank 0 on its own listener.
    let trap = TcpListener::bind("127.0.0.1:0").unwrap();
    let _ctl = register_impostor(addr, &job, 1, 2, verifier, trap.local_addr().unwrap());

    let job0 = job.clone();
    let rank0 = std::thread::spawn(move || {
        let mut cfg = common::config(&addr.to_string());
        cfg.token = token.into();
        cfg.punch_timeout = Duration::from_secs(30);
        let c = Comm::join(0, 2, &job0, cfg).expect("rank 0 joins");
        // A small send completes once queued; the receive waits for the peer.
        c.send(b"secret", 1, 0)?;
        let mut buf = [0u8; 8];
        c.recv(&mut buf, 1, 0).map(|_| ())
    });

    // Rank 0 dials us and, being the lower rank, leads with a Hello.
    let (mut s, _) = trap.accept().unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let (h, payload) = read_frame(&mut s);
    assert_eq!(h.kind, Kind::Hello);
    let hello = Hello::decode(&payload).unwrap();
    assert_eq!((hello.from, hello.to), (0, 1));
    // Answer with a MAC made from what the impostor has: the verifier.
    let mut ack = vec![7u8; 32];
    ack.extend_from_slice(&auth::server_mac_with(&verifier, &hello.nonce, &job, 1));
    write_frame(&mut s, Kind::HelloAck, &ack);
    let (h, reason) = read_frame(&mut s);
    assert_eq!(h.kind, Kind::Refused, "the impostor is told it was refused");
    let reason = String::from_utf8_lossy(&reason).to_string();
    assert!(
        reason.contains("does not hold this job's token"),
        "{reason}"
    );

    let err = rank0
        .join()
        .unwrap()
        .expect_err("talking to an impostor must fail");
    assert_eq!(err.kind, ErrorKind::Auth, "{}", err.msg);
    assert!(err.msg.contains("rank 1"), "{}", err.msg);
    server.shutdown();
}

#[test]
fn a_real_rank_dialled_by_an_impostor_refuses_its_proof() {
    let (server, addr, job, verifier) = new_job();
    let token = TOKEN;

    // The real rank 1 registers first and waits for a message from rank 0.
    let job1 = job.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    let rank1 = std::thread::spawn(move || {
        let mut cfg = common::config(&addr.to_string());
        cfg.token = token.into();
        cfg.timeout = Some(Duration::from_secs(2));
        let c = Comm::join(1, 2, &job1, cfg).expect("rank 1 joins");
        tx.send(()).unwrap();
        let mut buf = [0u8; 8];
        c.recv(&mut buf, 0, 0)
    });
    rx.recv().unwrap();
    // The impostor registers as rank 0 and asks for rank 1, learning its address.
    let trap = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut ctl = register_impostor(addr, &job, 0, 2, verifier, trap.local_addr().unwrap());
    ctl.send(&Msg::WantPeer { rank: 1 });
    let cands = match ctl.recv() {
        Msg::PeerInfo {
            rank: 1,
            candidates,
        } => candidates,
        m => panic!("expected rank 1's candidates, got {m:?}"),
    };
    let target = *cands.iter().find(|a| a.ip().is_loopback()).unwrap();
    let mut s = TcpStream::connect(target).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let hello = Hello {
        job: job.clone(),
        from: 0,
        to: 1,
        nonce: [1; 32],
    }
    .encode();
    write_frame(&mut s, Kind::Hello, &hello);
    let (h, _) = read_frame(&mut s);
    assert_eq!(h.kind, Kind::HelloAck);
    write_frame(&mut s, Kind::Proof, &[9u8; 32]);
    let (h, reason) = read_frame(&mut s);
    assert_eq!(h.kind, Kind::Refused);
    assert!(
        String::from_utf8_lossy(&reason).contains("does not hold this job's token"),
        "{}",
        String::from_utf8_lossy(&reason)
    );
    // The real rank never took the impostor for rank 0: its receive times out
    // rather than delivering anything.
    let r = rank1.join().unwrap();
    assert!(r.is_err(), "rank 1 must not receive from the impostor");
    drop(ctl);
    server.shutdown();
}

#[test]
fn a_stranger_knocking_in_a_peers_name_does_not_cost_the_real_peer() {
    let (server, addr, job, verifier) = new_job();
    let token = TOKEN;
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let (up_tx, up_rx) = std::sync::mpsc::channel::<()>();
    let go_rx = std::sync::Arc::new(std::sync::Mutex::new(go_rx));
    let ranks: Vec<_> = (0..2u32)
        .map(|r| {
            let (job, up_tx, go_rx) = (job.clone(), up_tx.clone(), go_rx.clone());
            std::thread::spawn(move || {
                let mut cfg = common::config(&addr.to_string());
                cfg.token = token.into();
                cfg.timeout = Some(Duration::from_secs(4));
                let c = Comm::join(r, 3, &job, cfg).expect("join");
                up_tx.send(()).unwrap();
                if r == 0 {
                    // Blocked in a call, so rank 0 makes progress (there is no
                    // progress thread) while the stranger knocks. Nothing comes.
                    let mut b = [0u8; 1];
                    assert!(c.recv(&mut b, 2, 0).is_err());
                } else {
                    go_rx.lock().unwrap().recv().unwrap();
                }
                let mut buf = [0u8; 5];
                let s = c.sendrecv(b"hello", 1 - r as i32, 0, &mut buf, 1 - r as i32, 0);
                (s.map(|s| s.bytes), buf)
            })
        })
        .collect();
    up_rx.recv().unwrap();
    up_rx.recv().unwrap();
    // The stranger holds the verifier (rank 2), learns rank 0's address, and knocks
    // there claiming to be rank 1, then fails the handshake.
    let trap = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut ctl = register_impostor(addr, &job, 2, 3, verifier, trap.local_addr().unwrap());
    ctl.send(&Msg::WantPeer { rank: 0 });
    let cands = match ctl.recv() {
        Msg::PeerInfo {
            rank: 0,
            candidates,
        } => candidates,
        m => panic!("expected rank 0's candidates, got {m:?}"),
    };
    let target = *cands.iter().find(|a| a.ip().is_loopback()).unwrap();
    let mut s = TcpStream::connect(target).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let knock = Hello {
        job: job.clone(),
        from: 1,
        to: 0,
        nonce: [0; 32],
    }
    .encode();
    write_frame(&mut s, Kind::Knock, &knock);
    let (h, payload) = read_frame(&mut s);
    assert_eq!(h.kind, Kind::Hello, "rank 0 leads the handshake");
    assert_eq!(Hello::decode(&payload).unwrap().to, 1);
    write_frame(&mut s, Kind::HelloAck, &[3u8; 64]);
    let (h, _) = read_frame(&mut s);
    assert_eq!(h.kind, Kind::Refused);
    // The real ranks 0 and 1 still talk.
    go_tx.send(()).unwrap();
    for r in ranks {
        let (res, buf) = r.join().unwrap();
        assert_eq!(res.expect("real peers must still connect"), 5);
        assert_eq!(&buf, b"hello");
    }
    drop(ctl);
    server.shutdown();
}
