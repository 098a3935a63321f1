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

mod loaded;
mod reloader;

pub use loaded::{Loaded, build_loaded_service, key_list, load};
pub use reloader::Reloader;

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
    /// The config file is not valid (names the file; the error names the line or key).
    #[error("config file {path}{}: {source}", line.map(|l| format!(" line {l}")).unwrap_or_default())]
    ConfigFile {
        /// The file.
        path: String,
        /// The line of the offending key, for checks made after parsing (TOML syntax and
        /// type errors carry their own line in `source`).
        line: Option<usize>,
        /// What is wrong.
        source: Box<ConfigError>,
    },
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
    /// The CONNECT proxy could not start.
    #[error(transparent)]
    Proxy(#[from] crate::proxy::ProxyStartError),
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
    Config::from_toml_str(&text).map_err(|source| config_file_error(path, &text, source))
}

/// Wraps a config error with the file and, for range checks, the line of the key.
pub(crate) fn config_file_error(path: &Path, text: &str, source: ConfigError) -> StartError {
    let line = match &source {
        ConfigError::Range { key, .. } => key_line(text, key),
        _ => None,
    };
    StartError::ConfigFile {
        path: path.display().to_string(),
        line,
        source: Box::new(source),
    }
}

/// 1-based line where the last segment of a dotted key is assigned, if it is.
fn key_line(text: &str, dotted: &str) -> Option<usize> {
    let name = dotted.rsplit('.').next()?;
    text.lines()
        .position(|l| {
            l.trim_start()
                .strip_prefix(name)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        })
        .map(|i| i + 1)
}

/// The embedded rules then every configured rules file, each parsed and checked. The
/// embedded rules must parse: there is no floor-only fallback.
pub fn read_layers(config: &Config) -> Result<Vec<RulesFile>, StartError> {
    let mut layers = vec![RulesFile::embedded()?];
    for path in &config.rules.files {
        let text = std::fs::read_to_string(path).map_err(|e| StartError::RulesRead {
            path: path.display().to_string(),
            why: e.to_string(),
        })?;
        layers.push(RulesFile::parse(&text, &path.display().to_string())?);
    }
    Ok(layers)
}

/// A policy from already-read layers, plus the host's own addresses and `extra_self`.
pub fn policy_from_layers(
    config: &Config,
    layers: Vec<RulesFile>,
    extra_self: &[IpAddr],
) -> Result<Policy, StartError> {
    let options = PolicyOptions {
        allow_nat64: config.rules.allow_nat64,
        max_url_bytes: config.limits.max_url_bytes,
    };
    let mut own = self_addrs::interface_addresses();
    own.extend_from_slice(extra_self);
    Ok(Policy::new(layers, options)?.with_self_addresses(own))
}

/// The embedded default rules plus every configured file, in order, plus the host's own
/// addresses and any extra self addresses (the service's listen address).
pub fn build_policy(config: &Config, extra_self: &[IpAddr]) -> Result<Policy, StartError> {
    policy_from_layers(config, read_layers(config)?, extra_self)
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
    )
    .watch_self_addresses(Arc::new(self_addrs::LiveSelfAddrs::system())))
}

/// Loads the signing keys: the configured key signs, previous keys are published; with no
/// key file, a fresh ephemeral key (verdicts will not verify after a restart). Returns the
/// ring, the creation time of the signing key (file mtime or now), and whether it is ephemeral.
pub fn load_keys(
    config: &crate::config::SigningConfig,
) -> Result<(crate::verdict::KeyRing, u64, bool), StartError> {
    load_keys_keeping(config, None)
}

/// [`load_keys`], but with no key file the given ephemeral key is kept instead of a new one
/// made: a reload must not silently replace the key verdicts were signed with. Keys in
/// `next_key_files` are published (after previous keys) but do not sign.
pub fn load_keys_keeping(
    config: &crate::config::SigningConfig,
    ephemeral: Option<&crate::verdict::SigningKey>,
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
    // `[signing] alg` names the signing key's algorithm (a misfit is a start error); a key
    // file alone keeps its own type's name. Previous keys only publish: a misfit keeps its own.
    let named = |key: SigningKey, alg: Option<crate::config::SigningAlg>| match alg {
        Some(alg) => key.with_alg(alg),
        None if key.alg() == crate::config::SigningAlg::EdDSA => {
            key.with_alg(crate::config::DEFAULT_ED25519_KEY_ALG)
        }
        None => Ok(key),
    };
    let mut previous = Vec::new();
    for path in config
        .previous_key_files
        .iter()
        .chain(&config.next_key_files)
    {
        let key = load_key_file(path).map_err(|e| key_err(path, e))?;
        let key = match named(key.clone(), config.alg) {
            Ok(k) => k,
            Err(_) => named(key, None).map_err(|e| key_err(path, e))?,
        };
        previous.push(key);
    }
    match &config.key_file {
        Some(path) => {
            let current = load_key_file(path)
                .and_then(|k| named(k, config.alg))
                .map_err(|e| key_err(path, e))?;
            let created = std::fs::metadata(path)
                .and_then(|m| m.modified())
                .map(unix)
                .unwrap_or_else(|_| unix(now));
            Ok((KeyRing::new(current, previous), created, false))
        }
        None => {
            let alg = config.alg.unwrap_or(crate::config::DEFAULT_SIGNING_ALG);
            let current = match ephemeral {
                Some(key) if key.alg() == alg => key.clone(),
                _ => SigningKey::generate(alg, &mut rand::rngs::OsRng),
            };
            Ok((KeyRing::new(current, previous), unix(now), true))
        }
    }
}

/// Build identifier for `portcullis_build_info` and `--version`: `build.rs` sets
/// `PORTCULLIS_COMMIT` from git (or from the environment, for builds outside a checkout).
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
    let fleet = start_fleet(&config, &keys)?;
    Ok(Arc::new(
        crate::service::Service::new(fetcher, Arc::new(config), keys, Arc::new(telemetry))
            .with_fleet(fleet),
    ))
}

/// Fleet mode only with `[fleet]`: no Redis client exists otherwise. The fleet publishes
/// this replica's public verdict keys.
pub fn start_fleet(
    config: &Config,
    keys: &crate::verdict::KeyRing,
) -> Result<Option<Arc<crate::fleet::Fleet>>, StartError> {
    let Some(fleet_config) = &config.fleet else {
        return Ok(None);
    };
    let local_keys = match keys.jwks().get("keys") {
        Some(serde_json::Value::Array(keys)) => keys.clone(),
        _ => Vec::new(),
    };
    Ok(Some(crate::fleet::Fleet::start(fleet_config, local_keys)?))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_errors_name_the_file_and_line() {
        let text = "[limits]\nmax_redirects = 2\ntotal_timeout_ms = 0\n";
        let err = Config::from_toml_str(text).unwrap_err();
        let e = config_file_error(Path::new("/etc/p.toml"), text, err).to_string();
        assert!(e.starts_with("config file /etc/p.toml line 3: "), "{e}");
        assert!(e.contains("limits.total_timeout_ms"), "{e}");
    }
}
