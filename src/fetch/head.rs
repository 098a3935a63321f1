//! The judgement of a response head, as a pure function: follow a redirect, read the body,
//! or stop with a problem. Kept apart from the I/O so every header rule is unit-tested and
//! fuzzed without a socket.

use std::time::SystemTime;

use http::{HeaderMap, header};

use super::codes;
use super::media::{self, CacheHints};
use crate::problem::Problem;

/// What the fetcher does next with a response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeadDecision {
    /// Follow this `Location` (not yet resolved against the URL, not yet checked).
    Redirect {
        /// The raw `Location` value.
        location: String,
        /// The redirect status.
        status: u16,
    },
    /// Read the body (its size is capped by the exchange).
    ReadBody(CacheHints),
    /// Stop: the response cannot be the document.
    Refuse(Problem),
}

fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

fn text(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn all_lines(headers: &HeaderMap, name: header::HeaderName) -> String {
    headers
        .get_all(name)
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Applies the status, coding and media-type rules to a response head.
pub fn judge_head(
    status: u16,
    headers: &HeaderMap,
    follow_redirects: bool,
    now: SystemTime,
) -> HeadDecision {
    if is_redirect(status) {
        if !follow_redirects {
            return HeadDecision::Refuse(Problem::error(
                codes::REDIRECT_NOT_ALLOWED,
                format!("origin answered {status}; this kind must be served without redirects"),
            ));
        }
        return match text(headers, header::LOCATION) {
            Some(location) if !location.trim().is_empty() => HeadDecision::Redirect {
                location: location.to_owned(),
                status,
            },
            _ => HeadDecision::Refuse(Problem::error(
                codes::REDIRECT_INVALID,
                format!("{status} redirect without a Location"),
            )),
        };
    }
    if status != 200 {
        return HeadDecision::Refuse(Problem::error(
            codes::STATUS_NOT_OK,
            format!("origin answered {status}, not 200"),
        ));
    }
    // Every field line counts: `Content-Encoding: identity` followed by a second
    // `Content-Encoding: gzip` line is a gzip body, and so is `Transfer-Encoding: gzip,
    // chunked`. Either would hand the validator bytes no compliant client would see.
    let content_codings = headers
        .get_all(header::CONTENT_ENCODING)
        .iter()
        .map(|v| v.as_bytes());
    if !media::all_identity_encoding(content_codings) {
        return HeadDecision::Refuse(Problem::error(
            codes::CONTENT_ENCODING_NOT_ALLOWED,
            format!(
                "Content-Encoding {:?} was not asked for (identity only)",
                all_lines(headers, header::CONTENT_ENCODING)
            ),
        ));
    }
    let transfer_codings = headers
        .get_all(header::TRANSFER_ENCODING)
        .iter()
        .map(|v| v.as_bytes());
    if !media::only_chunked_transfer(transfer_codings) {
        return HeadDecision::Refuse(Problem::error(
            codes::CONTENT_ENCODING_NOT_ALLOWED,
            format!(
                "Transfer-Encoding {:?} carries a coding other than chunked",
                all_lines(headers, header::TRANSFER_ENCODING)
            ),
        ));
    }
    match text(headers, header::CONTENT_TYPE) {
        Some(ct) if media::is_json_media_type(ct) => {}
        other => {
            return HeadDecision::Refuse(Problem::error(
                codes::CONTENT_TYPE_NOT_JSON,
                format!(
                    "Content-Type {:?} is not application/json or application/*+json",
                    other.unwrap_or("")
                ),
            ));
        }
    }
    HeadDecision::ReadBody(media::cache_hints(
        text(headers, header::CACHE_CONTROL),
        text(headers, header::EXPIRES),
        text(headers, header::DATE),
        text(headers, header::AGE),
        text(headers, header::ETAG),
        now,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.append(*name, HeaderValue::from_static(value));
        }
        h
    }

    fn refused_code(d: &HeadDecision) -> Option<&'static str> {
        match d {
            HeadDecision::Refuse(p) => Some(p.code.as_str()),
            _ => None,
        }
    }

    #[test]
    fn json_200_reads_the_body_with_cache_hints() {
        let h = headers(&[
            ("content-type", "application/json"),
            ("cache-control", "max-age=600"),
        ]);
        match judge_head(200, &h, true, SystemTime::UNIX_EPOCH) {
            HeadDecision::ReadBody(hints) => assert_eq!(hints.max_age_s, Some(600)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn redirects_follow_or_refuse() {
        let h = headers(&[("location", "/next")]);
        assert_eq!(
            judge_head(308, &h, true, SystemTime::UNIX_EPOCH),
            HeadDecision::Redirect {
                location: "/next".into(),
                status: 308
            }
        );
        assert_eq!(
            refused_code(&judge_head(302, &h, false, SystemTime::UNIX_EPOCH)),
            Some("redirect_not_allowed")
        );
        assert_eq!(
            refused_code(&judge_head(
                301,
                &HeaderMap::new(),
                true,
                SystemTime::UNIX_EPOCH
            )),
            Some("redirect_invalid")
        );
        // 300 and 304 are not redirects we follow: they are not 200 either.
        assert_eq!(
            refused_code(&judge_head(304, &h, true, SystemTime::UNIX_EPOCH)),
            Some("status_not_ok")
        );
    }

    #[test]
    fn every_coding_line_counts() {
        for pairs in [
            &[
                ("content-type", "application/json"),
                ("content-encoding", "gzip"),
            ][..],
            &[
                ("content-type", "application/json"),
                ("content-encoding", "identity"),
                ("content-encoding", "br"),
            ],
            &[
                ("content-type", "application/json"),
                ("transfer-encoding", "gzip, chunked"),
            ],
        ] {
            assert_eq!(
                refused_code(&judge_head(
                    200,
                    &headers(pairs),
                    true,
                    SystemTime::UNIX_EPOCH
                )),
                Some("content_encoding_not_allowed"),
                "{pairs:?}"
            );
        }
        let ok = headers(&[
            ("content-type", "application/json"),
            ("transfer-encoding", "chunked"),
        ]);
        assert!(matches!(
            judge_head(200, &ok, true, SystemTime::UNIX_EPOCH),
            HeadDecision::ReadBody(_)
        ));
    }

    #[test]
    fn media_type_must_be_json() {
        let h = headers(&[("content-type", "text/html")]);
        assert_eq!(
            refused_code(&judge_head(200, &h, true, SystemTime::UNIX_EPOCH)),
            Some("content_type_not_json")
        );
        assert_eq!(
            refused_code(&judge_head(
                200,
                &HeaderMap::new(),
                true,
                SystemTime::UNIX_EPOCH
            )),
            Some("content_type_not_json")
        );
    }
}
