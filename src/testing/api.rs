//! A plain HTTP/1.1 client for the service's API, for the tests and the load, fairness and
//! attack labs: one connection per request (so each request is also a fresh accept), to
//! loopback only.
#![allow(clippy::disallowed_methods)] // connects only to the service under test on loopback

use std::net::SocketAddr;

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;

use super::{TestingError, ensure_loopback};

/// One answer of the API.
pub struct Reply {
    /// The HTTP status.
    pub status: StatusCode,
    /// The response headers.
    pub headers: HeaderMap,
    /// The whole body.
    pub body: Bytes,
}

impl Reply {
    /// The body as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// The refusal code (`error` member), or `verdict` for a verdict.
    pub fn code(&self) -> String {
        self.json()["error"]
            .as_str()
            .map_or_else(|| "verdict".to_owned(), str::to_owned)
    }
}

fn http_error(e: impl std::fmt::Display) -> TestingError {
    TestingError::Http(e.to_string())
}

/// Sends `request` over a new connection to `addr` (loopback only) and reads the answer.
pub async fn send(addr: SocketAddr, request: Request<Full<Bytes>>) -> Result<Reply, TestingError> {
    ensure_loopback(addr.ip())?;
    let stream = tokio::net::TcpStream::connect(addr).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(http_error)?;
    tokio::spawn(conn);
    let response = sender.send_request(request).await.map_err(http_error)?;
    let (parts, body) = response.into_parts();
    let body = body.collect().await.map_err(http_error)?.to_bytes();
    Ok(Reply {
        status: parts.status,
        headers: parts.headers,
        body,
    })
}

/// `POST /v1/fetch` with `body`, as the caller holding `token` (none: anonymous).
pub async fn post_fetch(
    addr: SocketAddr,
    token: Option<&str>,
    body: &str,
) -> Result<Reply, TestingError> {
    let mut builder = Request::post("/v1/fetch")
        .header("host", "127.0.0.1")
        .header("content-type", "application/json");
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    let request = builder
        .body(Full::new(Bytes::from(body.to_owned())))
        .map_err(http_error)?;
    send(addr, request).await
}

/// `GET path`.
pub async fn get(addr: SocketAddr, path: &str) -> Result<Reply, TestingError> {
    let request = Request::get(path)
        .header("host", "127.0.0.1")
        .body(Full::new(Bytes::new()))
        .map_err(http_error)?;
    send(addr, request).await
}
