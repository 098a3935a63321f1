//! The service core: admission (rate limits, concurrency), the verdict cache and single
//! flight, tying fetch → documents → verdict together for the API server.

pub mod cache;
pub mod coalesce;
pub mod limits;
