//! Input: response header values, one per line, in the order Cache-Control, Expires, Date,
//! Age, ETag, Content-Type, Content-Encoding (missing lines are absent headers).
//!
//! Properties:
//! - `no_store` only when Cache-Control names `no-store` or `no-cache`;
//! - a freshness lifetime only when Cache-Control has `max-age` or there is an Expires, and
//!   never longer than the `max-age` given; a larger Age never lengthens it;
//! - the ETag is kept verbatim up to 256 bytes, dropped beyond;
//! - `is_json_media_type` only for `application/json` or `application/*+json`;
//! - `is_identity_encoding` only when every coding listed is `identity`.
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use libfuzzer_sys::fuzz_target;
use portcullis::fetch::media::{cache_hints, is_identity_encoding, is_json_media_type};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut lines = text.split('\n');
    let mut next = || lines.next();
    let (cc, expires, date, age, etag, ctype, encoding) =
        (next(), next(), next(), next(), next(), next(), next());
    let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);

    let h = cache_hints(cc, expires, date, age, etag, now);
    let cc_lower = cc.map(str::to_ascii_lowercase).unwrap_or_default();
    if h.no_store {
        assert!(cc_lower.contains("no-store") || cc_lower.contains("no-cache"));
    }
    match etag {
        Some(e) if e.len() <= 256 => assert_eq!(h.etag.as_deref(), Some(e)),
        _ => assert_eq!(h.etag, None),
    }
    if let Some(max_age) = h.max_age_s {
        assert!(cc_lower.contains("max-age") || expires.is_some());
        // The last max-age directive decides (when Cache-Control is short enough to read).
        let mut last: Option<Option<u64>> = None;
        if cc_lower.len() <= 1024 {
            for d in cc_lower.split(',') {
                let (n, v) = match d.split_once('=') {
                    Some((n, v)) => (n, Some(v)),
                    None => (d, None),
                };
                if n.trim() == "max-age" {
                    last = Some(v.and_then(|v| v.trim().trim_matches('"').parse().ok()));
                }
            }
        }
        if let Some(Some(stated)) = last {
            assert!(max_age <= stated, "{max_age} > {stated}");
        }
    }
    let fresh = cache_hints(cc, expires, date, Some("0"), etag, now);
    match (fresh.max_age_s, h.max_age_s) {
        (Some(f), Some(a)) => assert!(a <= f, "Age lengthened freshness {f} -> {a}"),
        (f, a) => assert_eq!(f.is_some(), a.is_some()),
    }

    if let Some(ct) = ctype
        && is_json_media_type(ct)
    {
        let essence = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        assert!(
            essence == "application/json"
                || (essence.starts_with("application/") && essence.ends_with("+json")),
            "{ct:?}"
        );
        assert!(!essence.contains(char::is_whitespace), "{ct:?}");
    }
    if let Some(enc) = encoding
        && is_identity_encoding(enc)
    {
        let rest = enc.to_ascii_lowercase().replace("identity", "");
        assert!(
            rest.chars().all(|c| c == ',' || c.is_whitespace()),
            "{enc:?}"
        );
    }
});
