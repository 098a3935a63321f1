//! Everything `serve` reads from disk, checked before anything is bound or swapped: what
//! `config check` prints and what a reload builds from.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use super::{StartError, build_fetcher, config_file_error, load_keys_keeping, policy_from_layers};
use crate::config::Config;
use crate::fetch::tls;
use crate::policy::{Policy, PolicyOptions, RulesFile};

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
    let ephemeral_alg = config
        .signing
        .alg
        .unwrap_or(crate::config::DEFAULT_SIGNING_ALG);
    let ephemeral_key = match (&config.signing.key_file, ephemeral) {
        (Some(_), _) => None,
        (None, Some(key)) if key.alg() == ephemeral_alg => Some(key.clone()),
        (None, _) => Some(crate::verdict::SigningKey::generate(
            ephemeral_alg,
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
    let fleet = super::start_fleet(&loaded.config, &loaded.keys)?;
    Ok(Arc::new(
        crate::service::Service::new(
            fetcher,
            Arc::new(loaded.config.clone()),
            loaded.keys.clone(),
            telemetry,
        )
        .with_fleet(fleet),
    ))
}
