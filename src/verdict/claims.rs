//! Verdict claims: the JWS payload, built by a pure function from what the fetch and the
//! validator found plus the time and randomness the caller passes in.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::elliptic_curve::rand_core::CryptoRngCore;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use crate::facts::FetchFacts;
use crate::kind::{Kind, Outcome, Profile};
use crate::problem::Problem;

/// JWS `typ` of every verdict: explicit typing (RFC 8725 §3.11) so a verdict can never be
/// mistaken for, or substituted by, another kind of JWT signed by a key the verifier trusts.
/// Written without the `application/` prefix as RFC 7515 §4.1.9 recommends; the full media
/// type is `application/portcullis-verdict+jwt`. Verifiers should compare it exactly.
pub const VERDICT_TYP: &str = "portcullis-verdict+jwt";

/// Bytes of randomness in a `jti`: 128 bits, so ids never collide across replicas.
pub const JTI_BYTES: usize = 16;

/// The verdict, as signed. Field order is the wire order.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Claims {
    /// Issuer (`signing.issuer`), so verifiers can tell which service spoke.
    pub iss: String,
    /// The caller the verdict was made for; stops one caller replaying another's verdict.
    pub aud: String,
    /// Unix seconds when the verdict was made.
    pub iat: u64,
    /// Unix seconds after which the verdict must not be trusted (the trust window).
    pub exp: u64,
    /// Unique id, for audit correlation and replay detection.
    pub jti: String,
    /// The URL that was asked about, exactly as requested.
    pub url: String,
    /// The kind of document that was expected.
    pub kind: Kind,
    /// The rule book it was judged by (`oauth`, `mcp`, `atproto`), so a verdict made under a
    /// laxer profile cannot pass for one made under a stricter one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<Profile>,
    /// How it ended.
    pub outcome: Outcome,
    /// Why, for any outcome but a clean `valid` (warnings may accompany `valid`).
    pub problems: Vec<Problem>,
    /// What happened on the wire; absent when policy blocked before any fetch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fetch: Option<FetchFacts>,
    /// base64url (no padding) SHA-256 of the body bytes, so a verdict pins exact content.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// The validated document; only ever present when `outcome` is `valid`, so a caller
    /// cannot use an invalid document by ignoring the outcome.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document: Option<Value>,
}

/// What the pipeline found, gathered for [`Claims::build`]. A struct rather than ten
/// positional arguments so call sites name every field.
#[derive(Clone, Debug)]
pub struct VerdictInput<'a> {
    /// `iss`.
    pub issuer: &'a str,
    /// `aud`: the authenticated caller's name.
    pub audience: &'a str,
    /// The requested URL.
    pub url: &'a str,
    /// The expected kind.
    pub kind: Kind,
    /// The profile the document was judged by.
    pub profile: Option<Profile>,
    /// The outcome.
    pub outcome: Outcome,
    /// Problems found, in order.
    pub problems: Vec<Problem>,
    /// Fetch facts, when a fetch was attempted.
    pub fetch: Option<FetchFacts>,
    /// The body read, when one was; only its hash goes into the verdict.
    pub body: Option<&'a [u8]>,
    /// The parsed document; dropped unless `outcome` is `valid`.
    pub document: Option<Value>,
}

impl Claims {
    /// Builds the claims. Pure: `now_unix` and `jti` come from the caller (clock and RNG
    /// live at the edge). `exp = now_unix + lifetime_s`, saturating; a lifetime of 0 makes
    /// a verdict that is already at its expiry (as for uncacheable CIMD failures).
    pub fn build(input: VerdictInput<'_>, now_unix: u64, lifetime_s: u64, jti: String) -> Claims {
        let document = match input.outcome {
            Outcome::Valid => input.document,
            Outcome::Invalid | Outcome::Blocked | Outcome::Unreachable => None,
        };
        Claims {
            iss: input.issuer.to_owned(),
            aud: input.audience.to_owned(),
            iat: now_unix,
            exp: now_unix.saturating_add(lifetime_s),
            jti,
            url: input.url.to_owned(),
            kind: input.kind,
            profile: input.profile,
            outcome: input.outcome,
            problems: input.problems,
            fetch: input.fetch,
            sha256: input.body.map(body_sha256),
            document,
        }
    }
}

/// The `cache` claim: how long the caller may cache the *document*, from the origin's
/// `Cache-Control` / `Expires` bounded by `[cache] max_ttl_s`, aged by the time since the
/// fetch. Separate from `exp` (how long to trust this answer): trust is not caching.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheClaim {
    /// Seconds the document may still be cached; 0 when the origin gave no lifetime.
    pub max_age_s: u64,
    /// The origin said `no-store` (or `no-cache`), or there is no document: do not cache.
    pub no_store: bool,
}

/// The per-answer head of a verdict: the claims that differ on every answer (who it is for,
/// when it was signed, its id, its trust window, the document's remaining cache age).
/// Spliced before a [`JudgedClaims`] text by [`splice_payload`]; field order is wire order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AnswerHead<'a> {
    /// `iss`.
    pub iss: &'a str,
    /// `aud`: the caller the answer is for.
    pub aud: &'a str,
    /// Unix seconds when THIS answer was signed (fresh on cache hits too).
    pub iat: u64,
    /// `iat` + the trust window.
    pub exp: u64,
    /// Fresh per answer.
    pub jti: &'a str,
    /// Document caching, see [`CacheClaim`].
    pub cache: CacheClaim,
}

/// The judged part of a verdict: the same for every answer about one judgement, so it is
/// serialized once (and kept as text in the cache) and only the [`AnswerHead`] is made per
/// answer. Field order is wire order.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct JudgedClaims<'a> {
    /// The URL as requested.
    pub url: &'a str,
    /// The expected kind.
    pub kind: Kind,
    /// The profile the document was judged by, so a verdict made under a laxer profile
    /// cannot pass for one made under a stricter one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<Profile>,
    /// How it ended.
    pub outcome: Outcome,
    /// Why.
    pub problems: &'a [Problem],
    /// What happened on the wire (with `fetched_at`); absent when blocked before fetching.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fetch: Option<&'a FetchFacts>,
    /// base64url SHA-256 of the body.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<&'a str>,
    /// The validated document; only when `outcome` is `valid` (enforced here).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document: Option<&'a Value>,
    /// The expectations it was judged against, when any were stated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expect: Option<&'a Value>,
}

impl JudgedClaims<'_> {
    /// The JSON object text kept in the cache. Drops `document` unless `valid`.
    pub fn to_text(&self) -> Result<String, serde_json::Error> {
        let mut this = self.clone();
        if this.outcome != Outcome::Valid {
            this.document = None;
        }
        let mut text = serde_json::to_string(&this)?;
        text.shrink_to_fit();
        Ok(text)
    }
}

/// The signed payload: `head` serialized, its closing brace replaced by a comma, then the
/// judged text without its opening brace. Both are JSON objects with disjoint members, so
/// the result is one JSON object; no document is parsed or re-serialized per answer.
pub fn splice_payload(
    head: &AnswerHead<'_>,
    judged_text: &str,
) -> Result<Vec<u8>, serde_json::Error> {
    splice_json(head, judged_text)
}

/// The `/v1/fetch` reply body, `{"verdict": JWS, "claims": payload}`, assembled from the
/// compact JWS and the payload it signs without re-serializing either (a compact JWS is
/// base64url and dots, so it needs no escaping inside the JSON string).
pub fn reply_body(jws: &str, payload: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(jws.len() + payload.len() + 32);
    body.extend_from_slice(b"{\"verdict\":\"");
    body.extend_from_slice(jws.as_bytes());
    body.extend_from_slice(b"\",\"claims\":");
    body.extend_from_slice(payload);
    body.push(b'}');
    body
}

/// One JSON object from a serializable `head` object and the text of a `tail` object with
/// disjoint members (also used for audit lines).
pub fn splice_json(head: &impl Serialize, tail: &str) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = Vec::with_capacity(192 + tail.len());
    serde_json::to_writer(&mut out, head)?;
    let inner = tail
        .strip_prefix('{')
        .filter(|_| out.last() == Some(&b'}'))
        .ok_or_else(|| serde::ser::Error::custom("splicing needs two JSON objects"))?;
    out.pop(); // the head's `}`
    if inner != "}" {
        out.push(b',');
    }
    out.extend_from_slice(inner.as_bytes());
    Ok(out)
}

/// base64url (no padding) SHA-256 of a body: the `sha256` claim, also usable by callers to
/// check that the bytes they hold are the bytes that were judged.
pub fn body_sha256(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(bytes))
}

/// A fresh `jti` (128 random bits, base64url). Takes the RNG so pure code stays deterministic
/// under test; production passes `OsRng`.
pub fn new_jti(rng: &mut impl CryptoRngCore) -> String {
    let mut bytes = [0u8; JTI_BYTES];
    rng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::Code;
    use rand::SeedableRng as _;
    use rand::rngs::StdRng;
    use serde_json::json;

    fn input(outcome: Outcome) -> VerdictInput<'static> {
        VerdictInput {
            issuer: "portcullis",
            audience: "as-1",
            url: "https://client.example/metadata.json",
            kind: Kind::ClientMetadata,
            profile: None,
            outcome,
            problems: Vec::new(),
            fetch: None,
            body: Some(b"{}"),
            document: Some(json!({"client_id": "https://client.example/metadata.json"})),
        }
    }

    #[test]
    fn sha256_of_empty_body_is_the_known_digest() {
        // SHA-256("") = e3b0c442...b855, base64url without padding.
        assert_eq!(
            body_sha256(b""),
            "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"
        );
    }

    #[test]
    fn valid_verdict_serializes_in_design_order() {
        let c = Claims::build(input(Outcome::Valid), 1_000, 300, "j1".into());
        assert_eq!((c.iat, c.exp), (1_000, 1_300));
        let v = serde_json::to_value(&c).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "iss", "aud", "iat", "exp", "jti", "url", "kind", "outcome", "problems", "sha256",
                "document"
            ]
        );
        assert_eq!(v["kind"], "client_metadata");
        assert_eq!(v["outcome"], "valid");
        assert_eq!(v["sha256"], body_sha256(b"{}"));
        assert_eq!(
            v["document"]["client_id"],
            "https://client.example/metadata.json"
        );
    }

    #[test]
    fn document_is_dropped_unless_valid() {
        for outcome in [Outcome::Invalid, Outcome::Blocked, Outcome::Unreachable] {
            let mut i = input(outcome);
            i.problems = vec![Problem::error(Code::new("x_bad"), "bad").at("/client_id")];
            let c = Claims::build(i, 0, 30, "j".into());
            assert!(c.document.is_none(), "{outcome}");
            let v = serde_json::to_value(&c).unwrap();
            assert!(v.get("document").is_none());
            assert_eq!(v["problems"][0]["code"], "x_bad");
            assert_eq!(v["problems"][0]["at"], "/client_id");
            assert!(
                v.get("sha256").is_some(),
                "hash kept: it says what was judged"
            );
        }
    }

    #[test]
    fn absent_fetch_and_body_are_omitted_and_exp_saturates() {
        let mut i = input(Outcome::Blocked);
        i.body = None;
        let c = Claims::build(i, u64::MAX - 1, 300, "j".into());
        assert_eq!(c.exp, u64::MAX);
        let v = serde_json::to_value(&c).unwrap();
        assert!(v.get("fetch").is_none());
        assert!(v.get("sha256").is_none());
        assert_eq!(v["problems"], json!([]));
    }

    #[test]
    fn fetch_facts_are_embedded() {
        let mut i = input(Outcome::Valid);
        i.fetch = Some(FetchFacts {
            final_url: "https://client.example/metadata.json".into(),
            address: Some("203.0.113.7:443".into()),
            status: Some(200),
            bytes: 2,
            ..FetchFacts::default()
        });
        let v = serde_json::to_value(Claims::build(i, 0, 0, "j".into())).unwrap();
        assert_eq!(v["fetch"]["address"], "203.0.113.7:443");
        assert_eq!(v["fetch"]["status"], 200);
        assert_eq!(v["iat"], v["exp"]);
    }

    fn head(jti: &str) -> AnswerHead<'_> {
        AnswerHead {
            iss: "portcullis",
            aud: "as-\"1",
            iat: 1_000,
            exp: 1_060,
            jti,
            cache: CacheClaim {
                max_age_s: 30,
                no_store: false,
            },
        }
    }

    #[test]
    fn spliced_payload_is_one_object_with_every_claim() {
        let problems = vec![Problem::warning(Code::new("x_warn"), "w")];
        let doc = json!({"client_id": "https://client.example/metadata.json"});
        let facts = FetchFacts {
            fetched_at: 900,
            ..FetchFacts::default()
        };
        let expect = json!({"issuer": "https://as.example"});
        let judged = JudgedClaims {
            url: "https://client.example/metadata.json",
            kind: Kind::ClientMetadata,
            profile: None,
            outcome: Outcome::Valid,
            problems: &problems,
            fetch: Some(&facts),
            sha256: Some("abc"),
            document: Some(&doc),
            expect: Some(&expect),
        };
        let text = judged.to_text().unwrap();
        let payload = splice_payload(&head("j1"), &text).unwrap();
        let v: Value = serde_json::from_slice(&payload).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "iss", "aud", "iat", "exp", "jti", "cache", "url", "kind", "outcome", "problems",
                "fetch", "sha256", "document", "expect"
            ]
        );
        assert_eq!(v["aud"], "as-\"1");
        assert_eq!(v["cache"], json!({"max_age_s": 30, "no_store": false}));
        assert_eq!(v["fetch"]["fetched_at"], 900);
        assert_eq!(v["expect"]["issuer"], "https://as.example");
        assert_eq!(v["document"], doc);
        // The same judged text under another head differs only in the head.
        let other: Value =
            serde_json::from_slice(&splice_payload(&head("j2"), &text).unwrap()).unwrap();
        assert_eq!(other["jti"], "j2");
        assert_eq!(other["document"], v["document"]);
    }

    #[test]
    fn judged_text_drops_the_document_unless_valid_and_rejects_non_objects() {
        let doc = json!({"a": 1});
        let judged = JudgedClaims {
            url: "https://a.example/x",
            kind: Kind::Json,
            profile: None,
            outcome: Outcome::Invalid,
            problems: &[],
            fetch: None,
            sha256: None,
            document: Some(&doc),
            expect: None,
        };
        let text = judged.to_text().unwrap();
        assert!(!text.contains("document"), "{text}");
        assert!(splice_payload(&head("j"), "[1]").is_err());
        let empty: Value =
            serde_json::from_slice(&splice_payload(&head("j"), "{}").unwrap()).unwrap();
        assert_eq!(empty["jti"], "j");
    }

    #[test]
    fn jti_is_128_bits_and_random() {
        let mut rng = StdRng::seed_from_u64(5);
        let a = new_jti(&mut rng);
        let b = new_jti(&mut rng);
        assert_ne!(a, b);
        assert_eq!(URL_SAFE_NO_PAD.decode(&a).unwrap().len(), JTI_BYTES);
    }
}
