//! Telemetry: Prometheus metrics in one registry owned by the service, and one audit
//! record per answered fetch request. Labels are bounded enums and codes, never a URL or
//! host name.

pub mod audit;
pub mod metrics;

pub use audit::{AuditFacts, AuditHead, AuditSink, RefusalRecord};
pub use metrics::{CacheStats, InFlightGuard, Telemetry};
