//! Config reload: re-read and check everything, then swap it into the running server.

use std::net::IpAddr;
use std::sync::Arc;

use super::{Loaded, StartError, build_loaded_service, load};
use crate::config::Config;

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
    macro_rules! server_keys {
        ($($key:ident),* $(,)?) => {
            vec![$((concat!("server.", stringify!($key)), format!("{:?}", s.$key))),*]
        };
    }
    // Bound with the listeners, or read once when the HTTP server and each connection are
    // set up.
    let mut fixed = server_keys!(
        listen,
        listen_tcp,
        unix_socket,
        max_connections,
        shutdown_grace_ms,
        max_request_head_bytes,
        first_request_timeout_ms,
        idle_timeout_ms,
        h2_keep_alive_interval_ms,
        h2_keep_alive_timeout_ms,
        h2_max_concurrent_streams,
        h2_max_control_frames_per_s,
        max_pending_response_bytes,
        max_pending_response_bytes_per_connection,
        metrics_render_interval_ms,
    );
    fixed.push(("audit", format!("{:?}", config.audit)));
    fixed.push(("log", format!("{:?}", config.log)));
    fixed
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

    /// Every `[server]` key read only when the server or a connection is set up is named
    /// when a reload changes it, instead of silently not applying.
    #[test]
    fn connection_settings_are_reported_as_not_reloadable() {
        let started = Config::default();
        let mut changed = Config::default();
        changed.server.h2_max_concurrent_streams += 1;
        changed.server.max_request_head_bytes += 1;
        changed.server.idle_timeout_ms += 1;
        let differing: Vec<&str> = fixed_settings(&started)
            .into_iter()
            .zip(fixed_settings(&changed))
            .filter(|(old, new)| old.1 != new.1)
            .map(|(old, _)| old.0)
            .collect();
        assert_eq!(
            differing,
            [
                "server.max_request_head_bytes",
                "server.idle_timeout_ms",
                "server.h2_max_concurrent_streams"
            ]
        );
    }
}
