//! What was asked: the verdict must be about exactly this.

use serde::{Deserialize, Serialize};

/// Document kinds the service knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// OAuth Client ID Metadata Document.
    ClientMetadata,
    /// JWK Set (`jwks_uri`).
    Jwks,
    /// RFC 9728 protected resource metadata.
    ProtectedResourceMetadata,
    /// RFC 8414 authorization server metadata.
    AuthorizationServerMetadata,
    /// Any JSON document.
    Json,
}

/// Expectations the service judges the document against.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expect {
    /// Expected `resource` of protected resource metadata.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// Expected `issuer` of authorization server metadata.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
}

impl Expect {
    fn is_empty(&self) -> bool {
        self.resource.is_none() && self.issuer.is_none()
    }
}

/// One `POST /v1/fetch` request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// The URL to fetch, exactly as the verdict must name it.
    pub url: String,
    /// The kind of document expected.
    pub kind: Kind,
    /// Optional expectations.
    pub expect: Expect,
    /// Per-request deadline (sent as `X-Portcullis-Deadline-Ms`).
    pub deadline_ms: Option<u64>,
    /// Optional validation profile (`oauth`, `mcp`, `atproto`).
    pub profile: Option<String>,
}

impl Request {
    /// A request for `url` as `kind`, no expectations, no deadline.
    pub fn new(url: impl Into<String>, kind: Kind) -> Request {
        Request {
            url: url.into(),
            kind,
            expect: Expect::default(),
            deadline_ms: None,
            profile: None,
        }
    }

    /// The JSON body. The deadline travels as a header: every service version accepts that
    /// (an older one ignores it; its strict body parser would refuse an unknown member).
    pub fn body(&self) -> serde_json::Value {
        let mut body = serde_json::json!({"url": self.url, "kind": self.kind});
        if !self.expect.is_empty() {
            body["expect"] = serde_json::to_value(&self.expect).unwrap_or_default();
        }
        if let Some(profile) = &self.profile {
            body["profile"] = serde_json::Value::String(profile.clone());
        }
        body
    }
}
