//! The API's response body: shared `Bytes` handed out in chunks, holding its
//! [`Charge`](super::budget::Charge) until the transport has taken the last byte.
//!
//! Chunking matters for h2: hyper asks the body for more only when the stream has send
//! capacity (flow-control window), so a body larger than the window stays *here*, charged,
//! instead of moving into h2's unbounded send queue. The end of the body is reported by a
//! separate poll after the last chunk (not with it), so the charge is released only once
//! hyper got capacity again, i.e. once the last chunk has been sent within the window.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};

use super::budget::Charge;

/// Largest chunk handed to the transport at once (the default h2 frame size).
pub const CHUNK: usize = 16 * 1024;

/// A response body of known length.
#[derive(Debug)]
pub struct ApiBody {
    rest: Bytes,
    charge: Option<Charge>,
    shared: bool,
}

impl ApiBody {
    /// A body that holds no charge (small, shared refusals).
    pub fn uncharged(bytes: Bytes) -> ApiBody {
        ApiBody {
            rest: bytes,
            charge: None,
            shared: false,
        }
    }

    /// A body whose bytes are shared by every response that carries them (static texts,
    /// the cached `/metrics` rendering, the JWKS): holding it costs a reference count, not
    /// its length, so it is not charged to the pending budget.
    pub fn shared(bytes: Bytes) -> ApiBody {
        ApiBody {
            rest: bytes,
            charge: None,
            shared: true,
        }
    }

    /// Whether this body is shared (see [`ApiBody::shared`]).
    pub fn is_shared(&self) -> bool {
        self.shared
    }

    /// The body's length.
    pub fn len(&self) -> usize {
        self.rest.len()
    }

    /// Whether the body is empty.
    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// Attaches the charge released when the body is sent or dropped.
    pub fn charged(mut self, charge: Charge) -> ApiBody {
        self.charge = Some(charge);
        self
    }
}

impl Body for ApiBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        if this.rest.is_empty() {
            this.charge = None;
            return Poll::Ready(None);
        }
        let take = this.rest.len().min(CHUNK);
        Poll::Ready(Some(Ok(Frame::data(this.rest.split_to(take)))))
    }

    fn is_end_stream(&self) -> bool {
        self.rest.is_empty() && self.charge.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.rest.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::super::budget::ByteBudget;
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn yields_every_byte_in_chunks_then_releases() {
        let global = ByteBudget::new(1 << 20);
        let conn = ByteBudget::new(1 << 20);
        let gauge = prometheus::IntGauge::new("g", "g").unwrap();
        let data = Bytes::from(vec![7u8; CHUNK * 2 + 5]);
        let charge = Charge::take(&global, &conn, &gauge, data.len()).unwrap();
        let mut body = ApiBody::uncharged(data.clone()).charged(charge);
        let mut sizes = Vec::new();
        let mut got = Vec::new();
        while let Some(frame) = body.frame().await {
            let chunk = frame.unwrap().into_data().unwrap();
            sizes.push(chunk.len());
            got.extend_from_slice(&chunk);
            assert_eq!(global.used(), data.len(), "held until the end");
        }
        assert_eq!(sizes, vec![CHUNK, CHUNK, 5]);
        assert_eq!(got, data.to_vec());
        assert_eq!((global.used(), conn.used(), gauge.get()), (0, 0, 0));
        assert!(body.is_end_stream());
    }

    #[test]
    fn dropping_releases() {
        let global = ByteBudget::new(100);
        let conn = ByteBudget::new(100);
        let gauge = prometheus::IntGauge::new("g", "g").unwrap();
        let charge = Charge::take(&global, &conn, &gauge, 10).unwrap();
        let body = ApiBody::uncharged(Bytes::from_static(b"0123456789")).charged(charge);
        assert!(!body.is_end_stream());
        drop(body);
        assert_eq!(global.used(), 0);
    }
}
