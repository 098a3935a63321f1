//! `portcullis keygen`: a new signing key file, mode 0600, never overwriting.

use std::path::Path;

use portcullis::config::SigningAlg;
use portcullis::verdict::{SigningKey, write_key_file};

use super::{EXIT_OK, usage_error};

pub fn run(out: &Path, alg: &str) -> u8 {
    let alg = match alg {
        "EdDSA" | "eddsa" | "Ed25519" => SigningAlg::EdDSA,
        "ES256" | "es256" => SigningAlg::ES256,
        other => return usage_error(format!("unknown --alg {other:?}; use EdDSA or ES256")),
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
    EXIT_OK
}
