//! Point-to-point benchmark: FMI ping-pong against a plain TCP socket ping-pong over
//! loopback written the same way (non-blocking sockets, spinning reads), in one run,
//! with their ratio. Ranks (and the plain sockets' ends) are threads of this process.
//!
//! With `--relay`, the same FMI ping-pong is measured once more with every pair
//! relayed through the rendezvous server (the fallback when punching fails), and the
//! table compares the two FMI paths instead.
//!
//! Usage: fmi-bench [--iters-scale F] [--sizes 8,1024,...] [--relay]

use fmi::comm::Comm;
use fmi::config::Config;
use fmi::punch::server::{Server, ServerConfig};
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

const DEFAULT_SIZES: [usize; 5] = [8, 1024, 64 * 1024, 1 << 20, 4 << 20];

fn iters_for(size: usize, scale: f64) -> usize {
    let base = match size {
        0..=4096 => 20_000,
        4097..=65536 => 4_000,
        65537..=1048576 => 400,
        _ => 100,
    };
    ((base as f64 * scale) as usize).max(5)
}

fn spin_read(s: &mut TcpStream, buf: &mut [u8]) {
    let mut got = 0;
    while got < buf.len() {
        match s.read(&mut buf[got..]) {
            Ok(0) => panic!("peer closed"),
            Ok(n) => got += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => std::hint::spin_loop(),
            Err(e) => panic!("read: {e}"),
        }
    }
}

fn spin_write(s: &mut TcpStream, buf: &[u8]) {
    let mut put = 0;
    while put < buf.len() {
        match s.write(&buf[put..]) {
            Ok(n) => put += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => std::hint::spin_loop(),
            Err(e) => panic!("write: {e}"),
        }
    }
}

/// Half round-trip time of a plain TCP ping-pong.
fn tcp_pingpong(size: usize, iters: usize) -> Duration {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("addr");
    let echo = std::thread::spawn(move || {
        let (mut s, _) = l.accept().expect("accept");
        s.set_nodelay(true).ok();
        s.set_nonblocking(true).ok();
        let mut buf = vec![0u8; size];
        for _ in 0..iters + 1 {
            spin_read(&mut s, &mut buf);
            spin_write(&mut s, &buf);
        }
    });
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_nodelay(true).ok();
    s.set_nonblocking(true).ok();
    let mut buf = vec![1u8; size];
    // One warm-up exchange.
    spin_write(&mut s, &buf);
    spin_read(&mut s, &mut buf);
    let t = Instant::now();
    for _ in 0..iters {
        spin_write(&mut s, &buf);
        spin_read(&mut s, &mut buf);
    }
    let e = t.elapsed();
    echo.join().expect("echo thread");
    e / (2 * iters as u32)
}

/// Half round-trip time of an FMI ping-pong between two ranks.
/// `relayed`: no time for direct connections, so the pair goes through the server.
fn fmi_pingpong(server: &str, size: usize, iters: usize, relayed: bool) -> Duration {
    let job = format!("bench-{}", fmi::auth::new_token());
    let cfg = Config {
        rendezvous: Some(server.to_string()),
        token: "bench".into(),
        spin: Duration::from_millis(50),
        punch_timeout: if relayed {
            Duration::ZERO
        } else {
            fmi::config::Config::default().punch_timeout
        },
        ..Config::default()
    };
    let (j2, c2) = (job.clone(), cfg.clone());
    let echo = std::thread::spawn(move || {
        let c = Comm::join(1, 2, &j2, c2).expect("join rank 1");
        let mut buf = vec![0u8; size];
        for _ in 0..iters + 1 {
            c.recv(&mut buf, 0, 0).expect("recv");
            c.send(&buf, 0, 0).expect("send");
        }
    });
    let c = Comm::join(0, 2, &job, cfg).expect("join rank 0");
    let mut buf = vec![1u8; size];
    c.send(&buf, 1, 0).expect("send");
    c.recv(&mut buf, 1, 0).expect("recv");
    let t = Instant::now();
    for _ in 0..iters {
        c.send(&buf, 1, 0).expect("send");
        c.recv(&mut buf, 1, 0).expect("recv");
    }
    let e = t.elapsed();
    echo.join().expect("rank 1");
    e / (2 * iters as u32)
}

fn human(size: usize) -> String {
    match size {
        s if s >= 1 << 20 => format!("{} MiB", s >> 20),
        s if s >= 1024 => format!("{} KiB", s >> 10),
        s => format!("{s} B"),
    }
}

fn main() {
    let mut scale = 1.0;
    let mut sizes: Vec<usize> = DEFAULT_SIZES.to_vec();
    let mut relay = false;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        match (args[i].as_str(), args.get(i + 1)) {
            ("--iters-scale", Some(v)) => {
                scale = v.parse().unwrap_or_else(|_| {
                    eprintln!("fmi-bench: --iters-scale needs a number");
                    std::process::exit(2)
                });
                i += 2;
            }
            ("--sizes", Some(v)) => {
                sizes = v
                    .split(',')
                    .map(|s| s.trim().parse())
                    .collect::<Result<_, _>>()
                    .unwrap_or_else(|_| {
                        eprintln!("fmi-bench: --sizes needs a comma-separated list of byte counts");
                        std::process::exit(2)
                    });
                i += 2;
            }
            ("--relay", _) => {
                relay = true;
                i += 1;
            }
            _ => {
                eprintln!("usage: fmi-bench [--iters-scale F] [--sizes 8,1024,...] [--relay]");
                std::process::exit(2);
            }
        }
    }
    let server = Server::bind(
        "127.0.0.1:0".parse().expect("addr"),
        ServerConfig::default(),
    )
    .and_then(|s| s.spawn())
    .unwrap_or_else(|e| {
        eprintln!("fmi-bench: cannot start the rendezvous server: {e}");
        std::process::exit(1)
    });
    let addr = server.local_addr().to_string();
    let (title, base) = if relay {
        (
            "FMI relayed through the rendezvous server vs FMI direct",
            "direct",
        )
    } else {
        ("FMI vs a plain TCP socket", "TCP")
    };
    let head = if relay { "relay" } else { "FMI" };
    println!(
        "Ping-pong over loopback, half round-trip time (two threads, spinning waits): {title}"
    );
    println!(
        "{:>8} {:>7} {:>12} {:>12} {:>10} {:>12} {:>12} {:>9}",
        "size",
        "iters",
        format!("{head} us"),
        format!("{base} us"),
        "time x",
        format!("{head} MB/s"),
        format!("{base} MB/s"),
        "bw ratio"
    );
    for &size in &sizes {
        let iters = iters_for(size, scale);
        // Interleave and keep the best of three of each, to damp machine noise.
        let mut f = Duration::MAX;
        let mut t = Duration::MAX;
        for _ in 0..3 {
            if relay {
                t = t.min(fmi_pingpong(&addr, size, iters, false));
                f = f.min(fmi_pingpong(&addr, size, iters, true));
            } else {
                t = t.min(tcp_pingpong(size, iters));
                f = f.min(fmi_pingpong(&addr, size, iters, false));
            }
        }
        let mbs = |d: Duration| size as f64 / d.as_secs_f64() / 1e6;
        println!(
            "{:>8} {:>7} {:>12.2} {:>12.2} {:>10.2} {:>12.1} {:>12.1} {:>9.2}",
            human(size),
            iters,
            f.as_secs_f64() * 1e6,
            t.as_secs_f64() * 1e6,
            f.as_secs_f64() / t.as_secs_f64(),
            mbs(f),
            mbs(t),
            mbs(f) / mbs(t),
        );
    }
    if relay {
        println!("time x = relayed time / direct time; bw ratio = relayed / direct bandwidth (the relay adds a hop through the server and its copy)");
    } else {
        println!("time x = FMI time / TCP time (target <= 1.25 at 8 B and 1 KiB); bw ratio = FMI / TCP bandwidth (target >= 0.9 at 1 and 4 MiB)");
    }
    server.shutdown();
}
