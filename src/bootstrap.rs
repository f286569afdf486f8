//! Where rank, size and job name come from when the caller does not pass them:
//! `fmirun` (FMI_*), MPICH's Hydra (PMI_RANK/PMI_SIZE), Slurm (SLURM_PROCID/
//! SLURM_NTASKS) or a Kubernetes indexed job (JOB_COMPLETION_INDEX with FMI_SIZE).
//! With none of them a process is a world of its own, as an MPI singleton.

use crate::error::{Error, Result};

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
