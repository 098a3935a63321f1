//! The service's published verdict keys (`GET /v1/keys`), parsed into verifying keys.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

use crate::error::{Error, ProtocolCode};

/// Signature algorithms the service signs with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Alg {
    /// Ed25519, under its RFC 8037 name `EdDSA`.
    EdDsa,
    /// Ed25519, under its fully-specified name (RFC 9864).
    Ed25519,
    /// ECDSA P-256 SHA-256.
    Es256,
}

impl Alg {
    /// From the JWS header `alg` value.
    pub fn from_name(name: &str) -> Option<Alg> {
        match name {
            "EdDSA" => Some(Alg::EdDsa),
            "Ed25519" => Some(Alg::Ed25519),
            "ES256" => Some(Alg::Es256),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) enum VerifyingKey {
    Ed25519(ed25519_dalek::VerifyingKey),
    P256(p256::ecdsa::VerifyingKey),
}

#[derive(Deserialize)]
struct Jwk {
    kty: String,
    #[serde(default)]
    crv: Option<String>,
    #[serde(default)]
    x: Option<String>,
    #[serde(default)]
    y: Option<String>,
    #[serde(default)]
    kid: Option<String>,
}

#[derive(Deserialize)]
struct Jwks {
    keys: Vec<serde_json::Value>,
}

/// Verifying keys by `kid`. Keys of unknown types are skipped (a newer service may publish
/// more); a set with no usable key is an error.
#[derive(Clone, Debug, Default)]
pub struct KeySet {
    keys: Vec<(String, VerifyingKey)>,
}

fn b64(value: Option<&str>) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(value?).ok()
}

fn parse_key(jwk: &Jwk) -> Option<VerifyingKey> {
    match (jwk.kty.as_str(), jwk.crv.as_deref()) {
        ("OKP", Some("Ed25519")) => {
            let x: [u8; 32] = b64(jwk.x.as_deref())?.try_into().ok()?;
            ed25519_dalek::VerifyingKey::from_bytes(&x)
                .ok()
                .map(VerifyingKey::Ed25519)
        }
        ("EC", Some("P-256")) => {
            let x = b64(jwk.x.as_deref())?;
            let y = b64(jwk.y.as_deref())?;
            if x.len() != 32 || y.len() != 32 {
                return None;
            }
            // SEC1 uncompressed point: 0x04 || x || y.
            let mut sec1 = Vec::with_capacity(65);
            sec1.push(0x04);
            sec1.extend_from_slice(&x);
            sec1.extend_from_slice(&y);
            p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1)
                .ok()
                .map(VerifyingKey::P256)
        }
        _ => None,
    }
}

impl KeySet {
    /// Parses a JWK Set document (the body of `GET /v1/keys`).
    pub fn from_jwks_json(bytes: &[u8]) -> Result<KeySet, Error> {
        let jwks: Jwks = serde_json::from_slice(bytes)
            .map_err(|e| Error::protocol(ProtocolCode::KeysUnavailable, e.to_string()))?;
        let keys: Vec<(String, VerifyingKey)> = jwks
            .keys
            .into_iter()
            .filter_map(|v| serde_json::from_value::<Jwk>(v).ok())
            .filter_map(|jwk| Some((jwk.kid.clone()?, parse_key(&jwk)?)))
            .collect();
        if keys.is_empty() {
            return Err(Error::protocol(
                ProtocolCode::KeysUnavailable,
                "no usable Ed25519 or P-256 key with a kid",
            ));
        }
        Ok(KeySet { keys })
    }

    /// Whether a key with this `kid` is known.
    pub fn contains(&self, kid: &str) -> bool {
        self.keys.iter().any(|(k, _)| k == kid)
    }

    /// Number of usable keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no key is usable.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub(crate) fn get(&self, kid: &str) -> Option<&VerifyingKey> {
        self.keys.iter().find(|(k, _)| k == kid).map(|(_, key)| key)
    }
}
