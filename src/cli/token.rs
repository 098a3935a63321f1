//! `portcullis token`: a new random caller token and the `token_sha256` to configure, so an
//! operator never has to hash by hand (or store the token in the config).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use portcullis::config::TokenHash;
use rand::RngCore;

use super::EXIT_OK;

/// Bytes of randomness in a minted token (256 bits).
const TOKEN_BYTES: usize = 32;

pub fn run(name: &str) -> u8 {
    let mut raw = [0u8; TOKEN_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    let token = URL_SAFE_NO_PAD.encode(raw);
    let hash = TokenHash::of_token(&token);
    println!("token:        {token}");
    println!("token_sha256: {hash}");
    println!();
    println!(
        "# Give the token to the caller (Authorization: Bearer <token>); put only the hash in the config:"
    );
    println!("[[server.callers]]");
    println!("name = {name:?}");
    println!("token_sha256 = \"{hash}\"");
    EXIT_OK
}
