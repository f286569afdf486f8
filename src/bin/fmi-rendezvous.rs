//! `fmi-rendezvous`: the standalone rendezvous server that ranks register with.
//!
//! ```text
//! fmi-rendezvous [--listen HOST:PORT] [--max-connections N]
//! ```

use fmi::punch::server::{Server, ServerConfig};
use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;

const USAGE: &str = "\
usage: fmi-rendezvous [--listen HOST:PORT] [--max-connections N]

The rendezvous server of FMI: ranks of a job register here and learn how to
reach each other.

  --listen HOST:PORT     address to listen on (default 0.0.0.0:10000)
  --max-connections N    most simultaneous connections (default 4096)
  --help                 show this help

Logging is controlled by the FMI_LOG environment variable.";

struct Args {
    listen: SocketAddr,
    cfg: ServerConfig,
}

/// `Ok(None)` means --help was asked for.
fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut listen = "0.0.0.0:10000".to_string();
    let mut cfg = ServerConfig::default();
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
            other => return Err(format!("unknown argument '{other}'")),
        }
    }
    let listen = listen
        .to_socket_addrs()
        .map_err(|e| format!("--listen: cannot resolve '{listen}': {e}"))?
        .next()
        .ok_or_else(|| format!("--listen: '{listen}' resolves to no address"))?;
    Ok(Some(Args { listen, cfg }))
}

fn main() -> ExitCode {
    // Honours FMI_LOG; the rendezvous server reports through the `log` macros.
    fmi::log::init();
    let args = match parse_args(std::env::args().skip(1)) {
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
    let server = match Server::bind(args.listen, args.cfg) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("fmi-rendezvous: cannot listen on {}: {e}", args.listen);
            return ExitCode::FAILURE;
        }
    };
    eprintln!("fmi-rendezvous listening on {}", server.local_addr());
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
        parse_args(v.iter().map(|s| s.to_string()))
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
    }

    #[test]
    fn rejects_bad_arguments() {
        assert!(parse(&["--listen"]).is_err());
        assert!(parse(&["--listen", "nonsense"]).is_err());
        assert!(parse(&["--max-connections", "0"]).is_err());
        assert!(parse(&["--max-connections", "x"]).is_err());
        assert!(parse(&["--bogus"]).is_err());
    }
}
