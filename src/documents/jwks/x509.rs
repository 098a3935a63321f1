//! `x5c` (the certificate must carry the same public key) and `x5t`/`x5t#S256` digests.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::defects::{Class, KeyCheck};
use super::material::{Material, strip_zeros};
use super::*;

/// Checks `x5c`; returns the first certificate's DER when it decodes.
pub(super) fn x5c(
    key: &Map<String, Value>,
    material: Option<&Material>,
    c: &mut KeyCheck,
) -> Option<Vec<u8>> {
    let v = key.get("x5c")?;
    let bad =
        |c: &mut KeyCheck, why: String| c.add(Class::Malformed, JWK_X5C_INVALID, why, Some("x5c"));
    let Value::Array(items) = v else {
        bad(c, "x5c must be an array".into());
        return None;
    };
    let mut ders = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        match item.as_str().map(|s| STANDARD.decode(s)) {
            Some(Ok(der)) => ders.push(der),
            _ => {
                bad(c, format!("x5c[{i}] is not a base64 string"));
                return None;
            }
        }
    }
    let Some(first) = ders.into_iter().next() else {
        bad(c, "x5c is empty".into());
        return None;
    };
    let cert = match x509_parser::parse_x509_certificate(&first) {
        Ok(([], cert)) => cert,
        Ok(_) => {
            bad(c, "x5c[0] has trailing bytes".into());
            return None;
        }
        Err(e) => {
            bad(c, format!("x5c[0] is not a certificate: {e}"));
            return None;
        }
    };
    let spki = cert.public_key();
    let matches = match material? {
        Material::Rsa { n, e } => match spki.parsed() {
            Ok(x509_parser::public_key::PublicKey::RSA(r)) => Some(
                strip_zeros(r.modulus) == n.as_slice() && strip_zeros(r.exponent) == e.as_slice(),
            ),
            _ => Some(false),
        },
        Material::Ec { point } => {
            let data: &[u8] = &spki.subject_public_key.data;
            if data.first().is_some_and(|b| *b == 2 || *b == 3) {
                None
            } else {
                Some(data == point.as_slice())
            }
        }
        Material::Okp { x } => Some(spki.subject_public_key.data.as_ref() == x.as_slice()),
    };
    match matches {
        Some(true) => {}
        Some(false) => c.add(
            Class::Dangerous,
            JWK_X5C_MISMATCH,
            "the first x5c certificate holds a different public key".into(),
            Some("x5c"),
        ),
        None => c.add(
            Class::Cosmetic,
            JWK_X5C_UNCHECKED,
            "the x5c public key could not be compared".into(),
            Some("x5c"),
        ),
    }
    Some(first)
}

pub(super) fn x5t(
    key: &Map<String, Value>,
    name: &str,
    len: usize,
    der: Option<&[u8]>,
    c: &mut KeyCheck,
) {
    let Some(v) = key.get(name) else { return };
    let decoded = v.as_str().and_then(|s| URL_SAFE_NO_PAD.decode(s).ok());
    match decoded {
        Some(d) if d.len() == len => {
            if let Some(der) = der
                && Sha256::digest(der)[..] != d[..]
            {
                c.add(
                    Class::Cosmetic,
                    JWK_X5T_INVALID,
                    format!("{name} does not match the x5c certificate"),
                    Some(name),
                );
            }
        }
        Some(d) => c.add(
            Class::Cosmetic,
            JWK_X5T_INVALID,
            format!("{name} decodes to {} bytes, not {len}", d.len()),
            Some(name),
        ),
        None => c.add(
            Class::Cosmetic,
            JWK_X5T_INVALID,
            format!("{name} is not base64url"),
            Some(name),
        ),
    }
}
