//! Caller authentication: bearer tokens compared by SHA-256 in constant time. Only hashes
//! are configured, so a leaked config file does not leak tokens.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::{CallerConfig, TokenHash};
use crate::refusal::Refused;

/// Name used for `aud` (and the audit `caller`) when no callers are configured: the service
/// then answers anyone who can reach its loopback listener, and verdicts say so.
pub const ANONYMOUS_CALLER: &str = "anonymous";

/// The configured callers.
#[derive(Clone, Debug)]
pub struct Callers {
    entries: Vec<(String, [u8; 32])>,
}

/// Lower-case hex SHA-256 of a token, as written in `token_sha256`.
pub fn token_sha256_hex(token: &str) -> String {
    TokenHash::of_token(token).to_hex()
}

impl Callers {
    /// From config. Hashes are already bytes ([`TokenHash`]), so every configured caller
    /// becomes an entry: there is no malformed hash to drop and leave the API open.
    pub fn from_config(callers: &[CallerConfig]) -> Callers {
        Callers {
            entries: callers
                .iter()
                .map(|c| (c.name.clone(), *c.token_sha256.bytes()))
                .collect(),
        }
    }

    /// Number of configured callers (for start-up logs and `config check`).
    pub fn count(&self) -> usize {
        self.entries.len()
    }

    /// The configured caller names, in config order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(name, _)| name.as_str())
    }

    /// True when no caller is configured: the service is open on loopback only.
    pub fn is_open(&self) -> bool {
        self.entries.is_empty()
    }

    /// The caller's name for an `Authorization` header value.
    pub fn authenticate(&self, authorization: Option<&[u8]>) -> Result<String, Refused> {
        if self.is_open() {
            return Ok(ANONYMOUS_CALLER.to_owned());
        }
        let header = authorization.ok_or(Refused::MissingToken)?;
        let token = header
            .strip_prefix(b"Bearer ")
            .or_else(|| header.strip_prefix(b"bearer "))
            .ok_or(Refused::MissingToken)?;
        self.token_owner(token).ok_or(Refused::InvalidToken)
    }

    /// The caller whose token this is, compared in constant time against every entry; shared
    /// by the API's bearer header and the proxy's `Proxy-Authorization: Basic`.
    pub fn token_owner(&self, token: &[u8]) -> Option<String> {
        let presented: [u8; 32] = Sha256::digest(token).into();
        // Compare against every entry so timing does not reveal which one matched.
        let mut found = None;
        for (name, hash) in &self.entries {
            if bool::from(hash.ct_eq(&presented)) {
                found = Some(name.clone());
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn callers() -> Callers {
        Callers::from_config(&[
            CallerConfig {
                name: "as-1".into(),
                token_sha256: TokenHash::of_token("secret-one"),
            },
            CallerConfig {
                name: "as-2".into(),
                token_sha256: TokenHash::of_token("secret-two"),
            },
        ])
    }

    #[test]
    fn right_token_names_the_caller() {
        assert_eq!(
            callers().authenticate(Some(b"Bearer secret-two")).unwrap(),
            "as-2"
        );
    }

    #[test]
    fn wrong_missing_and_malformed_tokens_are_refused() {
        let c = callers();
        assert_eq!(c.authenticate(None), Err(Refused::MissingToken));
        assert_eq!(
            c.authenticate(Some(b"Basic abc")),
            Err(Refused::MissingToken)
        );
        assert_eq!(
            c.authenticate(Some(b"Bearer secret-three")),
            Err(Refused::InvalidToken)
        );
        assert_eq!(c.authenticate(Some(b"Bearer ")), Err(Refused::InvalidToken));
    }

    #[test]
    fn no_callers_means_anonymous() {
        let open = Callers::from_config(&[]);
        assert!(open.is_open());
        assert_eq!(open.authenticate(None).unwrap(), "anonymous");
    }

    #[test]
    fn every_configured_caller_is_an_entry() {
        let c = callers();
        assert!(!c.is_open());
        assert_eq!(c.count(), 2);
        assert_eq!(c.names().collect::<Vec<_>>(), ["as-1", "as-2"]);
    }

    #[test]
    fn hash_helper_matches_a_known_vector() {
        assert_eq!(
            token_sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
