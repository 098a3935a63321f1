//! Egress policy: URL rules, host-name rules and the IP range table, as pure functions.
//!
//! `check_url` turns untrusted text into a [`SafeUrl`]; `check_addrs` turns resolver answers
//! into [`PinnedAddr`]s. Neither type can be built any other way, so the connector can only
//! ever be handed something that passed the rules.
//!
//! # How one address is judged ([`Policy::classify`])
//!
//! First match decides, in this order:
//! 1. **Floor**: the unspecified addresses (0.0.0.0, ::) and cloud metadata endpoints
//!    (hard-coded, plus any rule blocking with reason `unspecified` or `cloud_metadata`) are
//!    blocked; no allow rule lifts them.
//! 2. **Embedded IPv4**: an IPv6 address carrying an IPv4 address (see [`embedded`]) is
//!    blocked with the IPv4's reason when the IPv4, judged by steps 1-5, is blocked.
//! 3. **Range table**: the most specific rule over all layers decides; at equal prefixes a
//!    later layer beats an earlier one, and within one layer `allow` beats `block`. A block
//!    decides here.
//! 4. **Self addresses** (added with [`Policy::with_self_addresses`]) are blocked with
//!    `self_address`, unless the rule that allowed them in step 3 is an exact host route
//!    (/32 or /128) for that very address: that is how a test configuration allows one
//!    loopback test origin without opening the service's own listening address.
//! 5. Otherwise the address is allowed. Addresses covered by no rule are allowed.
//!
//! NAT64 prefixes are blocked (`nat64`) by the default rules; `allow_nat64` adds allow rules
//! for them in a last layer, so a NAT64 address is allowed exactly when the IPv4 inside it is.

pub mod embedded;
pub mod host_rules;
pub mod ranges;
pub mod reason;
pub mod rules_file;
mod url_rules;

use std::collections::HashSet;
use std::net::IpAddr;

use ipnet::IpNet;
use url::Url;

use crate::problem::Problem;

pub use reason::*;
pub use rules_file::{Action, HostRulesFile, RangeRule, RulesError, RulesFile};

use host_rules::HostRules;
use ranges::RangeTable;

/// Options from config that change policy decisions.
#[derive(Clone, Debug)]
pub struct PolicyOptions {
    /// The network translates NAT64: allow 64:ff9b::/96 addresses wrapping a public IPv4.
    pub allow_nat64: bool,
    /// Longest URL accepted.
    pub max_url_bytes: usize,
}

impl Default for PolicyOptions {
    fn default() -> Self {
        PolicyOptions {
            allow_nat64: false,
            max_url_bytes: crate::config::DEFAULT_MAX_URL_BYTES,
        }
    }
}

/// Allow or block, with the reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// The address may be connected to.
    Allow,
    /// The address is refused, and why.
    Block(Reason),
}

impl Decision {
    /// True for [`Decision::Allow`].
    pub fn is_allow(self) -> bool {
        self == Decision::Allow
    }
}

/// The decision about one address and the range that decided it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddrDecision {
    /// The address as given (not canonicalised).
    pub ip: IpAddr,
    /// Allow or block.
    pub decision: Decision,
    /// The range that decided: a rule's range, a floor address, the embedded IPv4's range,
    /// or the self address as a host route; `None` when no rule covers an allowed address.
    pub matched: Option<IpNet>,
}

/// An address that passed every rule; only this module can make one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PinnedAddr(IpAddr);

impl PinnedAddr {
    /// IPv4-mapped IPv6 addresses are pinned as the IPv4 address they denote, so the
    /// connector never depends on dual-stack socket settings.
    fn new(ip: IpAddr) -> PinnedAddr {
        match ip {
            IpAddr::V6(v6) => PinnedAddr(v6.to_ipv4_mapped().map_or(ip, IpAddr::V4)),
            IpAddr::V4(_) => PinnedAddr(ip),
        }
    }

    /// The address to connect to.
    pub fn ip(self) -> IpAddr {
        self.0
    }
}

/// The host of a checked URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetHost {
    /// A DNS name, lower-case, without a trailing dot; still to be resolved and checked.
    Domain(String),
    /// An IP literal that already passed the address rules.
    Ip(PinnedAddr),
}

/// A URL that passed the URL and host rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SafeUrl {
    url: Url,
    host: TargetHost,
    port: u16,
}

impl SafeUrl {
    /// The parsed (WHATWG-normalised) URL.
    pub fn url(&self) -> &Url {
        &self.url
    }
    /// The host, normalised, to resolve (domain) or connect to (pinned IP).
    pub fn host(&self) -> &TargetHost {
        &self.host
    }
    /// The effective port (explicit or the scheme's default).
    pub fn port(&self) -> u16 {
        self.port
    }
    /// The normalised URL text, as it will be requested.
    pub fn as_str(&self) -> &str {
        self.url.as_str()
    }
}

/// Every answer's decision, and the pinned addresses when all passed.
#[derive(Clone, Debug)]
pub struct AddrCheck {
    /// One decision per address given, in order.
    pub decisions: Vec<AddrDecision>,
    /// The allowed addresses (deduplicated, order kept) when every address is allowed;
    /// otherwise one problem per blocked address, plus `mixed_resolution` when some were
    /// allowed, or `no_addresses` when there were none.
    pub outcome: Result<Vec<PinnedAddr>, Vec<Problem>>,
}

/// The compiled egress policy.
#[derive(Clone, Debug)]
pub struct Policy {
    table: RangeTable,
    hosts: HostRules,
    ports: Vec<u16>,
    schemes: Vec<String>,
    self_addrs: HashSet<IpAddr>,
    options: PolicyOptions,
}

/// Ports allowed when no layer sets `ports`.
pub const DEFAULT_PORTS: &[u16] = &[443];
/// Schemes allowed when no layer sets `schemes`.
pub const DEFAULT_SCHEMES: &[&str] = &["https"];

impl Policy {
    /// Compiles layers in order (the caller puts [`RulesFile::embedded_default`] first; it
    /// is not added implicitly). Ranges and host lists add up; a later `ports` or `schemes`
    /// list replaces an earlier one.
    pub fn new(layers: Vec<RulesFile>, options: PolicyOptions) -> Result<Policy, RulesError> {
        let mut table = RangeTable::build(layers.iter().enumerate().map(|(i, l)| (i, l.ranges())));
        if options.allow_nat64 {
            for form in [
                embedded::EmbeddedForm::Nat64,
                embedded::EmbeddedForm::Nat64LocalUse,
            ] {
                table.add(
                    layers.len(),
                    &RangeRule {
                        net: IpNet::V6(form.prefix()),
                        action: Action::Allow,
                        reason: None,
                        source: Some("config rules.allow_nat64".into()),
                        note: None,
                    },
                );
            }
        }
        let hosts = HostRules::merge(layers.iter().map(RulesFile::hosts));
        let ports = layers
            .iter()
            .rev()
            .find_map(RulesFile::ports)
            .map_or_else(|| DEFAULT_PORTS.to_vec(), <[u16]>::to_vec);
        let schemes = layers
            .iter()
            .rev()
            .find_map(RulesFile::schemes)
            .map_or_else(
                || DEFAULT_SCHEMES.iter().map(|s| s.to_string()).collect(),
                <[String]>::to_vec,
            );
        Ok(Policy {
            table,
            hosts,
            ports,
            schemes,
            self_addrs: HashSet::new(),
            options,
        })
    }

    /// The embedded default rules alone: what the service enforces with no rule files.
    pub fn embedded_default(options: PolicyOptions) -> Policy {
        let layers = vec![RulesFile::embedded_default()];
        Policy::new(layers, options.clone())
            .unwrap_or_else(|e| Policy::block_everything(&e.to_string(), options))
    }

    /// The stand-in when the embedded rules cannot be compiled: every address blocked. A
    /// floor-only table would allow private ranges, so failing open is never the fallback.
    fn block_everything(why: &str, options: PolicyOptions) -> Policy {
        let layers = [RulesFile::block_everything(why)];
        Policy {
            table: RangeTable::build(layers.iter().enumerate().map(|(i, l)| (i, l.ranges()))),
            hosts: HostRules::merge(std::iter::empty()),
            ports: DEFAULT_PORTS.to_vec(),
            schemes: DEFAULT_SCHEMES.iter().map(|s| s.to_string()).collect(),
            self_addrs: HashSet::new(),
            options,
        }
    }

    /// Adds the host's own interface and listening addresses, blocked as `self_address` so a
    /// public name pointed at this host cannot make the service call itself.
    pub fn with_self_addresses(mut self, addrs: impl IntoIterator<Item = IpAddr>) -> Policy {
        self.self_addrs.extend(addrs);
        self
    }

    /// True when `ip` is allowed even if it is one of this host's own addresses: an exact
    /// host route (`/32`, `/128`) allows it explicitly. The fetcher's connect-time check of
    /// live self addresses uses the same exemption as [`Policy::classify`].
    pub fn self_address_exempt(&self, ip: IpAddr) -> bool {
        self.table
            .lookup(ip)
            .is_some_and(|e| e.action == Action::Allow && e.net == IpNet::from(ip))
    }

    /// Checks untrusted URL text: length, syntax, scheme, userinfo, fragment, port, then the
    /// host (name rules for a domain, address rules for an IP literal). Reports every rule
    /// broken, not only the first.
    pub fn check_url(&self, raw: &str) -> Result<SafeUrl, Vec<Problem>> {
        url_rules::check_url(self, raw)
    }

    /// The problems of a URL-valued field (empty when allowed); for document validators.
    pub fn url_problems(&self, raw: &str) -> Vec<Problem> {
        self.check_url(raw).err().unwrap_or_default()
    }

    /// Applies the host rules to a bare host (name, IPv4 literal in any WHATWG spelling, or
    /// IPv6 literal with or without brackets), for the `explain` command.
    pub fn check_host(&self, host: &str) -> Result<(), Vec<Problem>> {
        let ip: IpAddr = match host.parse::<IpAddr>() {
            Ok(ip) => ip,
            Err(_) => match url::Host::parse(host) {
                Ok(url::Host::Domain(d)) => {
                    return self.hosts.check(&d).map(|_| ()).map_err(|p| vec![p]);
                }
                Ok(url::Host::Ipv4(v4)) => v4.into(),
                Ok(url::Host::Ipv6(v6)) => v6.into(),
                Err(e) => {
                    return Err(vec![Problem::error(
                        HOST_BLOCKED,
                        format!("host {host:?} is not a valid host: {e}"),
                    )]);
                }
            },
        };
        let d = self.classify(ip);
        match d.decision {
            Decision::Allow => Ok(()),
            Decision::Block(r) => Err(vec![Problem::error(r.code(), self.describe(&d))]),
        }
    }

    /// Judges one address (see the module documentation for the order of the rules).
    pub fn classify(&self, ip: IpAddr) -> AddrDecision {
        let (decision, matched) = self.decide(ip);
        AddrDecision {
            ip,
            decision,
            matched,
        }
    }

    fn decide(&self, ip: IpAddr) -> (Decision, Option<IpNet>) {
        if let Some((net, reason)) = self.table.floor(ip) {
            return (Decision::Block(reason), Some(net));
        }
        if let IpAddr::V6(v6) = ip
            && let Some((_, v4)) = embedded::extract(v6)
        {
            let inner = self.decide(IpAddr::V4(v4));
            if !inner.0.is_allow() {
                return inner;
            }
        }
        let entry = self.table.lookup(ip);
        let matched = entry.map(|e| e.net);
        if let Some(e) = entry
            && e.action == Action::Block
        {
            return (Decision::Block(e.reason), matched);
        }
        if self.self_addrs.contains(&ip) {
            let exact = entry.is_some_and(|e| e.net == IpNet::from(ip));
            if !exact {
                return (Decision::Block(Reason::SelfAddress), Some(IpNet::from(ip)));
            }
        }
        (Decision::Allow, matched)
    }

    /// A human sentence about a decision: the address, the range that decided and its source,
    /// and the IPv4 address inside when an embedded form decided.
    pub fn describe(&self, d: &AddrDecision) -> String {
        let verdict = match d.decision {
            Decision::Allow => "allowed".to_string(),
            Decision::Block(r) => format!("blocked ({r})"),
        };
        let mut s = format!("address {} is {verdict}", d.ip);
        if let IpAddr::V6(v6) = d.ip
            && let Some((form, v4)) = embedded::extract(v6)
        {
            s.push_str(&format!("; it carries IPv4 {v4} ({form:?} form)"));
        }
        if let Some(net) = d.matched {
            s.push_str(&format!("; range {net}"));
            if let Some(src) = self
                .table
                .lookup(net.network())
                .filter(|e| e.net == net)
                .and_then(|e| e.source.as_deref())
            {
                s.push_str(&format!(" ({src})"));
            }
        }
        s
    }

    /// Judges every resolver answer; the outcome pins them only when all are allowed, so a
    /// name mixing public and internal answers is refused as a whole (`mixed_resolution`).
    pub fn check_addrs(&self, addrs: &[IpAddr]) -> AddrCheck {
        let decisions: Vec<AddrDecision> = addrs.iter().map(|ip| self.classify(*ip)).collect();
        if decisions.is_empty() {
            return AddrCheck {
                decisions,
                outcome: Err(vec![Problem::error(
                    NO_ADDRESSES,
                    "the name resolved to no address",
                )]),
            };
        }
        let mut pinned: Vec<PinnedAddr> = Vec::new();
        let mut problems = Vec::new();
        let mut seen_blocked = HashSet::new();
        for d in &decisions {
            match d.decision {
                Decision::Allow => {
                    let p = PinnedAddr::new(d.ip);
                    if !pinned.contains(&p) {
                        pinned.push(p);
                    }
                }
                Decision::Block(r) => {
                    if seen_blocked.insert(d.ip) {
                        problems.push(Problem::error(r.code(), self.describe(d)));
                    }
                }
            }
        }
        let outcome = if problems.is_empty() {
            Ok(pinned)
        } else {
            if !pinned.is_empty() {
                problems.push(Problem::error(
                    MIXED_RESOLUTION,
                    format!(
                        "the name resolved to {} allowed and {} blocked addresses; all are refused",
                        pinned.len(),
                        seen_blocked.len()
                    ),
                ));
            }
            Err(problems)
        };
        AddrCheck { decisions, outcome }
    }

    /// Report-only roll-out (a proxy caller role): pins `ip` even when the range table blocks
    /// it, so the block is logged instead of enforced — except the floor (unspecified, cloud
    /// metadata, also inside an embedded IPv4) and the host's own addresses, which are never
    /// lifted. Takes the address, not a decision, so no caller can forge what is lifted.
    pub fn pin_report_only(&self, ip: IpAddr) -> Option<PinnedAddr> {
        let pinned = PinnedAddr::new(ip);
        if self.self_addrs.contains(&ip) || self.self_addrs.contains(&pinned.ip()) {
            return None;
        }
        match self.classify(ip).decision {
            Decision::Allow => Some(pinned),
            Decision::Block(Reason::Unspecified | Reason::CloudMetadata | Reason::SelfAddress) => {
                None
            }
            Decision::Block(_) => Some(pinned),
        }
    }

    /// Ports allowed after layering.
    pub fn ports(&self) -> &[u16] {
        &self.ports
    }

    /// Schemes allowed after layering.
    pub fn schemes(&self) -> &[String] {
        &self.schemes
    }

    /// The options this policy was built with.
    pub fn options(&self) -> &PolicyOptions {
        &self.options
    }
}

/// Compile-time proof that a policy can be shared across tasks behind an `Arc`.
const _: fn() = || {
    fn is<T: Send + Sync>() {}
    is::<Policy>();
};

#[cfg(test)]
mod tests;
