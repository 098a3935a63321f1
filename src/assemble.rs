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
    /// A signing key file could not be loaded.
    #[error("signing key {path}: {why}")]
    Key {
        /// The file.
        path: String,
        /// What went wrong.
        why: String,
    },
    /// Metrics could not be registered.
    #[error("telemetry: {0}")]
    Telemetry(String),
    /// Fleet mode could not start.
    #[error(transparent)]
    Fleet(#[from] crate::fleet::FleetError),
    /// The API server could not start.
    #[error(transparent)]
    Serve(#[from] crate::server::ServeError),
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

/// Loads the signing keys: the configured key signs, previous keys are published; with no
/// key file, a fresh ephemeral key (verdicts will not verify after a restart). Returns the
/// ring, the creation time of the signing key (file mtime or now), and whether it is ephemeral.
pub fn load_keys(
    config: &crate::config::SigningConfig,
) -> Result<(crate::verdict::KeyRing, u64, bool), StartError> {
    use crate::verdict::{KeyRing, SigningKey, load_key_file};
    let now = std::time::SystemTime::now();
    let unix = |t: std::time::SystemTime| {
        t.duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    };
    let key_err = |path: &Path, e: crate::verdict::KeyError| StartError::Key {
        path: path.display().to_string(),
        why: e.to_string(),
    };
    let mut previous = Vec::new();
    for path in &config.previous_key_files {
        previous.push(load_key_file(path).map_err(|e| key_err(path, e))?);
    }
    match &config.key_file {
        Some(path) => {
            let current = load_key_file(path).map_err(|e| key_err(path, e))?;
            let created = std::fs::metadata(path)
                .and_then(|m| m.modified())
                .map(unix)
                .unwrap_or_else(|_| unix(now));
            Ok((KeyRing::new(current, previous), created, false))
        }
        None => {
            let current = SigningKey::generate(config.ephemeral_alg, &mut rand::rngs::OsRng);
            Ok((KeyRing::new(current, previous), unix(now), true))
        }
    }
}

/// Build identifier for `portcullis_build_info` (set `PORTCULLIS_COMMIT` at build time).
pub const BUILD_COMMIT: &str = match option_env!("PORTCULLIS_COMMIT") {
    Some(commit) => commit,
    None => "unknown",
};

/// Builds the whole service from a config and a fetcher.
pub fn build_service(
    config: Config,
    fetcher: Fetcher,
    audit: Option<crate::telemetry::AuditSink>,
) -> Result<Arc<crate::service::Service>, StartError> {
    let (keys, created, ephemeral) = load_keys(&config.signing)?;
    if ephemeral {
        tracing::warn!(
            kid = keys.current_kid(),
            "NO SIGNING KEY CONFIGURED: using an ephemeral key; verdicts will not verify after a restart. Run `portcullis keygen --out key.pem` and set [signing] key_file"
        );
    }
    let telemetry = crate::telemetry::Telemetry::new(audit, BUILD_COMMIT)
        .map_err(|e| StartError::Telemetry(e.to_string()))?;
    telemetry.signing_key_created(created);
    // Fleet mode only with `[fleet]`: no Redis client exists otherwise.
    let fleet = match &config.fleet {
        Some(fleet_config) => {
            let local_keys = match keys.jwks().get("keys") {
                Some(serde_json::Value::Array(keys)) => keys.clone(),
                _ => Vec::new(),
            };
            Some(crate::fleet::Fleet::start(fleet_config, local_keys)?)
        }
        None => None,
    };
    Ok(Arc::new(
        crate::service::Service::new(fetcher, Arc::new(config), keys, Arc::new(telemetry))
            .with_fleet(fleet),
    ))
}

/// The audit sink the config asks for.
pub fn audit_sink(
    config: &crate::config::AuditConfig,
) -> Result<Option<crate::telemetry::AuditSink>, StartError> {
    if !config.enabled {
        return Ok(None);
    }
    let out: Box<dyn std::io::Write + Send> = match &config.path {
        None => Box::new(std::io::stderr()),
        Some(path) => Box::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| StartError::ConfigRead {
                    path: path.display().to_string(),
                    why: e.to_string(),
                })?,
        ),
    };
    Ok(Some(crate::telemetry::AuditSink::new(out)))
}

/// Config file (or defaults) plus a production fetcher: what one-shot commands need.
pub fn load_fetcher(path: Option<&Path>) -> Result<(Config, Fetcher), StartError> {
    let config = load_config(path)?;
    let policy = build_policy(&config, &[])?;
    let fetcher = build_fetcher(&config, policy)?;
    Ok((config, fetcher))
}
