//! JWK Set rules: each rule with a passing and a failing key, plus set-level rules.

use crate::doc_support::*;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use portcullis::kind::Kind;
use serde_json::{Value, json};

const URL: &str = "https://idp.example.com/jwks";

/// A 2048-bit RSA key (Google's, from the fixture).
fn rsa_key() -> Value {
    let set: Value = serde_json::from_str(&fixture("google.jwks.json")).unwrap();
    set["keys"][0].clone()
}

fn ec_key(crv: &str) -> Value {
    let (x, y) = match crv {
        "P-256" => {
            let sk = p256::SecretKey::from_slice(&[7u8; 32]).unwrap();
            let ep = p256::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(
                &sk.public_key(),
                false,
            );
            (ep.x().unwrap().to_vec(), ep.y().unwrap().to_vec())
        }
        "P-384" => {
            let sk = p384::SecretKey::from_slice(&[7u8; 48]).unwrap();
            let ep = p384::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(
                &sk.public_key(),
                false,
            );
            (ep.x().unwrap().to_vec(), ep.y().unwrap().to_vec())
        }
        _ => {
            let mut s = [7u8; 66];
            s[0] = 0;
            let sk = p521::SecretKey::from_slice(&s).unwrap();
            let ep = p521::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(
                &sk.public_key(),
                false,
            );
            (ep.x().unwrap().to_vec(), ep.y().unwrap().to_vec())
        }
    };
    json!({"kty":"EC","crv":crv,"x":B64.encode(x),"y":B64.encode(y),"kid":format!("ec-{crv}")})
}

fn ed_key() -> Value {
    let sk = ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]);
    json!({"kty":"OKP","crv":"Ed25519","x":B64.encode(sk.verifying_key().to_bytes()),"kid":"ed"})
}

fn x25519_key() -> Value {
    json!({"kty":"OKP","crv":"X25519","x":B64.encode([5u8; 32]),"kid":"x","use":"enc"})
}

fn with(mut key: Value, p: Value) -> Value {
    for (k, v) in p.as_object().unwrap() {
        if v.is_null() {
            key.as_object_mut().unwrap().remove(k);
        } else {
            key[k] = v.clone();
        }
    }
    key
}

/// Validates a set of the given key plus a known-good RSA key (so skipping is visible).
fn set_with(key: Value) -> portcullis::documents::Validated {
    let body = json!({"keys":[with(rsa_key(), json!({"kid":"base-key"})), key]}).to_string();
    check(Kind::Jwks, URL, &body)
}

/// (case, key, error code or None for valid, warning that must appear, key skipped?)
type KeyCase = (
    &'static str,
    Value,
    Option<&'static str>,
    Option<&'static str>,
    bool,
);

fn skipped(v: &portcullis::documents::Validated) -> u64 {
    v.document.as_ref().unwrap()["skipped"].as_u64().unwrap()
}

#[test]
fn good_keys_of_every_type_are_usable() {
    for key in [
        rsa_key(),
        ec_key("P-256"),
        ec_key("P-384"),
        ec_key("P-521"),
        ed_key(),
        x25519_key(),
    ] {
        let body = json!({"keys":[key.clone()]}).to_string();
        let v = check(Kind::Jwks, URL, &body);
        assert!(v.problems.is_empty(), "{key}: {:#?}", v.problems);
        let doc = v.document.unwrap();
        assert_eq!(doc["skipped"], 0);
        assert_eq!(doc["keys"][0]["kty"], key["kty"]);
        assert_eq!(doc["keys"][0]["thumbprint"].as_str().unwrap().len(), 43);
    }
}

#[test]
fn key_rules_table() {
    let n = rsa_key()["n"].as_str().unwrap().to_owned();
    let n_bytes = B64.decode(&n).unwrap();
    let zero_n = B64.encode([&[0u8][..], &n_bytes].concat());
    let yahoo_n = "AL1LkSgnGk-sKqFDBrojoqvpqOwmN7tgvz0p6J9g8O_nOzXMAwzMUUs4H_FMgeNWcuE6XzJX3spVwAYBp-rBLwyXXCGbO_chhwcpBDNndlZyqS2zOvwmZYdh4MhrUnIOcA8cdDB1hqoDdKOx9M-EjuoafcgqEPA7rWsZTH6TITMP";
    let ec = ec_key("P-256");
    let mut y = B64.decode(ec["y"].as_str().unwrap()).unwrap();
    y[31] ^= 1;
    let off_curve_y = B64.encode(&y);
    // An Ed25519 encoding that does not decompress, and the small-order identity point.
    let bad_ed = (0u8..=255)
        .map(|b| [b; 32])
        .find(|x| ed25519_dalek::VerifyingKey::from_bytes(x).is_err())
        .unwrap();
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let even_n = {
        let mut b = n_bytes.clone();
        *b.last_mut().unwrap() &= 0xfe;
        B64.encode(b)
    };

    // (case, key, error code or None for valid, warning that must appear, key skipped?)
    let cases: Vec<KeyCase> = vec![
        // RSA
        (
            "rsa 1024",
            with(rsa_key(), json!({"n": yahoo_n})),
            Some("jwk_rsa_too_small"),
            None,
            false,
        ),
        (
            "rsa e=1",
            with(rsa_key(), json!({"e":"AQ"})),
            Some("jwk_rsa_bad_exponent"),
            None,
            false,
        ),
        (
            "rsa e=2",
            with(rsa_key(), json!({"e":"Ag"})),
            Some("jwk_rsa_bad_exponent"),
            None,
            false,
        ),
        (
            "rsa e=2^32+1",
            with(rsa_key(), json!({"e": B64.encode([1u8,0,0,0,1])})),
            Some("jwk_rsa_bad_exponent"),
            None,
            false,
        ),
        (
            "rsa e=3",
            with(rsa_key(), json!({"e":"Aw"})),
            None,
            None,
            false,
        ),
        (
            "rsa even n",
            with(rsa_key(), json!({"n": even_n})),
            Some("jwk_rsa_invalid"),
            None,
            false,
        ),
        (
            "rsa n missing",
            with(rsa_key(), json!({"n": null})),
            Some("jwk_missing_member"),
            None,
            false,
        ),
        (
            "rsa n number",
            with(rsa_key(), json!({"n": 5})),
            Some("wrong_type"),
            None,
            false,
        ),
        (
            "rsa n padded (decision: warning, decodable)",
            with(rsa_key(), json!({"n": format!("{n}==")})),
            None,
            Some("jwk_base64_padding"),
            false,
        ),
        (
            "rsa n standard alphabet (decision: warning, decodable)",
            with(
                rsa_key(),
                json!({"n": n.replace('-', "+").replace('_', "/")}),
            ),
            None,
            Some("jwk_standard_base64"),
            false,
        ),
        (
            "rsa n not base64 at all",
            with(rsa_key(), json!({"n": format!("{n}*!")})),
            Some("jwk_bad_base64url"),
            None,
            false,
        ),
        (
            "rsa n std alphabet '+' only",
            with(rsa_key(), json!({"n": n.replace('-', "+")})),
            None,
            Some("jwk_standard_base64"),
            false,
        ),
        (
            "rsa leading zero",
            with(rsa_key(), json!({"n": zero_n, "kid":"z"})),
            None,
            Some("jwk_rsa_leading_zero"),
            false,
        ),
        (
            "rsa enc malformed skipped",
            with(rsa_key(), json!({"n":"!!", "use":"enc", "alg":"RSA-OAEP"})),
            None,
            Some("jwk_skipped"),
            true,
        ),
        (
            "rsa enc ok",
            with(
                rsa_key(),
                json!({"use":"enc", "alg":"RSA-OAEP-256", "kid":"e"}),
            ),
            None,
            None,
            false,
        ),
        // kty
        (
            "oct",
            json!({"kty":"oct","k":"c2VjcmV0"}),
            Some("jwk_symmetric_key"),
            None,
            false,
        ),
        (
            "kty unknown",
            json!({"kty":"AKP","pub":"xx"}),
            None,
            Some("jwk_unknown_kty"),
            true,
        ),
        (
            "kty missing",
            json!({"n":"xx"}),
            None,
            Some("jwk_unknown_kty"),
            true,
        ),
        (
            "kty number",
            json!({"kty":1}),
            None,
            Some("jwk_unknown_kty"),
            true,
        ),
        (
            "not an object",
            json!("key"),
            Some("wrong_type"),
            None,
            false,
        ),
        // private members
        (
            "private d",
            with(ec.clone(), json!({"d":"AAAA"})),
            Some("jwk_private_member"),
            None,
            false,
        ),
        (
            "private p on unknown kty",
            json!({"kty":"weird","p":"AA"}),
            Some("jwk_private_member"),
            None,
            false,
        ),
        // EC
        (
            "ec ES256",
            with(ec.clone(), json!({"alg":"ES256"})),
            None,
            None,
            false,
        ),
        (
            "ec ES384 on P-256",
            with(ec.clone(), json!({"alg":"ES384"})),
            Some("jwk_alg_mismatch"),
            None,
            false,
        ),
        (
            "ec RS256",
            with(ec.clone(), json!({"alg":"RS256"})),
            Some("jwk_alg_mismatch"),
            None,
            false,
        ),
        (
            "ec ES512 on P-521",
            with(ec_key("P-521"), json!({"alg":"ES512"})),
            None,
            None,
            false,
        ),
        (
            "ec secp256k1",
            with(ec.clone(), json!({"crv":"secp256k1"})),
            None,
            Some("jwk_unsupported_crv"),
            true,
        ),
        (
            "ec crv missing",
            with(ec.clone(), json!({"crv":null})),
            Some("jwk_missing_member"),
            None,
            false,
        ),
        (
            "ec short x",
            with(ec.clone(), json!({"x": B64.encode([1u8; 31])})),
            Some("jwk_ec_coordinate_length"),
            None,
            false,
        ),
        (
            "ec off curve",
            with(ec.clone(), json!({"y": off_curve_y.clone()})),
            Some("jwk_point_not_on_curve"),
            None,
            false,
        ),
        (
            "ec off curve enc",
            with(ec.clone(), json!({"y": off_curve_y, "use":"enc"})),
            Some("jwk_point_not_on_curve"),
            None,
            false,
        ),
        (
            "ec y missing",
            with(ec.clone(), json!({"y": null})),
            Some("jwk_missing_member"),
            None,
            false,
        ),
        // OKP
        (
            "ed EdDSA",
            with(ed_key(), json!({"alg":"EdDSA"})),
            None,
            None,
            false,
        ),
        (
            "ed Ed25519 alg",
            with(ed_key(), json!({"alg":"Ed25519"})),
            None,
            None,
            false,
        ),
        (
            "ed ES256",
            with(ed_key(), json!({"alg":"ES256"})),
            Some("jwk_alg_mismatch"),
            None,
            false,
        ),
        (
            "ed not a point",
            with(ed_key(), json!({"x": B64.encode(bad_ed)})),
            Some("jwk_point_not_on_curve"),
            None,
            false,
        ),
        (
            "ed small order",
            with(ed_key(), json!({"x": B64.encode(identity)})),
            Some("jwk_weak_key"),
            None,
            false,
        ),
        (
            "ed short",
            with(ed_key(), json!({"x": B64.encode([1u8; 31])})),
            Some("jwk_okp_key_length"),
            None,
            false,
        ),
        (
            "ed448",
            with(ed_key(), json!({"crv":"Ed448"})),
            None,
            Some("jwk_unsupported_crv"),
            true,
        ),
        (
            "x25519 ECDH-ES",
            with(x25519_key(), json!({"alg":"ECDH-ES"})),
            None,
            None,
            false,
        ),
        (
            "x25519 EdDSA",
            with(x25519_key(), json!({"alg":"EdDSA"})),
            Some("jwk_alg_mismatch"),
            None,
            false,
        ),
        (
            "x25519 padded usable",
            with(
                x25519_key(),
                json!({"x": format!("{}=", B64.encode([5u8; 32]))}),
            ),
            None,
            Some("jwk_base64_padding"),
            false,
        ),
        (
            "x25519 short skipped",
            with(x25519_key(), json!({"x": B64.encode([5u8; 31])})),
            None,
            Some("jwk_okp_key_length"),
            true,
        ),
        // alg
        (
            "alg none",
            with(rsa_key(), json!({"alg":"none"})),
            Some("jwk_alg_forbidden"),
            None,
            false,
        ),
        (
            "alg HS256",
            with(rsa_key(), json!({"alg":"HS256"})),
            Some("jwk_alg_forbidden"),
            None,
            false,
        ),
        (
            "alg unknown",
            with(rsa_key(), json!({"alg":"XY999","kid":"u"})),
            None,
            Some("jwk_unknown_alg"),
            false,
        ),
        (
            "alg PS512",
            with(rsa_key(), json!({"alg":"PS512","kid":"p"})),
            None,
            None,
            false,
        ),
        (
            "alg RS256 on enc",
            with(rsa_key(), json!({"use":"enc"})),
            Some("jwk_use_conflict"),
            None,
            false,
        ),
        (
            "alg number",
            with(rsa_key(), json!({"alg":256})),
            Some("wrong_type"),
            None,
            false,
        ),
        // use / key_ops
        (
            "use odd",
            with(rsa_key(), json!({"use":"other","kid":"o"})),
            None,
            Some("jwk_unknown_use"),
            false,
        ),
        (
            "sig with encrypt op",
            with(rsa_key(), json!({"key_ops":["encrypt"]})),
            Some("jwk_use_conflict"),
            None,
            false,
        ),
        (
            "sig with verify op",
            with(rsa_key(), json!({"key_ops":["verify"],"kid":"v"})),
            None,
            None,
            false,
        ),
        (
            "ops repeated",
            with(rsa_key(), json!({"key_ops":["verify","verify"]})),
            Some("jwk_key_ops_invalid"),
            None,
            false,
        ),
        (
            "ops not array",
            with(rsa_key(), json!({"key_ops":"verify"})),
            Some("jwk_key_ops_invalid"),
            None,
            false,
        ),
        (
            "ops unknown",
            with(rsa_key(), json!({"key_ops":["verify","frob"],"kid":"f"})),
            None,
            Some("jwk_unknown_key_op"),
            false,
        ),
        // cosmetic
        (
            "extra member",
            with(ec.clone(), json!({"acr":["idp"]})),
            None,
            Some("jwk_unregistered_member"),
            false,
        ),
        (
            "x5t short",
            with(rsa_key(), json!({"x5t":"AAAA","kid":"t"})),
            None,
            Some("jwk_x5t_invalid"),
            false,
        ),
        (
            "x5t ok",
            with(rsa_key(), json!({"x5t": B64.encode([1u8; 20]),"kid":"t"})),
            None,
            None,
            false,
        ),
        (
            "x5t#S256 short",
            with(
                rsa_key(),
                json!({"x5t#S256": B64.encode([1u8; 20]),"kid":"t"}),
            ),
            None,
            Some("jwk_x5t_invalid"),
            false,
        ),
        // x5u / x5c
        (
            "x5u http",
            with(rsa_key(), json!({"x5u":"http://idp.example.com/c.pem"})),
            Some("url_not_https"),
            None,
            false,
        ),
        (
            "x5u private",
            with(rsa_key(), json!({"x5u":"https://169.254.169.254/c.pem"})),
            Some("fake_blocked"),
            None,
            false,
        ),
        (
            "x5u ok",
            with(
                rsa_key(),
                json!({"x5u":"https://idp.example.com/c.pem","kid":"u"}),
            ),
            None,
            None,
            false,
        ),
        (
            "x5c not base64",
            with(rsa_key(), json!({"x5c":["***"]})),
            Some("jwk_x5c_invalid"),
            None,
            false,
        ),
        (
            "x5c not cert",
            with(rsa_key(), json!({"x5c":["AAAA"]})),
            Some("jwk_x5c_invalid"),
            None,
            false,
        ),
        (
            "x5c empty",
            with(rsa_key(), json!({"x5c":[]})),
            Some("jwk_x5c_invalid"),
            None,
            false,
        ),
    ];
    for (case, key, error, warning, is_skipped) in cases {
        let v = set_with(key);
        assert_outcome(&v, case, error, warning);
        if error.is_none() {
            assert_eq!(
                skipped(&v),
                u64::from(is_skipped),
                "{case}: {:#?}",
                v.problems
            );
        }
    }
}

#[test]
fn x5c_must_hold_the_same_key() {
    let mut set: Value = serde_json::from_str(&fixture("entra-common.jwks.json")).unwrap();
    let v = check(Kind::Jwks, URL, &set.to_string());
    assert!(v.is_valid(), "{:#?}", v.problems);
    // Give key 0 the modulus of key 1: its certificate no longer matches.
    let other_n = set["keys"][1]["n"].clone();
    set["keys"][0]["n"] = other_n;
    let v = check(Kind::Jwks, URL, &set.to_string());
    assert_outcome(&v, "mismatch", Some("jwk_x5c_mismatch"), None);
    // An EC key with the RSA certificate also mismatches.
    let cert = set["keys"][1]["x5c"].clone();
    let v = set_with(with(ec_key("P-256"), json!({"x5c": cert})));
    assert_outcome(&v, "ec vs rsa cert", Some("jwk_x5c_mismatch"), None);
}

#[test]
fn set_rules() {
    let v = check(Kind::Jwks, URL, "{}");
    assert_outcome(&v, "no keys member", Some("missing_member"), None);
    let v = check(Kind::Jwks, URL, r#"{"keys":{}}"#);
    assert_outcome(&v, "keys object", Some("wrong_type"), None);
    let v = check(Kind::Jwks, URL, r#"{"keys":[]}"#);
    assert_outcome(&v, "empty", Some("jwks_no_usable_keys"), None);
    let v = check(
        Kind::Jwks,
        URL,
        &json!({"keys":[json!({"kty":"AKP"})]}).to_string(),
    );
    assert_outcome(
        &v,
        "only skipped",
        Some("jwks_no_usable_keys"),
        Some("jwk_skipped"),
    );
    let many: Vec<Value> = (0..=100)
        .map(|i| with(ed_key(), json!({"kid": i.to_string()})))
        .collect();
    let v = check(Kind::Jwks, URL, &json!({"keys": many}).to_string());
    assert_outcome(&v, "too many", Some("jwks_too_many_keys"), None);
    let hundred: Vec<Value> = (0..100)
        .map(|i| with(ed_key(), json!({"kid": i.to_string()})))
        .collect();
    let v = check(Kind::Jwks, URL, &json!({"keys": hundred}).to_string());
    assert_outcome(&v, "hundred", None, Some("jwks_duplicate_key"));
}

#[test]
fn duplicate_kids() {
    // A second RSA key (Yahoo's 1024-bit keys are too small; use Google's second key).
    let set: Value = serde_json::from_str(&fixture("google.jwks.json")).unwrap();
    let rsa2 = set["keys"][1].clone();
    assert_ne!(rsa2["n"], rsa_key()["n"], "fixture has two different keys");
    let ec_other = {
        let sk = p256::SecretKey::from_slice(&[8u8; 32]).unwrap();
        let ep =
            p256::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(&sk.public_key(), false);
        json!({"kty":"EC","crv":"P-256","x":B64.encode(ep.x().unwrap()),"y":B64.encode(ep.y().unwrap())})
    };
    let k = |key: Value, p: Value| with(key, p);
    type Case<'a> = (&'a str, Vec<Value>, Option<&'a str>, Option<&'a str>);
    let cases: Vec<Case> = vec![
        (
            "two RSA keys, one kid, same use",
            vec![
                k(rsa_key(), json!({"kid":"same","use":"sig"})),
                k(rsa2.clone(), json!({"kid":"same","use":"sig"})),
            ],
            Some("jwks_duplicate_kid"),
            None,
        ),
        (
            "two EC keys, one kid, one without use",
            vec![
                k(ec_key("P-256"), json!({"kid":"same","use":"sig"})),
                k(ec_other.clone(), json!({"kid":"same"})),
            ],
            Some("jwks_duplicate_kid"),
            None,
        ),
        (
            "RFC 7517 4.5: one kid on keys of different kty",
            vec![
                k(rsa_key(), json!({"kid":"same","use":"sig"})),
                k(ec_key("P-256"), json!({"kid":"same","use":"sig"})),
            ],
            None,
            None,
        ),
        (
            "RFC 7517 4.5: one RSA key listed once per algorithm",
            vec![
                k(rsa_key(), json!({"kid":"same","alg":"RS256"})),
                k(rsa_key(), json!({"kid":"same","alg":"PS256"})),
            ],
            None,
            None,
        ),
        (
            "two EC keys, one kid, sig and enc",
            vec![
                k(ec_key("P-256"), json!({"kid":"same","use":"sig"})),
                k(ec_other, json!({"kid":"same","use":"enc"})),
            ],
            None,
            None,
        ),
        (
            "the same key twice with the same alg",
            vec![
                k(rsa_key(), json!({"kid":"same","alg":"RS256"})),
                k(rsa_key(), json!({"kid":"same","alg":"RS256"})),
            ],
            None,
            Some("jwks_duplicate_key"),
        ),
    ];
    for (case, keys, error, warning) in cases {
        let v = check(Kind::Jwks, URL, &json!({ "keys": keys }).to_string());
        assert_outcome(&v, case, error, warning);
        if error.is_some() {
            let p = v
                .problems
                .iter()
                .find(|p| p.code.as_str() == "jwks_duplicate_kid")
                .unwrap();
            assert_eq!(p.at.as_deref(), Some("/keys/1/kid"), "{case}");
        } else if warning.is_none() {
            assert!(
                !warnings(&v).contains(&"jwks_duplicate_key"),
                "{case}: {:#?}",
                v.problems
            );
        }
    }
}

#[test]
fn summary_lists_members_and_rfc7638_thumbprint() {
    // RFC 7638 §3.1 example key.
    let body = r#"{"keys":[{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"}]}"#;
    let v = check(Kind::Jwks, URL, body);
    assert!(v.problems.is_empty(), "{:#?}", v.problems);
    assert_eq!(
        v.document.unwrap(),
        json!({"keys":[{"kty":"RSA","kid":"2011-04-29","alg":"RS256","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","thumbprint":"NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"}],"skipped":0})
    );
}

/// The verdict's document is a JWK Set a verifier can use: every public member of each usable
/// key, as published, and never a private member (a key with one is invalid: no document).
#[test]
fn document_carries_public_members_only() {
    let entra: Value = serde_json::from_str(&fixture("entra-common.jwks.json")).unwrap();
    let cases: Vec<(&str, Value, &[&str])> = vec![
        ("rsa", rsa_key(), &["kty", "n", "e"]),
        (
            "rsa with use and key_ops",
            with(
                rsa_key(),
                json!({"use":"sig","key_ops":["verify"],"alg":"RS256","kid":"k1"}),
            ),
            &["kty", "n", "e", "use", "key_ops", "alg", "kid"],
        ),
        ("p-256", ec_key("P-256"), &["kty", "crv", "x", "y"]),
        ("p-384", ec_key("P-384"), &["kty", "crv", "x", "y"]),
        ("p-521", ec_key("P-521"), &["kty", "crv", "x", "y"]),
        ("ed25519", ed_key(), &["kty", "crv", "x", "kid"]),
        ("x25519 enc", x25519_key(), &["kty", "crv", "x", "use"]),
        (
            "rsa with x5c",
            entra["keys"][0].clone(),
            &["kty", "n", "e", "x5c"],
        ),
    ];
    for (case, key, expected) in cases {
        let body = json!({"keys":[key.clone()]}).to_string();
        let v = check(Kind::Jwks, URL, &body);
        assert!(v.is_valid(), "{case}: {:#?}", v.problems);
        let doc = v.document.expect("valid verdicts carry a document");
        let out = doc["keys"][0].as_object().expect("a key object");
        for member in expected {
            assert!(key.get(*member).is_some(), "{case}: fixture lacks {member}");
            assert_eq!(out.get(*member), key.get(*member), "{case}: {member}");
        }
        for member in portcullis::documents::jwks::PUBLIC_MEMBERS {
            assert_eq!(out.get(*member), key.get(*member), "{case}: {member}");
        }
        for member in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
            assert!(out.get(member).is_none(), "{case}: {member} leaked");
        }
        // Nothing else than the public members and the thumbprint.
        for name in out.keys() {
            assert!(
                name == "thumbprint"
                    || portcullis::documents::jwks::PUBLIC_MEMBERS.contains(&name.as_str()),
                "{case}: unexpected member {name}"
            );
        }
    }
    // Private members make the key (and so the set) invalid: no document at all.
    for (member, value) in [
        ("d", json!(B64.encode([1u8; 32]))),
        ("p", json!("AQAB")),
        ("k", json!("AQAB")),
        ("oth", json!([])),
    ] {
        let v = check(
            Kind::Jwks,
            URL,
            &json!({"keys":[with(rsa_key(), json!({ member: value }))]}).to_string(),
        );
        assert!(v.document.is_none(), "{member}: document present");
        assert!(
            v.problems
                .iter()
                .any(|p| p.code.as_str() == "jwk_private_member"),
            "{member}: {:#?}",
            v.problems
        );
    }
}
