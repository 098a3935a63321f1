//! RFC 9864 interop, Rust side: signs one verdict per supported JWS algorithm (`Ed25519`,
//! `EdDSA`, `ES256`) with the service's own `KeyRing`, writes `<alg>.jws` and the `/v1/keys`
//! set `<alg>.jwks.json` into the output directory for the Python and Node verifiers, and
//! verifies each with Rust `jsonwebtoken` (the project's dev-dependency), printing one line
//! `jsonwebtoken <alg> accept|reject <why>` per algorithm.
//!
//! Run by `scripts/alg-interop.sh`: `cargo run --example alg_interop -- OUT_DIR`.
#![allow(missing_docs)]

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use portcullis::config::SigningAlg;
use portcullis::kind::{Kind, Outcome, Profile};
use portcullis::verdict::{Claims, KeyRing, SigningKey, VERDICT_TYP, VerdictInput, new_jti};

/// Audience and issuer every verifier checks.
const AUDIENCE: &str = "interop-as";
const ISSUER: &str = "portcullis";
const BODY: &[u8] = br#"{"client_id":"https://client.example/m.json","client_name":"Interop"}"#;

fn verify_with_jsonwebtoken(token: &str, jwks: &serde_json::Value) -> Result<(), String> {
    use jsonwebtoken::jwk::JwkSet;
    use jsonwebtoken::{DecodingKey, Validation, decode, decode_header};
    let header = decode_header(token).map_err(|e| format!("header: {e}"))?;
    if header.typ.as_deref() != Some(VERDICT_TYP) {
        return Err("typ".into());
    }
    let set: JwkSet = serde_json::from_value(jwks.clone()).map_err(|e| format!("jwks: {e}"))?;
    let kid = header.kid.ok_or("no kid")?;
    let jwk = set.find(&kid).ok_or("kid not published")?;
    let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("key: {e}"))?;
    let mut v = Validation::new(header.alg);
    v.set_audience(&[AUDIENCE]);
    v.set_issuer(&[ISSUER]);
    decode::<serde_json::Value>(token, &key, &v).map_err(|e| format!("verify: {e}"))?;
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or("usage: alg_interop OUT_DIR")?,
    );
    std::fs::create_dir_all(&out)?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    for alg in [SigningAlg::Ed25519, SigningAlg::EdDSA, SigningAlg::ES256] {
        let ring = KeyRing::new(
            SigningKey::generate(alg, &mut rand::rngs::OsRng),
            Vec::new(),
        );
        let claims = Claims::build(
            VerdictInput {
                issuer: ISSUER,
                audience: AUDIENCE,
                url: "https://client.example/m.json",
                kind: Kind::ClientMetadata,
                profile: Some(Profile::Mcp),
                outcome: Outcome::Valid,
                problems: Vec::new(),
                fetch: None,
                body: Some(BODY),
                document: Some(serde_json::from_slice(BODY)?),
            },
            now,
            600,
            new_jti(&mut rand::rngs::OsRng),
        );
        let token = ring.sign(&claims)?;
        let name = portcullis::verdict::keys::jws_alg_name(alg);
        std::fs::write(out.join(format!("{name}.jws")), &token)?;
        std::fs::write(
            out.join(format!("{name}.jwks.json")),
            ring.jwks().to_string(),
        )?;
        match verify_with_jsonwebtoken(&token, &ring.jwks()) {
            Ok(()) => println!("jsonwebtoken {name} accept"),
            Err(why) => println!("jsonwebtoken {name} reject {why}"),
        }
    }
    Ok(())
}
