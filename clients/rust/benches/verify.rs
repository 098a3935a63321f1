//! AS-side cost of a verified lookup: `verify` of a typical `valid` CIMD verdict (EdDSA and
//! ES256), as an authorization server pays it on every answer.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{Criterion, criterion_group, criterion_main};
use ed25519_dalek::Signer as _;
use portcullis_client::{KeySet, Kind, Request, VerifyOptions, verify};
use serde_json::json;

const URL: &str = "https://client.example/oauth/metadata.json";
const NOW: u64 = 1_800_000_000;

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn payload() -> String {
    json!({
        "iss": "portcullis", "aud": "as-1", "iat": NOW, "exp": NOW + 60,
        "jti": "0urB5zYo31Z4xT0JcW5T0w", "url": URL, "kind": "client_metadata", "outcome": "valid",
        "problems": [],
        "fetch": {"final_url": URL, "address": "203.0.113.7:443", "status": 200, "bytes": 412,
                  "content_type": "application/json", "redirects": [], "elapsed_ms": 41, "fetched_at": NOW},
        "sha256": "SM7l7wIl3tHA9RFM7KmJvORKxeZSrAIQM_zc359VzGs",
        "document": {"client_id": URL, "client_name": "Example MCP client",
                     "redirect_uris": ["http://127.0.0.1/callback", "https://client.example/cb"],
                     "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
                     "token_endpoint_auth_method": "none", "logo_uri": "https://client.example/logo.png"},
        "cache": {"max_age_s": 300, "no_store": false}
    })
    .to_string()
}

fn bench(c: &mut Criterion) {
    let ed = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
    let ec = p256::ecdsa::SigningKey::from_slice(&[9u8; 32]).unwrap();
    let point = ec.verifying_key().to_encoded_point(false);
    let keys = KeySet::from_jwks_json(
        json!({"keys": [
            {"kty": "OKP", "crv": "Ed25519", "x": b64(ed.verifying_key().as_bytes()), "kid": "ed"},
            {"kty": "EC", "crv": "P-256", "x": b64(point.x().unwrap()), "y": b64(point.y().unwrap()), "kid": "ec"}
        ]})
        .to_string()
        .as_bytes(),
    )
    .unwrap();
    let body = b64(payload().as_bytes());
    let sign = |alg: &str, kid: &str| {
        let header = json!({"alg": alg, "typ": "portcullis-verdict+jwt", "kid": kid}).to_string();
        let input = format!("{}.{body}", b64(header.as_bytes()));
        let sig = if alg == "ES256" {
            use p256::ecdsa::signature::Signer as _;
            let s: p256::ecdsa::Signature = ec.sign(input.as_bytes());
            s.to_bytes().to_vec()
        } else {
            ed.sign(input.as_bytes()).to_bytes().to_vec()
        };
        format!("{input}.{}", b64(&sig))
    };
    let request = Request::new(URL, Kind::ClientMetadata);
    let options = VerifyOptions::new("as-1");
    for (name, jws) in [
        ("verify_eddsa", sign("EdDSA", "ed")),
        ("verify_es256", sign("ES256", "ec")),
    ] {
        assert!(verify(&jws, &keys, &request, &options, NOW).is_ok());
        c.bench_function(name, |b| {
            b.iter(|| verify(&jws, &keys, &request, &options, NOW).unwrap())
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
