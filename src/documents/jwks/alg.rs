//! Algorithm names: which key types and curves each `alg` fits, and which are forbidden.

pub(super) enum Purpose {
    Sig,
    Enc,
}

pub(super) enum AlgClass {
    Forbidden,
    Unknown,
    Known {
        ktys: &'static [&'static str],
        crvs: &'static [&'static str],
        purpose: Purpose,
    },
}

pub(super) fn alg_class(alg: &str) -> AlgClass {
    const EC_OKP: &[&str] = &["EC", "OKP"];
    const ECDH_CURVES: &[&str] = &["P-256", "P-384", "P-521", "X25519", "X448"];
    let known = |ktys, crvs, purpose| AlgClass::Known {
        ktys,
        crvs,
        purpose,
    };
    match alg {
        "RS256" | "RS384" | "RS512" | "PS256" | "PS384" | "PS512" => {
            known(&["RSA"], &[], Purpose::Sig)
        }
        "RSA-OAEP" | "RSA-OAEP-256" | "RSA-OAEP-384" | "RSA-OAEP-512" | "RSA1_5" => {
            known(&["RSA"], &[], Purpose::Enc)
        }
        "ES256" => known(&["EC"], &["P-256"], Purpose::Sig),
        "ES384" => known(&["EC"], &["P-384"], Purpose::Sig),
        "ES512" => known(&["EC"], &["P-521"], Purpose::Sig),
        "ES256K" => known(&["EC"], &["secp256k1"], Purpose::Sig),
        "EdDSA" => known(&["OKP"], &["Ed25519", "Ed448"], Purpose::Sig),
        "Ed25519" => known(&["OKP"], &["Ed25519"], Purpose::Sig),
        "Ed448" => known(&["OKP"], &["Ed448"], Purpose::Sig),
        "ECDH-ES" | "ECDH-ES+A128KW" | "ECDH-ES+A192KW" | "ECDH-ES+A256KW" => {
            known(EC_OKP, ECDH_CURVES, Purpose::Enc)
        }
        "none" | "dir" => AlgClass::Forbidden,
        a if a.starts_with("HS")
            || a.starts_with("PBES2")
            || (a.starts_with('A') && a.ends_with("KW")) =>
        {
            AlgClass::Forbidden
        }
        _ => AlgClass::Unknown,
    }
}
