//! Proof of job membership without sending the token: HMAC-SHA256 over fresh nonces.
//!
//! Two keys are derived from the job token so that neither side's key reveals the
//! token: the *server key* proves membership to the rendezvous server, the *peer key*
//! proves it to other ranks. A server only ever sees the verifier of its key
//! (HMAC(server key, "verifier")), so a server, or anyone who reads its traffic, learns
//! nothing that lets it talk to ranks.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// A 32-byte MAC or key.
pub type Tag = [u8; 32];

fn mac_parts(key: &[u8], parts: &[&[u8]]) -> Tag {
    // new_from_slice accepts keys of any length for HMAC, so this cannot fail.
    let mut m = <HmacSha256 as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    for p in parts {
        m.update(&(p.len() as u32).to_le_bytes());
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

/// Constant-time comparison of two tags.
pub fn tags_equal(a: &Tag, b: &Tag) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Fresh random nonce. getrandom only fails where the OS has no entropy source.
pub fn nonce() -> Tag {
    let mut n = [0u8; 32];
    if getrandom::getrandom(&mut n).is_err() {
        // Fall back on time and address entropy rather than failing the job.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        n = mac_parts(
            &t.to_le_bytes(),
            &[&(&n as *const _ as usize).to_le_bytes()],
        );
    }
    n
}

/// Random job token as 64 hex digits (what `fmirun` hands to its ranks).
pub fn new_token() -> String {
    nonce().iter().map(|b| format!("{b:02x}")).collect()
}

/// Keys of one job member.
#[derive(Clone)]
pub struct JobKeys {
    server: Tag,
    peer: Tag,
}

impl JobKeys {
    pub fn new(token: &str, job: &str) -> Self {
        JobKeys {
            server: mac_parts(token.as_bytes(), &[b"fmi server key v1", job.as_bytes()]),
            peer: mac_parts(token.as_bytes(), &[b"fmi peer key v1", job.as_bytes()]),
        }
    }

    /// What the server stores to recognise members of the job.
    pub fn server_verifier(&self) -> Tag {
        mac_parts(&self.server, &[b"verifier"])
    }

    /// Proof for the server's challenge.
    pub fn server_mac(&self, nonce: &Tag, job: &str, rank: u32) -> Tag {
        server_mac_with(&self.server_verifier(), nonce, job, rank)
    }

    /// MAC of one side of a peer handshake. `role` tells the two directions apart so a
    /// proof cannot be reflected back to its sender.
    pub fn peer_mac(&self, role: &[u8], job: &str, from: u32, to: u32, n1: &Tag, n2: &Tag) -> Tag {
        mac_parts(
            &self.peer,
            &[
                role,
                job.as_bytes(),
                &from.to_le_bytes(),
                &to.to_le_bytes(),
                n1,
                n2,
            ],
        )
    }
}

/// The server's view of the registration proof: keyed by the verifier it holds.
pub fn server_mac_with(verifier: &Tag, nonce: &Tag, job: &str, rank: u32) -> Tag {
    mac_parts(verifier, &[nonce, job.as_bytes(), &rank.to_le_bytes()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_depend_on_token_and_job() {
        let a = JobKeys::new("t1", "job");
        let b = JobKeys::new("t2", "job");
        let c = JobKeys::new("t1", "other");
        assert!(!tags_equal(&a.server_verifier(), &b.server_verifier()));
        assert!(!tags_equal(&a.server_verifier(), &c.server_verifier()));
        let n = nonce();
        let m = a.peer_mac(b"A", "job", 0, 1, &n, &n);
        assert!(tags_equal(
            &m,
            &JobKeys::new("t1", "job").peer_mac(b"A", "job", 0, 1, &n, &n)
        ));
        assert!(!tags_equal(&m, &a.peer_mac(b"C", "job", 0, 1, &n, &n)));
        assert!(!tags_equal(&m, &b.peer_mac(b"A", "job", 0, 1, &n, &n)));
    }

    #[test]
    fn server_can_check_with_verifier_only() {
        let k = JobKeys::new("tok", "j");
        let n = nonce();
        assert!(tags_equal(
            &k.server_mac(&n, "j", 3),
            &server_mac_with(&k.server_verifier(), &n, "j", 3)
        ));
        assert_ne!(nonce(), nonce());
        assert_eq!(new_token().len(), 64);
    }
}
