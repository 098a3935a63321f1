//! `Proxy-Authorization: Basic base64(caller:token)`, the one scheme every HTTPS proxy
//! client can send (`HTTPS_PROXY=http://caller:token@host:port`). Pure parsing; the token is
//! checked against the same caller hashes as the API (`server::auth::Callers`).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::codes::{PROXY_AUTH_INVALID, PROXY_AUTH_REQUIRED};
use crate::problem::Code;
use crate::server::auth::{ANONYMOUS_CALLER, Callers};

/// The user name and password of a Basic credential.
#[derive(Debug, PartialEq, Eq)]
pub struct BasicCredential {
    /// The caller name the client claims.
    pub user: String,
    /// The token (sent as the password).
    pub token: Vec<u8>,
}

/// Parses a `Proxy-Authorization` value; `None` when absent, not Basic, or malformed.
pub fn parse_basic(value: &[u8]) -> Option<BasicCredential> {
    let text = std::str::from_utf8(value).ok()?.trim();
    let (scheme, rest) = text.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(rest.trim()).ok()?;
    let colon = decoded.iter().position(|b| *b == b':')?;
    let user = String::from_utf8(decoded.get(..colon)?.to_vec()).ok()?;
    let token = decoded.get(colon + 1..)?.to_vec();
    Some(BasicCredential { user, token })
}

/// The authenticated caller's name, or the refusal code. With no callers configured the
/// proxy is open (loopback only, like the API) and every client is `local`. The claimed user
/// name must be the name of the caller that owns the token.
pub fn authenticate(callers: &Callers, header: Option<&[u8]>) -> Result<String, Code> {
    if callers.is_open() {
        return Ok(ANONYMOUS_CALLER.to_owned());
    }
    let credential = header.and_then(parse_basic).ok_or(PROXY_AUTH_REQUIRED)?;
    match callers.token_owner(&credential.token) {
        Some(owner) if owner == credential.user => Ok(owner),
        _ => Err(PROXY_AUTH_INVALID),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::CallerConfig;

    fn basic(user_pass: &str) -> Vec<u8> {
        format!("Basic {}", STANDARD.encode(user_pass)).into_bytes()
    }

    fn callers() -> Callers {
        Callers::from_config(&[CallerConfig {
            name: "as-1".into(),
            token_sha256: crate::config::TokenHash::of_token("s3cret"),
        }])
    }

    #[test]
    fn basic_parses_user_and_token_with_colons_in_the_token() {
        let c = parse_basic(&basic("as-1:a:b")).unwrap();
        assert_eq!(c.user, "as-1");
        assert_eq!(c.token, b"a:b");
        assert!(parse_basic(b"Bearer abc").is_none());
        assert!(parse_basic(b"Basic !!!").is_none());
        assert!(parse_basic(&basic("no-colon")).is_none());
    }

    #[test]
    fn right_name_and_token_authenticate_anything_else_is_refused() {
        let c = callers();
        assert_eq!(
            authenticate(&c, Some(&basic("as-1:s3cret"))).unwrap(),
            "as-1"
        );
        assert_eq!(authenticate(&c, None), Err(PROXY_AUTH_REQUIRED));
        assert_eq!(
            authenticate(&c, Some(b"Bearer s3cret")),
            Err(PROXY_AUTH_REQUIRED)
        );
        assert_eq!(
            authenticate(&c, Some(&basic("as-1:wrong"))),
            Err(PROXY_AUTH_INVALID)
        );
        assert_eq!(
            authenticate(&c, Some(&basic("as-2:s3cret"))),
            Err(PROXY_AUTH_INVALID)
        );
    }

    #[test]
    fn open_mode_is_local() {
        let open = Callers::from_config(&[]);
        assert_eq!(authenticate(&open, None).unwrap(), ANONYMOUS_CALLER);
    }
}
