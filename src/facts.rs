//! Fetch facts: what happened on the wire, as reported in verdicts and audit records.
//! Plain data, no I/O, so the verdict builder stays pure.

use serde::{Deserialize, Serialize};

/// One redirect that was followed (or refused) on the way to the final URL.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedirectHop {
    /// The URL that answered with a redirect.
    pub from: String,
    /// HTTP status of the redirect (301, 302, 303, 307, 308).
    pub status: u16,
    /// The absolute URL it pointed to (relative Locations resolved).
    pub to: String,
}

/// What the fetch did; fields stay `None` when the fetch stopped before that phase.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchFacts {
    /// URL of the last hop attempted.
    pub final_url: String,
    /// The checked address connected to, as `ip:port` (`[v6]:port` for IPv6).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// HTTP status of the final response.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Body bytes read.
    pub bytes: u64,
    /// `Content-Type` of the final response, as sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// Redirects followed, in order.
    pub redirects: Vec<RedirectHop>,
    /// Wall time of the whole fetch.
    pub elapsed_ms: u64,
    /// Unix time (seconds) when the fetch started.
    pub fetched_at: u64,
}
