//! Input: untrusted URL text, as a caller or a document hands it to the policy.
//!
//! Properties:
//! - `check_url` and `url_problems` agree; refusals carry only declared error codes;
//! - an accepted URL is https on 443 with no userinfo or fragment, within the length cap,
//!   its host a lower-case name without trailing dot that is not an IP spelling, or an IP
//!   the classifier allows and that lies in no must-block range;
//! - accepting is idempotent: the normalised URL is accepted again, as the same `SafeUrl`;
//! - `check_host` on an IP literal agrees with `classify`;
//! - the well-known URL builders invert: a resource (issuer) is among the ones derived back
//!   from each metadata URL built for it.
#![no_main]

use std::collections::HashSet;
use std::net::IpAddr;

use libfuzzer_sys::fuzz_target;
use portcullis::documents::well_known;
use portcullis::policy::{self, Decision, TargetHost};
use portcullis_fuzz::{in_must_block, policy};

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    let p = policy();
    let codes: HashSet<&str> = policy::ALL_CODES.iter().map(|c| c.as_str()).collect();
    let checked = p.check_url(raw);
    assert_eq!(p.url_problems(raw).is_empty(), checked.is_ok());
    match &checked {
        Err(problems) => {
            assert!(!problems.is_empty(), "refused without a problem");
            for pr in problems {
                assert!(pr.is_error(), "refusal with a warning: {pr:?}");
                assert!(codes.contains(pr.code.as_str()), "undeclared {}", pr.code);
            }
        }
        Ok(safe) => {
            let u = safe.url();
            assert!(raw.len() <= p.options().max_url_bytes);
            assert_eq!(u.scheme(), "https");
            assert_eq!(safe.port(), 443);
            assert_eq!(u.port_or_known_default(), Some(443));
            assert!(u.username().is_empty() && u.password().is_none(), "{raw:?}");
            assert!(u.fragment().is_none() && !raw.contains('#'), "{raw:?}");
            match safe.host() {
                TargetHost::Domain(d) => {
                    assert_eq!(d, &d.to_ascii_lowercase(), "{raw:?}");
                    assert!(!d.ends_with('.') && !d.is_empty(), "{raw:?}");
                    assert!(
                        d.parse::<IpAddr>().is_err(),
                        "IP spelled as a name: {raw:?}"
                    );
                    assert!(!d.contains('@') && !d.contains(':'), "{raw:?}");
                }
                TargetHost::Ip(pinned) => {
                    let ip = pinned.ip();
                    assert_eq!(p.classify(ip).decision, Decision::Allow, "{raw:?}");
                    assert_eq!(in_must_block(ip), None, "{raw:?} pinned {ip}");
                }
            }
            match p.check_url(safe.as_str()) {
                Ok(again) => assert_eq!(&again, safe, "{raw:?}"),
                Err(e) => panic!(
                    "{raw:?} accepted as {} but that is refused: {e:?}",
                    safe.as_str()
                ),
            }
        }
    }

    if let Ok(ip) = raw.parse::<IpAddr>() {
        assert_eq!(
            p.check_host(raw).is_ok(),
            p.classify(ip).decision == Decision::Allow,
            "{raw:?}"
        );
    } else {
        let _ = p.check_host(raw);
    }

    if let Ok(m) = well_known::protected_resource_metadata_url(raw) {
        let back = well_known::resources_from_metadata_url(&m);
        assert!(
            back.as_ref().is_some_and(|rs| rs.iter().any(|r| r == raw)),
            "resource {raw:?} -> {m:?} -> {back:?}"
        );
    }
    if let Ok(urls) = well_known::authorization_server_metadata_urls(raw) {
        // An issuer whose own path contains a well-known segment is ambiguous by
        // construction; the derivation picks one reading.
        if !raw.contains("/.well-known/") {
            let issuer = raw.trim_end_matches('/');
            for m in &urls {
                let back = well_known::issuers_from_metadata_url(m);
                assert!(
                    back.as_ref()
                        .is_some_and(|is| is.iter().any(|i| i.trim_end_matches('/') == issuer)),
                    "issuer {raw:?} -> {m:?} -> {back:?}"
                );
            }
        }
    }
});
