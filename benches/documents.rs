//! Validation cost of a typical CIMD (~1 KiB) and a 3-key RSA-2048 JWKS (Apple's, shipped
//! as a fixture), plus the strict JSON reader alone.
#![allow(missing_docs)]

use criterion::{Criterion, black_box, criterion_group, criterion_main};
use portcullis::config::DocumentsConfig;
use portcullis::documents::{Context, Expect, JsonLimits, UrlRules, strict_json, validate};
use portcullis::kind::Kind;
use portcullis::problem::Problem;

/// Allows every URL: measures the validators, not a policy.
struct AllowAll;

impl UrlRules for AllowAll {
    fn url_problems(&self, _url: &str) -> Vec<Problem> {
        Vec::new()
    }
}

const CIMD_URL: &str = "https://app.example.com/oauth/client-metadata.json";

fn cimd() -> String {
    let doc = serde_json::json!({
        "client_id": CIMD_URL,
        "client_name": "Example MCP Client for benchmarking document validation",
        "client_uri": "https://app.example.com",
        "logo_uri": "https://app.example.com/static/images/logo-256x256.png",
        "tos_uri": "https://app.example.com/legal/terms-of-service",
        "policy_uri": "https://app.example.com/legal/privacy-policy",
        "redirect_uris": [
            "http://127.0.0.1:33418/oauth/callback",
            "http://[::1]:33418/oauth/callback",
            "https://app.example.com/oauth/callback",
            "https://app.example.com/oauth/callback/secondary",
            "com.example.app:/oauth2redirect"
        ],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
        "scope": "openid profile email offline_access mcp:tools mcp:resources mcp:prompts",
        "software_id": "4NRB1-0XZABZI9E6-5SM3R",
        "software_version": "2025.11.25",
        "contacts": ["security@app.example.com", "oauth-admins@app.example.com"],
        "application_type": "native",
        "dpop_bound_access_tokens": true
    });
    doc.to_string()
}

fn bench(c: &mut Criterion) {
    let options = DocumentsConfig::default();
    let ctx = Context::new(&AllowAll, &options);
    let expect = Expect::default();
    let cimd = cimd();
    let jwks = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/real-world/apple.jwks.json"
    ))
    .unwrap_or_default();
    let check_cimd = validate(
        Kind::ClientMetadata,
        CIMD_URL,
        cimd.as_bytes(),
        &expect,
        &ctx,
    );
    assert!(check_cimd.is_valid(), "{:?}", check_cimd.problems);
    let check_jwks = validate(
        Kind::Jwks,
        "https://appleid.apple.com/auth/keys",
        &jwks,
        &expect,
        &ctx,
    );
    assert!(
        check_jwks.is_valid() && check_jwks.problems.is_empty(),
        "{:?}",
        check_jwks.problems
    );

    let mut g = c.benchmark_group("documents");
    g.bench_function(format!("cimd_{}_bytes", cimd.len()), |b| {
        b.iter(|| {
            validate(
                Kind::ClientMetadata,
                CIMD_URL,
                black_box(cimd.as_bytes()),
                &expect,
                &ctx,
            )
        })
    });
    g.bench_function(format!("jwks_3x_rsa2048_{}_bytes", jwks.len()), |b| {
        b.iter(|| {
            validate(
                Kind::Jwks,
                "https://appleid.apple.com/auth/keys",
                black_box(&jwks),
                &expect,
                &ctx,
            )
        })
    });
    let limits = JsonLimits::default();
    g.bench_function("strict_json_cimd", |b| {
        b.iter(|| strict_json::read_object(black_box(cimd.as_bytes()), &limits))
    });
    g.bench_function("serde_json_cimd_baseline", |b| {
        b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(cimd.as_bytes())))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
