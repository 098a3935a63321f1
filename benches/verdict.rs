//! Verdict signing cost: every `POST /v1/fetch` answer is signed, so this is on the hot path
//! (cache hits included: every answer is its own token). Target: Ed25519 signing of a
//! typical verdict under 50 µs. `answer_*` is the whole per-answer cost of a cache hit:
//! a fresh `jti`, the head spliced before the cached claims text, the signature.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use criterion::{Criterion, black_box, criterion_group, criterion_main};
use rand::SeedableRng as _;
use rand::rngs::StdRng;
use serde_json::json;

use portcullis::config::SigningAlg;
use portcullis::facts::FetchFacts;
use portcullis::kind::{Kind, Outcome};
use portcullis::verdict::{
    AnswerHead, CacheClaim, Claims, JudgedClaims, KeyRing, SigningKey, VerdictInput, new_jti,
    reply_body, splice_payload,
};

/// A Client ID Metadata Document of about 1 KiB, the typical verdict payload.
fn document() -> serde_json::Value {
    json!({
        "client_id": "https://client.example/oauth/metadata.json",
        "client_name": "Example Client for a Benchmark of Verdict Signing",
        "client_uri": "https://client.example/",
        "logo_uri": "https://client.example/static/logo-256x256.png",
        "tos_uri": "https://client.example/legal/terms-of-service",
        "policy_uri": "https://client.example/legal/privacy-policy",
        "redirect_uris": [
            "https://client.example/oauth/callback",
            "https://client.example/oauth/callback/secondary",
            "http://127.0.0.1:33418/callback",
            "http://localhost:33418/callback"
        ],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "private_key_jwt",
        "jwks_uri": "https://client.example/oauth/jwks.json",
        "scope": "openid profile email offline_access mcp:tools mcp:resources mcp:prompts",
        "contacts": ["security@client.example", "oauth-admin@client.example"],
        "software_id": "4NRB1-0XZABZI9E6-5SM3R",
        "software_version": "2.14.3",
        "application_type": "web",
        "default_max_age": 3600,
        "require_auth_time": false
    })
}

fn claims() -> Claims {
    let doc = document();
    let body = serde_json::to_vec(&doc).unwrap();
    Claims::build(
        VerdictInput {
            issuer: "portcullis",
            audience: "as-1",
            url: "https://client.example/oauth/metadata.json",
            kind: Kind::ClientMetadata,
            profile: None,
            outcome: Outcome::Valid,
            problems: Vec::new(),
            fetch: Some(FetchFacts {
                final_url: "https://client.example/oauth/metadata.json".into(),
                address: Some("203.0.113.7:443".into()),
                status: Some(200),
                bytes: body.len() as u64,
                content_type: Some("application/json".into()),
                redirects: Vec::new(),
                elapsed_ms: 43,
                fetched_at: 1_760_000_000,
            }),
            body: Some(&body),
            document: Some(doc),
        },
        1_760_000_000,
        300,
        "q8uX3m0b7cY2Jk1wZ9aFpA".into(),
    )
}

fn bench(c: &mut Criterion) {
    let claims = claims();
    let payload = serde_json::to_vec(&claims).unwrap().len();
    let doc = serde_json::to_vec(&document()).unwrap().len();
    eprintln!("document {doc} bytes, claims payload {payload} bytes");
    for (name, alg) in [
        ("sign_eddsa", SigningAlg::EdDSA),
        ("sign_ed25519", SigningAlg::Ed25519),
        ("sign_es256", SigningAlg::ES256),
    ] {
        let ring = KeyRing::new(
            SigningKey::generate(alg, &mut StdRng::seed_from_u64(1)),
            Vec::new(),
        );
        c.bench_function(name, |b| b.iter(|| ring.sign(black_box(&claims)).unwrap()));
    }
    // The cached text of the same verdict, as the service keeps it.
    let doc = document();
    let facts = claims.fetch.clone().unwrap();
    let judged = JudgedClaims {
        url: &claims.url,
        kind: claims.kind,
        profile: None,
        outcome: claims.outcome,
        problems: &claims.problems,
        fetch: Some(&facts),
        sha256: claims.sha256.as_deref(),
        document: Some(&doc),
        expect: None,
    }
    .to_text()
    .unwrap();
    for (name, alg) in [
        ("answer_eddsa", SigningAlg::EdDSA),
        ("answer_es256", SigningAlg::ES256),
    ] {
        let ring = KeyRing::new(
            SigningKey::generate(alg, &mut StdRng::seed_from_u64(1)),
            Vec::new(),
        );
        let mut rng = rand::thread_rng();
        c.bench_function(name, |b| {
            b.iter(|| {
                let jti = new_jti(&mut rng);
                let head = AnswerHead {
                    iss: "portcullis",
                    aud: "as-1",
                    iat: 1_760_000_000,
                    exp: 1_760_000_060,
                    jti: &jti,
                    cache: CacheClaim {
                        max_age_s: 300,
                        no_store: false,
                    },
                };
                let payload = splice_payload(&head, black_box(&judged)).unwrap();
                let jws = ring.sign_payload(&payload).unwrap();
                reply_body(&jws, &payload)
            })
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
