//! Verdict signing keys: PKCS#8 PEM in, public JWK and RFC 7638 `kid` out.
//!
//! Pure: text and bytes only. Reading and writing key files lives in
//! [`super::key_files`]; randomness is passed in by the caller so tests are deterministic.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _};
use p256::elliptic_curve::pkcs8::der::pem::LineEnding;
use p256::elliptic_curve::pkcs8::{self, AssociatedOid as _, PrivateKeyInfo, SecretDocument};
use p256::elliptic_curve::rand_core::CryptoRngCore;
use p256::elliptic_curve::zeroize::Zeroizing;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::config::SigningAlg;

/// PEM label of an unencrypted PKCS#8 private key (RFC 7468 §10).
const PKCS8_LABEL: &str = "PRIVATE KEY";
/// PEM label of a password-protected PKCS#8 key, which the service cannot unlock unattended.
const PKCS8_ENCRYPTED_LABEL: &str = "ENCRYPTED PRIVATE KEY";
/// `id-ecPublicKey` (RFC 5480): the PKCS#8 algorithm of every EC key, curve in the parameters.
const EC_PUBLIC_KEY_OID: pkcs8::ObjectIdentifier =
    pkcs8::ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");

/// Why a key could not be loaded, made, encoded or stored. Codes are stable: logs and the
/// CLI's exit messages key on them.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The key file could not be opened or read.
    #[error("key file {path} is unreadable: {source}")]
    FileUnreadable {
        /// The file.
        path: std::path::PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The key file is larger than any PEM key could be (guards against `/dev/zero`).
    #[error("key file {path} is larger than {max} bytes")]
    FileTooLarge {
        /// The file.
        path: std::path::PathBuf,
        /// The cap.
        max: u64,
    },
    /// `keygen` refuses to overwrite: an existing key may be the one verifiers trust.
    #[error("key file {path} already exists; refusing to overwrite it")]
    FileExists {
        /// The file.
        path: std::path::PathBuf,
    },
    /// The key file could not be created or written.
    #[error("key file {path} could not be written: {source}")]
    FileUnwritable {
        /// The file.
        path: std::path::PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The text is not an unencrypted PKCS#8 PEM private key.
    #[error("key is not an unencrypted pkcs#8 pem private key: {why}")]
    NotPkcs8 {
        /// What was found instead.
        why: String,
    },
    /// The key is password-protected; the service signs unattended and has no password.
    #[error("key is an encrypted pkcs#8 key; store it unencrypted with mode 0600")]
    Encrypted,
    /// The key is PKCS#8 but of an algorithm verdicts are not signed with.
    #[error("key algorithm {what} is not supported; use ed25519 or ec p-256")]
    AlgUnsupported {
        /// The algorithm (and curve) OID found.
        what: String,
    },
    /// The algorithm is right but the key material is malformed.
    #[error("key material is invalid: {why}")]
    Invalid {
        /// The decoder's reason.
        why: String,
    },
    /// `[signing] alg` names an algorithm the key cannot sign with.
    #[error("key signs {key} but the configured alg is {wanted}")]
    AlgMismatch {
        /// What the key signs with.
        key: &'static str,
        /// What the configuration asked for.
        wanted: &'static str,
    },
    /// The key could not be encoded as PKCS#8 PEM.
    #[error("key could not be encoded as pkcs#8 pem: {why}")]
    Encode {
        /// The encoder's reason.
        why: String,
    },
}

impl KeyError {
    /// Stable snake_case name of the failure, for logs and scripts.
    pub fn code(&self) -> &'static str {
        match self {
            KeyError::FileUnreadable { .. } => "key_file_unreadable",
            KeyError::FileTooLarge { .. } => "key_file_too_large",
            KeyError::FileExists { .. } => "key_file_exists",
            KeyError::FileUnwritable { .. } => "key_file_unwritable",
            KeyError::NotPkcs8 { .. } => "key_not_pkcs8",
            KeyError::Encrypted => "key_encrypted",
            KeyError::AlgUnsupported { .. } => "key_alg_unsupported",
            KeyError::Invalid { .. } => "key_invalid",
            KeyError::AlgMismatch { .. } => "key_alg_mismatch",
            KeyError::Encode { .. } => "key_encode_failed",
        }
    }
}

/// A private key that signs verdicts. The variant is the JWS algorithm, so a key can never
/// be used with an algorithm it was not made for.
#[derive(Clone)]
#[non_exhaustive]
pub enum SigningKey {
    /// Ed25519, JWS `EdDSA` (RFC 8037): the polymorphic name RFC 9864 deprecates but most
    /// verifiers know; what an Ed25519 key file gets unless `[signing] alg` says otherwise.
    Ed25519(ed25519_dalek::SigningKey),
    /// Ed25519, JWS `Ed25519` (RFC 9864 §2.2): the same key and signature as
    /// [`SigningKey::Ed25519`], published under the fully-specified name.
    Ed25519Named(ed25519_dalek::SigningKey),
    /// ECDSA P-256 with SHA-256, JWS `ES256` (RFC 7518 §3.4): the default, every tested
    /// verifier accepts it.
    Es256(p256::ecdsa::SigningKey),
}

/// Shows the algorithm and `kid` only: a key must never reach a log by accident.
impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("alg", &self.jws_alg())
            .field("kid", &self.kid())
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Loads a PKCS#8 PEM private key (`-----BEGIN PRIVATE KEY-----`), choosing the algorithm
    /// from the key's own OID so the operator never has to state it (and cannot misstate it).
    pub fn from_pkcs8_pem(pem: &str) -> Result<SigningKey, KeyError> {
        let (label, doc) = SecretDocument::from_pem(pem.trim()).map_err(|e| {
            let why = if pem.contains("-----BEGIN EC PRIVATE KEY-----") {
                "found a sec1 ec key; convert it with `openssl pkcs8 -topk8 -nocrypt`".to_owned()
            } else {
                format!("not pem: {e}")
            };
            KeyError::NotPkcs8 { why }
        })?;
        match label {
            PKCS8_LABEL => {}
            PKCS8_ENCRYPTED_LABEL => return Err(KeyError::Encrypted),
            "EC PRIVATE KEY" => {
                return Err(KeyError::NotPkcs8 {
                    why: "found a sec1 ec key; convert it with `openssl pkcs8 -topk8 -nocrypt`"
                        .to_owned(),
                });
            }
            other => {
                return Err(KeyError::NotPkcs8 {
                    why: format!("pem label is {other:?}"),
                });
            }
        }
        SigningKey::from_pkcs8_der(doc.as_bytes())
    }

    /// Loads a PKCS#8 DER private key; the PEM loader's core, kept separate for tests.
    fn from_pkcs8_der(der: &[u8]) -> Result<SigningKey, KeyError> {
        let info = PrivateKeyInfo::try_from(der).map_err(|e| KeyError::NotPkcs8 {
            why: format!("not a private key info structure: {e}"),
        })?;
        let alg_oid = info.algorithm.oid;
        let invalid = |e: &dyn fmt::Display| KeyError::Invalid { why: e.to_string() };
        if alg_oid == ed25519_dalek::pkcs8::ALGORITHM_OID {
            let key = ed25519_dalek::SigningKey::from_pkcs8_der(der).map_err(|e| invalid(&e))?;
            return Ok(SigningKey::Ed25519(key));
        }
        if alg_oid == EC_PUBLIC_KEY_OID {
            let curve = info.algorithm.parameters_oid().map_err(|e| invalid(&e))?;
            if curve != p256::NistP256::OID {
                return Err(KeyError::AlgUnsupported {
                    what: format!("ec curve {curve}"),
                });
            }
            let key = p256::ecdsa::SigningKey::from_pkcs8_der(der).map_err(|e| invalid(&e))?;
            return Ok(SigningKey::Es256(key));
        }
        Err(KeyError::AlgUnsupported {
            what: alg_oid.to_string(),
        })
    }

    /// Makes a fresh key for `portcullis keygen` or an ephemeral key. The caller supplies the
    /// randomness (`OsRng` at the edge, a seeded RNG in tests).
    pub fn generate(alg: SigningAlg, rng: &mut impl CryptoRngCore) -> SigningKey {
        match alg {
            SigningAlg::EdDSA => SigningKey::Ed25519(ed25519_dalek::SigningKey::generate(rng)),
            SigningAlg::Ed25519 => {
                SigningKey::Ed25519Named(ed25519_dalek::SigningKey::generate(rng))
            }
            SigningAlg::ES256 => SigningKey::Es256(p256::ecdsa::SigningKey::random(rng)),
        }
    }

    /// The same key under the JWS name `alg`, so an operator can choose between `EdDSA` and
    /// `Ed25519` for one Ed25519 key (the PKCS#8 file cannot say which). Fails with
    /// `key_alg_mismatch` when the key cannot sign with `alg` (an EC key asked for `EdDSA`).
    pub fn with_alg(self, alg: SigningAlg) -> Result<SigningKey, KeyError> {
        match (self, alg) {
            (SigningKey::Ed25519(k) | SigningKey::Ed25519Named(k), SigningAlg::EdDSA) => {
                Ok(SigningKey::Ed25519(k))
            }
            (SigningKey::Ed25519(k) | SigningKey::Ed25519Named(k), SigningAlg::Ed25519) => {
                Ok(SigningKey::Ed25519Named(k))
            }
            (k @ SigningKey::Es256(_), SigningAlg::ES256) => Ok(k),
            (k, alg) => Err(KeyError::AlgMismatch {
                key: k.jws_alg(),
                wanted: jws_alg_name(alg),
            }),
        }
    }

    /// The key as PKCS#8 PEM (LF line endings), for writing with [`super::write_key_file`].
    /// Zeroized on drop because it is the secret.
    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>, KeyError> {
        let encoded = match self {
            SigningKey::Ed25519(k) | SigningKey::Ed25519Named(k) => k.to_pkcs8_pem(LineEnding::LF),
            SigningKey::Es256(k) => pkcs8::EncodePrivateKey::to_pkcs8_pem(k, LineEnding::LF),
        };
        encoded.map_err(|e| KeyError::Encode { why: e.to_string() })
    }

    /// The config-level algorithm of this key.
    pub fn alg(&self) -> SigningAlg {
        match self {
            SigningKey::Ed25519(_) => SigningAlg::EdDSA,
            SigningKey::Ed25519Named(_) => SigningAlg::Ed25519,
            SigningKey::Es256(_) => SigningAlg::ES256,
        }
    }

    /// The JWS `alg` header value (RFC 7518 / RFC 8037 / RFC 9864 names).
    pub fn jws_alg(&self) -> &'static str {
        jws_alg_name(self.alg())
    }

    /// The key id: RFC 7638 JWK thumbprint (SHA-256). Derived from the public key, so every
    /// replica sharing a key agrees on it and no registry of ids is needed.
    pub fn kid(&self) -> String {
        match self.public_members() {
            PublicMembers::Okp { x } => {
                jwk_thumbprint(&[("crv", "Ed25519"), ("kty", "OKP"), ("x", &x)])
            }
            PublicMembers::Ec { x, y } => {
                jwk_thumbprint(&[("crv", "P-256"), ("kty", "EC"), ("x", &x), ("y", &y)])
            }
        }
    }

    /// The public key as a JWK (RFC 7517) ready for the `/v1/keys` set: `kty`, `crv`, `x`
    /// (and `y`), `kid`, `alg`, `use: "sig"`, so verifiers can pick the key by `kid`.
    pub fn public_jwk(&self) -> Value {
        let kid = self.kid();
        let alg = self.jws_alg();
        match self.public_members() {
            PublicMembers::Okp { x } => json!({
                "kty": "OKP", "crv": "Ed25519", "x": x,
                "kid": kid, "alg": alg, "use": "sig",
            }),
            PublicMembers::Ec { x, y } => json!({
                "kty": "EC", "crv": "P-256", "x": x, "y": y,
                "kid": kid, "alg": alg, "use": "sig",
            }),
        }
    }

    /// Signs `input` and returns the JWS signature bytes: 64 bytes for both algorithms
    /// (ES256 is the fixed-size `r || s` of RFC 7518 §3.4, never DER).
    pub(crate) fn sign_raw(&self, input: &[u8]) -> Result<Vec<u8>, String> {
        use p256::ecdsa::signature::Signer as _;
        match self {
            SigningKey::Ed25519(k) | SigningKey::Ed25519Named(k) => {
                Ok(k.sign(input).to_bytes().to_vec())
            }
            SigningKey::Es256(k) => {
                let sig: p256::ecdsa::Signature = k.try_sign(input).map_err(|e| e.to_string())?;
                Ok(sig.to_bytes().to_vec())
            }
        }
    }

    /// The base64url public coordinates, shared by `kid` and `public_jwk` so they never disagree.
    fn public_members(&self) -> PublicMembers {
        match self {
            SigningKey::Ed25519(k) | SigningKey::Ed25519Named(k) => PublicMembers::Okp {
                x: URL_SAFE_NO_PAD.encode(k.verifying_key().as_bytes()),
            },
            SigningKey::Es256(k) => {
                let point = k.verifying_key().to_encoded_point(false);
                // An uncompressed point of a valid public key always has both coordinates.
                let x = point
                    .x()
                    .map(|c| URL_SAFE_NO_PAD.encode(c))
                    .unwrap_or_default();
                let y = point
                    .y()
                    .map(|c| URL_SAFE_NO_PAD.encode(c))
                    .unwrap_or_default();
                PublicMembers::Ec { x, y }
            }
        }
    }
}

/// Public-key members of a JWK, base64url without padding.
enum PublicMembers {
    Okp { x: String },
    Ec { x: String, y: String },
}

/// The JWS `alg` name of a config algorithm.
pub fn jws_alg_name(alg: SigningAlg) -> &'static str {
    match alg {
        SigningAlg::EdDSA => "EdDSA",
        SigningAlg::Ed25519 => "Ed25519",
        SigningAlg::ES256 => "ES256",
    }
}

/// RFC 7638 JWK thumbprint (SHA-256, base64url without padding) of the given *required*
/// members. Members are sorted by name and written as JSON without whitespace, as §3.3 asks;
/// exposed for any key type (e.g. RSA's `e`, `kty`, `n`) so it can be checked against the RFC.
pub fn jwk_thumbprint(required_members: &[(&str, &str)]) -> String {
    let mut members = required_members.to_vec();
    members.sort_unstable_by(|a, b| a.0.cmp(b.0));
    let mut canonical = String::with_capacity(256);
    canonical.push('{');
    for (i, (name, value)) in members.iter().enumerate() {
        if i > 0 {
            canonical.push(',');
        }
        // serde_json string escaping is the JSON escaping §3.3 refers to; member values of
        // real keys are base64url or fixed names, so nothing is escaped in practice.
        canonical.push_str(&Value::from(*name).to_string());
        canonical.push(':');
        canonical.push_str(&Value::from(*value).to_string());
    }
    canonical.push('}');
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng as _;
    use rand::rngs::StdRng;

    /// RFC 8410 §10.3 example Ed25519 private key.
    const RFC8410_ED25519_PEM: &str = "-----BEGIN PRIVATE KEY-----\n\
        MC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n\
        -----END PRIVATE KEY-----\n";

    #[test]
    fn rfc7638_rsa_thumbprint() {
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        // Deliberately unsorted input: the function must order the members itself.
        let tp = jwk_thumbprint(&[("n", n), ("kty", "RSA"), ("e", "AQAB")]);
        assert_eq!(tp, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    }

    #[test]
    fn rfc8037_okp_thumbprint_is_the_kid() {
        // RFC 8037 §A.1 private key; §A.3 gives the thumbprint.
        let d = URL_SAFE_NO_PAD
            .decode("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A")
            .unwrap();
        let seed: [u8; 32] = d.try_into().unwrap();
        let key = SigningKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(&seed));
        let jwk = key.public_jwk();
        assert_eq!(jwk["x"], "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo");
        assert_eq!(key.kid(), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
        assert_eq!(jwk["kid"], key.kid());
        assert_eq!(jwk["kty"], "OKP");
        assert_eq!(jwk["crv"], "Ed25519");
        assert_eq!(jwk["alg"], "EdDSA");
        assert_eq!(jwk["use"], "sig");
        assert!(
            jwk.get("d").is_none(),
            "private part must never be published"
        );
    }

    #[test]
    fn loads_rfc8410_pem_as_ed25519() {
        let key = SigningKey::from_pkcs8_pem(RFC8410_ED25519_PEM).unwrap();
        assert_eq!(key.alg(), SigningAlg::EdDSA);
        assert_eq!(key.jws_alg(), "EdDSA");
        // RFC 8410 §10.3 gives the matching public key 19bf44096984cdfe8541bac167dc3b96...
        let SigningKey::Ed25519(k) = &key else {
            panic!("not ed25519")
        };
        assert_eq!(k.verifying_key().as_bytes()[..4], [0x19, 0xbf, 0x44, 0x09]);
    }

    #[test]
    fn loads_openssl_p256_pkcs8_as_es256_with_the_same_public_point() {
        // `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256` (OpenSSL 3).
        let pem = "-----BEGIN PRIVATE KEY-----\n\
            MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgcudHn0AxPXOXMBv1\n\
            ZeMWgbpbyU+mjvc7841XCsUKYt6hRANCAAREWxbEjElzTzbZzY69YcMbbkx6c+wB\n\
            jaJsBgI8cYx3tmCRwPXFj2/bKOflrUEoOO8GeIeR/+9Cm6u8bfBg6Q9v\n\
            -----END PRIVATE KEY-----\n";
        let key = SigningKey::from_pkcs8_pem(pem).unwrap();
        assert_eq!(key.alg(), SigningAlg::ES256);
        let jwk = key.public_jwk();
        let hex = |s: &Value| -> String {
            URL_SAFE_NO_PAD
                .decode(s.as_str().unwrap())
                .unwrap()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()
        };
        // From `openssl pkey -pubout`: 04 || x || y.
        assert_eq!(
            hex(&jwk["x"]),
            "445b16c48c49734f36d9cd8ebd61c31b6e4c7a73ec018da26c06023c718c77b6"
        );
        assert_eq!(
            hex(&jwk["y"]),
            "6091c0f5c58f6fdb28e7e5ad412838ef06788791ffef429babbc6df060e90f6f"
        );
    }

    #[test]
    fn kid_is_stable_across_pem_round_trip_and_reload() {
        let mut rng = StdRng::seed_from_u64(7);
        for alg in [SigningAlg::EdDSA, SigningAlg::ES256] {
            let key = SigningKey::generate(alg, &mut rng);
            let pem = key.to_pkcs8_pem().unwrap();
            assert!(
                pem.starts_with("-----BEGIN PRIVATE KEY-----\n"),
                "{}",
                &*pem
            );
            let a = SigningKey::from_pkcs8_pem(&pem).unwrap();
            let b = SigningKey::from_pkcs8_pem(&pem).unwrap();
            assert_eq!(a.alg(), alg);
            assert_eq!(a.kid(), key.kid());
            assert_eq!(a.kid(), b.kid());
            assert_eq!(a.public_jwk(), key.public_jwk());
            assert_eq!(a.kid().len(), 43, "sha-256 base64url without padding");
        }
    }

    #[test]
    fn generate_is_deterministic_for_a_seeded_rng() {
        let a = SigningKey::generate(SigningAlg::EdDSA, &mut StdRng::seed_from_u64(1));
        let b = SigningKey::generate(SigningAlg::EdDSA, &mut StdRng::seed_from_u64(1));
        let c = SigningKey::generate(SigningAlg::EdDSA, &mut StdRng::seed_from_u64(2));
        assert_eq!(a.kid(), b.kid());
        assert_ne!(a.kid(), c.kid());
    }

    #[test]
    fn es256_jwk_has_both_coordinates_and_matching_kid() {
        let key = SigningKey::generate(SigningAlg::ES256, &mut StdRng::seed_from_u64(3));
        let jwk = key.public_jwk();
        assert_eq!(jwk["kty"], "EC");
        assert_eq!(jwk["crv"], "P-256");
        assert_eq!(jwk["alg"], "ES256");
        let x = jwk["x"].as_str().unwrap();
        let y = jwk["y"].as_str().unwrap();
        assert_eq!(URL_SAFE_NO_PAD.decode(x).unwrap().len(), 32);
        assert_eq!(URL_SAFE_NO_PAD.decode(y).unwrap().len(), 32);
        let expected = jwk_thumbprint(&[("kty", "EC"), ("crv", "P-256"), ("x", x), ("y", y)]);
        assert_eq!(key.kid(), expected);
        assert!(jwk.get("d").is_none());
    }

    #[test]
    fn debug_does_not_print_the_secret() {
        let key = SigningKey::from_pkcs8_pem(RFC8410_ED25519_PEM).unwrap();
        let shown = format!("{key:?}");
        assert!(shown.contains("EdDSA"), "{shown}");
        assert!(shown.contains(&key.kid()), "{shown}");
        let SigningKey::Ed25519(k) = &key else {
            panic!("not ed25519")
        };
        let secret_b64 = URL_SAFE_NO_PAD.encode(k.to_bytes());
        assert!(!shown.contains(&secret_b64));
        assert!(!shown.contains("d4ee72dbf9"), "{shown}");
    }

    #[test]
    fn rejects_what_is_not_a_usable_key() {
        let cases: &[(&str, &str)] = &[
            ("hello", "key_not_pkcs8"),
            (
                "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n",
                "key_not_pkcs8",
            ),
            (
                "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMAA=\n-----END ENCRYPTED PRIVATE KEY-----\n",
                "key_encrypted",
            ),
            (
                "-----BEGIN EC PRIVATE KEY-----\nMAA=\n-----END EC PRIVATE KEY-----\n",
                "key_not_pkcs8",
            ),
            (
                // An X25519 key (RFC 8410 OID 1.3.101.110): PKCS#8, but not a signing algorithm.
                "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VuBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n-----END PRIVATE KEY-----\n",
                "key_alg_unsupported",
            ),
        ];
        for (pem, code) in cases {
            let err = SigningKey::from_pkcs8_pem(pem).unwrap_err();
            assert_eq!(err.code(), *code, "{pem}: {err}");
            let msg = err.to_string();
            assert!(msg.starts_with(char::is_lowercase), "{msg}");
        }
    }

    #[test]
    fn rejects_p384_as_unsupported_curve() {
        let key = p384::ecdsa::SigningKey::random(&mut StdRng::seed_from_u64(9));
        let pem = pkcs8::EncodePrivateKey::to_pkcs8_pem(&key, LineEnding::LF).unwrap();
        let err = SigningKey::from_pkcs8_pem(&pem).unwrap_err();
        assert_eq!(err.code(), "key_alg_unsupported");
        assert!(err.to_string().contains("1.3.132.0.34"), "{err}");
    }
    #[test]
    fn with_alg_renames_within_a_family_and_refuses_across() {
        let ed = SigningKey::generate(SigningAlg::EdDSA, &mut StdRng::seed_from_u64(4));
        let es = SigningKey::generate(SigningAlg::ES256, &mut StdRng::seed_from_u64(4));
        let cases: &[(&SigningKey, SigningAlg, Result<&str, &str>)] = &[
            (&ed, SigningAlg::EdDSA, Ok("EdDSA")),
            (&ed, SigningAlg::Ed25519, Ok("Ed25519")),
            (&ed, SigningAlg::ES256, Err("key_alg_mismatch")),
            (&es, SigningAlg::ES256, Ok("ES256")),
            (&es, SigningAlg::EdDSA, Err("key_alg_mismatch")),
            (&es, SigningAlg::Ed25519, Err("key_alg_mismatch")),
        ];
        for (key, alg, want) in cases {
            let got = (*key).clone().with_alg(*alg);
            match (got, want) {
                (Ok(k), Ok(name)) => {
                    assert_eq!(k.jws_alg(), *name);
                    assert_eq!(k.alg(), *alg);
                    assert_eq!(k.kid(), key.kid());
                    assert_eq!(k.public_jwk()["alg"], *name);
                }
                (Err(e), Err(code)) => assert_eq!(e.code(), *code),
                (got, want) => panic!("{alg:?}: got {got:?}, want {want:?}"),
            }
        }
        // An Ed25519 PEM loads as EdDSA (the file cannot say which name); renaming to
        // Ed25519 round-trips through PEM unchanged.
        let named = ed.with_alg(SigningAlg::Ed25519).unwrap();
        let pem = named.to_pkcs8_pem().unwrap();
        let loaded = SigningKey::from_pkcs8_pem(&pem).unwrap();
        assert_eq!(loaded.alg(), SigningAlg::EdDSA);
        assert_eq!(loaded.kid(), named.kid());
    }

    #[test]
    fn signing_alg_config_names() {
        for (text, alg) in [
            ("Ed25519", SigningAlg::Ed25519),
            ("EdDSA", SigningAlg::EdDSA),
            ("ES256", SigningAlg::ES256),
        ] {
            let c = crate::config::Config::from_toml_str(&format!("[signing]\nalg = \"{text}\"\n"))
                .unwrap();
            assert_eq!(c.signing.alg, Some(alg));
            assert_eq!(jws_alg_name(alg), text);
        }
        assert!(crate::config::Config::from_toml_str("[signing]\nalg = \"RS256\"\n").is_err());
        assert!(
            crate::config::Config::from_toml_str("[signing]\nephemeral_alg = \"EdDSA\"\n").is_err(),
            "renamed to alg"
        );
        assert_eq!(crate::config::DEFAULT_SIGNING_ALG, SigningAlg::ES256);
    }
}
