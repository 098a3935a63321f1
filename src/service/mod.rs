//! The service core: admission (rate limits, concurrency), the verdict cache and single
//! flight, tying fetch → documents → verdict together for the API server.
//!
//! Layers, outermost first, and why each exists:
//! 1. caller rate limit — one noisy caller cannot starve the others;
//! 2. cache — repeated questions never reach the origin (it keeps [`Settled`] text, and
//!    every answer is signed fresh: its own `iat` and `jti`);
//! 3. single flight — identical concurrent questions share one fetch, and the caller's
//!    deadline bounds the wait (a signed `deadline_exceeded` verdict beats silence);
//! 4. URL rules — a blocked URL is answered at once and costs no upstream slot;
//! 5. target-host rate limit — the service can never be used to flood one site;
//! 6. fetch slots and queue bound — bounded upstream concurrency and memory.

pub mod admission;
pub mod cache;
pub mod coalesce;
mod fleet_glue;
/// The admission module under its former name (the server and older tests use it).
pub use admission as limits;
pub mod settled;
pub mod ttl;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use crate::config::Config;
use crate::fetch::Fetcher;
use crate::judge::{self, Judgement};
use crate::kind::{Kind, Outcome};
use crate::policy::TargetHost;
use crate::problem::Problem;
use crate::request::{FetchApiRequest, FetchRequest};
use crate::telemetry::{AuditFacts, AuditHead, Telemetry};
use crate::verdict::{
    AnswerHead, JudgedClaims, KeyRing, new_jti, reply_body, splice_json, splice_payload,
};
use cache::{Lookup, VerdictCache};
use coalesce::{Role, SingleFlight};
use limits::{Admission, Refusal};
pub use settled::{ENTRY_OVERHEAD_BYTES, Settled};

/// The cache and single-flight key, defined with the request it comes from.
pub use crate::request::FetchKey;

/// Why a request got no verdict: the API's one refusal enum (`crate::refusal`); a
/// failed signature is `Refused::SigningFailed`, answered 500 and never cached.
pub use crate::refusal::{Refused, SIGNING_FAILED};

/// Time kept back from the caller's deadline for signing and writing the answer, so the
/// deadline verdict arrives before the deadline rather than at it.
pub const DEADLINE_MARGIN: Duration = Duration::from_millis(10);

type Produced = Result<Arc<Settled>, Refused>;

/// The running service.
pub struct Service {
    fetcher: Fetcher,
    config: Arc<Config>,
    keys: KeyRing,
    jwks_json: Bytes,
    cache: Mutex<VerdictCache<FetchKey, Arc<Settled>>>,
    flights: SingleFlight<FetchKey, Produced>,
    admission: Admission,
    telemetry: Arc<Telemetry>,
    /// Fleet mode (issue 16); `None` without `[fleet]`. Seam calls: `fleet_glue.rs`.
    fleet: Option<Arc<crate::fleet::Fleet>>,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Service {
    /// Assembles the service.
    pub fn new(
        fetcher: Fetcher,
        config: Arc<Config>,
        keys: KeyRing,
        telemetry: Arc<Telemetry>,
    ) -> Service {
        let jwks_json = Bytes::from(serde_json::to_vec(&keys.jwks()).unwrap_or_default());
        Service {
            cache: Mutex::new(VerdictCache::new(
                config.cache.max_entries,
                config.cache.max_bytes,
            )),
            flights: SingleFlight::default(),
            admission: Admission::new(&config.rate, &config.limits),
            fetcher,
            config,
            keys,
            jwks_json,
            telemetry,
            fleet: None,
        }
    }

    /// Joins a fleet (built by `assemble` from `[fleet]`).
    pub fn with_fleet(mut self, fleet: Option<Arc<crate::fleet::Fleet>>) -> Service {
        self.fleet = fleet;
        self
    }

    /// The fleet connection, if any (tests and tools).
    pub fn fleet(&self) -> Option<&Arc<crate::fleet::Fleet>> {
        self.fleet.as_ref()
    }

    /// The guarded fetcher, shared with the CONNECT proxy so both doors use one resolver,
    /// one policy and one connector.
    pub fn fetcher(&self) -> &Fetcher {
        &self.fetcher
    }

    /// The shared telemetry (registry, audit sink, metric handles), for the CONNECT proxy
    /// and the API server's own counters.
    pub fn telemetry(&self) -> &Arc<Telemetry> {
        &self.telemetry
    }

    /// The public JWKS, serialized once.
    pub fn jwks_json(&self) -> Bytes {
        // FLEET SEAM 3 (keys): local keys plus every live fleet key.
        match &self.fleet {
            Some(fleet) => fleet.jwks_json(),
            None => self.jwks_json.clone(),
        }
    }

    /// The Prometheus exposition text.
    pub fn metrics_text(&self) -> String {
        if let Ok(cache) = self.cache.lock() {
            self.telemetry.observe_cache(cache.stats());
        }
        self.telemetry.observe_queue(self.admission.waiting());
        let mut text = self.telemetry.render();
        // FLEET SEAM 4 (metrics).
        if let Some(fleet) = &self.fleet {
            text.push_str(&fleet.metrics_text());
        }
        text
    }

    /// Records a request refused before any verdict (bad auth, bad body, a limit), with
    /// the URL and kind when the body was parsed that far, so an operator can tell which
    /// client was throttled.
    pub fn audit_refusal(
        &self,
        caller: Option<&str>,
        status: u16,
        error: &str,
        request: Option<(&str, Kind)>,
    ) {
        self.telemetry
            .audit(|| crate::telemetry::RefusalRecord::new(caller, status, error, request));
    }

    /// Layer 1: the caller's request rate.
    pub async fn admit_caller(&self, caller: &str) -> Result<(), Refusal> {
        // FLEET SEAM 2 (rate): fleet-wide when Redis answers, else the local limiter.
        // Boxed (as every Redis round trip here): a request's future is sized by its
        // largest await, and the fleet's client futures are large.
        let decision = match Box::pin(self.fleet_admit_caller(caller)).await {
            Some(decision) => decision,
            None => self.admission.admit_caller(caller),
        };
        decision.inspect_err(|r| self.telemetry.rate_limited(r.scope()))
    }

    /// The caller's deadline as an instant: `deadline_ms` from `received`, clamped to
    /// `[limits] max_deadline_ms` (which is also the deadline of a request stating none).
    pub fn deadline(&self, deadline_ms: Option<u64>, received: Instant) -> Instant {
        let max = self.config.limits.max_deadline_ms;
        let ms = deadline_ms.unwrap_or(max).min(max);
        received + Duration::from_millis(ms)
    }

    /// Resolves a parsed request body once, under this service's config: the default
    /// `[documents] profile` and the caller's deadline clamped from `received`.
    pub fn resolve(&self, request: FetchApiRequest, received: Instant) -> FetchRequest {
        let deadline = self.deadline(request.deadline_ms, received);
        request.resolve(self.config.documents.profile, deadline)
    }

    /// Answers one fetch request with a freshly signed verdict (the JSON reply body).
    /// `received` is when the request arrived; the caller's deadline counts from it.
    pub async fn verdict(
        self: &Arc<Self>,
        caller: &str,
        request: FetchRequest,
        received: Instant,
    ) -> Result<Bytes, Refused> {
        let FetchRequest { key, deadline } = request;
        let cached = self
            .cache
            .lock()
            .ok()
            .map(|mut c| c.get(&key, Instant::now()));
        if let Some(Lookup::Hit(settled)) = cached {
            self.telemetry.cache_hit();
            return self.answer(caller, &settled, true);
        }
        self.telemetry.cache_miss();
        let flight = async {
            let (mut produced, role) = self.fly(&key, caller).await;
            if role == Role::Joined
                && let Some(Err(Refused::Limited(refusal))) = &produced
                && refusal.is_caller_scoped()
            {
                // Refused by the *leader's* own budget or queue: this caller has its own,
                // so one caller cannot make another's requests fail by leading.
                produced = self.fly(&key, caller).await.0;
            }
            (produced, role)
        };
        let wait_until = deadline
            .checked_sub(DEADLINE_MARGIN)
            .unwrap_or(deadline)
            .max(Instant::now());
        let settled = match tokio::time::timeout_at(wait_until.into(), flight).await {
            Err(_) => {
                // The work (if this caller led it) goes on for the others and the cache.
                let ms = deadline.saturating_duration_since(received).as_millis();
                Arc::new(self.deadline_settled(&key, ms)?)
            }
            Ok((produced, role)) => {
                if role == Role::Joined {
                    self.telemetry.single_flight_join();
                }
                match produced {
                    Some(produced) => produced?,
                    None => {
                        return Err(Refused::Limited(Refusal::soon(limits::Limit::Overloaded)));
                    }
                }
            }
        };
        self.answer(caller, &settled, false)
    }

    /// Runs (or joins) the single flight for `key`; a new flight is charged to `caller`.
    async fn fly(self: &Arc<Self>, key: &FetchKey, caller: &str) -> (Option<Produced>, Role) {
        let this = self.clone();
        let flight_key = key.clone();
        let leader = caller.to_owned();
        self.flights
            .run(key.clone(), move || async move {
                this.produce(flight_key, &leader).await
            })
            .await
    }

    /// Signs one answer: a fresh head (`iss, aud, iat, exp, jti, cache`) spliced before the
    /// settled claims text; `{"verdict": JWS, "claims": payload}` built without reparsing.
    fn answer(&self, caller: &str, settled: &Settled, cache_hit: bool) -> Result<Bytes, Refused> {
        let now = unix_now();
        let jti = new_jti(&mut rand::thread_rng());
        let head = AnswerHead {
            iss: &self.config.signing.issuer,
            aud: caller,
            iat: now,
            exp: now.saturating_add(self.config.signing.trust_s),
            jti: &jti,
            cache: ttl::aged(settled.cache, settled.fetched_at, now),
        };
        let (jws, payload) = sign_answer(&self.keys, &head, &settled.claims)?;
        self.telemetry.verdict_signed();
        let body = reply_body(&jws, &payload);
        // One fresh id per answered request (made only when an audit sink exists), next to
        // the verdict's `jti` so the audit line joins the verdict the caller holds.
        self.telemetry.audit_line(|| {
            let head = AuditHead::new(new_jti(&mut rand::thread_rng()), &jti, caller, cache_hit);
            splice_json(&head, &settled.audit).ok()
        });
        Ok(Bytes::from(body))
    }

    /// The compact, shareable form of a judgement.
    fn settle(&self, key: &FetchKey, j: &Judgement) -> Result<Settled, Refused> {
        let failed = |e: serde_json::Error| {
            tracing::error!(error = %e, "serializing verdict claims failed");
            Refused::SigningFailed
        };
        let expect = if key.expect.is_empty() {
            None
        } else {
            Some(serde_json::to_value(&key.expect).map_err(failed)?)
        };
        let fetched = !j.hops.is_empty();
        let claims = JudgedClaims {
            url: &key.url,
            kind: key.kind,
            profile: Some(key.profile),
            outcome: j.outcome,
            problems: &j.problems,
            fetch: fetched.then_some(&j.facts),
            sha256: j.sha256.as_deref(),
            document: j.document.as_ref(),
            expect: expect.as_ref(),
        }
        .to_text()
        .map_err(failed)?;
        let audit = if self.telemetry.auditing() {
            AuditFacts::new(&key.url, key.kind, j).to_text()
        } else {
            String::new()
        };
        Ok(Settled {
            outcome: j.outcome,
            fetched_at: if fetched { j.facts.fetched_at } else { 0 },
            cache: ttl::document_cache(j.outcome, &j.cache, &self.config.cache),
            claims,
            audit,
        })
    }

    /// The verdict for a caller whose deadline ran out: `unreachable`, `deadline_exceeded`.
    /// Never cached (another caller's deadline may be longer).
    fn deadline_settled(&self, key: &FetchKey, ms: u128) -> Result<Settled, Refused> {
        let problem = Problem::error(
            crate::fetch::codes::DEADLINE_EXCEEDED,
            format!("no answer within the caller's deadline of {ms} ms"),
        );
        let mut j = judge::refused_before_fetch(&key.url, vec![problem]);
        j.outcome = Outcome::Unreachable;
        self.settle(key, &j)
    }

    /// Layers 4–6 for a cache miss; runs once per key however many callers wait. The
    /// host budgets and the fetch slot are charged to `caller`, the one that started it.
    async fn produce(&self, key: FetchKey, caller: &str) -> Produced {
        let policy = self.fetcher.policy();
        let mut flight_lock = None;
        // The kind's pre-check and the URL rules, once each: the checked URL goes on to the
        // fetcher, which does not check it again.
        let pre = judge::precheck(&key, policy, &self.config);
        let judgement = if crate::problem::any_error(&pre) {
            judge::refused_before_fetch(&key.url, pre)
        } else {
            match policy.check_url(&key.url) {
                Err(problems) => judge::refused_before_fetch(&key.url, problems),
                Ok(safe) => {
                    let host = match safe.host() {
                        TargetHost::Domain(name) => name.clone(),
                        TargetHost::Ip(ip) => ip.ip().to_string(),
                    };
                    // FLEET SEAM 1 (lookup + flight): another replica's result, or the
                    // fleet-wide lock for this question (it comes with the fleet-wide host
                    // ceiling, same round trip), or local. The local budgets apply as well.
                    let admitted = match Box::pin(self.fleet_acquire(&key, &host)).await {
                        fleet_glue::FleetStep::Shared(settled) => return Ok(settled),
                        fleet_glue::FleetStep::Refused(refusal) => Err(refusal),
                        fleet_glue::FleetStep::Lead(lock) => {
                            flight_lock = Some(lock);
                            self.admission.admit_target_host(caller, &host)
                        }
                        fleet_glue::FleetStep::Local => {
                            self.admission.admit_target_host(caller, &host)
                        }
                    };
                    let slot = match admitted {
                        Ok(()) => self.admission.fetch_slot(caller).await,
                        Err(refusal) => Err(refusal),
                    };
                    let slot = match slot {
                        Ok(slot) => slot,
                        Err(refusal) => {
                            self.telemetry.rate_limited(refusal.scope());
                            if let Some(lock) = flight_lock.take() {
                                self.fleet_finish(lock, None, 0);
                            }
                            return Err(refusal.into());
                        }
                    };
                    self.telemetry.queue_wait(slot.waited);
                    let _in_flight = self.telemetry.fetch_started();
                    // Every later hop's host is charged to the same caller (redirect fan-in).
                    let hops = self.admission.hop_gate(caller);
                    let fetcher = self.fetcher.with_hop_gate(hops.clone());
                    // Boxed: the fetch's state machine (TLS, hyper, redirects) is allocated
                    // only once a slot is granted, so each of the up to `max_queued`
                    // waiting flights holds a small future, not a fetch-sized one.
                    let judgement =
                        Box::pin(judge::judge_checked(&fetcher, &self.config, &key, safe)).await;
                    if let Some(refusal) = hops.refused() {
                        self.telemetry.rate_limited(refusal.scope());
                        if let Some(lock) = flight_lock.take() {
                            self.fleet_finish(lock, None, 0);
                        }
                        return Err(refusal.into());
                    }
                    judgement
                }
            }
        };
        self.telemetry.fetch_finished(key.kind, &judgement);
        let lifetime = ttl::internal_lifetime(
            key.kind,
            judgement.outcome,
            &judgement.cache,
            &self.config.cache,
        );
        let settled = match self.settle(&key, &judgement) {
            Ok(settled) => Arc::new(settled),
            Err(e) => {
                if let Some(lock) = flight_lock.take() {
                    self.fleet_finish(lock, None, 0);
                }
                return Err(e);
            }
        };
        drop(judgement);
        let now = Instant::now();
        if lifetime > 0
            && let Ok(mut cache) = self.cache.lock()
        {
            let bytes = key.heap_bytes() + settled.heap_bytes() + ENTRY_OVERHEAD_BYTES;
            cache.insert(
                key,
                settled.clone(),
                bytes,
                now + Duration::from_secs(lifetime),
                now,
            );
        }
        // FLEET SEAM 1 (store): share the result with the fleet and wake its waiters.
        if let Some(lock) = flight_lock {
            self.fleet_finish(lock, Some(&settled), lifetime);
        }
        Ok(settled)
    }

    /// The outcome a cached entry would give, for tests and the demo.
    pub fn cached_outcome(&self, key: &FetchKey) -> Option<Outcome> {
        match self.cache.lock().ok()?.get(key, Instant::now()) {
            Lookup::Hit(s) => Some(s.outcome),
            Lookup::Miss => None,
        }
    }
}

/// The compact JWS and its payload for one answer; any failure is `SigningFailed` (logged),
/// and the caller gets a 5xx, never an unsigned answer.
fn sign_answer(
    keys: &KeyRing,
    head: &AnswerHead<'_>,
    claims: &str,
) -> Result<(String, Vec<u8>), Refused> {
    let signed = splice_payload(head, claims)
        .map_err(crate::verdict::SignError::from)
        .and_then(|payload| Ok((keys.sign_payload(&payload)?, payload)));
    signed.map_err(|e| {
        tracing::error!(error = %e, code = e.code(), "signing a verdict failed");
        Refused::SigningFailed
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SigningAlg;
    use crate::verdict::{CacheClaim, SigningKey};
    use rand::SeedableRng as _;

    fn ring() -> KeyRing {
        let key =
            SigningKey::generate(SigningAlg::EdDSA, &mut rand::rngs::StdRng::seed_from_u64(9));
        KeyRing::new(key, Vec::new())
    }

    fn head(jti: &str) -> AnswerHead<'_> {
        AnswerHead {
            iss: "portcullis",
            aud: "as-1",
            iat: 10,
            exp: 70,
            jti,
            cache: CacheClaim::default(),
        }
    }

    #[test]
    fn an_answer_that_cannot_be_signed_fails_closed() {
        let ring = ring();
        assert_eq!(
            sign_answer(&ring, &head("j"), "[1]").unwrap_err(),
            Refused::SigningFailed
        );
        let (jws, payload) = sign_answer(&ring, &head("j"), r#"{"url":"u"}"#).unwrap();
        assert_eq!(jws.split('.').count(), 3);
        let v: serde_json::Value = serde_json::from_slice(&payload).unwrap();
        assert_eq!(
            (v["jti"].as_str(), v["url"].as_str()),
            (Some("j"), Some("u"))
        );
    }
}
