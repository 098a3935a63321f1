//! Start-up wiring shared by every command: read the config file, load rule files, list the
//! host's own addresses, and build the fetcher. This is the edge where files are read;
//! everything it hands on is already checked.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::CertificateDer;

use crate::config::{Config, ConfigError};
use crate::fetch::resolver::{HickoryResolver, Resolve, ResolveError};
use crate::fetch::tls::{self, TlsSetupError};
use crate::fetch::{FetchLimits, Fetcher, self_addrs};
use crate::policy::{Policy, PolicyOptions, RulesError, RulesFile};

/// Why the service (or a command) could not start. Each variant is a usage/config error
/// (CLI exit code 2), never a verdict.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The config file could not be read.
    #[error("cannot read config file {path}: {why}")]
    ConfigRead {
        /// The file.
        path: String,
        /// The OS error.
        why: String,
    },
    /// The config is not valid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A rules file could not be read.
    #[error("cannot read rules file {path}: {why}")]
    RulesRead {
        /// The file.
        path: String,
        /// The OS error.
        why: String,
    },
    /// A rules file is not valid.
    #[error(transparent)]
    Rules(#[from] RulesError),
    /// The TLS client could not be configured.
    #[error(transparent)]
    Tls(#[from] TlsSetupError),
    /// The resolver could not be configured.
    #[error("resolver: {0}")]
    Resolver(#[from] ResolveError),
}

/// Reads and parses the config file; `None` gives the embedded defaults.
pub fn load_config(path: Option<&Path>) -> Result<Config, StartError> {
    let Some(path) = path else {
        return Ok(Config::default());
    };
    let text = std::fs::read_to_string(path).map_err(|e| StartError::ConfigRead {
        path: path.display().to_string(),
        why: e.to_string(),
    })?;
    Ok(Config::from_toml_str(&text)?)
}

/// The embedded default rules plus every configured file, in order, plus the host's own
/// addresses and any extra self addresses (the service's listen address).
pub fn build_policy(config: &Config, extra_self: &[IpAddr]) -> Result<Policy, StartError> {
    let mut layers = vec![RulesFile::embedded_default()];
    for path in &config.rules.files {
        let text = std::fs::read_to_string(path).map_err(|e| StartError::RulesRead {
            path: path.display().to_string(),
            why: e.to_string(),
        })?;
        layers.push(RulesFile::parse(&text, &path.display().to_string())?);
    }
    let options = PolicyOptions {
        allow_nat64: config.rules.allow_nat64,
        max_url_bytes: config.limits.max_url_bytes,
    };
    let mut own = self_addrs::interface_addresses();
    own.extend_from_slice(extra_self);
    Ok(Policy::new(layers, options)?.with_self_addresses(own))
}

/// Builds the fetcher with the production resolver from config.
pub fn build_fetcher(config: &Config, policy: Policy) -> Result<Fetcher, StartError> {
    let resolver: Arc<dyn Resolve> = Arc::new(HickoryResolver::from_config(&config.resolver)?);
    build_fetcher_with(config, policy, resolver, &[])
}

/// Builds the fetcher with a given resolver and extra in-memory trust roots (the demo's).
pub fn build_fetcher_with(
    config: &Config,
    policy: Policy,
    resolver: Arc<dyn Resolve>,
    extra_roots: &[CertificateDer<'static>],
) -> Result<Fetcher, StartError> {
    let tls = tls::client_config(&config.tls, extra_roots)?;
    Ok(Fetcher::new(
        Arc::new(policy),
        resolver,
        tls,
        FetchLimits::from(&config.limits),
    ))
}
