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
    Config::from_toml_str(&text).map_err(|source| config_file_error(path, &text, source))
}

/// Wraps a config error with the file and, for range checks, the line of the key.
fn config_file_error(path: &Path, text: &str, source: ConfigError) -> StartError {
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
    ))
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
    let mut previous = Vec::new();
    for path in config
        .previous_key_files
        .iter()
        .chain(&config.next_key_files)
    {
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
            let current = match ephemeral {
                Some(key) if key.alg() == config.ephemeral_alg => key.clone(),
                _ => SigningKey::generate(config.ephemeral_alg, &mut rand::rngs::OsRng),
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
    Ok(Arc::new(crate::service::Service::new(
        fetcher,
        Arc::new(config),
        keys,
        Arc::new(telemetry),
    )))
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

/// Everything `serve` reads from disk (config, rules layers, key files, trust roots),
/// parsed and checked, before anything is bound or swapped. `config check` prints it;
/// a reload builds from it only when all of it loaded.
pub struct Loaded {
    /// The config file, if any.
    pub path: Option<std::path::PathBuf>,
    /// The parsed config.
    pub config: Config,
    /// Embedded rules first, then each configured file.
    pub layers: Vec<RulesFile>,
    /// Signer and published keys.
    pub keys: crate::verdict::KeyRing,
    /// Unix time the signing key was made (file mtime).
    pub key_created: u64,
    /// No key file: the signer is an ephemeral key.
    pub ephemeral: bool,
    /// That ephemeral key, kept so a reload can go on signing with it.
    pub ephemeral_key: Option<crate::verdict::SigningKey>,
    /// Short hash of the config text, the rules files and the key ids.
    pub hash: String,
    /// Things that load but are probably not what the operator meant.
    pub warnings: Vec<String>,
}

/// Reads and checks everything `serve` would, without binding or building; `ephemeral` is
/// the key kept when no key file is configured (see [`load_keys_keeping`]).
pub fn load(
    path: Option<&Path>,
    ephemeral: Option<&crate::verdict::SigningKey>,
) -> Result<Loaded, StartError> {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    let config = match path {
        None => Config::default(),
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| StartError::ConfigRead {
                path: path.display().to_string(),
                why: e.to_string(),
            })?;
            hasher.update(text.as_bytes());
            Config::from_toml_str(&text).map_err(|source| config_file_error(path, &text, source))?
        }
    };
    crate::server::check_listen(&config.server)?;
    let mut layers = vec![RulesFile::embedded()?];
    hasher.update(RulesFile::embedded_default_text().as_bytes());
    for file in &config.rules.files {
        let text = std::fs::read_to_string(file).map_err(|e| StartError::RulesRead {
            path: file.display().to_string(),
            why: e.to_string(),
        })?;
        hasher.update(text.as_bytes());
        layers.push(RulesFile::parse(&text, &file.display().to_string())?);
    }
    // Layers must also combine (Policy::new checks across files).
    Policy::new(layers.clone(), PolicyOptions::default())?;
    let warnings = crate::policy::rules_file::shadowed_allows(&layers);
    tls::client_config(&config.tls, &[])?;
    let ephemeral_key = match (&config.signing.key_file, ephemeral) {
        (Some(_), _) => None,
        (None, Some(key)) if key.alg() == config.signing.ephemeral_alg => Some(key.clone()),
        (None, _) => Some(crate::verdict::SigningKey::generate(
            config.signing.ephemeral_alg,
            &mut rand::rngs::OsRng,
        )),
    };
    let (keys, key_created, ephemeral) =
        load_keys_keeping(&config.signing, ephemeral_key.as_ref())?;
    // Key ids, except an ephemeral signer's (random per process, so not part of "the config").
    for (kid, _) in key_list(&keys).iter().skip(usize::from(ephemeral)) {
        hasher.update(kid.as_bytes());
    }
    let hash = hasher
        .finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(Loaded {
        path: path.map(Path::to_path_buf),
        config,
        layers,
        keys,
        key_created,
        ephemeral,
        ephemeral_key,
        hash,
        warnings,
    })
}

/// `(kid, alg)` of every published key, the signer first.
pub fn key_list(keys: &crate::verdict::KeyRing) -> Vec<(String, String)> {
    let jwks = keys.jwks();
    jwks["keys"]
        .as_array()
        .map(|keys| {
            keys.iter()
                .map(|k| {
                    (
                        k["kid"].as_str().unwrap_or_default().to_owned(),
                        k["alg"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

impl Loaded {
    /// The short human summary `config check` prints and `serve` logs.
    pub fn summary(&self) -> Vec<String> {
        let mut out = Vec::new();
        out.push(format!(
            "config:   {}",
            self.path
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "(none: embedded defaults)".into())
        ));
        out.push(format!("hash:     {}", self.hash));
        for layer in &self.layers {
            let detail = if layer.origin() == "embedded default" {
                format!(" (sha256 {})", RulesFile::embedded_hash())
            } else {
                String::new()
            };
            out.push(format!(
                "rules:    {}{detail}: {} ranges, {} host blocks, {} host allows",
                layer.origin(),
                layer.ranges().len(),
                layer.hosts().block.len(),
                layer.hosts().allow.len()
            ));
        }
        let server = &self.config.server;
        if server.callers.is_empty() {
            out.push(format!(
                "callers:  none: unauthenticated, verdicts say aud \"{}\" (loopback only)",
                crate::server::auth::ANONYMOUS_CALLER
            ));
        }
        for caller in &server.callers {
            out.push(format!("caller:   {}", caller.name));
        }
        for (i, (kid, alg)) in key_list(&self.keys).into_iter().enumerate() {
            let role = match (i, self.ephemeral) {
                (0, true) => {
                    "signs (EPHEMERAL: no key_file; verdicts stop verifying after a restart)"
                }
                (0, false) => "signs",
                _ => "published",
            };
            out.push(format!("key:      {kid} {alg} {role}"));
        }
        if server.listen_tcp {
            out.push(format!("listen:   tcp {}", server.listen));
        }
        if let Some(path) = &server.unix_socket {
            out.push(format!("listen:   unix {}", path.display()));
        }
        for warning in &self.warnings {
            out.push(format!("warning:  {warning}"));
        }
        out
    }
}

/// The service built from a [`Loaded`] config; `extra_self` is the bound listen address.
pub fn build_loaded_service(
    loaded: &Loaded,
    extra_self: &[IpAddr],
    telemetry: Arc<crate::telemetry::Telemetry>,
) -> Result<Arc<crate::service::Service>, StartError> {
    let policy = policy_from_layers(&loaded.config, loaded.layers.clone(), extra_self)?;
    let fetcher = build_fetcher(&loaded.config, policy)?;
    telemetry.signing_key_created(loaded.key_created);
    Ok(Arc::new(crate::service::Service::new(
        fetcher,
        Arc::new(loaded.config.clone()),
        loaded.keys.clone(),
        telemetry,
    )))
}

/// Re-reads the config on request (SIGHUP) and swaps it into the running [`App`]; a config
/// that fails any check leaves the running one in place.
///
/// [`App`]: crate::server::App
pub struct Reloader {
    path: Option<std::path::PathBuf>,
    extra_self: Vec<IpAddr>,
    telemetry: Arc<crate::telemetry::Telemetry>,
    ephemeral: std::sync::Mutex<Option<crate::verdict::SigningKey>>,
    started: crate::config::Config,
    app: Arc<crate::server::App>,
}

/// Settings bound at start; a reload that changes them warns that a restart is needed.
fn fixed_settings(config: &Config) -> Vec<(&'static str, String)> {
    let s = &config.server;
    vec![
        ("server.listen", s.listen.to_string()),
        ("server.listen_tcp", s.listen_tcp.to_string()),
        ("server.unix_socket", format!("{:?}", s.unix_socket)),
        ("server.max_connections", s.max_connections.to_string()),
        ("server.shutdown_grace_ms", s.shutdown_grace_ms.to_string()),
        ("audit", format!("{:?}", config.audit)),
        ("log", format!("{:?}", config.log)),
    ]
}

impl Reloader {
    /// `started` is what the running service was built from (its listeners stay bound);
    /// `extra_self` is the bound listen address, blocked as a fetch target.
    pub fn new(
        started: &Loaded,
        extra_self: Vec<IpAddr>,
        telemetry: Arc<crate::telemetry::Telemetry>,
        app: Arc<crate::server::App>,
    ) -> Reloader {
        Reloader {
            path: started.path.clone(),
            extra_self,
            telemetry,
            ephemeral: std::sync::Mutex::new(started.ephemeral_key.clone()),
            started: started.config.clone(),
            app,
        }
    }

    /// Loads, checks and swaps; returns the new config's summary and warnings. On error
    /// nothing changes. Counts the attempt in `portcullis_config_reload_total`.
    pub fn reload(&self) -> Result<Loaded, StartError> {
        let result = self.try_reload();
        if let Some(metrics) = self.app.config_metrics() {
            match &result {
                Ok(loaded) => {
                    metrics.reloaded(crate::server::reload::ReloadResult::Ok);
                    metrics.set_hash(&loaded.hash);
                }
                Err(_) => metrics.reloaded(crate::server::reload::ReloadResult::Error),
            }
        }
        result
    }

    fn try_reload(&self) -> Result<Loaded, StartError> {
        let kept = self.ephemeral.lock().map(|k| k.clone()).unwrap_or_default();
        let mut loaded = load(self.path.as_deref(), kept.as_ref())?;
        // The listeners stay bound as started: judge "no callers" against them.
        let mut effective = loaded.config.server.clone();
        effective.listen = self.started.server.listen;
        effective.listen_tcp = self.started.server.listen_tcp;
        effective.unix_socket = self.started.server.unix_socket.clone();
        crate::server::check_listen(&effective)?;
        let before = fixed_settings(&self.started);
        for ((key, old), (_, new)) in before.iter().zip(fixed_settings(&loaded.config)) {
            if *old != new {
                loaded.warnings.push(format!(
                    "{key} changed but is not reloadable: still {old}; restart to apply"
                ));
            }
        }
        let service = build_loaded_service(&loaded, &self.extra_self, self.telemetry.clone())?;
        self.app
            .swap(crate::server::reload::Runtime::new(service, effective));
        if let (Some(key), Ok(mut kept)) = (&loaded.ephemeral_key, self.ephemeral.lock()) {
            *kept = Some(key.clone());
        }
        Ok(loaded)
    }
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
