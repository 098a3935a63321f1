//! Pinned connect: TCP to an address the policy already checked, then TLS with the URL's
//! host name. There is no way in here to connect to a name — only to a [`PinnedAddr`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::codes;
use super::phase::Phase;
use crate::policy::PinnedAddr;
use crate::problem::Problem;

/// A TLS stream to a checked address, with what ALPN chose.
pub struct Connected {
    /// The stream.
    pub stream: TlsStream<TcpStream>,
    /// The address actually connected to.
    pub peer: SocketAddr,
    /// True when the server chose HTTP/2.
    pub h2: bool,
    /// Time spent in TCP connect.
    pub connect_time: Duration,
    /// Time spent in the TLS handshake.
    pub tls_time: Duration,
}

/// Connect budgets for one hop.
#[derive(Clone, Copy, Debug)]
pub struct ConnectBudget {
    /// Shared by all candidate addresses.
    pub connect: Duration,
    /// TLS handshake.
    pub tls: Duration,
    /// Absolute deadline of the whole fetch.
    pub deadline: Instant,
}

/// Tries each checked address in turn within one connect budget, then does TLS on the first
/// that accepts. `server_name` is the URL host (SNI and certificate check).
pub async fn connect(
    addrs: &[PinnedAddr],
    port: u16,
    server_name: ServerName<'static>,
    tls: Arc<ClientConfig>,
    budget: ConnectBudget,
) -> Result<Connected, Problem> {
    let started = Instant::now();
    let phase = Phase::start(
        budget.connect,
        budget.deadline,
        codes::CONNECT_TIMEOUT,
        "tcp connect",
    );
    let (stream, peer) = match connect_tcp(addrs, port, phase.deadline()).await {
        Ok(ok) => ok,
        Err(TcpConnectError::TimedOut) => return Err(phase.expired()),
        Err(TcpConnectError::Refused(p)) => return Err(p),
    };
    let _ = stream.set_nodelay(true);
    let connect_time = started.elapsed();

    let tls_started = Instant::now();
    let phase = Phase::start(
        budget.tls,
        budget.deadline,
        codes::TLS_TIMEOUT,
        "tls handshake",
    );
    let connector = TlsConnector::from(tls);
    let stream = phase
        .run(connector.connect(server_name, stream))
        .await?
        .map_err(|e| {
            Problem::error(
                codes::TLS_FAILED,
                format!("tls handshake with {peer} failed: {e}"),
            )
        })?;
    let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2".as_slice());
    Ok(Connected {
        stream,
        peer,
        h2,
        connect_time,
        tls_time: tls_started.elapsed(),
    })
}

/// Why [`connect_tcp`] gave no stream.
#[derive(Debug)]
pub enum TcpConnectError {
    /// The deadline passed before any address accepted.
    TimedOut,
    /// Every address refused or failed (`connect_failed`).
    Refused(Problem),
}

/// Plain TCP to the first checked address that accepts, before `deadline`: the one place a
/// socket is connected. The fetcher puts TLS on top; the proxy (`crate::proxy`) tunnels it
/// as is, so both are pinned to addresses the policy produced.
pub async fn connect_tcp(
    addrs: &[PinnedAddr],
    port: u16,
    deadline: Instant,
) -> Result<(TcpStream, SocketAddr), TcpConnectError> {
    let mut last_error = None;
    for addr in addrs {
        let peer = SocketAddr::new(addr.ip(), port);
        // The one sanctioned connect: `peer` is built from a PinnedAddr the policy produced.
        #[allow(clippy::disallowed_methods)]
        let attempt = TcpStream::connect(peer);
        match tokio::time::timeout_at(deadline.into(), attempt).await {
            Ok(Ok(stream)) => return Ok((stream, peer)),
            Ok(Err(e)) => last_error = Some(format!("{peer}: {e}")),
            Err(_) => return Err(TcpConnectError::TimedOut),
        }
    }
    Err(TcpConnectError::Refused(Problem::error(
        codes::CONNECT_FAILED,
        format!(
            "no checked address accepted a connection ({})",
            last_error.unwrap_or_else(|| "no address".to_owned())
        ),
    )))
}
