//! Fleet-wide rate limits: GCRA in one Lua script run atomically by Redis, with exactly
//! governor's semantics (the local limiter it replaces and falls back to), so a limit means
//! the same with and without `[fleet]`.
//!
//! governor 0.10: emission interval `T = 1 s / rate`, tolerance `tau = T × (burst − 1)`,
//! theoretical arrival time `tat` (absent: now). A cell at `now` is refused while
//! `now < tat − tau` (retry at `tat − tau`); otherwise `tat := max(tat, now) + T`.
//! Time comes from Redis (`TIME`), so replica clock skew does not matter.

/// The GCRA as a Lua function, shared by [`GCRA_SCRIPT`] and the fleet's acquire script
/// (which admits an upstream fetch in the same round trip as it takes the flight lock).
/// `gcra(key, T µs, tau µs, n)` grants as many of `n` cells as governor would admit one
/// after another at this instant (at least one, or none) and returns `{granted, wait_µs}`:
/// `{k, 0}` with `1 ≤ k ≤ n`, or `{0, wait}` with `wait ≥ 1`.
pub const GCRA_FUNCTION: &str = r"
local function gcra(key, interval, tolerance, wanted)
  interval = tonumber(interval)
  tolerance = tonumber(tolerance)
  wanted = tonumber(wanted)
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
  local tat = tonumber(redis.call('GET', key))
  if tat == nil then tat = now end
  local earliest = tat - tolerance
  if now < earliest then
    local wait = earliest - now
    if wait < 1 then wait = 1 end
    return {0, wait}
  end
  local base = math.max(tat, now)
  local granted = math.floor((now + tolerance - base) / interval) + 1
  if granted > wanted then granted = wanted end
  if granted < 1 then granted = 1 end
  local nxt = base + granted * interval
  redis.call('SET', key, string.format('%.0f', nxt), 'PX', math.ceil((nxt - now) / 1000) + 1)
  return {granted, 0}
end
";

/// The rate script: KEYS[1] limiter state; ARGV: `T` µs, `tau` µs, cells wanted.
pub fn gcra_script() -> String {
    format!("{GCRA_FUNCTION}\nreturn gcra(KEYS[1], ARGV[1], ARGV[2], ARGV[3])\n")
}

/// `T` and `tau` in µs for a rate and a burst, as governor derives them (0 counts as 1).
pub fn parameters(per_s: u32, burst: u32) -> (u64, u64) {
    let per_s = u64::from(per_s.max(1));
    let burst = if burst == 0 { per_s } else { u64::from(burst) };
    let interval = 1_000_000 / per_s;
    (interval.max(1), interval.max(1) * (burst - 1))
}

/// The script's decision in Rust, for tests: `Ok((granted, new_tat))` or `Err(wait_µs)`.
pub fn decide(
    tat: Option<u64>,
    now: u64,
    interval: u64,
    tolerance: u64,
    wanted: u64,
) -> Result<(u64, u64), u64> {
    let tat = tat.unwrap_or(now);
    let earliest = tat.saturating_sub(tolerance);
    if now < earliest {
        return Err((earliest - now).max(1));
    }
    let base = tat.max(now);
    let granted = ((now + tolerance).saturating_sub(base) / interval + 1).clamp(1, wanted.max(1));
    Ok((granted, base + granted * interval))
}

/// Cells a replica leases per fleet call for a per-caller limit: a tenth of a second's
/// worth (1 for slow limits, at most [`MAX_LEASE`]), so a busy caller costs one Redis
/// round trip per lease instead of per request. Leased cells are spent fleet-wide when
/// leased, so the fleet never exceeds the rate; a replica can hold back at most one lease.
pub fn lease_size(per_s: u32, burst: u32) -> u64 {
    (u64::from(per_s) / 10).clamp(1, MAX_LEASE.min(u64::from(burst.max(1))))
}

/// Largest lease.
pub const MAX_LEASE: u64 = 1_000;

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
                let ours = decide(tat, now, t, tau, 1);
                let theirs = gov.check().is_ok();
                assert_eq!(
                    ours.is_ok(),
                    theirs,
                    "rate {per_s} burst {burst} step {step}"
                );
                if let Ok((_, next)) = ours {
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
            tat = Some(decide(tat, 0, t, tau, 1).unwrap().1);
        }
        assert_eq!(decide(tat, 0, t, tau, 1), Err(200_000));
    }

    /// Leasing n cells grants exactly what n single checks would at that instant.
    #[test]
    fn a_lease_grants_what_single_cells_would() {
        let (t, tau) = parameters(100, 50);
        let mut single = None;
        let mut singles = 0;
        while let Ok((_, next)) = decide(single, 0, t, tau, 1) {
            single = Some(next);
            singles += 1;
        }
        assert_eq!(singles, 50);
        let (granted, tat) = decide(None, 0, t, tau, 1_000).unwrap();
        assert_eq!(granted, 50);
        assert_eq!(Some(tat), single);
        assert_eq!(decide(None, 0, t, tau, 7).unwrap().0, 7);
        assert_eq!(lease_size(100, 200), 10);
        assert_eq!(lease_size(5, 10), 1);
        assert_eq!(lease_size(1_000_000, 1_000_000), MAX_LEASE);
    }
}
