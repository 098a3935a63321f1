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
//!
//! One job per module: [`validate`] here judges the set (size, usable keys, duplicate
//! `kid`s and keys); `key` judges one key; `defects` collects what is wrong with it and how
//! much it weighs; `alg` classifies algorithms; `material` parses the public key;
//! `x509` checks `x5c`/`x5t`; `thumbprint` computes RFC 7638 thumbprints.

mod alg;
mod defects;
mod key;
mod material;
mod thumbprint;
mod x509;

use serde_json::{Map, Value, json};

use super::Context;
use super::fields::{MISSING_MEMBER, WRONG_TYPE};
use super::strict_json::type_name;
use crate::problem::{Code, Problem};
use key::{Ident, KeyResult, check_key};

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
