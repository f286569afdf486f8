//! `fmi-rendezvous`: the standalone rendezvous server that ranks register with.
//!
//! ```text
//! fmi-rendezvous [--listen HOST:PORT] [--max-connections N]
//!                [--max-job-connections N] [--token-file PATH]
//! ```

use fmi::punch::server::{Server, ServerConfig};
use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;

const USAGE: &str = "\
usage: fmi-rendezvous [--listen HOST:PORT] [--max-connections N]
                      [--max-job-connections N] [--token-file PATH]

The rendezvous server of FMI: ranks of a job register here and learn how to
reach each other, or have their traffic relayed when they cannot.

  --listen HOST:PORT         address to listen on (default 0.0.0.0:10000)
  --max-connections N        most simultaneous connections (default 4096)
  --max-job-connections N    most connections of one job, registered and relay
                             ones together; also the largest job size
                             (default 65536)
  --token-file PATH          read the job token from PATH (surrounding
                             whitespace is ignored); overrides FMI_TOKEN
  --help                     show this help

With a token (--token-file, or FMI_TOKEN in the environment) the server
checks every rank against it: only holders of the token can create or join
jobs, and the token never crosses the network in any form. Without one, the
first rank of a job sets what the job's other ranks are checked against (trust
on first use): anyone who reaches the server first can claim a job name.

Logging is controlled by the FMI_LOG environment variable.";

struct Args {
    listen: SocketAddr,
    cfg: ServerConfig,
}

/// `Ok(None)` means --help was asked for. `env_token` is FMI_TOKEN, if set.
fn parse_args(
    mut args: impl Iterator<Item = String>,
    env_token: Option<String>,
) -> Result<Option<Args>, String> {
    let mut listen = "0.0.0.0:10000".to_string();
    let mut cfg = ServerConfig::default();
    let mut token_file: Option<String> = None;
    while let Some(a) = args.next() {
        // Accept both "--opt value" and "--opt=value".
        let (name, inline) = match a.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(v.to_string())),
            _ => (a.clone(), None),
        };
        let mut value = |what: &str| -> Result<String, String> {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{name} needs {what}"))
        };
        match name.as_str() {
            "-h" | "--help" => return Ok(None),
            "--listen" | "-l" => listen = value("an address (HOST:PORT)")?,
            "--max-connections" => {
                let v = value("a number")?;
                cfg.max_connections = match v.parse::<usize>() {
                    Ok(n) if n > 0 => n,
                    _ => return Err(format!("--max-connections: '{v}' is not a positive number")),
                };
            }
            "--max-job-connections" => {
                let v = value("a number")?;
                cfg.max_job_connections = match v.parse::<usize>() {
                    Ok(n) if n > 0 => n,
                    _ => {
                        return Err(format!(
                            "--max-job-connections: '{v}' is not a positive number"
                        ))
                    }
                };
            }
            "--token-file" => token_file = Some(value("a path")?),
            other => return Err(format!("unknown argument '{other}'")),
        }
    }
    let listen = listen
        .to_socket_addrs()
        .map_err(|e| format!("--listen: cannot resolve '{listen}': {e}"))?
        .next()
        .ok_or_else(|| format!("--listen: '{listen}' resolves to no address"))?;
    let token = match token_file {
        Some(path) => Some(
            std::fs::read_to_string(&path)
                .map_err(|e| format!("--token-file: cannot read '{path}': {e}"))?
                .trim()
                .to_string(),
        ),
        None => env_token.map(|t| t.trim().to_string()),
    };
    if token.as_deref() == Some("") {
        return Err("the token (--token-file or FMI_TOKEN) is empty".into());
    }
    cfg.token = token;
    Ok(Some(Args { listen, cfg }))
}

fn main() -> ExitCode {
    // Honours FMI_LOG; the rendezvous server reports through the `log` macros.
    fmi::log::init();
    let env_token = std::env::var("FMI_TOKEN").ok();
    let args = match parse_args(std::env::args().skip(1), env_token) {
        Ok(Some(a)) => a,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("fmi-rendezvous: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let checks = if args.cfg.token.is_some() {
        "ranks checked against the token"
    } else {
        "no token: the first rank of a job sets its credentials"
    };
    let server = match Server::bind(args.listen, args.cfg) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("fmi-rendezvous: cannot listen on {}: {e}", args.listen);
            return ExitCode::FAILURE;
        }
    };
    eprintln!(
        "fmi-rendezvous listening on {} ({checks})",
        server.local_addr()
    );
    match server.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fmi-rendezvous: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: &[&str]) -> Result<Option<Args>, String> {
        parse_args(v.iter().map(|s| s.to_string()), None)
    }

    #[test]
    fn parses_options() {
        let a = parse(&["--listen", "127.0.0.1:1234", "--max-connections=7"])
            .unwrap()
            .unwrap();
        assert_eq!(a.listen, "127.0.0.1:1234".parse::<SocketAddr>().unwrap());
        assert_eq!(a.cfg.max_connections, 7);
        let d = parse(&[]).unwrap().unwrap();
        assert_eq!(d.listen, "0.0.0.0:10000".parse::<SocketAddr>().unwrap());
        assert!(parse(&["--help"]).unwrap().is_none());
        assert_eq!(d.cfg.max_job_connections, 65536);
        assert!(d.cfg.token.is_none());
        let j = parse(&["--max-job-connections", "9"]).unwrap().unwrap();
        assert_eq!(j.cfg.max_job_connections, 9);
    }

    #[test]
    fn token_from_file_or_environment() {
        let path = std::env::temp_dir().join(format!("fmi-token-{}", std::process::id()));
        std::fs::write(&path, "  s3cret\n").unwrap();
        let p = path.to_str().unwrap();
        let from_env = |env: Option<&str>, args: &[&str]| {
            parse_args(args.iter().map(|s| s.to_string()), env.map(String::from))
        };
        let a = from_env(None, &["--token-file", p]).unwrap().unwrap();
        assert_eq!(a.cfg.token.as_deref(), Some("s3cret"));
        // The file wins over the environment.
        let a = from_env(Some("env"), &["--token-file", p])
            .unwrap()
            .unwrap();
        assert_eq!(a.cfg.token.as_deref(), Some("s3cret"));
        let a = from_env(Some("env"), &[]).unwrap().unwrap();
        assert_eq!(a.cfg.token.as_deref(), Some("env"));
        // The token never shows in the configuration's debug output.
        assert!(!format!("{:?}", a.cfg).contains("env\""));
        std::fs::write(&path, "\n").unwrap();
        assert!(from_env(None, &["--token-file", p]).is_err());
        std::fs::remove_file(&path).unwrap();
        assert!(from_env(None, &["--token-file", p]).is_err());
        assert!(from_env(Some(""), &[]).is_err());
    }

    #[test]
    fn rejects_bad_arguments() {
        assert!(parse(&["--listen"]).is_err());
        assert!(parse(&["--listen", "nonsense"]).is_err());
        assert!(parse(&["--max-connections", "0"]).is_err());
        assert!(parse(&["--max-connections", "x"]).is_err());
        assert!(parse(&["--max-job-connections", "0"]).is_err());
        assert!(parse(&["--token-file"]).is_err());
        assert!(parse(&["--bogus"]).is_err());
    }
}
