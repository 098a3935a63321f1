//! A deadline on a connection's first bytes.
//!
//! The server speaks HTTP/1.1 and h2c on one port, so it first reads enough bytes to tell
//! them apart (up to the 24-byte HTTP/2 preface). That sniffing has no timer of its own, and
//! hyper's `header_read_timeout` only starts once HTTP/1 parsing has begun: a client that
//! connects and sends nothing (or one byte) would hold a connection slot forever, and
//! `max_connections` such clients would lock every caller out. This wrapper fails the read
//! with `TimedOut` when the first [`FIRST_BYTES`] bytes have not arrived in time; after
//! that it is a plain pass-through and hyper's own timers take over.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, ReadBuf};
use tokio::time::Sleep;

/// Bytes that must arrive before the deadline: the length of the HTTP/2 connection preface,
/// the most the protocol sniffing reads.
pub const FIRST_BYTES: usize = 24;

/// An I/O object whose reads fail once `within` passes before [`FIRST_BYTES`] were read.
pub struct FirstBytesDeadline<I> {
    inner: I,
    /// `None` once enough bytes arrived.
    deadline: Option<Pin<Box<Sleep>>>,
    remaining: usize,
}

impl<I> FirstBytesDeadline<I> {
    /// Arms the deadline now.
    pub fn new(inner: I, within: Duration) -> FirstBytesDeadline<I> {
        FirstBytesDeadline {
            inner,
            deadline: Some(Box::pin(tokio::time::sleep(within))),
            remaining: FIRST_BYTES,
        }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for FirstBytesDeadline<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let read = buf.filled().len().saturating_sub(before);
                if this.deadline.is_some() {
                    this.remaining = this.remaining.saturating_sub(read);
                    if this.remaining == 0 {
                        this.deadline = None;
                    }
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                let expired = this
                    .deadline
                    .as_mut()
                    .is_some_and(|d| d.as_mut().poll(cx).is_ready());
                if expired {
                    Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "client sent too little within the header read timeout",
                    )))
                } else {
                    Poll::Pending
                }
            }
        }
    }
}

super::write_through::write_through!(FirstBytesDeadline);

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn silence_times_out() {
        let (client, server) = tokio::io::duplex(64);
        let mut guarded = FirstBytesDeadline::new(server, Duration::from_millis(50));
        let mut buf = [0u8; 8];
        let err = guarded.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        drop(client);
    }

    #[tokio::test]
    async fn enough_bytes_disarm_the_deadline() {
        let (mut client, server) = tokio::io::duplex(64);
        let mut guarded = FirstBytesDeadline::new(server, Duration::from_millis(50));
        client.write_all(&[b'x'; FIRST_BYTES]).await.unwrap();
        let mut buf = [0u8; FIRST_BYTES];
        guarded.read_exact(&mut buf).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        client.write_all(b"late").await.unwrap();
        let mut late = [0u8; 4];
        guarded.read_exact(&mut late).await.unwrap();
        assert_eq!(&late, b"late");
    }

    #[tokio::test]
    async fn a_trickle_does_not_extend_it() {
        let (mut client, server) = tokio::io::duplex(64);
        let mut guarded = FirstBytesDeadline::new(server, Duration::from_millis(100));
        let writer = tokio::spawn(async move {
            for _ in 0..20 {
                if client.write_all(b"P").await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        let mut buf = [0u8; 1];
        let mut result = Ok(());
        for _ in 0..FIRST_BYTES {
            if let Err(e) = guarded.read_exact(&mut buf).await {
                result = Err(e);
                break;
            }
        }
        assert_eq!(result.unwrap_err().kind(), io::ErrorKind::TimedOut);
        writer.abort();
    }
}
