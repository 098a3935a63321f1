//! The pure core: is this compact JWS a verdict from the service, for this caller, about
//! this request, still within its trust window? No I/O; time is a parameter.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

use crate::claims::{Claims, Outcome};
use crate::error::{Error, ProtocolCode};
use crate::keys::{Alg, KeySet, VerifyingKey};
use crate::request::Request;

/// JWS `typ` of every verdict; compared exactly (RFC 8725 §3.11).
pub const VERDICT_TYP: &str = "portcullis-verdict+jwt";
/// Clock skew tolerated on `exp` and `iat`, in seconds. Small: verdicts are short-lived.
pub const DEFAULT_LEEWAY_S: u64 = 5;
/// Default expected issuer (the service's default `signing.issuer`).
const DEFAULT_ISSUER: &str = "portcullis";

/// What a verdict must match besides the request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyOptions {
    /// Expected `iss`.
    pub issuer: String,
    /// Expected `aud`: this caller's name in the service configuration.
    pub audience: String,
    /// Algorithms accepted; narrow it to what your deployment signs with.
    pub allowed_algs: Vec<Alg>,
    /// Clock skew tolerated, seconds.
    pub leeway_s: u64,
}

impl VerifyOptions {
    /// Defaults for `audience`: issuer `portcullis`, every service algorithm, 5 s leeway.
    pub fn new(audience: impl Into<String>) -> VerifyOptions {
        VerifyOptions {
            issuer: DEFAULT_ISSUER.to_owned(),
            audience: audience.into(),
            allowed_algs: vec![Alg::EdDsa, Alg::Ed25519, Alg::Es256],
            leeway_s: DEFAULT_LEEWAY_S,
        }
    }
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    typ: Option<String>,
    #[serde(default)]
    kid: Option<String>,
}

fn bad_jws(detail: &str) -> Error {
    Error::protocol(ProtocolCode::BadJws, detail)
}

fn check_signature(
    key: &VerifyingKey,
    alg: Alg,
    signing_input: &[u8],
    signature: &[u8],
) -> Result<(), Error> {
    let bad = || Error::protocol(ProtocolCode::BadSignature, "signature does not verify");
    match (key, alg) {
        (VerifyingKey::Ed25519(k), Alg::EdDsa | Alg::Ed25519) => {
            let sig = ed25519_dalek::Signature::from_slice(signature).map_err(|_| bad())?;
            k.verify_strict(signing_input, &sig).map_err(|_| bad())
        }
        (VerifyingKey::P256(k), Alg::Es256) => {
            use p256::ecdsa::signature::Verifier as _;
            let sig = p256::ecdsa::Signature::from_slice(signature).map_err(|_| bad())?;
            k.verify(signing_input, &sig).map_err(|_| bad())
        }
        _ => Err(Error::protocol(
            ProtocolCode::AlgNotAllowed,
            "the key with this kid is not for this alg",
        )),
    }
}

/// Verifies signature, header, `iss`, `aud`, `exp`/`iat` (with leeway) and that the verdict
/// is about `request` (url, kind, echoed expectations). Returns the claims whatever the
/// outcome; use [`verify`] to turn refusals into errors.
pub fn verify_any(
    jws: &str,
    keys: &KeySet,
    request: &Request,
    options: &VerifyOptions,
    now_unix: u64,
) -> Result<Claims, Error> {
    let mut parts = jws.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad_jws("not a compact JWS (three parts)"));
    };
    let header: Header = URL_SAFE_NO_PAD
        .decode(h)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| bad_jws("undecodable header"))?;
    let alg = Alg::from_name(&header.alg)
        .filter(|a| options.allowed_algs.contains(a))
        .ok_or_else(|| {
            Error::protocol(ProtocolCode::AlgNotAllowed, format!("alg {}", header.alg))
        })?;
    if header.typ.as_deref() != Some(VERDICT_TYP) {
        return Err(Error::protocol(
            ProtocolCode::WrongTyp,
            format!("typ {:?}", header.typ),
        ));
    }
    let kid = header
        .kid
        .ok_or_else(|| Error::protocol(ProtocolCode::UnknownKid, "no kid in the header"))?;
    let key = keys
        .get(&kid)
        .ok_or_else(|| Error::protocol(ProtocolCode::UnknownKid, format!("kid {kid}")))?;
    let signature = URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| bad_jws("undecodable signature"))?;
    let signing_input = &jws.as_bytes()[..h.len() + 1 + p.len()];
    check_signature(key, alg, signing_input, &signature)?;

    let payload = URL_SAFE_NO_PAD
        .decode(p)
        .map_err(|_| bad_jws("undecodable payload"))?;
    let claims: Claims = serde_json::from_slice(&payload)
        .map_err(|e| bad_jws(&format!("claims do not parse: {e}")))?;
    check_claims(&claims, request, options, now_unix)?;
    Ok(claims)
}

fn check_claims(
    claims: &Claims,
    request: &Request,
    options: &VerifyOptions,
    now_unix: u64,
) -> Result<(), Error> {
    let fail = |code, detail: String| Err(Error::protocol(code, detail));
    if claims.iss != options.issuer {
        return fail(ProtocolCode::WrongIssuer, format!("iss {}", claims.iss));
    }
    if claims.aud != options.audience {
        return fail(ProtocolCode::WrongAudience, format!("aud {}", claims.aud));
    }
    if claims.exp.saturating_add(options.leeway_s) < now_unix {
        return fail(ProtocolCode::Expired, format!("exp {}", claims.exp));
    }
    if claims.iat > now_unix.saturating_add(options.leeway_s) {
        return fail(
            ProtocolCode::BadIat,
            format!("iat {} is in the future", claims.iat),
        );
    }
    if claims.url != request.url {
        return fail(
            ProtocolCode::UrlMismatch,
            format!("verdict is about {}", claims.url),
        );
    }
    if claims.kind != request.kind {
        return fail(
            ProtocolCode::KindMismatch,
            format!("verdict is for {:?}", claims.kind),
        );
    }
    if let Some(echoed) = &claims.expect {
        let asked = serde_json::to_value(&request.expect).unwrap_or_default();
        if present_members(echoed) != present_members(&asked) {
            return fail(
                ProtocolCode::ExpectMismatch,
                "judged against other expectations".to_owned(),
            );
        }
    }
    Ok(())
}

/// The members of an expectations object that carry a value, sorted (order and explicit
/// nulls do not matter).
fn present_members(value: &serde_json::Value) -> Vec<(String, serde_json::Value)> {
    let mut members: Vec<(String, serde_json::Value)> = value
        .as_object()
        .map(|o| {
            o.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    members.sort_by(|a, b| a.0.cmp(&b.0));
    members
}

/// Maps verified claims to the caller's result: `valid` → the claims, refusals → errors.
pub fn outcome_result(claims: Claims) -> Result<Claims, Error> {
    match claims.outcome {
        Outcome::Valid => Ok(claims),
        Outcome::Blocked => Err(Error::Blocked(Box::new(claims))),
        Outcome::Invalid => Err(Error::Invalid(Box::new(claims))),
        Outcome::Unreachable => Err(Error::Unreachable(Box::new(claims))),
    }
}

/// [`verify_any`], then [`outcome_result`]: the verified claims of a `valid` verdict, or
/// an error carrying the problem codes.
pub fn verify(
    jws: &str,
    keys: &KeySet,
    request: &Request,
    options: &VerifyOptions,
    now_unix: u64,
) -> Result<Claims, Error> {
    outcome_result(verify_any(jws, keys, request, options, now_unix)?)
}
