//! Client kit for Portcullis, the hardened egress fetcher (issue 14).
//!
//! An authorization server asks Portcullis to fetch a URL it must not fetch itself (a Client
//! ID Metadata Document, a `jwks_uri`, …) and gets back a signed verdict. This crate turns
//! that verdict into either the verified claims of a `valid` answer or a typed [`Error`]
//! carrying the stable problem codes — so the server never acts on an unverified document.
//!
//! * [`verify`] is the transport-agnostic core: pure, given the compact JWS, the service's
//!   [`KeySet`], the [`Request`] it answers, the [`VerifyOptions`] and the time.
//! * [`Client`] (feature `hyper-client`, on by default) does the HTTP around it: `POST
//!   /v1/fetch`, `GET /v1/keys` (cached, refetched once on an unknown `kid`), 429/503 as
//!   retryable [`Error::Unavailable`].
//!
//! The unsigned `claims` copy in the service's reply is never read.

mod claims;
mod error;
mod keys;
mod request;
mod verify;

#[cfg(feature = "hyper-client")]
mod client;

pub use claims::{CacheHint, Claims, Outcome, Problem};
pub use error::{Error, ProtocolCode};
pub use keys::{Alg, KeySet};
pub use request::{Expect, Kind, Request};
pub use verify::{
    DEFAULT_LEEWAY_S, VERDICT_TYP, VerifyOptions, outcome_result, verify, verify_any,
};

#[cfg(feature = "hyper-client")]
pub use client::{Client, ClientOptions};
