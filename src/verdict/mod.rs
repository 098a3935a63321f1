//! Verdicts: the signed answer. Claims are built by a pure function, signed as a compact
//! JWS (`ES256`, `Ed25519` or `EdDSA`, explicitly typed) that any standard JOSE library verifies with
//! the JWK Set from [`KeyRing::jwks`].
//!
//! Pure apart from [`key_files`], the two small functions that read and write key files at
//! startup and in `portcullis keygen`. Time and randomness are always passed in.

pub mod claims;
pub mod key_files;
pub mod keys;
pub mod ring;

pub use claims::{
    AnswerHead, CacheClaim, Claims, JudgedClaims, VERDICT_TYP, VerdictInput, body_sha256, new_jti,
    reply_body, splice_json, splice_payload,
};
pub use key_files::{load_key_file, write_key_file};
pub use keys::{KeyError, SigningKey, jwk_thumbprint};
pub use ring::{KeyRing, SignError};
