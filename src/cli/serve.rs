//! `portcullis serve`: the verdict service.

use std::path::Path;
use std::sync::Arc;

use portcullis::assemble::{self, StartError};
use portcullis::proxy::{self, Proxy};
use portcullis::server::auth::Callers;
use portcullis::server::{self, App, Listeners};

use super::{EXIT_OK, usage_error};

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

async fn start(config_path: Option<&Path>) -> Result<(Arc<App>, Listeners), StartError> {
    let config = assemble::load_config(config_path)?;
    let listeners = Listeners::bind(&config.server).await?;
    let proxy_listener = proxy::bind(&config.proxy, config.server.callers.is_empty()).await?;
    let mut own = listeners
        .tcp_addr()
        .map(|a| vec![a.ip()])
        .unwrap_or_default();
    own.extend(
        proxy_listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
            .map(|a| a.ip()),
    );
    let policy = assemble::build_policy(&config, &own)?;
    let fetcher = assemble::build_fetcher(&config, policy)?;
    let audit = assemble::audit_sink(&config.audit)?;
    let server_config = config.server.clone();
    let proxy_config = config.proxy.clone();
    let service = assemble::build_service(config, fetcher.clone(), audit)?;
    if let Some(listener) = proxy_listener {
        let callers = Callers::from_config(&server_config.callers);
        let proxy = Proxy::new(fetcher, callers, proxy_config, service.telemetry().clone())?;
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
    if server_config.callers.is_empty() {
        tracing::warn!(
            "no [[server.callers]] configured: requests are not authenticated; listening on loopback only"
        );
    }
    Ok((Arc::new(App::new(service, server_config)), listeners))
}

pub async fn run(config_path: Option<&Path>) -> u8 {
    init_logging();
    let (app, listeners) = match start(config_path).await {
        Ok(started) => started,
        Err(e) => return usage_error(e),
    };
    if let Some(addr) = listeners.tcp_addr() {
        tracing::info!(%addr, "portcullis listening (POST /v1/fetch, GET /v1/keys, /metrics, /healthz, /readyz)");
    }
    server::serve(app, listeners, server::shutdown_signal()).await;
    EXIT_OK
}
