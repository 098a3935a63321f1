//! `validate` never panics, whatever the bytes; valid outputs re-validate identically.

use crate::doc_support::*;
use portcullis::config::DocumentsConfig;
use portcullis::documents::{Expect, follows_redirects};
use portcullis::kind::Kind;
use proptest::prelude::*;
use serde_json::{Map, Value};

const URLS: &[&str] = &[
    "https://app.example.com/oauth/client.json",
    "https://api.example.com/.well-known/oauth-protected-resource/mcp",
    "https://as.example.com/.well-known/oauth-authorization-server/t",
    "https://as.example.com/t/.well-known/openid-configuration",
    "not a url",
    "",
];

/// Member names the validators look at, so generated objects reach deep rules.
const NAMES: &[&str] = &[
    "keys",
    "kty",
    "n",
    "e",
    "x",
    "y",
    "crv",
    "alg",
    "use",
    "key_ops",
    "kid",
    "x5c",
    "x5t",
    "d",
    "client_id",
    "redirect_uris",
    "client_name",
    "token_endpoint_auth_method",
    "jwks",
    "jwks_uri",
    "grant_types",
    "response_types",
    "resource",
    "authorization_servers",
    "issuer",
    "response_types_supported",
    "code_challenge_methods_supported",
    "authorization_endpoint",
    "token_endpoint",
    "bearer_methods_supported",
    "client_id_metadata_document_supported",
];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| Value::Number(n.into())),
        prop_oneof![
            "[A-Za-z0-9_=+/-]{0,90}",
            Just("https://app.example.com/oauth/client.json".to_owned()),
            Just("RSA".to_owned()),
            Just("EC".to_owned()),
            Just("OKP".to_owned()),
            Just("P-256".to_owned()),
            Just("Ed25519".to_owned()),
            Just("S256".to_owned()),
            Just("http://127.0.0.1/cb".to_owned()),
            Just("AQAB".to_owned()),
        ]
        .prop_map(Value::String),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(NAMES), inner), 0..8).prop_map(|pairs| {
                Value::Object(
                    pairs
                        .into_iter()
                        .map(|(k, v)| (k.to_owned(), v))
                        .collect::<Map<_, _>>(),
                )
            }),
        ]
    })
}

fn object() -> impl Strategy<Value = Value> {
    prop::collection::vec((prop::sample::select(NAMES), value()), 0..10).prop_map(|pairs| {
        Value::Object(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..512), u in 0..URLS.len()) {
        for kind in Kind::ALL {
            let v = run(kind, URLS[u], &body, &Expect::default(), &DocumentsConfig::default());
            prop_assert_eq!(v.document.is_some(), v.is_valid());
        }
    }

    #[test]
    fn json_ish_text_never_panics(body in r#"[{}\[\]":,a-z0-9 \\.=-]{0,300}"#, u in 0..URLS.len()) {
        for kind in Kind::ALL {
            let _ = check(kind, URLS[u], &body);
        }
    }

    #[test]
    fn structured_objects_never_panic_and_revalidate(doc in object(), u in 0..URLS.len()) {
        let body = doc.to_string();
        for kind in Kind::ALL {
            let first = check(kind, URLS[u], &body);
            prop_assert_eq!(first.document.is_some(), first.is_valid());
            if kind != Kind::Jwks
                && let Some(out) = &first.document {
                    let again = check(kind, URLS[u], &out.to_string());
                    prop_assert_eq!(&first, &again);
                }
        }
        let _ = follows_redirects(Kind::Jwks);
    }

    #[test]
    fn www_authenticate_never_panics(h in r#"[A-Za-z0-9 ,="\\_./:-]{0,200}"#) {
        let _ = portcullis::documents::well_known::resource_metadata_from_www_authenticate(&h);
    }

    #[test]
    fn well_known_helpers_never_panic(s in r#"(https?://)?[a-z./?#%{}-]{0,60}"#) {
        use portcullis::documents::well_known::*;
        let _ = protected_resource_metadata_url(&s);
        let _ = resources_from_metadata_url(&s);
        let _ = authorization_server_metadata_urls(&s);
        let _ = issuers_from_metadata_url(&s);
    }
}
