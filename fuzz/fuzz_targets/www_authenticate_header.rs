//! Input: a `WWW-Authenticate` header value from a protected resource's 401.
//!
//! Properties:
//! - an overlong header or `resource_metadata` value is refused, never truncated;
//! - a `resource_metadata` found occurs in the header text (quoted-pair unescaping aside)
//!   and fits the cap;
//! - the result is the same when the header is parsed twice (no hidden state);
//! - a refusal carries one declared error code.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis::documents::well_known::{
    ALL_CODES, MAX_RESOURCE_METADATA_BYTES, MAX_WWW_AUTHENTICATE_BYTES,
    resource_metadata_from_www_authenticate,
};

fuzz_target!(|data: &[u8]| {
    let Ok(header) = std::str::from_utf8(data) else {
        return;
    };
    let got = resource_metadata_from_www_authenticate(header);
    match &got {
        Ok(Some(v)) => {
            assert!(header.len() <= MAX_WWW_AUTHENTICATE_BYTES);
            assert!(v.len() <= MAX_RESOURCE_METADATA_BYTES);
            let unescaped = header.replace('\\', "");
            let bare = v.replace('\\', "");
            assert!(unescaped.contains(&bare), "{v:?} not in {header:?}");
            assert!(
                header.to_ascii_lowercase().contains("resource_metadata"),
                "{header:?}"
            );
        }
        Ok(None) => assert!(header.len() <= MAX_WWW_AUTHENTICATE_BYTES),
        Err(p) => {
            assert!(p.is_error());
            assert!(ALL_CODES.contains(&p.code), "undeclared {}", p.code);
        }
    }
    let again = resource_metadata_from_www_authenticate(header);
    assert_eq!(format!("{got:?}"), format!("{again:?}"));
});
