//! What a config reload swaps, and the metrics that say how reloads went.
//!
//! The [`App`](super::App) holds one `Arc<Runtime>` behind an `ArcSwap`: each request loads
//! the current `Arc` once and keeps it to the end, so requests in flight finish under the
//! config they started with while new requests see the new one. Building a `Runtime`
//! (reading and checking files) is `assemble`'s job; this module only holds the result.

use std::sync::Arc;

use prometheus::{Encoder, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder};

use super::auth::Callers;
use crate::config::ServerConfig;
use crate::service::Service;

/// Everything a reload replaces at once: the service (rules, limits, signing keys, cache),
/// the callers, and the per-request server settings (body cap, read deadline). Listener
/// settings (`listen`, `unix_socket`, `max_connections`, shutdown grace) are bound at
/// start and are not reloadable.
pub struct Runtime {
    /// The verdict service built from this config.
    pub service: Arc<Service>,
    /// The authenticated callers of this config.
    pub callers: Callers,
    /// The `[server]` section of this config.
    pub server: ServerConfig,
}

impl Runtime {
    /// A runtime whose callers are the ones in `server`.
    pub fn new(service: Arc<Service>, server: ServerConfig) -> Runtime {
        Runtime {
            callers: Callers::from_config(&server.callers),
            service,
            server,
        }
    }
}

/// Outcome label of `portcullis_config_reload_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReloadResult {
    /// The new config was loaded and swapped in.
    Ok,
    /// The new config was refused; the old one keeps running.
    Error,
}

impl ReloadResult {
    /// The metric label value.
    pub fn as_str(self) -> &'static str {
        match self {
            ReloadResult::Ok => "ok",
            ReloadResult::Error => "error",
        }
    }
}

/// `portcullis_config_reload_total{result}` and `portcullis_config_info{hash}`: an operator
/// (or alert) can see that a reload failed, and which config every replica runs. Kept in
/// its own registry so they outlive every swapped `Service`.
pub struct ConfigMetrics {
    registry: Registry,
    reloads: IntCounterVec,
    info: IntGaugeVec,
}

impl ConfigMetrics {
    /// Registers both metrics with every label value present (at zero) from the start.
    pub fn new() -> Result<ConfigMetrics, prometheus::Error> {
        let registry = Registry::new();
        let reloads = IntCounterVec::new(
            Opts::new(
                "portcullis_config_reload_total",
                "Config reloads (SIGHUP), by result.",
            ),
            &["result"],
        )?;
        let info = IntGaugeVec::new(
            Opts::new(
                "portcullis_config_info",
                "Hash of the config in force (config, rules files and key ids); always 1.",
            ),
            &["hash"],
        )?;
        registry.register(Box::new(reloads.clone()))?;
        registry.register(Box::new(info.clone()))?;
        for result in [ReloadResult::Ok, ReloadResult::Error] {
            reloads.with_label_values(&[result.as_str()]);
        }
        Ok(ConfigMetrics {
            registry,
            reloads,
            info,
        })
    }

    /// Counts one reload attempt.
    pub fn reloaded(&self, result: ReloadResult) {
        self.reloads.with_label_values(&[result.as_str()]).inc();
    }

    /// Records the hash of the config now in force (the previous hash's series goes away).
    pub fn set_hash(&self, hash: &str) {
        self.info.reset();
        self.info.with_label_values(&[hash]).set(1);
    }

    /// Text exposition, appended to the service's `/metrics`.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reload_counts_and_hash_are_exposed() {
        let m = ConfigMetrics::new().unwrap();
        let text = m.render();
        assert!(
            text.contains(r#"portcullis_config_reload_total{result="error"} 0"#),
            "{text}"
        );
        m.reloaded(ReloadResult::Ok);
        m.set_hash("aaaa");
        m.set_hash("bbbb");
        let text = m.render();
        assert!(
            text.contains(r#"portcullis_config_reload_total{result="ok"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"portcullis_config_info{hash="bbbb"} 1"#),
            "{text}"
        );
        assert!(!text.contains("aaaa"), "{text}");
    }
}
