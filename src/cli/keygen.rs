//! `portcullis keygen`: a new signing key file, mode 0600, never overwriting.

use std::path::Path;

use portcullis::config::SigningAlg;
use portcullis::verdict::{SigningKey, write_key_file};

use super::{EXIT_OK, usage_error};

pub fn run(out: &Path, alg: &str) -> u8 {
    let alg = match alg {
        "EdDSA" | "eddsa" => SigningAlg::EdDSA,
        "Ed25519" | "ed25519" => SigningAlg::Ed25519,
        "ES256" | "es256" => SigningAlg::ES256,
        other => {
            return usage_error(format!(
                "unknown --alg {other:?}; use ES256, Ed25519 or EdDSA"
            ));
        }
    };
    let key = SigningKey::generate(alg, &mut rand::rngs::OsRng);
    let pem = match key.to_pkcs8_pem() {
        Ok(pem) => pem,
        Err(e) => return usage_error(e),
    };
    if let Err(e) = write_key_file(out, &pem) {
        return usage_error(e);
    }
    eprintln!(
        "wrote {} key {} to {}",
        key.jws_alg(),
        key.kid(),
        out.display()
    );
    if alg == SigningAlg::Ed25519 {
        // The PKCS#8 file holds an Ed25519 key, not the JWS name chosen for it.
        eprintln!("set [signing] alg = \"Ed25519\" to publish it under that name");
    }
    EXIT_OK
}
