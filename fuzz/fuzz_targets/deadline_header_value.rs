//! Input: an `X-Portcullis-Deadline-Ms` request header value (any bytes a caller sends).
//!
//! Properties:
//! - a value is accepted only when, trimmed, it is a non-empty run of ASCII digits, and the
//!   number read back is exactly that run (leading zeros aside; no overflow wraps);
//! - anything else is refused with the stable `invalid_request` code, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis::request::parse_deadline_header;

fuzz_target!(|data: &[u8]| {
    match parse_deadline_header(data) {
        Ok(ms) => {
            let text = std::str::from_utf8(data).expect("accepted bytes are UTF-8").trim();
            assert!(!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()), "{text:?}");
            let digits = text.trim_start_matches('0');
            let shown = if digits.is_empty() { "0" } else { digits };
            assert_eq!(ms.to_string(), shown);
        }
        Err(refused) => assert_eq!(refused.code(), "invalid_request"),
    }
});
