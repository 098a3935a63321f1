//! Sealed shared-cache entries and key names: pure, no I/O.
//!
//! Redis is trusted with availability, never with integrity. Every value a replica reads
//! back from Redis and acts on (a cached judgement, a published verdict key) is sealed with
//! HMAC-SHA256 under the fleet secret, over the format version, the Redis key it is stored
//! under (so an entry cannot be replayed under another URL's key), its expiry and its bytes.
//! Someone who can write to Redis but does not hold the fleet secret cannot plant a `valid`
//! judgement or a verdict key: the entry fails to open and is dropped and counted.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// Format version of every fleet key and entry. Part of each key name (`<prefix>:v1:…`) and
/// of each MAC, so replicas of two releases with different formats never read each other's
/// entries during a rolling upgrade: they simply miss.
pub const FORMAT_VERSION: u8 = 1;

/// Bytes before the payload: version (1), expiry (8, big-endian unix seconds), MAC (32).
pub const HEADER_BYTES: usize = 1 + 8 + 32;

/// Why a stored entry was not accepted. Each variant has a stable code (metric label).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// Shorter than the header.
    #[error("fleet entry is truncated")]
    Malformed,
    /// Written by another format version.
    #[error("fleet entry has another format version")]
    WrongVersion,
    /// The MAC does not match: written by someone without the fleet secret, or corrupted.
    #[error("fleet entry MAC does not verify")]
    BadMac,
    /// The entry's own expiry has passed (Redis TTL and clock skew are not trusted alone).
    #[error("fleet entry has expired")]
    Expired,
    /// The payload did not decode (unknown code, changed schema).
    #[error("fleet entry payload does not decode")]
    Undecodable,
}

impl OpenError {
    /// Stable snake_case code, used as the `reason` label of the rejected-entries counter.
    pub fn code(&self) -> &'static str {
        match self {
            OpenError::Malformed => "fleet_entry_malformed",
            OpenError::WrongVersion => "fleet_entry_wrong_version",
            OpenError::BadMac => "fleet_entry_bad_mac",
            OpenError::Expired => "fleet_entry_expired",
            OpenError::Undecodable => "fleet_entry_undecodable",
        }
    }

    /// Every code, for metric pre-registration and docs.
    pub const ALL_CODES: [&'static str; 5] = [
        "fleet_entry_malformed",
        "fleet_entry_wrong_version",
        "fleet_entry_bad_mac",
        "fleet_entry_expired",
        "fleet_entry_undecodable",
    ];
}

/// An opened entry: verified bytes and their expiry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opened {
    /// Unix time after which the entry must not be used.
    pub expires_unix: u64,
    /// The verified payload.
    pub payload: Vec<u8>,
}

/// Seals and opens entries under the fleet secret.
pub struct Sealer {
    secret: Vec<u8>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(<secret>)")
    }
}

impl Sealer {
    /// A sealer over `secret` (the caller checks its length when reading the file).
    pub fn new(secret: &[u8]) -> Sealer {
        Sealer {
            secret: secret.to_vec(),
        }
    }

    fn mac(&self, key: &str, expires_unix: u64, payload: &[u8]) -> HmacSha256 {
        // `new_from_slice` accepts any key length for HMAC; the fallback is unreachable but
        // keeps this free of unwrap.
        let mut mac = HmacSha256::new_from_slice(&self.secret)
            .unwrap_or_else(|_| <HmacSha256 as Mac>::new(&Default::default()));
        mac.update(&[FORMAT_VERSION]);
        mac.update(&(key.len() as u64).to_be_bytes());
        mac.update(key.as_bytes());
        mac.update(&expires_unix.to_be_bytes());
        mac.update(payload);
        mac
    }

    /// The stored bytes for `payload` under Redis key `key`.
    pub fn seal(&self, key: &str, expires_unix: u64, payload: &[u8]) -> Vec<u8> {
        let tag = self.mac(key, expires_unix, payload).finalize().into_bytes();
        let mut out = Vec::with_capacity(HEADER_BYTES + payload.len());
        out.push(FORMAT_VERSION);
        out.extend_from_slice(&expires_unix.to_be_bytes());
        out.extend_from_slice(&tag);
        out.extend_from_slice(payload);
        out
    }

    /// Verifies bytes read from Redis key `key` at `now_unix` (constant-time MAC check).
    pub fn open(&self, key: &str, stored: &[u8], now_unix: u64) -> Result<Opened, OpenError> {
        if stored.len() < HEADER_BYTES {
            return Err(OpenError::Malformed);
        }
        let (head, payload) = stored.split_at(HEADER_BYTES);
        if head[0] != FORMAT_VERSION {
            return Err(OpenError::WrongVersion);
        }
        let mut exp = [0u8; 8];
        exp.copy_from_slice(&head[1..9]);
        let expires_unix = u64::from_be_bytes(exp);
        self.mac(key, expires_unix, payload)
            .verify_slice(&head[9..HEADER_BYTES])
            .map_err(|_| OpenError::BadMac)?;
        if expires_unix <= now_unix {
            return Err(OpenError::Expired);
        }
        Ok(Opened {
            expires_unix,
            payload: payload.to_vec(),
        })
    }
}

/// Key names, all under `<prefix>:v<FORMAT_VERSION>:`.
#[derive(Clone, Debug)]
pub struct Namespace {
    base: String,
}

impl Namespace {
    /// Names under `prefix`.
    pub fn new(prefix: &str) -> Namespace {
        Namespace {
            base: format!("{prefix}:v{FORMAT_VERSION}:"),
        }
    }

    /// The common prefix (for tests and operators).
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Shared cache entry of question `id`.
    pub fn entry(&self, id: &str) -> String {
        format!("{}j:{id}", self.base)
    }

    /// Short-lived result of a flight whose judgement is not cacheable (lifetime 0): read
    /// only by that flight's waiters, never by a cache lookup.
    pub fn flight_result(&self, id: &str) -> String {
        format!("{}f:{id}", self.base)
    }

    /// Single-flight lock of question `id`.
    pub fn lock(&self, id: &str) -> String {
        format!("{}lock:{id}", self.base)
    }

    /// Pub/sub channel on which finished flights are announced (message: the id).
    pub fn done_channel(&self) -> String {
        format!("{}done", self.base)
    }

    /// GCRA state of one limiter key; the name is hashed so its length is bounded.
    pub fn rate(&self, scope: &str, name: &str) -> String {
        format!("{}rate:{scope}:{}", self.base, digest_id(name.as_bytes()))
    }

    /// Published verdict key `kid`.
    pub fn verdict_key(&self, kid: &str) -> String {
        format!("{}key:{}", self.base, digest_id(kid.as_bytes()))
    }

    /// SCAN pattern of every published verdict key.
    pub fn verdict_key_pattern(&self) -> String {
        format!("{}key:*", self.base)
    }
}

/// A short, fixed-length id of arbitrary bytes (base64url SHA-256): question ids and
/// hashed limiter names, so no URL or caller name is written to Redis in clear.
pub fn digest_id(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn sealed_entry_opens_under_the_same_key() {
        let s = Sealer::new(SECRET);
        let stored = s.seal("p:v1:j:a", 2_000, b"judgement");
        let opened = s.open("p:v1:j:a", &stored, 1_000).unwrap();
        assert_eq!(opened.payload, b"judgement");
        assert_eq!(opened.expires_unix, 2_000);
    }

    #[test]
    fn tampering_anywhere_is_refused() {
        let s = Sealer::new(SECRET);
        let stored = s.seal("p:v1:j:a", 2_000, b"invalid");
        assert_eq!(
            s.open("p:v1:j:b", &stored, 1_000).unwrap_err(),
            OpenError::BadMac,
            "replayed under another key"
        );
        for i in 1..stored.len() {
            let mut bad = stored.clone();
            bad[i] ^= 1;
            assert_eq!(
                s.open("p:v1:j:a", &bad, 1_000).unwrap_err(),
                OpenError::BadMac
            );
        }
        let other = Sealer::new(b"another secret of thirty-two bytes!");
        assert_eq!(
            other.open("p:v1:j:a", &stored, 1_000).unwrap_err(),
            OpenError::BadMac
        );
    }

    #[test]
    fn version_length_and_expiry_are_checked() {
        let s = Sealer::new(SECRET);
        let mut stored = s.seal("k", 2_000, b"x");
        assert_eq!(s.open("k", &stored, 2_000).unwrap_err(), OpenError::Expired);
        assert_eq!(
            s.open("k", &stored[..10], 1).unwrap_err(),
            OpenError::Malformed
        );
        stored[0] = 2;
        assert_eq!(
            s.open("k", &stored, 1).unwrap_err(),
            OpenError::WrongVersion
        );
    }

    #[test]
    fn names_are_namespaced_versioned_and_bounded() {
        let ns = Namespace::new("portcullis");
        assert_eq!(ns.entry("abc"), "portcullis:v1:j:abc");
        assert_eq!(ns.lock("abc"), "portcullis:v1:lock:abc");
        let long = "h".repeat(5_000);
        assert!(ns.rate("host", &long).len() < 80);
        assert!(!ns.rate("caller", "as-1").contains("as-1"));
    }
}
