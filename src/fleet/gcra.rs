//! Fleet-wide rate limits: GCRA in one Lua script run atomically by Redis, with exactly
//! governor's semantics (the local limiter it replaces and falls back to), so a limit means
//! the same with and without `[fleet]`.
//!
//! governor 0.10: emission interval `T = 1 s / rate`, tolerance `tau = T × (burst − 1)`,
//! theoretical arrival time `tat` (absent: now). A cell at `now` is refused while
//! `now < tat − tau` (retry at `tat − tau`); otherwise `tat := max(tat, now) + T`.
//! Time comes from Redis (`TIME`), so replica clock skew does not matter.

/// The script. KEYS[1]: limiter state; ARGV[1]: `T` in µs; ARGV[2]: `tau` in µs.
/// Returns 0 when allowed, else the µs to wait (≥ 1).
pub const GCRA_SCRIPT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil then tat = now end
local earliest = tat - tolerance
if now < earliest then
  local wait = earliest - now
  if wait < 1 then wait = 1 end
  return wait
end
local nxt = math.max(tat, now) + interval
redis.call('SET', KEYS[1], string.format('%.0f', nxt), 'PX', math.ceil((nxt - now) / 1000) + 1)
return 0
";

/// `T` and `tau` in µs for a rate and a burst, as governor derives them (0 counts as 1).
pub fn parameters(per_s: u32, burst: u32) -> (u64, u64) {
    let per_s = u64::from(per_s.max(1));
    let burst = if burst == 0 { per_s } else { u64::from(burst) };
    let interval = 1_000_000 / per_s;
    (interval.max(1), interval.max(1) * (burst - 1))
}

/// The script's decision in Rust, for tests: `Ok(new_tat)` or `Err(wait_µs)`.
pub fn decide(tat: Option<u64>, now: u64, interval: u64, tolerance: u64) -> Result<u64, u64> {
    let tat = tat.unwrap_or(now);
    let earliest = tat.saturating_sub(tolerance);
    if now < earliest {
        return Err((earliest - now).max(1));
    }
    Ok(tat.max(now) + interval)
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;
    use governor::{Quota, RateLimiter};
    use std::num::NonZeroU32;
    use std::time::Duration;

    /// The model admits exactly what governor admits, cell by cell, over a fixed schedule.
    #[test]
    fn decisions_match_governor() {
        for (per_s, burst) in [(5u32, 10u32), (1, 1), (100, 200), (4, 3)] {
            let clock = FakeRelativeClock::default();
            let quota = Quota::per_second(NonZeroU32::new(per_s).unwrap())
                .allow_burst(NonZeroU32::new(burst).unwrap());
            let gov = RateLimiter::direct_with_clock(quota, clock.clone());
            let (t, tau) = parameters(per_s, burst);
            let mut tat = None;
            let mut now = 0u64;
            for step in 0..2_000u64 {
                let ours = decide(tat, now, t, tau);
                let theirs = gov.check().is_ok();
                assert_eq!(
                    ours.is_ok(),
                    theirs,
                    "rate {per_s} burst {burst} step {step}"
                );
                if let Ok(next) = ours {
                    tat = Some(next);
                }
                let dt = (step * 7_919) % 97_000;
                now += dt;
                clock.advance(Duration::from_micros(dt));
            }
        }
    }

    #[test]
    fn burst_then_wait() {
        let (t, tau) = parameters(5, 10);
        let mut tat = None;
        for _ in 0..10 {
            tat = Some(decide(tat, 0, t, tau).unwrap());
        }
        assert_eq!(decide(tat, 0, t, tau), Err(200_000));
    }
}
