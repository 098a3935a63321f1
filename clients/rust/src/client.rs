//! The optional HTTP client (hyper 1, HTTP/1.1): `POST /v1/fetch` and `GET /v1/keys`.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::TokioIo;
use tokio::sync::RwLock;

use crate::claims::Claims;
use crate::error::{Error, ProtocolCode};
use crate::keys::KeySet;
use crate::request::Request;
use crate::verify::{VerifyOptions, outcome_result, verify_any};

/// How long to wait for the service when the request has no deadline.
pub const DEFAULT_TIMEOUT_MS: u64 = 10_000;
/// Extra time past the service-side deadline before the client gives up.
const DEADLINE_SLACK_MS: u64 = 250;
/// Largest reply body read from the service (a verdict carries at most one document).
const MAX_REPLY_BYTES: usize = 1024 * 1024;
/// Header carrying the per-request deadline.
const DEADLINE_HEADER: &str = "x-portcullis-deadline-ms";

/// How to reach and trust the service.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// Base URL, `http://host:port` (the service API is plain HTTP on a private network).
    pub url: String,
    /// Bearer token of this caller, when the service has callers configured.
    pub token: Option<String>,
    /// What the verdict must match.
    pub verify: VerifyOptions,
}

/// A Portcullis client: fetch through the service and verify the verdict.
pub struct Client {
    authority: String,
    token: Option<String>,
    options: VerifyOptions,
    keys: RwLock<Option<Arc<KeySet>>>,
    key_fetches: std::sync::atomic::AtomicUsize,
}

struct Reply {
    status: u16,
    retry_after: Option<String>,
    body: Bytes,
}

/// The service could not be reached or did not answer in time: retryable.
fn transport<E>(_cause: E) -> Error {
    Error::Unavailable {
        status: 0,
        code: "service_unreachable".to_owned(),
        retry_after_s: None,
    }
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Client {
    /// A client for the service at `options.url` (`http://host:port`).
    pub fn new(options: ClientOptions) -> Result<Client, Error> {
        let uri: http::Uri = options
            .url
            .parse()
            .map_err(|e| Error::protocol(ProtocolCode::Transport, format!("bad url: {e}")))?;
        if uri.scheme_str() != Some("http") {
            return Err(Error::protocol(
                ProtocolCode::Transport,
                "the service URL must be http://host:port",
            ));
        }
        let authority = uri
            .authority()
            .map(|a| {
                if a.port().is_some() {
                    a.to_string()
                } else {
                    format!("{a}:80")
                }
            })
            .ok_or_else(|| Error::protocol(ProtocolCode::Transport, "no host in the url"))?;
        Ok(Client {
            authority,
            token: options.token,
            options: options.verify,
            keys: RwLock::new(None),
            key_fetches: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    /// How many times `/v1/keys` was fetched (observability; rotation tests).
    pub fn key_fetches(&self) -> usize {
        self.key_fetches.load(std::sync::atomic::Ordering::Relaxed)
    }

    async fn exchange(
        &self,
        request: http::Request<Full<Bytes>>,
        timeout: Duration,
    ) -> Result<Reply, Error> {
        let work = async {
            // The repository's clippy.toml reserves outbound connections to the service's
            // guarded fetch path; this kit connects only to the operator's own Portcullis.
            #[allow(clippy::disallowed_methods)]
            let stream = tokio::net::TcpStream::connect(&self.authority)
                .await
                .map_err(transport)?;
            let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .map_err(transport)?;
            tokio::spawn(conn);
            let response = sender.send_request(request).await.map_err(transport)?;
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get(http::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body = http_body_util::Limited::new(response.into_body(), MAX_REPLY_BYTES)
                .collect()
                .await
                .map_err(|e| Error::protocol(ProtocolCode::BadReply, e.to_string()))?
                .to_bytes();
            Ok(Reply {
                status,
                retry_after,
                body,
            })
        };
        tokio::time::timeout(timeout, work)
            .await
            .map_err(|_| Error::Unavailable {
                status: 0,
                code: "service_timeout".to_owned(),
                retry_after_s: None,
            })?
    }

    fn builder(&self, method: http::Method, path: &str) -> http::request::Builder {
        let mut b = http::Request::builder()
            .method(method)
            .uri(path)
            .header(http::header::HOST, &self.authority);
        if let Some(token) = &self.token {
            b = b.header(http::header::AUTHORIZATION, format!("Bearer {token}"));
        }
        b
    }

    /// Fetches `/v1/keys` (again) and replaces the cached key set.
    pub async fn refresh_keys(&self) -> Result<Arc<KeySet>, Error> {
        let request = self
            .builder(http::Method::GET, "/v1/keys")
            .body(Full::new(Bytes::new()))
            .map_err(|e| Error::protocol(ProtocolCode::Transport, e.to_string()))?;
        let reply = self
            .exchange(request, Duration::from_millis(DEFAULT_TIMEOUT_MS))
            .await?;
        if reply.status != 200 {
            return Err(Error::protocol(
                ProtocolCode::KeysUnavailable,
                format!("GET /v1/keys answered {}", reply.status),
            ));
        }
        let keys = Arc::new(KeySet::from_jwks_json(&reply.body)?);
        self.key_fetches
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        *self.keys.write().await = Some(keys.clone());
        Ok(keys)
    }

    async fn current_keys(&self) -> Result<Arc<KeySet>, Error> {
        if let Some(keys) = self.keys.read().await.clone() {
            return Ok(keys);
        }
        self.refresh_keys().await
    }

    /// Verifies a verdict JWS, refetching the keys once on an unknown `kid` (rotation).
    /// Returns the claims of any outcome.
    pub async fn verify_any(&self, jws: &str, request: &Request) -> Result<Claims, Error> {
        let keys = self.current_keys().await?;
        match verify_any(jws, &keys, request, &self.options, now_unix()) {
            Err(Error::Protocol {
                code: ProtocolCode::UnknownKid,
                ..
            }) => {
                let keys = self.refresh_keys().await?;
                verify_any(jws, &keys, request, &self.options, now_unix())
            }
            other => other,
        }
    }

    /// Asks the service and returns the verified claims of any outcome.
    pub async fn judge(&self, request: &Request) -> Result<Claims, Error> {
        let mut builder = self
            .builder(http::Method::POST, "/v1/fetch")
            .header(http::header::CONTENT_TYPE, "application/json");
        let mut timeout = Duration::from_millis(DEFAULT_TIMEOUT_MS);
        if let Some(ms) = request.deadline_ms {
            builder = builder.header(DEADLINE_HEADER, ms.to_string());
            timeout = Duration::from_millis(ms.saturating_add(DEADLINE_SLACK_MS));
        }
        let http_request = builder
            .body(Full::new(Bytes::from(request.body().to_string())))
            .map_err(|e| Error::protocol(ProtocolCode::Transport, e.to_string()))?;
        let reply = self.exchange(http_request, timeout).await?;
        let json: Option<serde_json::Value> = serde_json::from_slice(&reply.body).ok();
        let field = |name: &str| {
            json.as_ref()
                .and_then(|j| j.get(name))
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        };
        match reply.status {
            200 => {
                let jws = field("verdict").ok_or_else(|| {
                    Error::protocol(ProtocolCode::BadReply, "200 without a verdict")
                })?;
                self.verify_any(&jws, request).await
            }
            429 | 503 => Err(Error::Unavailable {
                status: reply.status,
                code: field("error").unwrap_or_else(|| {
                    if reply.status == 429 {
                        "rate_limited".to_owned()
                    } else {
                        "overloaded".to_owned()
                    }
                }),
                retry_after_s: json
                    .as_ref()
                    .and_then(|j| j.get("retry_after"))
                    .and_then(serde_json::Value::as_u64)
                    .or_else(|| {
                        reply
                            .retry_after
                            .as_deref()
                            .and_then(|v| v.trim().parse().ok())
                    }),
            }),
            status => Err(Error::Protocol {
                code: ProtocolCode::Refused,
                service_code: field("error"),
                status: Some(status),
                detail: field("detail").unwrap_or_default(),
            }),
        }
    }

    /// Asks the service and returns the verified claims of a `valid` verdict (`document`
    /// is the validated document), or a typed error with the problem codes.
    pub async fn fetch(&self, request: &Request) -> Result<Claims, Error> {
        outcome_result(self.judge(request).await?)
    }
}
