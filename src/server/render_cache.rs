//! `/metrics` rendered at most once per interval.
//!
//! Rendering walks the whole registry and allocates the ~30 KB text. Rendered per request,
//! a peer opening many streams (or connections) of `GET /metrics` multiplies that cost and,
//! with responses it never reads, the memory. Here every scrape within an interval shares
//! one `Bytes` (a reference count, no copy); concurrent scrapes of a stale text wait for one
//! rendering instead of each doing their own.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;

/// The last rendering and when it was made.
#[derive(Debug)]
pub struct RenderCache {
    interval: Duration,
    last: Mutex<Option<(Instant, Bytes)>>,
}

impl RenderCache {
    /// Renders at most once per `interval`.
    pub fn new(interval: Duration) -> RenderCache {
        RenderCache {
            interval,
            last: Mutex::new(None),
        }
    }

    /// The text for `now`: the shared last rendering if it is younger than the interval,
    /// else a fresh one from `render`.
    pub fn get(&self, now: Instant, render: impl FnOnce() -> Bytes) -> Bytes {
        let Ok(mut last) = self.last.lock() else {
            return render();
        };
        if let Some((at, text)) = last.as_ref()
            && now.saturating_duration_since(*at) < self.interval
        {
            return text.clone();
        }
        let text = render();
        *last = Some((now, text.clone()));
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn renders_once_per_interval() {
        let cache = RenderCache::new(Duration::from_secs(1));
        let renders = Cell::new(0u32);
        let render = || {
            renders.set(renders.get() + 1);
            Bytes::from(format!("render {}", renders.get()))
        };
        let t0 = Instant::now();
        let a = cache.get(t0, render);
        let b = cache.get(t0 + Duration::from_millis(999), render);
        assert_eq!(renders.get(), 1);
        assert_eq!(a, b);
        assert_eq!(a.as_ptr(), b.as_ptr(), "shared, not copied");
        let c = cache.get(t0 + Duration::from_millis(1_000), render);
        assert_eq!(renders.get(), 2);
        assert_eq!(c, Bytes::from_static(b"render 2"));
    }
}
