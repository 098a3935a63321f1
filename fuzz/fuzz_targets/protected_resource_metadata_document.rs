//! Input: a document body, optionally preceded by `@URL[\tEXPECT]\n` (the URL it was
//! fetched from and the caller's expected resource/issuer). Validated as
//! `Kind::ProtectedResourceMetadata`; see `portcullis_fuzz::check_validator` for the properties asserted.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis::kind::Kind;

fuzz_target!(|data: &[u8]| {
    portcullis_fuzz::check_validator(
        Kind::ProtectedResourceMetadata,
        "https://resource.example.com/.well-known/oauth-protected-resource",
        data,
    );
});
