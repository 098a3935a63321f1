//! `portcullis serve`: the verdict service, with config reload on SIGHUP.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use portcullis::assemble::{self, Loaded, Reloader, StartError};
use portcullis::config::LogFormat;
use portcullis::proxy::{self, Proxy};
use portcullis::server::auth::Callers;
use portcullis::server::{self, App, Listeners};

use super::{EXIT_OK, usage_error};

/// Environment variable that picks the log format when `--log-format` is not given.
pub const LOG_FORMAT_ENV: &str = "PORTCULLIS_LOG_FORMAT";

/// The flag wins, then the environment (`env`, the value of [`LOG_FORMAT_ENV`]), then
/// `[log] format`.
fn log_format(
    flag: Option<LogFormat>,
    env: Option<String>,
    config: LogFormat,
) -> Result<LogFormat, String> {
    if let Some(format) = flag {
        return Ok(format);
    }
    match env {
        Some(value) if !value.is_empty() => {
            value.parse().map_err(|e| format!("{LOG_FORMAT_ENV}: {e}"))
        }
        _ => Ok(config),
    }
}

/// `RUST_LOG` filters (default `info`); the format is text or one JSON object per line.
fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init(),
    };
}

/// Logs what is in force: config path, hash, caller count, key ids, warnings.
fn log_loaded(loaded: &Loaded, what: &str) {
    let keys: Vec<String> = assemble::key_list(&loaded.keys)
        .into_iter()
        .map(|(kid, alg)| format!("{kid} ({alg})"))
        .collect();
    tracing::info!(
        config = %loaded.path.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "(embedded defaults)".into()),
        hash = %loaded.hash,
        callers = loaded.config.server.callers.len(),
        signing_kid = loaded.keys.current_kid(),
        keys = %keys.join(", "),
        rules_layers = loaded.layers.len(),
        "{what}"
    );
    for warning in &loaded.warnings {
        tracing::warn!("{warning}");
    }
}

struct Started {
    app: Arc<App>,
    listeners: Listeners,
    reloader: Reloader,
}

async fn start(loaded: &Loaded) -> Result<Started, StartError> {
    let config = &loaded.config;
    let listeners = Listeners::bind(&config.server).await?;
    let proxy_listener = proxy::bind(&config.proxy, config.server.callers.is_empty()).await?;
    let mut own: Vec<IpAddr> = listeners
        .tcp_addr()
        .map(|a| vec![a.ip()])
        .unwrap_or_default();
    own.extend(
        proxy_listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
            .map(|a| a.ip()),
    );
    let audit = assemble::audit_sink(&config.audit)?;
    let telemetry = Arc::new(
        portcullis::telemetry::Telemetry::new(audit, assemble::BUILD_COMMIT)
            .map_err(|e| StartError::Telemetry(e.to_string()))?,
    );
    let service = assemble::build_loaded_service(loaded, &own, telemetry.clone())?;
    if let Some(listener) = proxy_listener {
        // The proxy keeps the rules, resolver and callers it started with; a SIGHUP reload
        // does not reach it (docs/proxy.md): restart to change them.
        let callers = Callers::from_config(&config.server.callers);
        let proxy = Proxy::new(
            service.fetcher().clone(),
            callers,
            config.proxy.clone(),
            telemetry.clone(),
        )?;
        if let Ok(addr) = listener.local_addr() {
            tracing::info!(%addr, "portcullis proxy listening (CONNECT host:port)");
        }
        // On SIGTERM the proxy stops accepting; open tunnels end with the process, after
        // the API's grace period.
        tokio::spawn(proxy::serve(
            Arc::new(proxy),
            listener,
            server::shutdown_signal(),
        ));
    }
    let app = Arc::new(App::new(service, config.server.clone()));
    if let Some(metrics) = app.config_metrics() {
        metrics.set_hash(&loaded.hash);
    }
    let reloader = Reloader::new(loaded, own, telemetry, app.clone());
    Ok(Started {
        app,
        listeners,
        reloader,
    })
}

/// Reloads on every SIGHUP until the process ends. Installing the handler replaces the
/// default action, so SIGHUP never kills the service.
async fn reload_on_hangup(mut hangups: tokio::signal::unix::Signal, reloader: Reloader) {
    while hangups.recv().await.is_some() {
        match reloader.reload() {
            Ok(loaded) => log_loaded(&loaded, "config reloaded (SIGHUP)"),
            Err(e) => tracing::error!(
                error = %e,
                "config reload refused; the previous config keeps running"
            ),
        }
    }
}

pub async fn run(config_path: Option<&Path>, log_flag: Option<LogFormat>) -> u8 {
    // First, so a SIGHUP during start-up cannot kill the process.
    let hangups = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(signal) => signal,
        Err(e) => return usage_error(format!("cannot install the SIGHUP handler: {e}")),
    };
    let loaded = match assemble::load(config_path, None) {
        Ok(loaded) => loaded,
        Err(e) => return usage_error(e),
    };
    let env = std::env::var(LOG_FORMAT_ENV).ok();
    match log_format(log_flag, env, loaded.config.log.format) {
        Ok(format) => init_logging(format),
        Err(e) => return usage_error(e),
    }
    let Started {
        app,
        listeners,
        reloader,
    } = match start(&loaded).await {
        Ok(started) => started,
        Err(e) => return usage_error(e),
    };
    log_loaded(&loaded, "config loaded");
    if loaded.ephemeral {
        tracing::warn!(
            kid = loaded.keys.current_kid(),
            "NO SIGNING KEY CONFIGURED: using an ephemeral key; verdicts will not verify after a restart. Run `portcullis keygen --out key.pem` and set [signing] key_file"
        );
    }
    if loaded.config.server.callers.is_empty() {
        tracing::warn!(
            "no [[server.callers]] configured: requests are not authenticated (verdict aud \"{}\"); listening on loopback only",
            portcullis::server::auth::ANONYMOUS_CALLER
        );
    }
    if let Some(addr) = listeners.tcp_addr() {
        tracing::info!(%addr, "portcullis listening (POST /v1/fetch, GET /v1/keys, /metrics, /healthz, /readyz)");
    }
    if let Some(path) = &loaded.config.server.unix_socket {
        tracing::info!(socket = %path.display(), "portcullis listening on a Unix socket");
    }
    let reloads = tokio::spawn(reload_on_hangup(hangups, reloader));
    server::serve(app, listeners, server::shutdown_signal()).await;
    reloads.abort();
    EXIT_OK
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_format_precedence_is_flag_env_config() {
        let json = Some("json".to_owned());
        assert_eq!(
            log_format(Some(LogFormat::Text), json.clone(), LogFormat::Json),
            Ok(LogFormat::Text)
        );
        assert_eq!(log_format(None, json, LogFormat::Text), Ok(LogFormat::Json));
        assert_eq!(
            log_format(None, Some(String::new()), LogFormat::Json),
            Ok(LogFormat::Json)
        );
        assert_eq!(log_format(None, None, LogFormat::Text), Ok(LogFormat::Text));
        assert!(log_format(None, Some("xml".into()), LogFormat::Text).is_err());
    }
}
