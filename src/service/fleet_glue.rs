//! The service's calls into fleet mode (`src/fleet`), kept in one place so they can be
//! re-applied onto a rewritten core: each method is one seam point named in
//! `src/fleet/mod.rs`. With no `[fleet]` every method is a no-op returning "local".

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::limits::{Limit, Refusal};
use super::{FetchKey, Service, Settled};
use crate::fleet::envelope::OpenError;
use crate::fleet::{Acquired, FlightLock, HostLimit, question_id};

/// What the fleet said about a local cache miss.
pub(super) enum FleetStep {
    /// Another replica's judgement, already in the local cache.
    Shared(Arc<Settled>),
    /// This replica fetches and must hand the result to [`Service::fleet_finish`].
    Lead(FlightLock),
    /// No fleet, or Redis unavailable: fetch locally (local host limit).
    Local,
    /// The fleet-wide host limit refused the upstream fetch.
    Refused(Refusal),
}

/// The question's id: kind, URL, expectations and profile as canonical JSON, hashed.
fn id_of(key: &FetchKey) -> String {
    let canonical = serde_json::json!([
        key.kind,
        key.url,
        key.expect.resource,
        key.expect.issuer,
        key.profile
    ]);
    question_id(canonical.to_string().as_bytes())
}

impl Service {
    /// The fleet id of a question (tests and tools that inspect Redis).
    pub fn fleet_question_id(key: &FetchKey) -> String {
        id_of(key)
    }

    /// Seam 1 (lookup + flight): the shared cache, else the fleet-wide lock, else wait for
    /// the replica holding it (bounded by the whole-fetch deadline).
    /// `Lead` means the upstream fetch is already admitted by the fleet-wide host limit.
    pub(super) async fn fleet_acquire(&self, key: &FetchKey, host: &str) -> FleetStep {
        let Some(fleet) = &self.fleet else {
            return FleetStep::Local;
        };
        let wait = Duration::from_millis(self.config.limits.total_timeout_ms);
        let limit = HostLimit {
            name: host,
            per_s: self.config.rate.per_target_host_per_s,
            burst: self.config.rate.per_target_host_burst,
        };
        match fleet.acquire(&id_of(key), wait, Some(limit)).await {
            Acquired::Local => FleetStep::Local,
            Acquired::HostLimited(wait) => FleetStep::Refused(Refusal {
                limit: Limit::TargetHost,
                retry_after: wait.max(Duration::from_secs(1)),
            }),
            Acquired::Lead(lock) => FleetStep::Lead(lock),
            Acquired::Shared(entry) => {
                // The entry's MAC was checked by the fleet; its bytes are a `Settled` of
                // this format version (the namespace is versioned), else a miss.
                let Ok(settled) = serde_json::from_slice::<Settled>(&entry.payload) else {
                    fleet.reject(OpenError::Undecodable);
                    return FleetStep::Local;
                };
                let settled = Arc::new(settled);
                let left = entry.expires_unix.saturating_sub(super::unix_now());
                let now = Instant::now();
                if left > 0
                    && let Ok(mut cache) = self.cache.lock()
                {
                    let bytes =
                        key.heap_bytes() + settled.heap_bytes() + super::ENTRY_OVERHEAD_BYTES;
                    cache.insert(
                        key.clone(),
                        settled.clone(),
                        bytes,
                        now + Duration::from_secs(left),
                        now,
                    );
                }
                FleetStep::Shared(settled)
            }
        }
    }

    /// Seam 1 (store): share the leader's result, free the lock and wake the waiters, off
    /// the reply path. `None` (the fetch was refused before it ran) only frees the lock.
    pub(super) fn fleet_finish(
        &self,
        lock: FlightLock,
        settled: Option<&Settled>,
        cache_lifetime_s: u64,
    ) {
        let Some(fleet) = self.fleet.clone() else {
            return;
        };
        let expires = super::unix_now() + cache_lifetime_s;
        let payload = settled.and_then(|s| serde_json::to_vec(s).ok().map(|b| (b, expires)));
        tokio::spawn(async move {
            match payload {
                Some((bytes, expires)) => {
                    fleet.finish(lock, &bytes, expires, cache_lifetime_s).await
                }
                None => fleet.abandon(lock).await,
            }
        });
    }

    /// Seam 2 (rate): the fleet-wide decision for one caller request, `None` to use the
    /// local limiter.
    pub(super) async fn fleet_admit_caller(&self, caller: &str) -> Option<Result<(), Refusal>> {
        let fleet = self.fleet.as_ref()?;
        let rate = &self.config.rate;
        let decision = fleet
            .admit_leased(
                "caller",
                caller,
                rate.per_caller_per_s,
                rate.per_caller_burst,
            )
            .await?;
        Some(decision.map_err(|wait| Refusal {
            limit: Limit::Caller,
            retry_after: wait.max(Duration::from_secs(1)),
        }))
    }
}
