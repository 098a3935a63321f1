//! Portcullis: fetch one untrusted https URL so that no answer, redirect or slow
//! server can make the fetch reach anything it must not, then judge and sign the result.
//!
//! Pure modules (`policy`, `documents`, `verdict`, `problem`, `config`) do no I/O so they can
//! be fuzzed and tested deterministically; I/O lives at the edges (`fetch`, `service`,
//! `server`, `telemetry`). See `ARCHITECTURE.md` for the data flow.
#![forbid(unsafe_code)]
#![deny(
    missing_docs,
    unused_must_use,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]
#![warn(clippy::dbg_macro, clippy::todo, clippy::print_stdout)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod assemble;
pub mod config;
pub mod documents;
pub mod facts;
pub mod fetch;
pub mod fleet;
pub mod judge;
pub mod keyed_limit;
pub mod kind;
pub mod policy;
pub mod problem;
pub mod proxy;
pub mod refusal;
pub mod request;
pub mod server;
pub mod service;
pub mod telemetry;
#[cfg(feature = "lab")]
pub mod testing;
pub mod verdict;
