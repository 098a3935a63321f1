//! Egress policy: URL rules, host-name rules and the IP range table, as pure functions.
//!
//! `check_url` turns untrusted text into a [`SafeUrl`]; `check_addrs` turns resolver answers
//! into [`PinnedAddr`]s. Neither type can be built any other way, so the connector can only
//! ever be handed something that passed the rules.
//!
//! STUB: the API below is the contract the fetcher codes against; the implementation is
//! being written.
#![allow(clippy::todo, unused_variables, missing_docs)]

use std::net::IpAddr;

use ipnet::IpNet;
use url::Url;

use crate::problem::{Code, Problem};

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

/// Why an address is blocked; the same names are problem codes, log fields and metric labels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reason {
    Loopback,
}

impl Reason {
    pub fn code(self) -> Code {
        todo!()
    }
}

/// Allow or block, with the reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Block(Reason),
}

/// The decision about one address and the range that decided it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddrDecision {
    pub ip: IpAddr,
    pub decision: Decision,
    pub matched: Option<IpNet>,
}

/// An address that passed every rule; only this module can make one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PinnedAddr(IpAddr);

impl PinnedAddr {
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
    pub fn url(&self) -> &Url {
        &self.url
    }
    pub fn host(&self) -> &TargetHost {
        &self.host
    }
    pub fn port(&self) -> u16 {
        self.port
    }
    pub fn as_str(&self) -> &str {
        self.url.as_str()
    }
}

/// Every answer's decision, and the pinned addresses when all passed.
#[derive(Clone, Debug)]
pub struct AddrCheck {
    pub decisions: Vec<AddrDecision>,
    pub outcome: Result<Vec<PinnedAddr>, Vec<Problem>>,
}

/// Why a rules file could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RulesError {
    #[error("rules file {origin} is not valid: {why}")]
    Invalid { origin: String, why: String },
}

/// One parsed rules file.
#[derive(Clone, Debug)]
pub struct RulesFile {}

impl RulesFile {
    pub fn parse(text: &str, origin: &str) -> Result<RulesFile, RulesError> {
        todo!()
    }
    pub fn embedded_default() -> RulesFile {
        todo!()
    }
}

/// The compiled egress policy.
#[derive(Clone, Debug)]
pub struct Policy {}

impl Policy {
    pub fn new(layers: Vec<RulesFile>, options: PolicyOptions) -> Result<Policy, RulesError> {
        todo!()
    }
    pub fn embedded_default(options: PolicyOptions) -> Policy {
        todo!()
    }
    pub fn with_self_addresses(self, addrs: impl IntoIterator<Item = IpAddr>) -> Policy {
        todo!()
    }
    pub fn check_url(&self, raw: &str) -> Result<SafeUrl, Vec<Problem>> {
        todo!()
    }
    pub fn check_host(&self, host: &str) -> Result<(), Vec<Problem>> {
        todo!()
    }
    pub fn classify(&self, ip: IpAddr) -> AddrDecision {
        todo!()
    }
    pub fn check_addrs(&self, addrs: &[IpAddr]) -> AddrCheck {
        todo!()
    }
    pub fn url_problems(&self, raw: &str) -> Vec<Problem> {
        todo!()
    }
}
