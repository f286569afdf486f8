//! Measures the cost model's per-channel parameters on this machine: `overhead` (ms,
//! the latency of an 8-byte transfer) and `bandwidth` (MB/s, from large transfers),
//! prints them next to the model's current values, and with `--write` stores them
//! in the config file (`model.{Direct,Redis,S3}`), keeping everything else there.
//!
//! Direct: two ranks of one world in this process, over loopback, with an embedded
//! rendezvous server; overhead is half the round trip of 8 bytes. Redis and S3: two
//! store handles of one job, one puts and the other gets; overhead is one put plus
//! one get of 8 bytes (what the model charges a send). Medians of `--reps`.
//!
//! Usage: fmi-calibrate [--config FILE] [--channels direct,redis,s3] [--reps N]
//!                      [--size BYTES] [--write]

use fmi::channel::store::{ChannelKind, Store};
use fmi::comm::Comm;
use fmi::config::{write_model, Config};
use fmi::punch::server::{Server, ServerConfig};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

const USAGE: &str = "usage: fmi-calibrate [--config FILE] [--channels direct,redis,s3] [--reps N] [--size BYTES] [--write]
  --config FILE   the fmi.json to read (and with --write, to update or create)
  --channels LIST channels to measure (default: every configured one)
  --reps N        measurements per value, the median is kept (default 10)
  --size BYTES    size of the bandwidth transfers (default 8388608)
  --write         store the measured overhead and bandwidth in FILE";

const SMALL: usize = 8;
const WARMUP: usize = 2;

struct Args {
    config: Option<String>,
    channels: Option<Vec<ChannelKind>>,
    reps: usize,
    size: usize,
    write: bool,
}

fn parse_args(mut it: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut a = Args {
        config: None,
        channels: None,
        reps: 10,
        size: 8 << 20,
        write: false,
    };
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--config" => a.config = Some(value("--config")?),
            "--channels" => {
                let list = value("--channels")?;
                let chans = list
                    .split(',')
                    .filter(|s| !s.trim().is_empty())
                    .map(|s| {
                        ChannelKind::parse(s)
                            .ok_or_else(|| format!("unknown channel {s:?} (direct, redis, s3)"))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                a.channels = Some(chans);
            }
            "--reps" => {
                let v = value("--reps")?;
                a.reps = v
                    .parse()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| format!("--reps {v:?} is not a positive integer"))?;
            }
            "--size" => {
                let v = value("--size")?;
                a.size = v
                    .parse()
                    .ok()
                    .filter(|&n| n > SMALL)
                    .ok_or_else(|| format!("--size {v:?} is not an integer above {SMALL}"))?;
            }
            "--write" => a.write = true,
            "-h" | "--help" => return Err(String::new()),
            _ => return Err(format!("unknown argument {arg:?}")),
        }
    }
    if a.write && a.config.is_none() {
        return Err("--write needs --config FILE".into());
    }
    Ok(a)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// `(overhead ms, bandwidth MB/s)` from the median seconds of a small and a large
/// transfer, each costing `overhead + bytes / bandwidth`.
fn link(small_s: f64, large_s: f64, size: usize) -> Result<(f64, f64), String> {
    if !(small_s.is_finite() && large_s.is_finite() && large_s > 0.0) {
        return Err(format!("no usable times ({small_s} s, {large_s} s)"));
    }
    // The large transfer's time beyond the small one's is the bytes' time. On a
    // busy machine the small one's median can come out as long as the large one's;
    // the whole large time is then the honest (lower) bound on the bandwidth.
    let spread = if large_s > 1.5 * small_s {
        large_s - small_s
    } else {
        large_s
    };
    Ok((small_s * 1e3, (size - SMALL) as f64 / spread / 1e6))
}

fn job_name(what: &str) -> String {
    format!(
        "fmi-calibrate-{what}-{}-{}",
        std::process::id(),
        fmi::auth::new_token().get(..8).unwrap_or("0")
    )
}

/// Ping-pong between two ranks of a loopback world with an embedded rendezvous server.
fn measure_direct(cfg: &Config, reps: usize, size: usize) -> Result<(f64, f64), String> {
    let token = fmi::auth::new_token();
    let server = Server::bind(
        ([127, 0, 0, 1], 0).into(),
        ServerConfig {
            token: Some(token.clone()),
            ..ServerConfig::default()
        },
    )
    .and_then(Server::spawn)
    .map_err(|e| format!("cannot start a rendezvous server on loopback: {e}"))?;
    let cfg = Config {
        rendezvous: Some(server.local_addr().to_string()),
        token,
        ..cfg.clone()
    };
    let job = job_name("direct");
    let rounds = WARMUP + reps;
    let echo = {
        let (cfg, job) = (cfg.clone(), job.clone());
        std::thread::spawn(move || -> fmi::Result<()> {
            let comm = Comm::join(1, 2, &job, cfg)?;
            let mut buf = vec![0u8; size];
            for _ in 0..2 * rounds {
                let st = comm.recv(&mut buf, 0, 0)?;
                comm.send(&buf[..st.bytes], 0, 0)?;
            }
            Ok(())
        })
    };
    let ping = || -> fmi::Result<(f64, f64)> {
        let comm = Comm::join(0, 2, &job, cfg.clone())?;
        let halves = |n: usize| -> fmi::Result<f64> {
            let out = vec![7u8; n];
            let mut back = vec![0u8; n];
            let mut times = Vec::with_capacity(reps);
            for i in 0..rounds {
                let t = Instant::now();
                comm.send(&out, 1, 0)?;
                comm.recv(&mut back, 1, 0)?;
                if i >= WARMUP {
                    times.push(t.elapsed().as_secs_f64() / 2.0);
                }
            }
            Ok(median(times))
        };
        let small = halves(SMALL)?;
        let large = halves(size)?;
        Ok((small, large))
    };
    let measured = ping();
    let echoed = echo
        .join()
        .unwrap_or_else(|_| Err(fmi::Error::internal("the echoing rank panicked")));
    server.shutdown();
    let (small, large) = measured.map_err(|e| e.to_string())?;
    echoed.map_err(|e| format!("rank 1: {e}"))?;
    link(small, large, size)
}

/// One handle puts, another (a second rank) gets; both of one job, cleared after.
fn measure_store(
    kind: ChannelKind,
    cfg: &Config,
    reps: usize,
    size: usize,
) -> Result<(f64, f64), String> {
    let job = job_name(kind.name());
    let a = fmi::channel::open_store(kind, cfg, &job, 0).map_err(|e| e.to_string())?;
    let b = fmi::channel::open_store(kind, cfg, &job, 1).map_err(|e| e.to_string())?;
    let wait = cfg.timeout.unwrap_or(Duration::from_secs(60));
    let run = |a: &Arc<dyn Store>, b: &Arc<dyn Store>| -> fmi::Result<(f64, f64)> {
        let transfer = |n: usize| -> fmi::Result<f64> {
            let data = vec![7u8; n];
            let mut times = Vec::with_capacity(reps);
            for i in 0..WARMUP + reps {
                let key = format!("calibrate-{n}-{i}");
                let t = Instant::now();
                a.put(&key, &data)?;
                let got = b.get(&key, Some(Instant::now() + wait))?;
                let secs = t.elapsed().as_secs_f64();
                if got.len() != n {
                    return Err(fmi::Error::new(
                        fmi::ErrorKind::Channel,
                        format!("{key}: read {} bytes back, wrote {n}", got.len()),
                    ));
                }
                a.delete(&[key])?;
                if i >= WARMUP {
                    times.push(secs);
                }
            }
            Ok(median(times))
        };
        let small = transfer(SMALL)?;
        let large = transfer(size)?;
        Ok((small, large))
    };
    let measured = run(&a, &b);
    // The calibration job is its own: everything it wrote can go.
    let closed = a.clear_job().map(|_| ());
    let (small, large) = measured.map_err(|e| e.to_string())?;
    closed.map_err(|e| format!("cleaning up job {job}: {e}"))?;
    link(small, large, size)
}

fn how_to_configure(ch: ChannelKind) -> &'static str {
    match ch {
        ChannelKind::Direct => "set backends.Direct.enabled to true",
        ChannelKind::Redis => {
            "set FMI_REDIS_URL=redis://host:port, or enable backends.Redis {host, port}"
        }
        ChannelKind::S3 => {
            "set FMI_S3_BUCKET (and FMI_S3_ENDPOINT, FMI_S3_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY), or enable backends.S3 {bucket_name, s3_region}"
        }
    }
}

fn run(args: Args) -> Result<bool, String> {
    // A file that does not exist yet is created by --write; read it only if it is there.
    let path = args.config.as_deref();
    let existing = path.filter(|p| std::path::Path::new(p).exists());
    let cfg = Config::load(existing).map_err(|e| e.to_string())?;
    let configured = cfg.channels();
    let wanted = args.channels.clone().unwrap_or(ChannelKind::ALL.to_vec());

    println!(
        "{:<8} {:>14} {:>17} {:>15} {:>18}",
        "channel", "overhead (ms)", "bandwidth (MB/s)", "model overhead", "model bandwidth"
    );
    let mut ok = true;
    let mut updates = Vec::new();
    for ch in ChannelKind::ALL {
        if !wanted.contains(&ch) {
            continue;
        }
        let (mo, mb) = cfg.model.link(ch);
        if !configured.contains(&ch) {
            println!("{:<8} not configured: {}", ch.name(), how_to_configure(ch));
            // asked for by name: that is a failure; listed by default: information
            ok &= args.channels.is_none();
            continue;
        }
        let measured = match ch {
            ChannelKind::Direct => measure_direct(&cfg, args.reps, args.size),
            _ => measure_store(ch, &cfg, args.reps, args.size),
        };
        match measured {
            Ok((o, b)) => {
                println!(
                    "{:<8} {:>14.4} {:>17.1} {:>15} {:>18}",
                    ch.name(),
                    o,
                    b,
                    mo,
                    mb
                );
                updates.push((ch, o, b));
            }
            Err(e) => {
                println!("{:<8} failed: {e}", ch.name());
                ok = false;
            }
        }
    }
    if args.write {
        if let Some(p) = path {
            if updates.is_empty() {
                return Err(format!("nothing measured, {p} left as it was"));
            }
            write_model(p, &updates).map_err(|e| e.to_string())?;
            let names: Vec<&str> = updates.iter().map(|u| u.0.name()).collect();
            println!(
                "wrote model.{{{}}}.{{overhead,bandwidth}} to {p}",
                names.join(",")
            );
        }
    }
    Ok(ok)
}

fn main() -> ExitCode {
    fmi::log::init();
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            if e.is_empty() {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            eprintln!("fmi-calibrate: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("fmi-calibrate: {e}");
            ExitCode::FAILURE
        }
    }
}
