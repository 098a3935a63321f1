//! JWK Set rules (RFC 7517, RFC 7518, RFC 8037), judged like a careful operator would.
//!
//! A key that simply cannot be used (unknown `kty`, unsupported curve, a malformed
//! encryption key) is skipped with warnings, as RFC 7517 §5 tells consumers to do; the set
//! stays valid while usable keys remain. A key that *would be used* but is weak or
//! dangerous (private members, RSA under 2048 bits, an off-curve point, a symmetric key,
//! `alg: none`/HS*) makes the whole set invalid: publishing it is an operator mistake a
//! verifier must not paper over. Cosmetic deviations common at big providers are warnings.
//! Key material is really parsed (`rsa`, `p256`/`p384`/`p521`, `ed25519-dalek`); an `x5c`
//! certificate must carry the same public key (its validity period and chain are not
//! checked: that needs a clock and trust anchors, and verifiers use the JWK).

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::Context;
use super::fields::{MISSING_MEMBER, UrlUse, WRONG_TYPE, check_url};
use super::strict_json::{escape_token, type_name};
use crate::problem::{Code, Problem, Severity};

/// More keys than [`MAX_KEYS`]: no provider needs that many, and each costs a parse.
pub const JWKS_TOO_MANY_KEYS: Code = Code::new("jwks_too_many_keys");
/// No key of the set is usable (empty set, or every key skipped or invalid).
pub const JWKS_NO_USABLE_KEYS: Code = Code::new("jwks_no_usable_keys");
/// Two different keys (not skipped) of the same `kty` and the same `use` (or one without
/// `use`) share a `kid`, so a verifier cannot tell which key a token names. RFC 7517 §4.5
/// allows one `kid` on keys of different `kty`, and on one key listed once per algorithm.
pub const JWKS_DUPLICATE_KID: Code = Code::new("jwks_duplicate_kid");
/// The same public key appears twice with the same `alg` (harmless, but a sign of a botched
/// rotation); one key listed once per algorithm is not reported.
pub const JWKS_DUPLICATE_KEY: Code = Code::new("jwks_duplicate_key");
/// A key was skipped (cannot be used); the reasons are reported next to it as warnings.
pub const JWK_SKIPPED: Code = Code::new("jwk_skipped");
/// `kty` is absent or not one of RSA, EC, OKP (key skipped).
pub const JWK_UNKNOWN_KTY: Code = Code::new("jwk_unknown_kty");
/// `crv` names a curve this validator does not support (key skipped).
pub const JWK_UNSUPPORTED_CRV: Code = Code::new("jwk_unsupported_crv");
/// `kty: oct`: a symmetric secret published in a key set.
pub const JWK_SYMMETRIC_KEY: Code = Code::new("jwk_symmetric_key");
/// A private key member (`d`, `p`, `q`, `dp`, `dq`, `qi`, `oth`, `k`) is published.
pub const JWK_PRIVATE_MEMBER: Code = Code::new("jwk_private_member");
/// A member the key type requires (`n`, `e`, `crv`, `x`, `y`) is absent.
pub const JWK_MISSING_MEMBER: Code = Code::new("jwk_missing_member");
/// A member is not base64url (RFC 7515 §2: URL-safe alphabet, no padding).
pub const JWK_BAD_BASE64URL: Code = Code::new("jwk_bad_base64url");
/// A base64url member carries `=` padding, which RFC 7515 §2 omits (warning: decodable).
pub const JWK_BASE64_PADDING: Code = Code::new("jwk_base64_padding");
/// A base64url member uses the standard alphabet (`+`, `/`) (warning: decodable).
pub const JWK_STANDARD_BASE64: Code = Code::new("jwk_standard_base64");
/// The RSA modulus is shorter than [`MIN_RSA_BITS`].
pub const JWK_RSA_TOO_SMALL: Code = Code::new("jwk_rsa_too_small");
/// The RSA public exponent is even, below 3, or not below 2^32.
pub const JWK_RSA_BAD_EXPONENT: Code = Code::new("jwk_rsa_bad_exponent");
/// The RSA key is rejected by the `rsa` crate (e.g. even modulus) or is larger than
/// [`MAX_RSA_BITS`] (verification cost).
pub const JWK_RSA_INVALID: Code = Code::new("jwk_rsa_invalid");
/// `n` or `e` has a leading zero octet (RFC 7518 §6.3.1.1 forbids it; common, harmless).
pub const JWK_RSA_LEADING_ZERO: Code = Code::new("jwk_rsa_leading_zero");
/// An EC coordinate does not have the curve's exact length (RFC 7518 §6.2.1.2).
pub const JWK_EC_COORDINATE_LENGTH: Code = Code::new("jwk_ec_coordinate_length");
/// The public point is not on the curve (invalid-curve attacks) or not decodable.
pub const JWK_POINT_NOT_ON_CURVE: Code = Code::new("jwk_point_not_on_curve");
/// An Ed25519 key of small order: signatures under it prove nothing.
pub const JWK_WEAK_KEY: Code = Code::new("jwk_weak_key");
/// An OKP `x` is not 32 bytes (Ed25519, X25519).
pub const JWK_OKP_KEY_LENGTH: Code = Code::new("jwk_okp_key_length");
/// `alg` is `none`, HMAC or another symmetric algorithm.
pub const JWK_ALG_FORBIDDEN: Code = Code::new("jwk_alg_forbidden");
/// `alg` does not fit the key type or curve (e.g. ES256 on a P-384 key).
pub const JWK_ALG_MISMATCH: Code = Code::new("jwk_alg_mismatch");
/// `alg` is not a registered JWS/JWE algorithm this validator knows.
pub const JWK_UNKNOWN_ALG: Code = Code::new("jwk_unknown_alg");
/// `use`, `key_ops` and `alg` disagree about signing versus encryption (RFC 7517 §4.3).
pub const JWK_USE_CONFLICT: Code = Code::new("jwk_use_conflict");
/// `use` is neither `sig` nor `enc`.
pub const JWK_UNKNOWN_USE: Code = Code::new("jwk_unknown_use");
/// `key_ops` is not an array of distinct strings (RFC 7517 §4.3).
pub const JWK_KEY_OPS_INVALID: Code = Code::new("jwk_key_ops_invalid");
/// `key_ops` holds a value RFC 7517 §4.3 does not register.
pub const JWK_UNKNOWN_KEY_OP: Code = Code::new("jwk_unknown_key_op");
/// A member that is not a registered JWK parameter (e.g. PayPal's `acr`, Entra's `issuer`).
pub const JWK_UNREGISTERED_MEMBER: Code = Code::new("jwk_unregistered_member");
/// `x5t`/`x5t#S256` has the wrong length or does not match the certificate.
pub const JWK_X5T_INVALID: Code = Code::new("jwk_x5t_invalid");
/// `x5c` is not an array of base64 DER certificates that parse.
pub const JWK_X5C_INVALID: Code = Code::new("jwk_x5c_invalid");
/// The first `x5c` certificate carries a different public key than the JWK.
pub const JWK_X5C_MISMATCH: Code = Code::new("jwk_x5c_mismatch");
/// The `x5c` key could not be compared (e.g. compressed EC point); reported, not judged.
pub const JWK_X5C_UNCHECKED: Code = Code::new("jwk_x5c_unchecked");

/// Every code this module raises.
pub const ALL_CODES: &[Code] = &[
    JWKS_TOO_MANY_KEYS,
    JWKS_NO_USABLE_KEYS,
    JWKS_DUPLICATE_KID,
    JWKS_DUPLICATE_KEY,
    JWK_SKIPPED,
    JWK_UNKNOWN_KTY,
    JWK_UNSUPPORTED_CRV,
    JWK_SYMMETRIC_KEY,
    JWK_PRIVATE_MEMBER,
    JWK_MISSING_MEMBER,
    JWK_BAD_BASE64URL,
    JWK_BASE64_PADDING,
    JWK_STANDARD_BASE64,
    JWK_RSA_TOO_SMALL,
    JWK_RSA_BAD_EXPONENT,
    JWK_RSA_INVALID,
    JWK_RSA_LEADING_ZERO,
    JWK_EC_COORDINATE_LENGTH,
    JWK_POINT_NOT_ON_CURVE,
    JWK_WEAK_KEY,
    JWK_OKP_KEY_LENGTH,
    JWK_ALG_FORBIDDEN,
    JWK_ALG_MISMATCH,
    JWK_UNKNOWN_ALG,
    JWK_USE_CONFLICT,
    JWK_UNKNOWN_USE,
    JWK_KEY_OPS_INVALID,
    JWK_UNKNOWN_KEY_OP,
    JWK_UNREGISTERED_MEMBER,
    JWK_X5T_INVALID,
    JWK_X5C_INVALID,
    JWK_X5C_MISMATCH,
    JWK_X5C_UNCHECKED,
];

/// Most keys in one set: large providers publish fewer than 20; 100 bounds parsing cost.
pub const MAX_KEYS: usize = 100;
/// Smallest RSA modulus accepted (NIST SP 800-131A disallows less since 2013).
pub const MIN_RSA_BITS: usize = 2048;
/// Largest RSA modulus accepted; bigger keys only make each verification slower.
pub const MAX_RSA_BITS: usize = 8192;

const PRIVATE_MEMBERS: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "oth", "k"];
const REGISTERED_MEMBERS: &[&str] = &[
    "kty", "use", "key_ops", "alg", "kid", "x5u", "x5c", "x5t", "x5t#S256", "crv", "x", "y", "n",
    "e", "d", "p", "q", "dp", "dq", "qi", "oth", "k", "ext", "iat", "nbf", "exp", "revoked",
];
/// The members a usable key carries into the verdict's document: everything a verifier needs
/// to use the public key (and to match it against its certificate), never a private member.
pub const PUBLIC_MEMBERS: &[&str] = &[
    "kty", "kid", "use", "alg", "key_ops", "crv", "x", "y", "n", "e", "x5c", "x5t#S256",
];
const SIG_OPS: &[&str] = &["sign", "verify"];
const ENC_OPS: &[&str] = &[
    "encrypt",
    "decrypt",
    "wrapKey",
    "unwrapKey",
    "deriveKey",
    "deriveBits",
];

/// How a defect weighs on the key and the set.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Class {
    /// The key would be used and is unsafe: error, the set is invalid.
    Dangerous,
    /// The key is broken: error for a signing key, skip (warning) for an encryption key.
    Malformed,
    /// The key cannot be used at all: skip with a warning.
    Unusable,
    /// Deviation with no security weight: warning.
    Cosmetic,
}

struct Defect {
    class: Class,
    problem: Problem,
}

struct KeyCheck {
    base: String,
    defects: Vec<Defect>,
    /// Problems from the egress rules, kept with the severity the rules gave them.
    direct: Vec<Problem>,
}

impl KeyCheck {
    fn add(&mut self, class: Class, code: Code, detail: String, member: Option<&str>) {
        let at = match member {
            Some(m) => format!("{}/{}", self.base, escape_token(m)),
            None => self.base.clone(),
        };
        self.defects.push(Defect {
            class,
            problem: Problem::error(code, detail).at(at),
        });
    }

    fn has(&self, class: Class) -> bool {
        self.defects.iter().any(|d| d.class == class)
    }

    /// A string member, `None` when absent; a non-string is Malformed.
    fn opt_str<'a>(&mut self, key: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
        match key.get(name)? {
            Value::String(s) => Some(s),
            other => {
                self.add(
                    Class::Malformed,
                    WRONG_TYPE,
                    format!("{name} must be a string, not {}", type_name(other)),
                    Some(name),
                );
                None
            }
        }
    }

    /// A required base64url member, decoded.
    fn b64(&mut self, key: &Map<String, Value>, name: &str) -> Option<Vec<u8>> {
        let Some(value) = key.get(name) else {
            self.add(
                Class::Malformed,
                JWK_MISSING_MEMBER,
                format!("{name} is required"),
                Some(name),
            );
            return None;
        };
        let Value::String(s) = value else {
            self.add(
                Class::Malformed,
                WRONG_TYPE,
                format!("{name} must be a string, not {}", type_name(value)),
                Some(name),
            );
            return None;
        };
        // Decision (docs/conformance.md, "Padded and standard base64"): RFC 7515 §2 wants
        // base64url without padding, but the bytes of a padded or standard-alphabet value are
        // unambiguous and most verifiers (PyJWT, Node's JWK import, Go, Java) decode them, so
        // both are warnings and the key stays usable; strict decoders (Rust jsonwebtoken)
        // refuse them, which the warning says. Anything that is not base64 at all is an error.
        let trimmed = s.trim_end_matches('=');
        if trimmed.len() != s.len() {
            self.add(
                Class::Cosmetic,
                JWK_BASE64_PADDING,
                format!("{name} carries '=' padding (strict base64url decoders refuse it)"),
                Some(name),
            );
        }
        let normalized;
        let trimmed = if trimmed.contains(['+', '/']) {
            self.add(
                Class::Cosmetic,
                JWK_STANDARD_BASE64,
                format!(
                    "{name} uses the standard base64 alphabet ('+' or '/'), not base64url (strict decoders refuse it)"
                ),
                Some(name),
            );
            normalized = trimmed.replace('+', "-").replace('/', "_");
            normalized.as_str()
        } else {
            trimmed
        };
        match URL_SAFE_NO_PAD.decode(trimmed) {
            Ok(bytes) => Some(bytes),
            Err(e) => {
                self.add(
                    Class::Malformed,
                    JWK_BAD_BASE64URL,
                    format!("{name} is not base64url: {e}"),
                    Some(name),
                );
                None
            }
        }
    }
}

/// Parsed public key material, kept to compare with an `x5c` certificate.
enum Material {
    Rsa { n: Vec<u8>, e: Vec<u8> },
    Ec { point: Vec<u8> },
    Okp { x: Vec<u8> },
}

enum Purpose {
    Sig,
    Enc,
}

enum AlgClass {
    Forbidden,
    Unknown,
    Known {
        ktys: &'static [&'static str],
        crvs: &'static [&'static str],
        purpose: Purpose,
    },
}

fn alg_class(alg: &str) -> AlgClass {
    const EC_OKP: &[&str] = &["EC", "OKP"];
    const ECDH_CURVES: &[&str] = &["P-256", "P-384", "P-521", "X25519", "X448"];
    let known = |ktys, crvs, purpose| AlgClass::Known {
        ktys,
        crvs,
        purpose,
    };
    match alg {
        "RS256" | "RS384" | "RS512" | "PS256" | "PS384" | "PS512" => {
            known(&["RSA"], &[], Purpose::Sig)
        }
        "RSA-OAEP" | "RSA-OAEP-256" | "RSA-OAEP-384" | "RSA-OAEP-512" | "RSA1_5" => {
            known(&["RSA"], &[], Purpose::Enc)
        }
        "ES256" => known(&["EC"], &["P-256"], Purpose::Sig),
        "ES384" => known(&["EC"], &["P-384"], Purpose::Sig),
        "ES512" => known(&["EC"], &["P-521"], Purpose::Sig),
        "ES256K" => known(&["EC"], &["secp256k1"], Purpose::Sig),
        "EdDSA" => known(&["OKP"], &["Ed25519", "Ed448"], Purpose::Sig),
        "Ed25519" => known(&["OKP"], &["Ed25519"], Purpose::Sig),
        "Ed448" => known(&["OKP"], &["Ed448"], Purpose::Sig),
        "ECDH-ES" | "ECDH-ES+A128KW" | "ECDH-ES+A192KW" | "ECDH-ES+A256KW" => {
            known(EC_OKP, ECDH_CURVES, Purpose::Enc)
        }
        "none" | "dir" => AlgClass::Forbidden,
        a if a.starts_with("HS")
            || a.starts_with("PBES2")
            || (a.starts_with('A') && a.ends_with("KW")) =>
        {
            AlgClass::Forbidden
        }
        _ => AlgClass::Unknown,
    }
}

/// What one key contributes to the set.
enum KeyResult {
    /// Usable: its summary for the output document.
    Usable(Value),
    Skipped,
    Invalid,
}

/// Identity of a key that is not skipped, for the duplicate checks.
struct Ident {
    index: usize,
    kid: Option<String>,
    kty: String,
    alg: Option<String>,
    use_: Option<String>,
    thumbprint: String,
}

/// Validates a JWK Set object; returns `{"keys":[<public JWK + thumbprint>...], "skipped":n}`:
/// the usable keys with their public members (see [`PUBLIC_MEMBERS`]), so the document is a
/// JWK Set a verifier can use (meaningful only when no error was added).
pub fn validate(map: &Map<String, Value>, ctx: &Context<'_>, out: &mut Vec<Problem>) -> Value {
    let keys = match map.get("keys") {
        Some(Value::Array(keys)) => keys,
        Some(other) => {
            out.push(
                Problem::error(
                    WRONG_TYPE,
                    format!("keys must be an array, not {}", type_name(other)),
                )
                .at("/keys"),
            );
            return Value::Null;
        }
        None => {
            out.push(Problem::error(MISSING_MEMBER, "keys is required").at("/keys"));
            return Value::Null;
        }
    };
    if keys.len() > MAX_KEYS {
        out.push(
            Problem::error(
                JWKS_TOO_MANY_KEYS,
                format!("the set has {} keys, more than {MAX_KEYS}", keys.len()),
            )
            .at("/keys"),
        );
        return Value::Null;
    }
    let mut usable: Vec<Value> = Vec::new();
    let mut idents: Vec<Ident> = Vec::new();
    let mut skipped = 0usize;
    for (i, key) in keys.iter().enumerate() {
        let (result, ident) = check_key(i, key, ctx, out);
        match result {
            KeyResult::Usable(s) => usable.push(s),
            KeyResult::Skipped => skipped += 1,
            KeyResult::Invalid => {}
        }
        idents.extend(ident);
    }
    if usable.is_empty() {
        out.push(Problem::error(JWKS_NO_USABLE_KEYS, "the set has no usable key").at("/keys"));
    }
    for (j, b) in idents.iter().enumerate() {
        for a in &idents[..j] {
            if let (Some(ka), Some(kb)) = (&a.kid, &b.kid) {
                let same_use = a.use_.is_none() || b.use_.is_none() || a.use_ == b.use_;
                let ambiguous = a.kty == b.kty && a.thumbprint != b.thumbprint;
                if ka == kb && same_use && ambiguous {
                    out.push(
                        Problem::error(
                            JWKS_DUPLICATE_KID,
                            format!("kid {kb:?} is also used by key {}", a.index),
                        )
                        .at(format!("/keys/{}/kid", b.index)),
                    );
                }
            }
            if a.thumbprint == b.thumbprint && a.alg == b.alg {
                out.push(
                    Problem::warning(
                        JWKS_DUPLICATE_KEY,
                        format!("the same public key is also published as key {}", a.index),
                    )
                    .at(format!("/keys/{}", b.index)),
                );
            }
        }
    }
    json!({
        "keys": usable,
        "skipped": skipped,
    })
}

fn check_key(
    i: usize,
    value: &Value,
    ctx: &Context<'_>,
    out: &mut Vec<Problem>,
) -> (KeyResult, Option<Ident>) {
    let base = format!("/keys/{i}");
    let Value::Object(key) = value else {
        out.push(
            Problem::error(
                WRONG_TYPE,
                format!("a key must be an object, not {}", type_name(value)),
            )
            .at(base),
        );
        return (KeyResult::Invalid, None);
    };
    let mut c = KeyCheck {
        base,
        defects: Vec::new(),
        direct: Vec::new(),
    };

    for m in PRIVATE_MEMBERS {
        if key.contains_key(*m) {
            c.add(
                Class::Dangerous,
                JWK_PRIVATE_MEMBER,
                format!("private key member {m} is published"),
                Some(m),
            );
        }
    }
    let extras: Vec<&str> = key
        .keys()
        .map(String::as_str)
        .filter(|k| !REGISTERED_MEMBERS.contains(k))
        .collect();
    if !extras.is_empty() {
        c.add(
            Class::Cosmetic,
            JWK_UNREGISTERED_MEMBER,
            format!("unregistered members {extras:?}"),
            None,
        );
    }

    let kty = match key.get("kty") {
        Some(Value::String(s)) => Some(s.as_str()),
        Some(other) => {
            c.add(
                Class::Unusable,
                JWK_UNKNOWN_KTY,
                format!("kty must be a string, not {}", type_name(other)),
                Some("kty"),
            );
            None
        }
        None => {
            c.add(
                Class::Unusable,
                JWK_UNKNOWN_KTY,
                "kty is missing".into(),
                Some("kty"),
            );
            None
        }
    };
    let use_ = c.opt_str(key, "use");
    let alg = c.opt_str(key, "alg");
    let kid = c.opt_str(key, "kid");
    let crv = c.opt_str(key, "crv");

    if let Some(u) = use_
        && u != "sig"
        && u != "enc"
    {
        c.add(
            Class::Cosmetic,
            JWK_UNKNOWN_USE,
            format!("use {u:?} is not sig or enc"),
            Some("use"),
        );
    }
    let ops = key_ops(key, &mut c);

    // Purpose agreement between use, key_ops and alg.
    let ops_sig = ops.iter().any(|o| SIG_OPS.contains(o));
    let ops_enc = ops.iter().any(|o| ENC_OPS.contains(o));
    if (use_ == Some("sig") && ops_enc) || (use_ == Some("enc") && ops_sig) {
        c.add(
            Class::Dangerous,
            JWK_USE_CONFLICT,
            format!(
                "use {:?} contradicts key_ops {ops:?}",
                use_.unwrap_or_default()
            ),
            Some("key_ops"),
        );
    }
    let alg_info = alg.map(|a| (a, alg_class(a)));
    let mut alg_enc = false;
    if let Some((a, class)) = &alg_info {
        match class {
            AlgClass::Forbidden => c.add(
                Class::Dangerous,
                JWK_ALG_FORBIDDEN,
                format!("alg {a:?} is not allowed for a published public key"),
                Some("alg"),
            ),
            AlgClass::Unknown => c.add(
                Class::Cosmetic,
                JWK_UNKNOWN_ALG,
                format!("alg {a:?} is not known"),
                Some("alg"),
            ),
            AlgClass::Known {
                ktys,
                crvs,
                purpose,
            } => {
                alg_enc = matches!(purpose, Purpose::Enc);
                let use_says_enc = use_ == Some("enc") || (ops_enc && !ops_sig);
                let use_says_sig = use_ == Some("sig") || (ops_sig && !ops_enc);
                if (alg_enc && use_says_sig) || (!alg_enc && use_says_enc) {
                    c.add(
                        Class::Dangerous,
                        JWK_USE_CONFLICT,
                        format!("alg {a:?} contradicts the key's use/key_ops"),
                        Some("alg"),
                    );
                }
                let kty_ok = kty.is_none_or(|k| ktys.contains(&k));
                let crv_ok = crvs.is_empty() || crv.is_none_or(|cv| crvs.contains(&cv));
                if !kty_ok || !crv_ok {
                    c.add(
                        Class::Dangerous,
                        JWK_ALG_MISMATCH,
                        format!(
                            "alg {a:?} does not fit kty {:?} crv {:?}",
                            kty.unwrap_or_default(),
                            crv.unwrap_or_default()
                        ),
                        Some("alg"),
                    );
                }
            }
        }
    }
    let is_enc = use_ == Some("enc")
        || alg_enc
        || (ops_enc && !ops_sig)
        || matches!(crv, Some("X25519" | "X448"));

    let material = match kty {
        Some("RSA") => rsa_material(key, &mut c),
        Some("EC") => ec_material(key, crv, &mut c),
        Some("OKP") => okp_material(key, crv, &mut c),
        Some("oct") => {
            c.add(
                Class::Dangerous,
                JWK_SYMMETRIC_KEY,
                "kty oct is a symmetric secret and must not be published".into(),
                Some("kty"),
            );
            None
        }
        Some(other) => {
            c.add(
                Class::Unusable,
                JWK_UNKNOWN_KTY,
                format!("kty {other:?} is not supported"),
                Some("kty"),
            );
            None
        }
        None => None,
    };

    if let Some(v) = key.get("x5u") {
        match v {
            Value::String(u) => {
                check_url(
                    u,
                    &format!("{}/x5u", c.base),
                    UrlUse::Endpoint,
                    ctx,
                    &mut c.direct,
                );
            }
            other => c.add(
                Class::Malformed,
                WRONG_TYPE,
                format!("x5u must be a string, not {}", type_name(other)),
                Some("x5u"),
            ),
        }
    }
    let cert_der = x5c(key, material.as_ref(), &mut c);
    x5t(key, "x5t", 20, None, &mut c);
    x5t(key, "x5t#S256", 32, cert_der.as_deref(), &mut c);

    // Judge the key.
    let dangerous = c.has(Class::Dangerous);
    let skip = !dangerous && (c.has(Class::Unusable) || (is_enc && c.has(Class::Malformed)));
    let invalid = dangerous || (!skip && c.has(Class::Malformed));
    for d in c.defects {
        let severity = match d.class {
            Class::Dangerous => Severity::Error,
            Class::Malformed if !skip => Severity::Error,
            _ => Severity::Warning,
        };
        out.push(Problem {
            severity,
            ..d.problem
        });
    }
    let direct_error = c.direct.iter().any(Problem::is_error);
    out.extend(c.direct);
    if skip {
        out.push(Problem::warning(JWK_SKIPPED, "the key cannot be used and is skipped").at(c.base));
        return (KeyResult::Skipped, None);
    }
    let Some((kty, thumbprint)) = kty.and_then(|k| Some((k, thumbprint(k, key)?))) else {
        return (KeyResult::Invalid, None);
    };
    let ident = Ident {
        index: i,
        kid: kid.map(str::to_owned),
        kty: kty.to_owned(),
        alg: alg.map(str::to_owned),
        use_: use_.map(str::to_owned),
        thumbprint: thumbprint.clone(),
    };
    if invalid || direct_error {
        return (KeyResult::Invalid, Some(ident));
    }
    (KeyResult::Usable(public_jwk(key, thumbprint)), Some(ident))
}

/// The public JWK of a usable key, as published (members in [`PUBLIC_MEMBERS`] order), plus its
/// RFC 7638 `thumbprint`, so an authorization server can verify with the verdict's document
/// alone. Private members are never copied (a key carrying one is invalid anyway).
fn public_jwk(key: &Map<String, Value>, thumbprint: String) -> Value {
    let mut jwk = Map::new();
    for name in PUBLIC_MEMBERS {
        if let Some(v) = key.get(*name) {
            jwk.insert((*name).into(), v.clone());
        }
    }
    jwk.insert("thumbprint".into(), Value::String(thumbprint));
    Value::Object(jwk)
}

fn key_ops<'a>(key: &'a Map<String, Value>, c: &mut KeyCheck) -> Vec<&'a str> {
    let Some(v) = key.get("key_ops") else {
        return Vec::new();
    };
    let Value::Array(items) = v else {
        c.add(
            Class::Malformed,
            JWK_KEY_OPS_INVALID,
            "key_ops must be an array".into(),
            Some("key_ops"),
        );
        return Vec::new();
    };
    let mut ops: Vec<&str> = Vec::new();
    for item in items {
        let Value::String(op) = item else {
            c.add(
                Class::Malformed,
                JWK_KEY_OPS_INVALID,
                "key_ops values must be strings".into(),
                Some("key_ops"),
            );
            continue;
        };
        if ops.contains(&op.as_str()) {
            c.add(
                Class::Malformed,
                JWK_KEY_OPS_INVALID,
                format!("key_ops repeats {op:?}"),
                Some("key_ops"),
            );
            continue;
        }
        if !SIG_OPS.contains(&op.as_str()) && !ENC_OPS.contains(&op.as_str()) {
            c.add(
                Class::Cosmetic,
                JWK_UNKNOWN_KEY_OP,
                format!("key_ops value {op:?} is not registered"),
                Some("key_ops"),
            );
        }
        ops.push(op);
    }
    ops
}

fn strip_zeros(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    &b[start..]
}

fn rsa_material(key: &Map<String, Value>, c: &mut KeyCheck) -> Option<Material> {
    let n = c.b64(key, "n");
    let e = c.b64(key, "e");
    let (n, e) = (n?, e?);
    for (name, v) in [("n", &n), ("e", &e)] {
        if v.len() > 1 && v[0] == 0 {
            c.add(
                Class::Cosmetic,
                JWK_RSA_LEADING_ZERO,
                format!("{name} has a leading zero octet"),
                Some(name),
            );
        }
    }
    let (n, e) = (strip_zeros(&n).to_vec(), strip_zeros(&e).to_vec());
    let e_value = if e.len() <= 4 {
        e.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
    } else {
        u64::MAX
    };
    let exponent_ok = (3..(1 << 32)).contains(&e_value) && e_value % 2 == 1;
    if !exponent_ok {
        c.add(
            Class::Dangerous,
            JWK_RSA_BAD_EXPONENT,
            "the public exponent must be odd, at least 3 and below 2^32".into(),
            Some("e"),
        );
    }
    let n_big = rsa::BigUint::from_bytes_be(&n);
    let bits = n_big.bits();
    if bits < MIN_RSA_BITS {
        c.add(
            Class::Dangerous,
            JWK_RSA_TOO_SMALL,
            format!("the modulus has {bits} bits, fewer than {MIN_RSA_BITS}"),
            Some("n"),
        );
    } else if bits > MAX_RSA_BITS {
        c.add(
            Class::Malformed,
            JWK_RSA_INVALID,
            format!("the modulus has {bits} bits, more than {MAX_RSA_BITS}"),
            Some("n"),
        );
    } else if exponent_ok {
        let e_big = rsa::BigUint::from_bytes_be(&e);
        if let Err(err) = rsa::RsaPublicKey::new_with_max_size(n_big, e_big, MAX_RSA_BITS) {
            c.add(
                Class::Malformed,
                JWK_RSA_INVALID,
                format!("not a valid RSA public key: {err}"),
                Some("n"),
            );
        }
    }
    Some(Material::Rsa { n, e })
}

/// The curve of an EC or OKP key; a missing `crv` is a malformed key (a `crv` of the wrong
/// type was already reported by the caller).
fn required_crv<'a>(
    key: &Map<String, Value>,
    crv: Option<&'a str>,
    c: &mut KeyCheck,
) -> Option<&'a str> {
    if crv.is_none() && !key.contains_key("crv") {
        c.add(
            Class::Malformed,
            JWK_MISSING_MEMBER,
            "crv is required".into(),
            Some("crv"),
        );
    }
    crv
}

fn ec_material(key: &Map<String, Value>, crv: Option<&str>, c: &mut KeyCheck) -> Option<Material> {
    let crv = required_crv(key, crv, c)?;
    let size = match crv {
        "P-256" => 32,
        "P-384" => 48,
        "P-521" => 66,
        other => {
            c.add(
                Class::Unusable,
                JWK_UNSUPPORTED_CRV,
                format!("EC curve {other:?} is not supported"),
                Some("crv"),
            );
            return None;
        }
    };
    let x = c.b64(key, "x");
    let y = c.b64(key, "y");
    let (x, y) = (x?, y?);
    if x.len() != size || y.len() != size {
        c.add(
            Class::Malformed,
            JWK_EC_COORDINATE_LENGTH,
            format!(
                "{crv} coordinates must be {size} bytes (x has {}, y has {})",
                x.len(),
                y.len()
            ),
            None,
        );
        return None;
    }
    let mut point = Vec::with_capacity(1 + 2 * size);
    point.push(4);
    point.extend_from_slice(&x);
    point.extend_from_slice(&y);
    let on_curve = match crv {
        "P-256" => p256_on_curve(&point),
        "P-384" => p384_on_curve(&point),
        _ => p521_on_curve(&point),
    };
    if !on_curve {
        c.add(
            Class::Dangerous,
            JWK_POINT_NOT_ON_CURVE,
            format!("the point is not on {crv}"),
            None,
        );
        return None;
    }
    Some(Material::Ec { point })
}

fn p256_on_curve(point: &[u8]) -> bool {
    use p256::elliptic_curve::sec1::FromEncodedPoint;
    p256::EncodedPoint::from_bytes(point)
        .map(|ep| bool::from(p256::PublicKey::from_encoded_point(&ep).is_some()))
        .unwrap_or(false)
}

fn p384_on_curve(point: &[u8]) -> bool {
    use p384::elliptic_curve::sec1::FromEncodedPoint;
    p384::EncodedPoint::from_bytes(point)
        .map(|ep| bool::from(p384::PublicKey::from_encoded_point(&ep).is_some()))
        .unwrap_or(false)
}

fn p521_on_curve(point: &[u8]) -> bool {
    use p521::elliptic_curve::sec1::FromEncodedPoint;
    p521::EncodedPoint::from_bytes(point)
        .map(|ep| bool::from(p521::PublicKey::from_encoded_point(&ep).is_some()))
        .unwrap_or(false)
}

fn okp_material(key: &Map<String, Value>, crv: Option<&str>, c: &mut KeyCheck) -> Option<Material> {
    let crv = required_crv(key, crv, c)?;
    if crv != "Ed25519" && crv != "X25519" {
        c.add(
            Class::Unusable,
            JWK_UNSUPPORTED_CRV,
            format!("OKP curve {crv:?} is not supported"),
            Some("crv"),
        );
        return None;
    }
    let x = c.b64(key, "x")?;
    let Ok(bytes) = <[u8; 32]>::try_from(x.as_slice()) else {
        c.add(
            Class::Malformed,
            JWK_OKP_KEY_LENGTH,
            format!("{crv} x must be 32 bytes, not {}", x.len()),
            Some("x"),
        );
        return None;
    };
    if crv == "Ed25519" {
        match ed25519_dalek::VerifyingKey::from_bytes(&bytes) {
            Err(_) => {
                c.add(
                    Class::Dangerous,
                    JWK_POINT_NOT_ON_CURVE,
                    "x is not an Ed25519 point".into(),
                    Some("x"),
                );
                return None;
            }
            Ok(vk) if vk.is_weak() => {
                c.add(
                    Class::Dangerous,
                    JWK_WEAK_KEY,
                    "x is a small-order Ed25519 point".into(),
                    Some("x"),
                );
                return None;
            }
            Ok(_) => {}
        }
    }
    Some(Material::Okp { x })
}

/// Checks `x5c`; returns the first certificate's DER when it decodes.
fn x5c(key: &Map<String, Value>, material: Option<&Material>, c: &mut KeyCheck) -> Option<Vec<u8>> {
    let v = key.get("x5c")?;
    let bad =
        |c: &mut KeyCheck, why: String| c.add(Class::Malformed, JWK_X5C_INVALID, why, Some("x5c"));
    let Value::Array(items) = v else {
        bad(c, "x5c must be an array".into());
        return None;
    };
    let mut ders = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        match item.as_str().map(|s| STANDARD.decode(s)) {
            Some(Ok(der)) => ders.push(der),
            _ => {
                bad(c, format!("x5c[{i}] is not a base64 string"));
                return None;
            }
        }
    }
    let Some(first) = ders.into_iter().next() else {
        bad(c, "x5c is empty".into());
        return None;
    };
    let cert = match x509_parser::parse_x509_certificate(&first) {
        Ok(([], cert)) => cert,
        Ok(_) => {
            bad(c, "x5c[0] has trailing bytes".into());
            return None;
        }
        Err(e) => {
            bad(c, format!("x5c[0] is not a certificate: {e}"));
            return None;
        }
    };
    let spki = cert.public_key();
    let matches = match material? {
        Material::Rsa { n, e } => match spki.parsed() {
            Ok(x509_parser::public_key::PublicKey::RSA(r)) => Some(
                strip_zeros(r.modulus) == n.as_slice() && strip_zeros(r.exponent) == e.as_slice(),
            ),
            _ => Some(false),
        },
        Material::Ec { point } => {
            let data: &[u8] = &spki.subject_public_key.data;
            if data.first().is_some_and(|b| *b == 2 || *b == 3) {
                None
            } else {
                Some(data == point.as_slice())
            }
        }
        Material::Okp { x } => Some(spki.subject_public_key.data.as_ref() == x.as_slice()),
    };
    match matches {
        Some(true) => {}
        Some(false) => c.add(
            Class::Dangerous,
            JWK_X5C_MISMATCH,
            "the first x5c certificate holds a different public key".into(),
            Some("x5c"),
        ),
        None => c.add(
            Class::Cosmetic,
            JWK_X5C_UNCHECKED,
            "the x5c public key could not be compared".into(),
            Some("x5c"),
        ),
    }
    Some(first)
}

fn x5t(key: &Map<String, Value>, name: &str, len: usize, der: Option<&[u8]>, c: &mut KeyCheck) {
    let Some(v) = key.get(name) else { return };
    let decoded = v.as_str().and_then(|s| URL_SAFE_NO_PAD.decode(s).ok());
    match decoded {
        Some(d) if d.len() == len => {
            if let Some(der) = der
                && Sha256::digest(der)[..] != d[..]
            {
                c.add(
                    Class::Cosmetic,
                    JWK_X5T_INVALID,
                    format!("{name} does not match the x5c certificate"),
                    Some(name),
                );
            }
        }
        Some(d) => c.add(
            Class::Cosmetic,
            JWK_X5T_INVALID,
            format!("{name} decodes to {} bytes, not {len}", d.len()),
            Some(name),
        ),
        None => c.add(
            Class::Cosmetic,
            JWK_X5T_INVALID,
            format!("{name} is not base64url"),
            Some(name),
        ),
    }
}

/// RFC 7638 thumbprint (SHA-256, base64url) over the required members in lexical order.
pub(crate) fn thumbprint(kty: &str, key: &Map<String, Value>) -> Option<String> {
    let members: &[&str] = match kty {
        "RSA" => &["e", "kty", "n"],
        "EC" => &["crv", "kty", "x", "y"],
        "OKP" => &["crv", "kty", "x"],
        _ => return None,
    };
    let mut text = String::from("{");
    for (i, m) in members.iter().enumerate() {
        let value = key.get(*m)?.as_str()?;
        if i > 0 {
            text.push(',');
        }
        text.push_str(&Value::String((*m).into()).to_string());
        text.push(':');
        text.push_str(&Value::String(value.into()).to_string());
    }
    text.push('}');
    Some(URL_SAFE_NO_PAD.encode(Sha256::digest(text.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7638_example_thumbprint() {
        let key: Map<String, Value> = serde_json::from_str(
            r#"{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"}"#,
        )
        .unwrap();
        assert_eq!(
            thumbprint("RSA", &key).unwrap(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }
}
