//! The pure verifier with locally signed verdicts (EdDSA and ES256): every check can fail.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::Signer as _;
use portcullis_client::{
    Alg, Error, Expect, KeySet, Kind, ProtocolCode, Request, VerifyOptions, verify, verify_any,
};
use serde_json::{Value, json};

const NOW: u64 = 1_800_000_000;
const URL: &str = "https://client.example/metadata.json";

fn ed_key() -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[7u8; 32])
}

fn ec_key() -> p256::ecdsa::SigningKey {
    p256::ecdsa::SigningKey::from_slice(&[9u8; 32]).unwrap()
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn jwks() -> KeySet {
    let ed = ed_key().verifying_key();
    let ec = ec_key();
    let point = ec.verifying_key().to_encoded_point(false);
    let doc = json!({"keys": [
        {"kty": "OKP", "crv": "Ed25519", "x": b64(ed.as_bytes()), "kid": "ed", "alg": "EdDSA", "use": "sig"},
        {"kty": "EC", "crv": "P-256", "x": b64(point.x().unwrap()), "y": b64(point.y().unwrap()), "kid": "ec", "alg": "ES256", "use": "sig"},
        {"kty": "RSA", "n": "AQAB", "e": "AQAB", "kid": "rsa"}
    ]});
    KeySet::from_jwks_json(doc.to_string().as_bytes()).unwrap()
}

fn claims(outcome: &str) -> Value {
    json!({
        "iss": "portcullis", "aud": "as-1", "iat": NOW, "exp": NOW + 60,
        "jti": "abcdefghijklmnopqrstuv", "url": URL, "kind": "client_metadata",
        "outcome": outcome,
        "problems": if outcome == "valid" { json!([]) } else { json!([{"code": "cloud_metadata", "severity": "error", "detail": "x"}]) },
        "document": if outcome == "valid" { json!({"client_id": URL}) } else { Value::Null },
        "cache": {"max_age_s": 30, "no_store": false}
    })
}

fn sign(header: Value, payload: &Value) -> String {
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(payload.to_string().as_bytes())
    );
    let sig = match header["alg"].as_str().unwrap() {
        "ES256" => {
            use p256::ecdsa::signature::Signer as _;
            let s: p256::ecdsa::Signature = ec_key().sign(input.as_bytes());
            s.to_bytes().to_vec()
        }
        _ => ed_key().sign(input.as_bytes()).to_bytes().to_vec(),
    };
    format!("{input}.{}", b64(&sig))
}

fn ed_header() -> Value {
    json!({"alg": "EdDSA", "typ": "portcullis-verdict+jwt", "kid": "ed"})
}

fn request() -> Request {
    Request::new(URL, Kind::ClientMetadata)
}

fn options() -> VerifyOptions {
    VerifyOptions::new("as-1")
}

fn code(result: Result<portcullis_client::Claims, Error>) -> ProtocolCode {
    match result {
        Err(Error::Protocol { code, .. }) => code,
        other => panic!("expected a protocol error, got {other:?}"),
    }
}

#[test]
fn valid_verdicts_verify_with_both_algorithms() {
    let keys = jwks();
    assert_eq!(keys.len(), 2, "the RSA key is skipped");
    for header in [
        ed_header(),
        json!({"alg": "Ed25519", "typ": "portcullis-verdict+jwt", "kid": "ed"}),
        json!({"alg": "ES256", "typ": "portcullis-verdict+jwt", "kid": "ec"}),
    ] {
        let jws = sign(header, &claims("valid"));
        let c = verify(&jws, &keys, &request(), &options(), NOW).unwrap();
        assert_eq!(c.document.as_ref().unwrap()["client_id"], URL);
        assert_eq!(c.cache_max_age_s(), 30);
    }
}

#[test]
fn refusals_become_typed_errors_with_codes() {
    let jws = sign(ed_header(), &claims("blocked"));
    let err = verify(&jws, &jwks(), &request(), &options(), NOW).unwrap_err();
    assert!(matches!(err, Error::Blocked(_)), "{err:?}");
    assert_eq!(err.codes(), vec!["cloud_metadata".to_owned()]);
    assert!(!err.is_retryable());
    // verify_any returns the verified claims whatever the outcome.
    let c = verify_any(&jws, &jwks(), &request(), &options(), NOW).unwrap();
    assert_eq!(c.outcome, portcullis_client::Outcome::Blocked);
}

#[test]
fn every_check_can_fail() {
    let keys = jwks();
    let good = sign(ed_header(), &claims("valid"));
    let req = request();
    let opts = options();

    let mut other_url = req.clone();
    other_url.url.push_str("?other");
    assert_eq!(
        code(verify(&good, &keys, &other_url, &opts, NOW)),
        ProtocolCode::UrlMismatch
    );
    let other_kind = Request::new(URL, Kind::Jwks);
    assert_eq!(
        code(verify(&good, &keys, &other_kind, &opts, NOW)),
        ProtocolCode::KindMismatch
    );
    let mut aud = opts.clone();
    aud.audience = "as-2".into();
    assert_eq!(
        code(verify(&good, &keys, &req, &aud, NOW)),
        ProtocolCode::WrongAudience
    );
    let mut iss = opts.clone();
    iss.issuer = "other".into();
    assert_eq!(
        code(verify(&good, &keys, &req, &iss, NOW)),
        ProtocolCode::WrongIssuer
    );
    assert_eq!(
        code(verify(&good, &keys, &req, &opts, NOW + 66)),
        ProtocolCode::Expired
    );
    assert!(
        verify(&good, &keys, &req, &opts, NOW + 64).is_ok(),
        "within the leeway"
    );
    assert_eq!(
        code(verify(&good, &keys, &req, &opts, NOW - 60)),
        ProtocolCode::BadIat
    );
    let mut es_only = opts.clone();
    es_only.allowed_algs = vec![Alg::Es256];
    assert_eq!(
        code(verify(&good, &keys, &req, &es_only, NOW)),
        ProtocolCode::AlgNotAllowed
    );

    let typ = sign(
        json!({"alg": "EdDSA", "typ": "JWT", "kid": "ed"}),
        &claims("valid"),
    );
    assert_eq!(
        code(verify(&typ, &keys, &req, &opts, NOW)),
        ProtocolCode::WrongTyp
    );
    let kid = sign(
        json!({"alg": "EdDSA", "typ": "portcullis-verdict+jwt", "kid": "nope"}),
        &claims("valid"),
    );
    assert_eq!(
        code(verify(&kid, &keys, &req, &opts, NOW)),
        ProtocolCode::UnknownKid
    );
    let none = sign(
        json!({"alg": "none", "typ": "portcullis-verdict+jwt", "kid": "ed"}),
        &claims("valid"),
    );
    assert_eq!(
        code(verify(&none, &keys, &req, &opts, NOW)),
        ProtocolCode::AlgNotAllowed
    );
    // An EdDSA header pointing at the P-256 key.
    let cross = sign(
        json!({"alg": "EdDSA", "typ": "portcullis-verdict+jwt", "kid": "ec"}),
        &claims("valid"),
    );
    assert_eq!(
        code(verify(&cross, &keys, &req, &opts, NOW)),
        ProtocolCode::AlgNotAllowed
    );

    // Tampered payload with the original signature.
    let parts: Vec<&str> = good.split('.').collect();
    let mut forged = claims("valid");
    forged["url"] = json!("https://evil.example/x");
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        b64(forged.to_string().as_bytes()),
        parts[2]
    );
    let mut evil = req.clone();
    evil.url = "https://evil.example/x".into();
    assert_eq!(
        code(verify(&tampered, &keys, &evil, &opts, NOW)),
        ProtocolCode::BadSignature
    );
    assert_eq!(
        code(verify("a.b", &keys, &req, &opts, NOW)),
        ProtocolCode::BadJws
    );
    assert_eq!(
        code(verify("a.b.c.d", &keys, &req, &opts, NOW)),
        ProtocolCode::BadJws
    );
}

#[test]
fn echoed_expectations_must_match() {
    let keys = jwks();
    let mut c = claims("valid");
    c["expect"] = json!({"issuer": "https://as.example"});
    let jws = sign(ed_header(), &c);
    let mut req = request();
    assert_eq!(
        code(verify(&jws, &keys, &req, &options(), NOW)),
        ProtocolCode::ExpectMismatch
    );
    req.expect = Expect {
        issuer: Some("https://as.example".into()),
        resource: None,
    };
    assert!(verify(&jws, &keys, &req, &options(), NOW).is_ok());
    // Member order and explicit nulls do not matter.
    let mut c = claims("valid");
    c["expect"] = json!({"resource": null, "issuer": "https://as.example"});
    assert!(verify(&sign(ed_header(), &c), &keys, &req, &options(), NOW).is_ok());
}

#[test]
fn no_cache_claim_means_do_not_cache() {
    let mut c = claims("valid");
    c.as_object_mut().unwrap().remove("cache");
    let jws = sign(ed_header(), &c);
    let v = verify(&jws, &jwks(), &request(), &options(), NOW).unwrap();
    assert_eq!(v.cache_max_age_s(), 0);
    let mut c = claims("valid");
    c["cache"] = json!({"max_age_s": 30, "no_store": true});
    let v = verify(&sign(ed_header(), &c), &jwks(), &request(), &options(), NOW).unwrap();
    assert_eq!(v.cache_max_age_s(), 0);
}

#[test]
fn key_sets_without_usable_keys_are_errors() {
    for doc in [
        "{}",
        "{\"keys\":[]}",
        "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"AA\",\"kid\":\"k\"}]}",
        "nope",
    ] {
        assert!(KeySet::from_jwks_json(doc.as_bytes()).is_err(), "{doc}");
    }
}
