//! Local stand-ins for the internet: a throwaway CA, a DNS responder and a TLS origin.
//!
//! Everything here weakens a default (a private CA, names that resolve to loopback), so it
//! lives in a module whose name says so. It is used by the integration tests and by
//! `portcullis demo`; every listener binds to a loopback address only and refuses anything
//! else, so nothing here can talk to the network. The one exception is the `*_sealed`
//! constructors, which need a [`sealed::SealedNet`]: proof that the process runs in a private
//! network namespace whose only interface is `lo` (the adversarial suite).

pub mod api;
pub mod dns;
pub mod h2_frames;
pub mod origin;
pub mod pki;
pub mod sealed;

use std::net::IpAddr;

/// Why a test fixture could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TestingError {
    /// Fixtures listen on loopback only.
    #[error("refusing to listen on non-loopback address {0}")]
    NotLoopback(IpAddr),
    /// Socket error.
    #[error("io error: {0}")]
    Io(#[from] std::io::Error),
    /// An HTTP exchange with a fixture or the service under test failed.
    #[error("http error: {0}")]
    Http(String),
    /// Certificate generation failed.
    #[error("certificate generation failed: {0}")]
    Pki(String),
}

/// Fixtures bind only here: 127.0.0.0/8 or ::1.
pub fn ensure_loopback(ip: IpAddr) -> Result<(), TestingError> {
    if ip.is_loopback() {
        Ok(())
    } else {
        Err(TestingError::NotLoopback(ip))
    }
}

/// The connection guard for tests and the demo: loopback only (see
/// `Fetcher::restrict_connections`).
pub fn loopback_only(ip: IpAddr) -> bool {
    ip.is_loopback()
}

/// The operator rules layer of a one-origin lab (the demo and the attack, fairness and load
/// examples): only the origin's address and port are allowed, on top of the default rules.
pub fn one_origin_rules(origin: std::net::SocketAddr, note: &str) -> String {
    format!(
        "ports = [443, {port}]\n\n[[ranges]]\ncidr = \"{net}\"\naction = \"allow\"\nnote = {note:?}\n",
        port = origin.port(),
        net = ipnet::IpNet::from(origin.ip()),
    )
}

/// The embedded default rules plus [`one_origin_rules`]: the policy a one-origin lab's
/// fetcher checks (its connections are further restricted by [`loopback_only`]).
pub fn one_origin_policy(
    origin: std::net::SocketAddr,
    note: &str,
) -> Result<crate::policy::Policy, crate::policy::RulesError> {
    use crate::policy::{Policy, PolicyOptions, RulesFile};
    Policy::new(
        vec![
            RulesFile::embedded_default(),
            RulesFile::parse(&one_origin_rules(origin, note), note)?,
        ],
        PolicyOptions::default(),
    )
}

/// The fetcher of a lab (tests, demo, load and fairness labs): the config's resolver (the
/// lab's DNS responder), `extra_roots` trusted (the lab CA), and connections restricted to
/// [`loopback_only`] — the second lock, so a mistake in the lab's rules cannot reach the
/// network.
pub fn lab_fetcher(
    config: &crate::config::Config,
    policy: crate::policy::Policy,
    extra_roots: &[rustls::pki_types::CertificateDer<'static>],
) -> Result<crate::fetch::Fetcher, crate::assemble::StartError> {
    use crate::fetch::resolver::{HickoryResolver, Resolve};
    let resolver: std::sync::Arc<dyn Resolve> =
        std::sync::Arc::new(HickoryResolver::from_config(&config.resolver)?);
    Ok(
        crate::assemble::build_fetcher_with(config, policy, resolver, extra_roots)?
            .restrict_connections(loopback_only),
    )
}

/// The `[resolver]`, `[tls]`, `[rules]` and `[limits]` sections of a config file that
/// points the service at a lab: its DNS responder, its CA file and its rules file, with
/// short deadlines (`total_timeout_ms`) so a hostile case fails fast.
pub fn lab_config_toml(
    dns: std::net::SocketAddr,
    ca_file: &std::path::Path,
    rules_file: &std::path::Path,
    total_timeout_ms: u64,
) -> String {
    format!(
        r#"[resolver]
nameservers = ["{dns}"]
timeout_ms = 500
attempts = 0

[tls]
extra_roots = ["{ca}"]
builtin_roots = false

[rules]
files = ["{rules}"]

[limits]
total_timeout_ms = {total_timeout_ms}
first_byte_timeout_ms = 1000
body_timeout_ms = 1000
"#,
        ca = ca_file.display(),
        rules = rules_file.display(),
    )
}

/// Sets every API rate limit (per caller, per target host, per caller and host) to `per_s`
/// per second with an equal burst. Load, attack and admission labs measure queues and
/// fairness, not the token buckets; a test then lowers the one limit it measures.
pub fn lift_rate_limits(rate: &mut crate::config::RateConfig, per_s: u32) {
    rate.per_caller_per_s = per_s;
    rate.per_caller_burst = per_s;
    rate.per_target_host_per_s = per_s;
    rate.per_target_host_burst = per_s;
    rate.per_caller_target_host_per_s = per_s;
    rate.per_caller_target_host_burst = per_s;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_origin_policy_allows_the_origin_and_nothing_else_on_loopback() {
        let origin: std::net::SocketAddr = "127.0.0.2:8443".parse().unwrap();
        let rules = one_origin_rules(origin, "lab origin");
        assert!(rules.contains("cidr = \"127.0.0.2/32\""), "{rules}");
        let policy = one_origin_policy(origin, "lab origin").unwrap();
        assert!(policy.classify(origin.ip()).decision.is_allow());
        assert!(
            !policy
                .classify("127.0.0.3".parse().unwrap())
                .decision
                .is_allow()
        );
    }
}
