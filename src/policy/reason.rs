//! The closed set of reasons an address is blocked, and every problem code this module raises.
//!
//! One enum names the decision, the problem code, the log field and the metric label, so the
//! four can never drift apart and metric label values stay a bounded set.

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::problem::Code;

/// The URL is longer than `max_url_bytes`; checked before parsing so parsing cost is bounded.
pub const URL_TOO_LONG: Code = Code::new("url_too_long");
/// The text is not a URL (WHATWG), has no host, or holds characters we refuse (controls,
/// spaces, backslashes) because parsers disagree about them.
pub const INVALID_URL: Code = Code::new("invalid_url");
/// The scheme is not in the rules' `schemes` list (default: only `https`).
pub const SCHEME_NOT_ALLOWED: Code = Code::new("scheme_not_allowed");
/// The URL carries a user name, a password or an empty `@` userinfo: a classic
/// parser-confusion vector and never needed to fetch public metadata.
pub const USERINFO_NOT_ALLOWED: Code = Code::new("userinfo_not_allowed");
/// The URL has a fragment (even an empty `#`): fragments are never sent, so one only hides
/// text from a human reader.
pub const FRAGMENT_NOT_ALLOWED: Code = Code::new("fragment_not_allowed");
/// The effective port is not in the rules' `ports` list (default: only 443).
pub const PORT_NOT_ALLOWED: Code = Code::new("port_not_allowed");
/// The host name is refused by the host rules (special-use names, single labels, block
/// patterns, a miss in a configured allow list, or not a valid DNS name).
pub const HOST_BLOCKED: Code = Code::new("host_blocked");
/// A name resolved to both allowed and blocked addresses; the whole answer is refused so a
/// rebinding attacker cannot win a race between candidates.
pub const MIXED_RESOLUTION: Code = Code::new("mixed_resolution");
/// A name resolved to no address at all.
pub const NO_ADDRESSES: Code = Code::new("no_addresses");

/// Why an address is blocked; the same names are problem codes, log fields and metric labels.
///
/// Closed and `non_exhaustive`: new reasons are added in this crate only, with a code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Reason {
    /// Loopback (127.0.0.0/8, ::1): the service host itself.
    Loopback,
    /// The unspecified address (0.0.0.0, ::): connecting to it reaches the local host.
    Unspecified,
    /// "This network" 0.0.0.0/8 (RFC 791, RFC 1122).
    ThisNetwork,
    /// RFC 1918 private-use space.
    PrivateUse,
    /// Carrier-grade NAT shared space 100.64.0.0/10 (RFC 6598).
    SharedAddressSpace,
    /// Link-local (169.254.0.0/16, fe80::/10).
    LinkLocal,
    /// IETF protocol assignments (192.0.0.0/24, 2001::/23).
    IetfProtocolAssignment,
    /// Documentation ranges (TEST-NET-1..3, 2001:db8::/32, 3fff::/20).
    Documentation,
    /// Benchmarking ranges (198.18.0.0/15, 2001:2::/48).
    Benchmarking,
    /// Deprecated 6to4 relay anycast 192.88.99.0/24 (RFC 7526).
    SixToFourRelay,
    /// Multicast (224.0.0.0/4, ff00::/8): never a unicast HTTP server.
    Multicast,
    /// Reserved or unallocated space (240.0.0.0/4, IPv6 "Reserved by IETF" blocks).
    Reserved,
    /// Limited broadcast 255.255.255.255.
    Broadcast,
    /// IPv6 unique local addresses fc00::/7 (RFC 4193).
    UniqueLocal,
    /// Deprecated IPv6 site-local fec0::/10 (RFC 3879).
    SiteLocal,
    /// IPv6 discard-only prefix 100::/64 (RFC 6666).
    DiscardOnly,
    /// IPv6 dummy prefix 100:0:0:1::/64 (RFC 9780).
    DummyPrefix,
    /// Teredo 2001::/32 (RFC 4380): blocked outright, the IPv4 inside is obfuscated.
    Teredo,
    /// NAT64 (64:ff9b::/96, 64:ff9b:1::/48) without `allow_nat64`.
    Nat64,
    /// Deprecated IPv4-compatible IPv6 ::/96 (RFC 4291 section 2.5.5.1).
    Ipv4Compatible,
    /// SIIT IPv4-translated ::ffff:0:0:0/96 (RFC 2765): not routed on the internet.
    Ipv4Translated,
    /// SRv6 segment identifiers 5f00::/16 (RFC 9602).
    SegmentRouting,
    /// A cloud provider's instance metadata or host service endpoint.
    CloudMetadata,
    /// One of the service host's own interface or listening addresses.
    SelfAddress,
    /// Blocked by an operator rule that gave no more specific reason.
    OperatorRule,
}

/// Every reason, in declaration order (for docs, metrics pre-registration and tests).
pub const ALL_REASONS: &[Reason] = &[
    Reason::Loopback,
    Reason::Unspecified,
    Reason::ThisNetwork,
    Reason::PrivateUse,
    Reason::SharedAddressSpace,
    Reason::LinkLocal,
    Reason::IetfProtocolAssignment,
    Reason::Documentation,
    Reason::Benchmarking,
    Reason::SixToFourRelay,
    Reason::Multicast,
    Reason::Reserved,
    Reason::Broadcast,
    Reason::UniqueLocal,
    Reason::SiteLocal,
    Reason::DiscardOnly,
    Reason::DummyPrefix,
    Reason::Teredo,
    Reason::Nat64,
    Reason::Ipv4Compatible,
    Reason::Ipv4Translated,
    Reason::SegmentRouting,
    Reason::CloudMetadata,
    Reason::SelfAddress,
    Reason::OperatorRule,
];

/// Problem code of [`Reason::Loopback`].
pub const LOOPBACK: Code = Code::new("loopback");
/// Problem code of [`Reason::Unspecified`].
pub const UNSPECIFIED: Code = Code::new("unspecified");
/// Problem code of [`Reason::ThisNetwork`].
pub const THIS_NETWORK: Code = Code::new("this_network");
/// Problem code of [`Reason::PrivateUse`].
pub const PRIVATE_USE: Code = Code::new("private_use");
/// Problem code of [`Reason::SharedAddressSpace`].
pub const SHARED_ADDRESS_SPACE: Code = Code::new("shared_address_space");
/// Problem code of [`Reason::LinkLocal`].
pub const LINK_LOCAL: Code = Code::new("link_local");
/// Problem code of [`Reason::IetfProtocolAssignment`].
pub const IETF_PROTOCOL_ASSIGNMENT: Code = Code::new("ietf_protocol_assignment");
/// Problem code of [`Reason::Documentation`].
pub const DOCUMENTATION: Code = Code::new("documentation");
/// Problem code of [`Reason::Benchmarking`].
pub const BENCHMARKING: Code = Code::new("benchmarking");
/// Problem code of [`Reason::SixToFourRelay`].
pub const SIX_TO_FOUR_RELAY: Code = Code::new("six_to_four_relay");
/// Problem code of [`Reason::Multicast`].
pub const MULTICAST: Code = Code::new("multicast");
/// Problem code of [`Reason::Reserved`].
pub const RESERVED: Code = Code::new("reserved");
/// Problem code of [`Reason::Broadcast`].
pub const BROADCAST: Code = Code::new("broadcast");
/// Problem code of [`Reason::UniqueLocal`].
pub const UNIQUE_LOCAL: Code = Code::new("unique_local");
/// Problem code of [`Reason::SiteLocal`].
pub const SITE_LOCAL: Code = Code::new("site_local");
/// Problem code of [`Reason::DiscardOnly`].
pub const DISCARD_ONLY: Code = Code::new("discard_only");
/// Problem code of [`Reason::DummyPrefix`].
pub const DUMMY_PREFIX: Code = Code::new("dummy_prefix");
/// Problem code of [`Reason::Teredo`].
pub const TEREDO: Code = Code::new("teredo");
/// Problem code of [`Reason::Nat64`].
pub const NAT64: Code = Code::new("nat64");
/// Problem code of [`Reason::Ipv4Compatible`].
pub const IPV4_COMPATIBLE: Code = Code::new("ipv4_compatible");
/// Problem code of [`Reason::Ipv4Translated`].
pub const IPV4_TRANSLATED: Code = Code::new("ipv4_translated");
/// Problem code of [`Reason::SegmentRouting`].
pub const SEGMENT_ROUTING: Code = Code::new("segment_routing");
/// Problem code of [`Reason::CloudMetadata`].
pub const CLOUD_METADATA: Code = Code::new("cloud_metadata");
/// Problem code of [`Reason::SelfAddress`].
pub const SELF_ADDRESS: Code = Code::new("self_address");
/// Problem code of [`Reason::OperatorRule`].
pub const OPERATOR_RULE: Code = Code::new("operator_rule");

/// Every code this module can raise; `docs/problems.md` is checked against it.
pub const ALL_CODES: &[Code] = &[
    URL_TOO_LONG,
    INVALID_URL,
    SCHEME_NOT_ALLOWED,
    USERINFO_NOT_ALLOWED,
    FRAGMENT_NOT_ALLOWED,
    PORT_NOT_ALLOWED,
    HOST_BLOCKED,
    MIXED_RESOLUTION,
    NO_ADDRESSES,
    LOOPBACK,
    UNSPECIFIED,
    THIS_NETWORK,
    PRIVATE_USE,
    SHARED_ADDRESS_SPACE,
    LINK_LOCAL,
    IETF_PROTOCOL_ASSIGNMENT,
    DOCUMENTATION,
    BENCHMARKING,
    SIX_TO_FOUR_RELAY,
    MULTICAST,
    RESERVED,
    BROADCAST,
    UNIQUE_LOCAL,
    SITE_LOCAL,
    DISCARD_ONLY,
    DUMMY_PREFIX,
    TEREDO,
    NAT64,
    IPV4_COMPATIBLE,
    IPV4_TRANSLATED,
    SEGMENT_ROUTING,
    CLOUD_METADATA,
    SELF_ADDRESS,
    OPERATOR_RULE,
];

impl Reason {
    /// The problem code with the same snake_case name, so callers can branch on it.
    pub const fn code(self) -> Code {
        match self {
            Reason::Loopback => LOOPBACK,
            Reason::Unspecified => UNSPECIFIED,
            Reason::ThisNetwork => THIS_NETWORK,
            Reason::PrivateUse => PRIVATE_USE,
            Reason::SharedAddressSpace => SHARED_ADDRESS_SPACE,
            Reason::LinkLocal => LINK_LOCAL,
            Reason::IetfProtocolAssignment => IETF_PROTOCOL_ASSIGNMENT,
            Reason::Documentation => DOCUMENTATION,
            Reason::Benchmarking => BENCHMARKING,
            Reason::SixToFourRelay => SIX_TO_FOUR_RELAY,
            Reason::Multicast => MULTICAST,
            Reason::Reserved => RESERVED,
            Reason::Broadcast => BROADCAST,
            Reason::UniqueLocal => UNIQUE_LOCAL,
            Reason::SiteLocal => SITE_LOCAL,
            Reason::DiscardOnly => DISCARD_ONLY,
            Reason::DummyPrefix => DUMMY_PREFIX,
            Reason::Teredo => TEREDO,
            Reason::Nat64 => NAT64,
            Reason::Ipv4Compatible => IPV4_COMPATIBLE,
            Reason::Ipv4Translated => IPV4_TRANSLATED,
            Reason::SegmentRouting => SEGMENT_ROUTING,
            Reason::CloudMetadata => CLOUD_METADATA,
            Reason::SelfAddress => SELF_ADDRESS,
            Reason::OperatorRule => OPERATOR_RULE,
        }
    }

    /// The snake_case name (log field and metric label value).
    pub const fn as_str(self) -> &'static str {
        self.code().as_str()
    }

    /// The reason with this snake_case name, if any (for `explain` and rules files).
    pub fn from_name(name: &str) -> Option<Reason> {
        ALL_REASONS.iter().copied().find(|r| r.as_str() == name)
    }

    /// True for reasons that form the floor: a block with this reason cannot be lifted by any
    /// allow rule, because reaching these addresses is never what an operator means.
    pub const fn is_floor(self) -> bool {
        matches!(self, Reason::Unspecified | Reason::CloudMetadata)
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_are_unique_and_cover_every_reason() {
        let set: HashSet<&str> = ALL_CODES.iter().map(|c| c.as_str()).collect();
        assert_eq!(set.len(), ALL_CODES.len());
        for r in ALL_REASONS {
            assert!(set.contains(r.code().as_str()), "{r:?}");
            assert_eq!(Reason::from_name(r.as_str()), Some(*r));
        }
        let reasons: HashSet<Reason> = ALL_REASONS.iter().copied().collect();
        assert_eq!(reasons.len(), ALL_REASONS.len());
    }

    #[test]
    fn serde_name_matches_code() {
        for r in ALL_REASONS {
            let json = serde_json::to_string(r).unwrap();
            assert_eq!(json, format!("\"{}\"", r.as_str()));
        }
    }

    #[test]
    fn codes_are_snake_case() {
        for c in ALL_CODES {
            assert!(
                c.as_str()
                    .chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_'),
                "{c}"
            );
        }
    }
}
