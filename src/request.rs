//! One fetch request, from the wire to the fetcher. The `POST /v1/fetch` body is parsed
//! strictly (unknown members are errors, because a typo in `expect` must not silently
//! weaken a check) into [`FetchApiRequest`], then resolved once by the server into a
//! [`FetchRequest`]: the [`FetchKey`] (the question: cache, single-flight and fleet key,
//! and what the judge and the validators read) plus the caller's deadline. The layers
//! below take these types and never re-parse the body.

use std::time::Instant;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::documents::Expect;
use crate::documents::strict_json::{JsonLimits, read_object};
use crate::kind::{Kind, Profile};
use crate::refusal::Refused;

/// Expectations a caller can state about the document. Serialized as the verdict's
/// `expect` claim, so a verdict records what it was judged against.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectBody {
    /// Expected `resource` of protected resource metadata.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// Expected `issuer` of authorization server metadata.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
}

impl ExpectBody {
    /// No expectation stated: the verdict then carries no `expect` claim.
    pub fn is_empty(&self) -> bool {
        self.resource.is_none() && self.issuer.is_none()
    }
}

/// Header that carries the caller's deadline when it cannot put it in the body.
pub const DEADLINE_HEADER: &str = "x-portcullis-deadline-ms";

/// A fetch request.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FetchApiRequest {
    /// The untrusted URL.
    pub url: String,
    /// What the document should be.
    pub kind: Kind,
    /// Optional expectations.
    #[serde(default)]
    pub expect: ExpectBody,
    /// Rule book (`oauth`, `mcp`, `atproto`); absent: the configured `[documents] profile`.
    #[serde(default)]
    pub profile: Option<Profile>,
    /// Milliseconds the caller will wait for an answer; clamped to
    /// `[limits] max_deadline_ms`. When it runs out the service answers a signed
    /// `unreachable` verdict with `deadline_exceeded` rather than nothing.
    #[serde(default)]
    pub deadline_ms: Option<u64>,
}

impl FetchApiRequest {
    /// Resolves the wire request once: the profile falls back to `default_profile` (so the
    /// same question asked with and without the default shares one cache entry) and the
    /// deadline is the instant the server computed from `deadline_ms` and its header.
    pub fn resolve(self, default_profile: Profile, deadline: Instant) -> FetchRequest {
        FetchRequest {
            key: FetchKey {
                kind: self.kind,
                url: self.url,
                expect: self.expect,
                profile: self.profile.unwrap_or(default_profile),
            },
            deadline,
        }
    }
}

/// One parsed, resolved fetch request: what the service answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchRequest {
    /// The question (kind, URL, expectations, profile).
    pub key: FetchKey,
    /// When the caller stops waiting (already clamped to `[limits] max_deadline_ms`).
    pub deadline: Instant,
}

/// The question a request asks, the same from any caller: the cache and single-flight
/// key (serializable, so a shared fleet cache can key on it), and the judge's input.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FetchKey {
    /// Kind.
    pub kind: Kind,
    /// URL as sent.
    pub url: String,
    /// Expectations.
    pub expect: ExpectBody,
    /// Profile judged by (the request's, else `[documents] profile`), resolved so the
    /// same question asked with and without the default profile shares one entry.
    pub profile: Profile,
}

impl FetchKey {
    /// Heap bytes the key owns (its strings), for the cache's byte budget.
    pub fn heap_bytes(&self) -> usize {
        self.url.capacity()
            + self.expect.resource.as_ref().map_or(0, String::capacity)
            + self.expect.issuer.as_ref().map_or(0, String::capacity)
    }

    /// The expectations as the document validators read them (profile resolved).
    pub fn documents_expect(&self) -> Expect {
        Expect {
            resource: self.expect.resource.clone(),
            issuer: self.expect.issuer.clone(),
            profile: Some(self.profile),
        }
    }
}

/// Parses the `X-Portcullis-Deadline-Ms` header value: decimal milliseconds.
pub fn parse_deadline_header(value: &[u8]) -> Result<u64, Refused> {
    std::str::from_utf8(value)
        .ok()
        .map(str::trim)
        .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|v| v.parse::<u64>().ok())
        .ok_or_else(|| {
            Refused::InvalidRequest(
                "X-Portcullis-Deadline-Ms must be a whole number of milliseconds".into(),
            )
        })
}

/// Longest `expect` value accepted; they are URLs.
pub const MAX_EXPECT_BYTES: usize = 2_048;

/// Parses and checks a request body (already size-capped by the server).
///
/// The body and `expect` must be JSON objects: serde's derived structs would also accept
/// arrays (`["https://a.example/x","jwks"]`), positional members nobody documented.
pub fn parse_fetch_request(body: &[u8]) -> Result<FetchApiRequest, Refused> {
    let invalid = |why: String| {
        Refused::InvalidRequest(format!("request body is not a valid fetch request: {why}"))
    };
    let map = read_object(body, &JsonLimits::default()).map_err(|p| invalid(p.detail))?;
    if map.get("expect").is_some_and(|e| !e.is_object()) {
        return Err(invalid("expect must be an object".into()));
    }
    let request: FetchApiRequest =
        serde_json::from_value(Value::Object(map)).map_err(|e| invalid(e.to_string()))?;
    let too_long = [
        request.expect.resource.as_deref(),
        request.expect.issuer.as_deref(),
    ]
    .into_iter()
    .flatten()
    .any(|v| v.len() > MAX_EXPECT_BYTES);
    if too_long {
        return Err(Refused::InvalidRequest(format!(
            "expect values are limited to {MAX_EXPECT_BYTES} bytes"
        )));
    }
    Ok(request)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_request_parses() {
        let r = parse_fetch_request(br#"{"url":"https://a.example/x","kind":"jwks"}"#).unwrap();
        assert_eq!(r.kind, Kind::Jwks);
        assert_eq!(r.expect, ExpectBody::default());
    }

    #[test]
    fn expectations_parse() {
        let r = parse_fetch_request(
            br#"{"url":"https://a.example/.well-known/oauth-protected-resource","kind":"protected_resource_metadata","expect":{"resource":"https://a.example"}}"#,
        )
        .unwrap();
        assert_eq!(r.expect.resource.as_deref(), Some("https://a.example"));
    }

    #[test]
    fn unknown_members_kinds_and_garbage_are_refused() {
        for body in [
            &br#"{"url":"https://a.example/x","kind":"jwks","extra":1}"#[..],
            br#"{"url":"https://a.example/x","kind":"jwks","expect":{"resourse":"x"}}"#,
            br#"{"url":"https://a.example/x","kind":"html"}"#,
            br#"{"kind":"jwks"}"#,
            b"not json",
            b"",
            br#"["https://a.example/x","jwks"]"#,
            br#"{"url":"https://a.example/x","kind":"jwks","expect":["https://a.example"]}"#,
            br#"{"url":"https://a.example/x","kind":"jwks","kind":"json"}"#,
        ] {
            let err = parse_fetch_request(body).unwrap_err();
            assert_eq!(err.code(), "invalid_request");
        }
    }

    #[test]
    fn deadline_parses_from_body_and_header() {
        let r = parse_fetch_request(
            br#"{"url":"https://a.example/x","kind":"jwks","deadline_ms":2500}"#,
        )
        .unwrap();
        assert_eq!(r.deadline_ms, Some(2_500));
        assert!(
            parse_fetch_request(br#"{"url":"https://a.example/x","kind":"jwks","deadline_ms":-1}"#)
                .is_err()
        );
        assert!(
            parse_fetch_request(
                br#"{"url":"https://a.example/x","kind":"jwks","deadline_ms":"1"}"#
            )
            .is_err()
        );
        assert_eq!(parse_deadline_header(b" 2500 ").unwrap(), 2_500);
        for bad in [&b""[..], b"-1", b"1.5", b"abc", b"99999999999999999999999"] {
            assert_eq!(
                parse_deadline_header(bad).unwrap_err().code(),
                "invalid_request"
            );
        }
    }

    #[test]
    fn expect_serializes_only_what_was_stated() {
        let e = ExpectBody {
            resource: Some("https://r.example".into()),
            issuer: None,
        };
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"resource":"https://r.example"}"#
        );
        assert!(!e.is_empty());
        assert!(ExpectBody::default().is_empty());
    }

    #[test]
    fn resolving_fills_the_default_profile_once() {
        let now = Instant::now();
        let r = parse_fetch_request(br#"{"url":"https://a.example/x","kind":"jwks"}"#)
            .unwrap()
            .resolve(Profile::Mcp, now);
        assert_eq!((r.key.profile, r.deadline), (Profile::Mcp, now));
        assert_eq!(r.key.documents_expect().profile, Some(Profile::Mcp));
        let r = parse_fetch_request(
            br#"{"url":"https://a.example/x","kind":"jwks","profile":"atproto"}"#,
        )
        .unwrap()
        .resolve(Profile::Mcp, now);
        assert_eq!(r.key.profile, Profile::Atproto);
    }

    #[test]
    fn the_key_counts_its_strings() {
        let key = FetchKey {
            kind: Kind::Json,
            url: "x".repeat(100),
            expect: ExpectBody {
                resource: Some("r".repeat(50)),
                issuer: None,
            },
            profile: Profile::Oauth,
        };
        assert!(key.heap_bytes() >= 150);
    }

    #[test]
    fn overlong_expectation_is_refused() {
        let body = format!(
            r#"{{"url":"https://a.example/x","kind":"jwks","expect":{{"issuer":"{}"}}}}"#,
            "a".repeat(MAX_EXPECT_BYTES + 1)
        );
        assert!(parse_fetch_request(body.as_bytes()).is_err());
    }
}
