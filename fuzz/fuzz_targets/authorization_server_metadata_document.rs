//! Input: a document body, optionally preceded by `@URL[\tEXPECT]\n` (the URL it was
//! fetched from and the caller's expected resource/issuer). Validated as
//! `Kind::AuthorizationServerMetadata`; see `portcullis_fuzz::check_validator` for the properties asserted.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis::kind::Kind;

fuzz_target!(|data: &[u8]| {
    portcullis_fuzz::check_validator(
        Kind::AuthorizationServerMetadata,
        "https://issuer.example.com/.well-known/oauth-authorization-server",
        data,
    );
});
