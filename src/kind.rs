//! What was asked for (`Kind`) and how it ended (`Outcome`): the two words every verdict,
//! metric and audit record is keyed by.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The kind of document the caller expects at the URL; it selects the validator and the
/// fetch rules (size cap, redirects) that kind needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Any JSON object: fetched under the generic rules, not validated further.
    Json,
    /// OAuth Client ID Metadata Document (the `client_id` is its URL).
    ClientMetadata,
    /// JWK Set (RFC 7517).
    Jwks,
    /// OAuth Protected Resource Metadata (RFC 9728).
    ProtectedResourceMetadata,
    /// OAuth Authorization Server Metadata (RFC 8414) or OpenID discovery.
    AuthorizationServerMetadata,
}

impl Kind {
    /// Every kind, for metric pre-registration and tests.
    pub const ALL: [Kind; 5] = [
        Kind::Json,
        Kind::ClientMetadata,
        Kind::Jwks,
        Kind::ProtectedResourceMetadata,
        Kind::AuthorizationServerMetadata,
    ];

    /// Wire and metric-label form.
    pub const fn as_str(self) -> &'static str {
        match self {
            Kind::Json => "json",
            Kind::ClientMetadata => "client_metadata",
            Kind::Jwks => "jwks",
            Kind::ProtectedResourceMetadata => "protected_resource_metadata",
            Kind::AuthorizationServerMetadata => "authorization_server_metadata",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error for an unknown kind name.
#[derive(Debug, thiserror::Error)]
#[error(
    "unknown kind {0:?}; expected one of json, client_metadata, jwks, protected_resource_metadata, authorization_server_metadata"
)]
pub struct UnknownKind(pub String);

impl FromStr for Kind {
    type Err = UnknownKind;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Kind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownKind(s.to_owned()))
    }
}

/// How a fetch ended. Exactly one per verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Fetched within every cap and the document passed its validator.
    Valid,
    /// A document arrived but breaks its rules.
    Invalid,
    /// Policy refused before any byte left for the target.
    Blocked,
    /// DNS, connect, TLS, timeout, status or a cap stopped the fetch.
    Unreachable,
}

impl Outcome {
    /// Every outcome, for metric pre-registration.
    pub const ALL: [Outcome; 4] = [
        Outcome::Valid,
        Outcome::Invalid,
        Outcome::Blocked,
        Outcome::Unreachable,
    ];

    /// Wire and metric-label form.
    pub const fn as_str(self) -> &'static str {
        match self {
            Outcome::Valid => "valid",
            Outcome::Invalid => "invalid",
            Outcome::Blocked => "blocked",
            Outcome::Unreachable => "unreachable",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which rule book a document is judged by. The RFCs alone are not what every ecosystem
/// deploys: MCP adds MUSTs (PKCE S256, `client_name`), AT Protocol adds its own client rules
/// (DPoP, `application_type`, the `atproto` scope). Applying one ecosystem's rules to
/// everybody makes false alarms, and a validator that cries wolf gets switched off.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Profile {
    /// RFC 6749/7591/8414/9728/7517/7518/8037 and the CIMD draft alone. MCP-only rules are
    /// still reported, as warnings tagged `mcp`, so an MCP operator sees them. The default:
    /// no real, standard-conforming document fails under it.
    #[default]
    Oauth,
    /// `oauth` plus the MCP 2025-11-25 authorization MUSTs, as errors.
    Mcp,
    /// `oauth` plus the AT Protocol OAuth client metadata rules (atproto.com/specs/oauth).
    Atproto,
}

impl Profile {
    /// Every profile, for tests and docs.
    pub const ALL: [Profile; 3] = [Profile::Oauth, Profile::Mcp, Profile::Atproto];

    /// Wire form (API body, config, CLI flag, verdict claim, problem tag).
    pub const fn as_str(self) -> &'static str {
        match self {
            Profile::Oauth => "oauth",
            Profile::Mcp => "mcp",
            Profile::Atproto => "atproto",
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error for an unknown profile name.
#[derive(Debug, thiserror::Error)]
#[error("unknown profile {0:?}; expected one of oauth, mcp, atproto")]
pub struct UnknownProfile(pub String);

impl FromStr for Profile {
    type Err = UnknownProfile;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Profile::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| UnknownProfile(s.to_owned()))
    }
}
