//! The tunnel itself: bytes both ways between client and target, under an idle timeout, a
//! maximum lifetime and a byte cap per direction. Generic over the streams so tests can run
//! it over in-memory pipes.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Bytes read per step; also the largest overshoot a cap check has to trim.
const CHUNK: usize = 16 * 1024;

/// Caps of one tunnel.
#[derive(Clone, Copy, Debug)]
pub struct RelayCaps {
    /// Cut after this long with no byte in either direction.
    pub idle: Duration,
    /// Cut after this long, whatever is happening.
    pub lifetime: Duration,
    /// Bytes client → target.
    pub max_up: u64,
    /// Bytes target → client.
    pub max_down: u64,
}

/// How a tunnel ended; a bounded metric label and the audit `ended` field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TunnelEnd {
    /// Both sides closed.
    Closed,
    /// No byte either way for the idle timeout.
    IdleTimeout,
    /// The maximum lifetime passed.
    LifetimeExceeded,
    /// The client sent more than `max_bytes_up`.
    BytesExceededUp,
    /// The target sent more than `max_bytes_down`.
    BytesExceededDown,
    /// A read or write failed (reset, broken pipe).
    IoError,
}

impl TunnelEnd {
    /// Every end, for metric pre-registration.
    pub const ALL: &'static [TunnelEnd] = &[
        TunnelEnd::Closed,
        TunnelEnd::IdleTimeout,
        TunnelEnd::LifetimeExceeded,
        TunnelEnd::BytesExceededUp,
        TunnelEnd::BytesExceededDown,
        TunnelEnd::IoError,
    ];

    /// The label / audit value.
    pub fn as_str(self) -> &'static str {
        match self {
            TunnelEnd::Closed => "closed",
            TunnelEnd::IdleTimeout => "idle_timeout",
            TunnelEnd::LifetimeExceeded => "lifetime_exceeded",
            TunnelEnd::BytesExceededUp => "bytes_exceeded_up",
            TunnelEnd::BytesExceededDown => "bytes_exceeded_down",
            TunnelEnd::IoError => "io_error",
        }
    }
}

/// What a finished tunnel carried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RelayReport {
    /// Bytes client → target.
    pub bytes_up: u64,
    /// Bytes target → client.
    pub bytes_down: u64,
    /// How it ended.
    pub end: TunnelEnd,
}

/// Live byte counters of one tunnel (read by the relay's watchdog and by metrics).
#[derive(Default)]
struct Activity {
    /// Milliseconds since the tunnel started, at the last byte moved either way.
    last_ms: AtomicU64,
    up: AtomicU64,
    down: AtomicU64,
}

enum PumpEnd {
    Eof,
    Cap,
    Io,
}

async fn pump<R, W>(
    mut from: R,
    mut to: W,
    cap: u64,
    count: &AtomicU64,
    activity: &Activity,
    started: Instant,
) -> PumpEnd
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) => {
                let _ = to.shutdown().await;
                return PumpEnd::Eof;
            }
            Ok(n) => n,
            Err(_) => return PumpEnd::Io,
        };
        let sent = count.load(Ordering::Relaxed);
        let room = cap.saturating_sub(sent);
        let take = usize::try_from(room).unwrap_or(usize::MAX).min(n);
        if take > 0 {
            if to
                .write_all(buf.get(..take).unwrap_or_default())
                .await
                .is_err()
            {
                return PumpEnd::Io;
            }
            count.fetch_add(take as u64, Ordering::Relaxed);
            let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            activity.last_ms.store(ms, Ordering::Relaxed);
        }
        if take < n {
            let _ = to.flush().await;
            return PumpEnd::Cap;
        }
    }
}

/// Moves bytes both ways until both sides close or a cap cuts the tunnel; the streams are
/// dropped (closed) on return.
pub async fn relay<C, T>(client: C, target: T, caps: RelayCaps) -> RelayReport
where
    C: AsyncRead + AsyncWrite + Unpin,
    T: AsyncRead + AsyncWrite + Unpin,
{
    let started = Instant::now();
    let activity = Arc::new(Activity::default());
    let (client_r, client_w) = tokio::io::split(client);
    let (target_r, target_w) = tokio::io::split(target);
    let up = pump(
        client_r,
        target_w,
        caps.max_up,
        &activity.up,
        &activity,
        started,
    );
    let down = pump(
        target_r,
        client_w,
        caps.max_down,
        &activity.down,
        &activity,
        started,
    );
    tokio::pin!(up, down);
    let lifetime = tokio::time::sleep(caps.lifetime);
    tokio::pin!(lifetime);
    let tick = (caps.idle / 4).clamp(Duration::from_millis(5), Duration::from_secs(1));
    let mut ticker = tokio::time::interval(tick);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let (mut up_done, mut down_done) = (false, false);
    let end = loop {
        tokio::select! {
            e = &mut up, if !up_done => match e {
                PumpEnd::Eof => { up_done = true; if down_done { break TunnelEnd::Closed; } }
                PumpEnd::Cap => break TunnelEnd::BytesExceededUp,
                PumpEnd::Io => break TunnelEnd::IoError,
            },
            e = &mut down, if !down_done => match e {
                PumpEnd::Eof => { down_done = true; if up_done { break TunnelEnd::Closed; } }
                PumpEnd::Cap => break TunnelEnd::BytesExceededDown,
                PumpEnd::Io => break TunnelEnd::IoError,
            },
            () = &mut lifetime => break TunnelEnd::LifetimeExceeded,
            _ = ticker.tick() => {
                let last = Duration::from_millis(activity.last_ms.load(Ordering::Relaxed));
                if started.elapsed().saturating_sub(last) >= caps.idle {
                    break TunnelEnd::IdleTimeout;
                }
            }
        }
    };
    RelayReport {
        bytes_up: activity.up.load(Ordering::Relaxed),
        bytes_down: activity.down.load(Ordering::Relaxed),
        end,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::duplex;

    fn caps() -> RelayCaps {
        RelayCaps {
            idle: Duration::from_millis(200),
            lifetime: Duration::from_secs(5),
            max_up: 1_000,
            max_down: 1_000,
        }
    }

    #[tokio::test]
    async fn bytes_flow_both_ways_and_close_is_clean() {
        let (client, mut client_peer) = duplex(4096);
        let (target, mut target_peer) = duplex(4096);
        let task = tokio::spawn(relay(client, target, caps()));
        client_peer.write_all(b"hello").await.unwrap();
        let mut got = [0u8; 5];
        target_peer.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"hello");
        target_peer.write_all(b"world!").await.unwrap();
        let mut got = [0u8; 6];
        client_peer.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"world!");
        drop(client_peer);
        drop(target_peer);
        let report = task.await.unwrap();
        assert_eq!(report.end, TunnelEnd::Closed);
        assert_eq!((report.bytes_up, report.bytes_down), (5, 6));
    }

    #[tokio::test]
    async fn byte_cap_cuts_at_exactly_the_cap() {
        let (client, _client_peer) = duplex(8192);
        let (target, mut target_peer) = duplex(8192);
        let task = tokio::spawn(relay(client, target, caps()));
        target_peer.write_all(&[7u8; 3000]).await.unwrap();
        let report = task.await.unwrap();
        assert_eq!(report.end, TunnelEnd::BytesExceededDown);
        assert_eq!(report.bytes_down, 1_000);
    }

    #[tokio::test]
    async fn idle_and_lifetime_cut() {
        let (client, _cp) = duplex(64);
        let (target, _tp) = duplex(64);
        let report = relay(client, target, caps()).await;
        assert_eq!(report.end, TunnelEnd::IdleTimeout);

        let (client, mut cp) = duplex(64);
        let (target, mut tp) = duplex(64);
        let mut short = caps();
        short.lifetime = Duration::from_millis(300);
        short.idle = Duration::from_secs(5);
        let task = tokio::spawn(relay(client, target, short));
        // Keep it busy so only the lifetime can end it.
        for _ in 0..100 {
            if cp.write_all(b"x").await.is_err() {
                break;
            }
            let mut b = [0u8; 1];
            if tp.read_exact(&mut b).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(task.await.unwrap().end, TunnelEnd::LifetimeExceeded);
    }
}
