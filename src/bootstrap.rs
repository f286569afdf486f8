//! Where rank, size and job name come from when the caller does not pass them:
//! `fmirun` (FMI_*), MPICH's Hydra (PMI_RANK/PMI_SIZE), Slurm (SLURM_PROCID/
//! SLURM_NTASKS) or a Kubernetes indexed job (JOB_COMPLETION_INDEX with FMI_SIZE).
//! With none of them a process is a world of its own, as an MPI singleton.
//!
//! Under Hydra (`mpiexec`) the ranks need no rendezvous server: each puts its
//! listening address into the launcher's key-value store over PMI-1 ([`join_pmi`]),
//! and the launcher also ends the job on an abort.

use crate::config::Config;
use crate::engine::{self, World};
use crate::error::{Error, Result};
use crate::pmi::Pmi;
use parking_lot::Mutex;
use std::net::SocketAddr;
use std::sync::Arc;

/// Identity of this process in its job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub rank: u32,
    pub size: u32,
    pub job: String,
    /// Which launcher it came from, for messages.
    pub source: &'static str,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn num(name: &str) -> Result<Option<u32>> {
    match var(name) {
        None => Ok(None),
        Some(v) => v
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| Error::config(format!("{name}={v:?} is not a non-negative integer"))),
    }
}

/// How this process joins its job.
pub enum Launch {
    /// Through a rendezvous server, with an identity from the environment.
    Named(Identity),
    /// Through a PMI-1 launcher's key-value store (mpiexec).
    Pmi(Pmi),
}

/// What the environment says: fmirun's variables first, then a PMI-1 launcher
/// (unless FMI_RENDEZVOUS asks for a server), then the other launchers.
pub fn launch() -> Result<Launch> {
    if var("FMI_RANK").is_none() && var("FMI_RENDEZVOUS").is_none() {
        if let Some(p) = Pmi::from_env()? {
            return Ok(Launch::Pmi(p));
        }
    }
    from_env().map(Launch::Named)
}

/// The launcher of this process while its world lives: told when the world is
/// done, and asked to end the job on an abort.
static LAUNCHER: Mutex<Option<Pmi>> = Mutex::new(None);

/// Joins the job of a PMI-1 launcher: every rank puts its address (host name, port,
/// interface addresses) and rank 0 the job's token when none is configured; after
/// the fence each rank reads the others'. Ranks on the same host reach each other
/// over loopback.
pub fn join_pmi(mut pmi: Pmi, mut cfg: Config) -> Result<Arc<World>> {
    let (rank, size) = (pmi.rank(), pmi.size());
    let job = var("FMI_JOB").unwrap_or_else(|| format!("pmi-{}", pmi.kvsname()));
    let listener = engine::open_listener()
        .map_err(|e| Error::connect(format!("cannot open the peer listener: {e}")))?;
    let port = listener
        .local_addr()
        .map_err(|e| Error::connect(format!("listener: {e}")))?
        .port();
    let host = hostname();
    let ips: Vec<String> = crate::punch::client::host_candidates(port)
        .iter()
        .filter(|a| !a.ip().is_loopback())
        .map(|a| a.ip().to_string())
        .collect();
    pmi.put(
        &format!("fmi-addr-{rank}"),
        &format!("{host};{port};{}", ips.join(",")),
    )?;
    let own_token = cfg.token.is_empty();
    if own_token && rank == 0 {
        cfg.token = crate::auth::nonce()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        pmi.put("fmi-token", &cfg.token)?;
    }
    pmi.fence()?;
    if own_token && rank != 0 {
        cfg.token = pmi.get("fmi-token")?;
    }
    let mut cands = vec![Vec::new(); size as usize];
    for q in (0..size).filter(|&q| q != rank) {
        let v = pmi.get(&format!("fmi-addr-{q}"))?;
        cands[q as usize] = peer_addresses(&v, &host)
            .ok_or_else(|| Error::config(format!("rank {q} put a malformed address {v:?}")))?;
    }
    let world = World::join_with_peers(rank, size, &job, cfg, listener, cands)?;
    *LAUNCHER.lock() = Some(pmi);
    Ok(world)
}

/// This host's name ("" if the system will not say).
pub fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_default()
}

/// A peer's candidates from its `host;port;ip,ip` entry: loopback on our own host.
fn peer_addresses(v: &str, my_host: &str) -> Option<Vec<SocketAddr>> {
    let mut it = v.split(';');
    let (host, port, ips) = (it.next()?, it.next()?.parse::<u16>().ok()?, it.next()?);
    if host == my_host && !host.is_empty() {
        return Some(vec![SocketAddr::from(([127, 0, 0, 1], port))]);
    }
    ips.split(',')
        .filter(|s| !s.is_empty())
        .map(|ip| {
            ip.parse()
                .ok()
                .map(|ip: std::net::IpAddr| SocketAddr::new(ip, port))
        })
        .collect()
}

/// The world is done: tells the launcher (PMI finalize), if there is one.
pub fn launcher_done() {
    if let Some(p) = LAUNCHER.lock().take() {
        if let Err(e) = p.finalize() {
            log::debug!("PMI finalize: {}", e.msg);
        }
    }
}

/// Asks the launcher to end the job; false if there is none.
pub fn launcher_abort(code: i32, why: &str) -> bool {
    match LAUNCHER.lock().as_mut() {
        Some(p) => {
            // The launcher kills every rank at once: give its proxy a moment to
            // forward what this rank just wrote to stderr (the reason for the abort).
            std::thread::sleep(std::time::Duration::from_millis(100));
            p.abort(code, why);
            true
        }
        None => false,
    }
}

/// Reads the identity from the environment, trying each launcher in turn.
pub fn from_env() -> Result<Identity> {
    let launchers: [(&str, &str, &str); 4] = [
        ("fmirun", "FMI_RANK", "FMI_SIZE"),
        ("mpiexec", "PMI_RANK", "PMI_SIZE"),
        ("slurm", "SLURM_PROCID", "SLURM_NTASKS"),
        ("kubernetes", "JOB_COMPLETION_INDEX", "FMI_SIZE"),
    ];
    for (source, r, s) in launchers {
        let (Some(rank), size) = (num(r)?, num(s)?) else {
            continue;
        };
        let size = size.ok_or_else(|| Error::config(format!("{r} is set but {s} is not")))?;
        if rank >= size {
            return Err(Error::config(format!("{r}={rank} is not below {s}={size}")));
        }
        let job = var("FMI_JOB")
            .or_else(|| var("SLURM_JOB_ID").map(|j| format!("slurm-{j}")))
            .or_else(|| var("JOB_NAME"))
            .ok_or_else(|| {
                Error::config(format!(
                    "{source} gave rank and size but FMI_JOB is not set"
                ))
            })?;
        return Ok(Identity {
            rank,
            size,
            job,
            source,
        });
    }
    Ok(Identity {
        rank: 0,
        size: 1,
        job: var("FMI_JOB").unwrap_or_else(|| format!("singleton-{}", std::process::id())),
        source: "singleton",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_addresses_from_the_launchers_store() {
        let lo = |p: u16| SocketAddr::from(([127, 0, 0, 1], p));
        // same host: loopback only, whatever interfaces it listed
        assert_eq!(
            peer_addresses("h1;4000;10.0.0.2", "h1"),
            Some(vec![lo(4000)])
        );
        // another host: its interface addresses
        assert_eq!(
            peer_addresses("h2;4001;10.0.0.3,192.168.1.9", "h1"),
            Some(vec![
                SocketAddr::from(([10, 0, 0, 3], 4001)),
                SocketAddr::from(([192, 168, 1, 9], 4001))
            ])
        );
        assert_eq!(peer_addresses("h2;4001;", "h1"), Some(vec![]));
        // an empty host name never matches ours
        assert_eq!(
            peer_addresses(";4002;10.0.0.4", ""),
            Some(vec![SocketAddr::from(([10, 0, 0, 4], 4002))])
        );
        // malformed entries
        assert_eq!(peer_addresses("h2;notaport;10.0.0.3", "h1"), None);
        assert_eq!(peer_addresses("h2;4001;10.0.0.x", "h1"), None);
        assert_eq!(peer_addresses("h2", "h1"), None);
    }
}
