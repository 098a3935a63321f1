//! One key: its members, purpose, algorithm and material judged into usable, skipped or
//! invalid, and the public JWK a usable key contributes to the document.

use serde_json::{Map, Value};

use super::super::Context;
use super::super::fields::{UrlUse, WRONG_TYPE, check_url};
use super::super::strict_json::type_name;
use super::alg::{AlgClass, Purpose, alg_class};
use super::defects::{Class, KeyCheck};
use super::material::{ec_material, okp_material, rsa_material};
use super::thumbprint::thumbprint;
use super::x509::{x5c, x5t};
use super::*;
use crate::problem::{Problem, Severity};

/// What one key contributes to the set.
pub(super) enum KeyResult {
    /// Usable: its public JWK for the output document.
    Usable(Value),
    Skipped,
    Invalid,
}

/// Identity of a key that is not skipped, for the duplicate checks.
pub(super) struct Ident {
    pub(super) index: usize,
    pub(super) kid: Option<String>,
    pub(super) kty: String,
    pub(super) alg: Option<String>,
    pub(super) use_: Option<String>,
    pub(super) thumbprint: String,
}

pub(super) fn check_key(
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
pub(super) fn public_jwk(key: &Map<String, Value>, thumbprint: String) -> Value {
    let mut jwk = Map::new();
    for name in PUBLIC_MEMBERS {
        if let Some(v) = key.get(*name) {
            jwk.insert((*name).into(), v.clone());
        }
    }
    jwk.insert("thumbprint".into(), Value::String(thumbprint));
    Value::Object(jwk)
}

pub(super) fn key_ops<'a>(key: &'a Map<String, Value>, c: &mut KeyCheck) -> Vec<&'a str> {
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
