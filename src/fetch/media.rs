//! Response header judgements that need no I/O: media type, content coding, cache hints.

use std::time::SystemTime;

/// True for `application/json` and `application/<anything>+json`, parameters allowed.
pub fn is_json_media_type(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let Some(subtype) = essence.strip_prefix("application/") else {
        return false;
    };
    subtype == "json"
        || (subtype.ends_with("+json")
            && subtype.len() > "+json".len()
            && subtype
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b)))
}

/// True when the `Content-Encoding` values (comma separated) are all identity.
pub fn is_identity_encoding(value: &str) -> bool {
    value
        .split(',')
        .map(str::trim)
        .all(|c| c.is_empty() || c.eq_ignore_ascii_case("identity"))
}

/// True when every `Content-Encoding` field line (there may be several; they combine into
/// one list) names only identity. A value that is not visible ASCII is not identity.
pub fn all_identity_encoding<'a>(values: impl IntoIterator<Item = &'a [u8]>) -> bool {
    values.into_iter().all(|v| {
        std::str::from_utf8(v)
            .ok()
            .filter(|s| {
                s.bytes()
                    .all(|b| b.is_ascii_graphic() || b == b' ' || b == b'\t')
            })
            .is_some_and(is_identity_encoding)
    })
}

/// True when every `Transfer-Encoding` field line lists only `chunked` (the one transfer
/// coding the HTTP/1.1 client undoes). Anything else (`gzip, chunked`) would leave a coded
/// body that we would otherwise judge as if it were the document.
pub fn only_chunked_transfer<'a>(values: impl IntoIterator<Item = &'a [u8]>) -> bool {
    values.into_iter().all(|v| {
        std::str::from_utf8(v).is_ok_and(|s| {
            s.split(',')
                .map(str::trim)
                .all(|c| c.is_empty() || c.eq_ignore_ascii_case("chunked"))
        })
    })
}

/// What the origin said about caching, reduced to the two facts the cache needs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CacheHints {
    /// `no-store` (or `no-cache`, treated the same: we never revalidate blindly).
    pub no_store: bool,
    /// Freshness lifetime in seconds from `max-age` or `Expires` − `Date`, minus `Age`.
    pub max_age_s: Option<u64>,
    /// `ETag`, kept for revalidation.
    pub etag: Option<String>,
}

/// Longest Cache-Control header examined, so a hostile header costs bounded work.
const MAX_CACHE_CONTROL_BYTES: usize = 1024;

/// Derives cache hints from the relevant header values; `now` stands in for a missing `Date`.
pub fn cache_hints(
    cache_control: Option<&str>,
    expires: Option<&str>,
    date: Option<&str>,
    age: Option<&str>,
    etag: Option<&str>,
    now: SystemTime,
) -> CacheHints {
    let mut hints = CacheHints {
        etag: etag.filter(|e| e.len() <= 256).map(str::to_owned),
        ..CacheHints::default()
    };
    let mut max_age = None;
    if let Some(cc) = cache_control.filter(|v| v.len() <= MAX_CACHE_CONTROL_BYTES) {
        for directive in cc.split(',') {
            let directive = directive.trim();
            let (name, value) = match directive.split_once('=') {
                Some((n, v)) => (n.trim(), Some(v.trim().trim_matches('"'))),
                None => (directive, None),
            };
            if name.eq_ignore_ascii_case("no-store") || name.eq_ignore_ascii_case("no-cache") {
                hints.no_store = true;
            } else if name.eq_ignore_ascii_case("max-age") {
                max_age = value.and_then(|v| v.parse::<u64>().ok());
            }
        }
    }
    if max_age.is_none()
        && let Some(expires) = expires
    {
        let base = date
            .and_then(|d| httpdate::parse_http_date(d).ok())
            .unwrap_or(now);
        max_age = Some(match httpdate::parse_http_date(expires) {
            Ok(at) => at.duration_since(base).map(|d| d.as_secs()).unwrap_or(0),
            // RFC 9111 §5.3: an invalid Expires means "already expired".
            Err(_) => 0,
        });
    }
    let age = age.and_then(|a| a.trim().parse::<u64>().ok()).unwrap_or(0);
    hints.max_age_s = max_age.map(|m| m.saturating_sub(age));
    hints
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn json_media_types() {
        for ok in [
            "application/json",
            "Application/JSON; charset=utf-8",
            "application/jwk-set+json",
            "application/oauth-authz-req+json ; q=1",
        ] {
            assert!(is_json_media_type(ok), "{ok}");
        }
        for bad in [
            "text/json",
            "application/jsonx",
            "application/+json",
            "text/html",
            "",
            "application/json+xml",
        ] {
            assert!(!is_json_media_type(bad), "{bad}");
        }
    }

    #[test]
    fn encodings() {
        assert!(is_identity_encoding("identity"));
        assert!(is_identity_encoding(""));
        assert!(!is_identity_encoding("gzip"));
        assert!(!is_identity_encoding("identity, br"));
        let lines = |v: &[&'static str]| v.iter().map(|s| s.as_bytes()).collect::<Vec<_>>();
        assert!(all_identity_encoding(lines(&[])));
        assert!(all_identity_encoding(lines(&["identity", "identity"])));
        assert!(!all_identity_encoding(lines(&["identity", "gzip"])));
        assert!(!all_identity_encoding([&b"identity\xff"[..]]));
        assert!(only_chunked_transfer(lines(&["chunked"])));
        assert!(only_chunked_transfer(lines(&[])));
        assert!(!only_chunked_transfer(lines(&["gzip, chunked"])));
        assert!(!only_chunked_transfer(lines(&["chunked", "gzip"])));
    }

    #[test]
    fn cache_control_max_age_and_age() {
        let h = cache_hints(
            Some("public, max-age=600"),
            None,
            None,
            Some("100"),
            Some("\"v1\""),
            UNIX_EPOCH,
        );
        assert_eq!(h.max_age_s, Some(500));
        assert!(!h.no_store);
        assert_eq!(h.etag.as_deref(), Some("\"v1\""));
    }

    #[test]
    fn no_store_wins() {
        let h = cache_hints(
            Some("max-age=600, no-store"),
            None,
            None,
            None,
            None,
            UNIX_EPOCH,
        );
        assert!(h.no_store);
    }

    #[test]
    fn expires_relative_to_date() {
        let h = cache_hints(
            None,
            Some("Thu, 01 Jan 1970 01:00:00 GMT"),
            Some("Thu, 01 Jan 1970 00:30:00 GMT"),
            None,
            None,
            UNIX_EPOCH + Duration::from_secs(10),
        );
        assert_eq!(h.max_age_s, Some(1800));
        let bad = cache_hints(None, Some("0"), None, None, None, UNIX_EPOCH);
        assert_eq!(bad.max_age_s, Some(0));
    }

    #[test]
    fn nothing_said_means_no_hint() {
        assert_eq!(
            cache_hints(None, None, None, None, None, UNIX_EPOCH).max_age_s,
            None
        );
    }
}
