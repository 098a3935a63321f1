//! The service core: admission (rate limits, concurrency), the verdict cache and single
//! flight, tying fetch → documents → verdict together for the API server.
//!
//! Layers, outermost first, and why each exists:
//! 1. caller rate limit — one noisy caller cannot starve the others;
//! 2. URL rules — a blocked URL is answered at once and costs no upstream slot;
//! 3. cache — repeated questions never reach the origin;
//! 4. single flight — identical concurrent questions share one fetch;
//! 5. target-host rate limit — the service can never be used to flood one site;
//! 6. fetch slots and queue bound — bounded upstream concurrency and memory.

pub mod cache;
pub mod coalesce;
mod fleet_glue;
pub mod limits;
pub mod ttl;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde_json::json;

use crate::config::Config;
use crate::documents::Expect;
use crate::fetch::Fetcher;
use crate::judge::{self, JudgeRequest, Judgement};
use crate::kind::{Kind, Outcome};
use crate::policy::TargetHost;
use crate::server::request::{ExpectBody, FetchApiRequest};
use crate::telemetry::{AuditRecord, Telemetry};
use crate::verdict::{Claims, KeyRing, VerdictInput, new_jti};
use cache::{Lookup, VerdictCache};
use coalesce::{Role, SingleFlight};
use limits::{Admission, Refusal};

/// Cache and single-flight key: the same question from any caller.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FetchKey {
    /// Kind.
    pub kind: Kind,
    /// URL as sent.
    pub url: String,
    /// Expectations.
    pub expect: ExpectBody,
}

/// A judgement with its absolute expiry, and the verdicts already signed for it.
#[derive(Debug)]
pub struct Settled {
    /// The judgement.
    pub judgement: Judgement,
    /// Unix time the verdict stops being trustworthy (`exp`).
    pub expires_unix: u64,
    /// Signed reply per caller (`aud` differs by caller). A cached judgement is one verdict:
    /// repeating the same JWS (same `iat`, `jti`, `exp`) is exact, and it saves a signature
    /// and a serialization per cache hit. Bounded by the number of configured callers.
    signed: Mutex<HashMap<String, (Bytes, String)>>,
}

/// Callers whose signed replies are kept per cached judgement; past this (only possible
/// with very many configured callers) replies are signed fresh each time.
pub const MAX_SIGNED_REPLIES_PER_ENTRY: usize = 64;

type Produced = Result<Arc<Settled>, Refusal>;

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

    /// Records a request refused before any verdict (bad auth, bad body, a limit).
    pub fn audit_refusal(&self, caller: Option<&str>, status: u16, error: &str) {
        self.telemetry
            .audit(|| crate::telemetry::RefusalRecord::new(caller, status, error));
    }

    /// Layer 1: the caller's request rate.
    pub async fn admit_caller(&self, caller: &str) -> Result<(), Refusal> {
        // FLEET SEAM 2 (rate): fleet-wide when Redis answers, else the local limiter.
        let decision = match self.fleet_admit_caller(caller).await {
            Some(decision) => decision,
            None => self.admission.admit_caller(caller),
        };
        decision.inspect_err(|r| self.telemetry.rate_limited(r.scope()))
    }

    /// Answers one fetch request with a signed verdict (as the JSON reply body).
    pub async fn verdict(
        self: &Arc<Self>,
        caller: &str,
        request: FetchApiRequest,
    ) -> Result<Bytes, Refusal> {
        let key = FetchKey {
            kind: request.kind,
            url: request.url,
            expect: request.expect,
        };
        let cached = self
            .cache
            .lock()
            .ok()
            .map(|mut c| c.get(&key, Instant::now()));
        let (settled, cache_hit) = match cached {
            Some(Lookup::Hit(settled)) => {
                self.telemetry.cache_hit();
                (settled, true)
            }
            _ => {
                self.telemetry.cache_miss();
                let this = self.clone();
                let flight_key = key.clone();
                let (produced, role) = self
                    .flights
                    .run(key.clone(), move || async move {
                        this.produce(flight_key).await
                    })
                    .await;
                if role == Role::Joined {
                    self.telemetry.single_flight_join();
                }
                match produced {
                    Some(Ok(settled)) => (settled, false),
                    Some(Err(refusal)) => return Err(refusal),
                    None => {
                        return Err(Refusal {
                            code: limits::OVERLOADED,
                            retry_after: Duration::from_secs(1),
                        });
                    }
                }
            }
        };
        let (reply, jti) = self.signed_reply(caller, &key, &settled, cache_hit);
        // One fresh id per answered request (made only when an audit sink exists), next to
        // the verdict's `jti` so the audit line joins the verdict the caller holds.
        self.telemetry.audit(|| {
            let request_id = new_jti(&mut rand::rngs::OsRng);
            AuditRecord::new(
                request_id,
                &jti,
                caller,
                &key.url,
                key.kind,
                &settled.judgement,
                cache_hit,
            )
        });
        Ok(reply)
    }

    /// The reply for `caller`: on a cache hit, the verdict already signed for that caller.
    fn signed_reply(
        &self,
        caller: &str,
        key: &FetchKey,
        settled: &Settled,
        cache_hit: bool,
    ) -> (Bytes, String) {
        if cache_hit
            && let Ok(signed) = settled.signed.lock()
            && let Some(reply) = signed.get(caller)
        {
            return reply.clone();
        }
        let reply = self.sign(caller, key, settled);
        if let Ok(mut signed) = settled.signed.lock()
            && signed.len() < MAX_SIGNED_REPLIES_PER_ENTRY
        {
            signed.insert(caller.to_owned(), reply.clone());
        }
        reply
    }

    /// The signed reply body and the verdict's `jti`.
    fn sign(&self, caller: &str, key: &FetchKey, settled: &Settled) -> (Bytes, String) {
        let now = unix_now();
        let j = &settled.judgement;
        let claims = Claims::build(
            VerdictInput {
                issuer: &self.config.signing.issuer,
                audience: caller,
                url: &key.url,
                kind: key.kind,
                outcome: j.outcome,
                problems: j.problems.clone(),
                fetch: Some(j.facts.clone()),
                body: j.body.as_deref(),
                document: j.document.clone(),
            },
            now,
            settled.expires_unix.saturating_sub(now),
            new_jti(&mut rand::rngs::OsRng),
        );
        let body = match self.keys.sign(&claims) {
            Ok(jws) => {
                self.telemetry.verdict_signed();
                json!({ "verdict": jws, "claims": claims })
            }
            Err(e) => {
                tracing::error!(error = %e, "signing a verdict failed");
                json!({ "error": e.code(), "claims": claims })
            }
        };
        (
            Bytes::from(serde_json::to_vec(&body).unwrap_or_default()),
            claims.jti,
        )
    }

    /// Layers 2–6 for a cache miss; runs once per key however many callers wait.
    async fn produce(&self, key: FetchKey) -> Produced {
        let request = JudgeRequest {
            kind: key.kind,
            url: key.url.clone(),
            expect: Expect {
                resource: key.expect.resource.clone(),
                issuer: key.expect.issuer.clone(),
            },
        };
        let policy = self.fetcher.policy();
        let mut flight_lock = None;
        let pre = judge::precheck(&request, policy, &self.config);
        let judgement = if crate::problem::any_error(&pre) {
            judge::refused_before_fetch(&request, pre)
        } else {
            match policy.check_url(&key.url) {
                Err(problems) => judge::refused_before_fetch(&request, problems),
                Ok(safe) => {
                    let host = match safe.host() {
                        TargetHost::Domain(name) => name.clone(),
                        TargetHost::Ip(ip) => ip.ip().to_string(),
                    };
                    // FLEET SEAM 1 (lookup + flight): another replica's result, or the
                    // fleet-wide lock for this question, or local.
                    // The lock comes with the fleet-wide host limit (same round trip);
                    // without it, the local host limit applies.
                    let admitted = match self.fleet_acquire(&key, &host).await {
                        fleet_glue::FleetStep::Shared(settled) => return Ok(settled),
                        fleet_glue::FleetStep::Lead(lock) => {
                            flight_lock = Some(lock);
                            Ok(())
                        }
                        fleet_glue::FleetStep::Refused(refusal) => Err(refusal),
                        fleet_glue::FleetStep::Local => self.admission.admit_target_host(&host),
                    };
                    let slot = match admitted {
                        Ok(()) => self.admission.fetch_slot().await,
                        Err(refusal) => Err(refusal),
                    };
                    let _slot = match slot {
                        Ok(slot) => slot,
                        Err(refusal) => {
                            self.telemetry.rate_limited(refusal.scope());
                            if let Some(lock) = flight_lock.take() {
                                self.fleet_finish(lock, None, 0);
                            }
                            return Err(refusal);
                        }
                    };
                    let _in_flight = self.telemetry.fetch_started();
                    judge::judge(&self.fetcher, &self.config, &request).await
                }
            }
        };
        self.telemetry.fetch_finished(key.kind, &judgement);
        let lifetime = ttl::cache_lifetime(
            key.kind,
            judgement.outcome,
            &judgement.cache,
            &self.config.cache,
        );
        let now = Instant::now();
        let settled = Arc::new(Settled {
            expires_unix: unix_now() + ttl::verdict_lifetime(lifetime),
            judgement,
            signed: Mutex::new(HashMap::new()),
        });
        if lifetime > 0
            && let Ok(mut cache) = self.cache.lock()
        {
            let bytes = settled.judgement.approx_bytes() + key.url.len();
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
            Lookup::Hit(s) => Some(s.judgement.outcome),
            Lookup::Miss => None,
        }
    }
}
