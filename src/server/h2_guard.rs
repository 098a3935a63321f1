//! The I/O half of the inbound scanners: a pass-through reader that feeds every inbound
//! byte to a [`FrameScanner`] and fails the read (so hyper closes the connection) once the
//! peer sends more h2 control frames in a second than the budget allows. On an HTTP/1.1
//! connection it feeds a [`FramingScanner`] instead and raises a shared flag when a head
//! carries both `Content-Length` and `Transfer-Encoding`. Writes pass untouched.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Instant;

use prometheus::IntCounter;
use tokio::io::{AsyncRead, ReadBuf};

use super::control_frames::{ControlBudget, FrameScanner};
use super::framing::FramingScanner;

/// An I/O object closed when its h2 peer floods control frames.
pub struct ControlFrameGuard<I> {
    inner: I,
    scanner: FrameScanner,
    budget: ControlBudget,
    tripped: bool,
    on_trip: IntCounter,
    framing: FramingScanner,
    conflict: Arc<AtomicBool>,
}

impl<I> ControlFrameGuard<I> {
    /// Allows `per_second` control frames; `on_trip` is incremented once if the cap is hit.
    pub fn new(inner: I, per_second: u32, on_trip: IntCounter) -> ControlFrameGuard<I> {
        ControlFrameGuard {
            inner,
            scanner: FrameScanner::new(),
            budget: ControlBudget::new(per_second, Instant::now()),
            tripped: false,
            on_trip,
            framing: FramingScanner::new(),
            conflict: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Set once an HTTP/1.1 head on this connection had both `Content-Length` and
    /// `Transfer-Encoding` (see [`super::framing`]).
    pub fn conflict_flag(&self) -> Arc<AtomicBool> {
        self.conflict.clone()
    }
}

fn flood() -> io::Error {
    io::Error::other("h2 control frame flood: connection closed")
}

impl<I: AsyncRead + Unpin> AsyncRead for ControlFrameGuard<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.tripped {
            return Poll::Ready(Err(flood()));
        }
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            let read = &buf.filled()[before..];
            if !this.scanner.is_h2() && !this.framing.conflict() && this.framing.feed(read) {
                this.conflict.store(true, Ordering::SeqCst);
            }
            if !this.scanner.is_h2_or_undecided() {
                return polled;
            }
            let control = this.scanner.feed(read);
            if !this.budget.spend(control, Instant::now()) {
                this.tripped = true;
                this.on_trip.inc();
                return Poll::Ready(Err(flood()));
            }
        }
        polled
    }
}

super::write_through::write_through!(ControlFrameGuard);

#[cfg(test)]
mod tests {
    use super::super::control_frames::H2_PREFACE;
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn ping() -> [u8; 17] {
        [0, 0, 8, 6, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8]
    }

    #[tokio::test]
    async fn a_ping_flood_fails_the_read_and_counts_once() {
        let (mut client, server) = tokio::io::duplex(1 << 16);
        let counter = IntCounter::new("t", "t").unwrap();
        let mut guarded = ControlFrameGuard::new(server, 5, counter.clone());
        let mut bytes = H2_PREFACE.to_vec();
        for _ in 0..6 {
            bytes.extend_from_slice(&ping());
        }
        client.write_all(&bytes).await.unwrap();
        let mut sink = vec![0u8; 4096];
        let err = guarded.read(&mut sink).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::Other);
        assert!(guarded.read(&mut sink).await.is_err());
        assert_eq!(counter.get(), 1);
    }

    #[tokio::test]
    async fn within_budget_passes_every_byte() {
        let (mut client, server) = tokio::io::duplex(1 << 16);
        let counter = IntCounter::new("t", "t").unwrap();
        let mut guarded = ControlFrameGuard::new(server, 5, counter.clone());
        let mut bytes = H2_PREFACE.to_vec();
        for _ in 0..5 {
            bytes.extend_from_slice(&ping());
        }
        client.write_all(&bytes).await.unwrap();
        let mut got = vec![0u8; bytes.len()];
        guarded.read_exact(&mut got).await.unwrap();
        assert_eq!(got, bytes);
        assert_eq!(counter.get(), 0);
    }
}
