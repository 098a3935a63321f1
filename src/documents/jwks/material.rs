//! Public key material really parsed (`rsa`, `p256`/`p384`/`p521`, `ed25519-dalek`): size,
//! exponent, curve membership and encoding checks.

use serde_json::{Map, Value};

use super::defects::{Class, KeyCheck};
use super::*;

/// Parsed public key material, kept to compare with an `x5c` certificate.
pub(super) enum Material {
    Rsa { n: Vec<u8>, e: Vec<u8> },
    Ec { point: Vec<u8> },
    Okp { x: Vec<u8> },
}

pub(super) fn strip_zeros(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    &b[start..]
}

pub(super) fn rsa_material(key: &Map<String, Value>, c: &mut KeyCheck) -> Option<Material> {
    let n = c.b64(key, "n");
    let e = c.b64(key, "e");
    let (n, e) = (n?, e?);
    for (name, v) in [("n", &n), ("e", &e)] {
        if v.len() > 1 && v[0] == 0 {
            c.add(
                Class::Cosmetic,
                JWK_RSA_LEADING_ZERO,
                format!("{name} has a leading zero octet"),
                Some(name),
            );
        }
    }
    let (n, e) = (strip_zeros(&n).to_vec(), strip_zeros(&e).to_vec());
    let e_value = if e.len() <= 4 {
        e.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
    } else {
        u64::MAX
    };
    let exponent_ok = (3..(1 << 32)).contains(&e_value) && e_value % 2 == 1;
    if !exponent_ok {
        c.add(
            Class::Dangerous,
            JWK_RSA_BAD_EXPONENT,
            "the public exponent must be odd, at least 3 and below 2^32".into(),
            Some("e"),
        );
    }
    let n_big = rsa::BigUint::from_bytes_be(&n);
    let bits = n_big.bits();
    if bits < MIN_RSA_BITS {
        c.add(
            Class::Dangerous,
            JWK_RSA_TOO_SMALL,
            format!("the modulus has {bits} bits, fewer than {MIN_RSA_BITS}"),
            Some("n"),
        );
    } else if bits > MAX_RSA_BITS {
        c.add(
            Class::Malformed,
            JWK_RSA_INVALID,
            format!("the modulus has {bits} bits, more than {MAX_RSA_BITS}"),
            Some("n"),
        );
    } else if exponent_ok {
        let e_big = rsa::BigUint::from_bytes_be(&e);
        if let Err(err) = rsa::RsaPublicKey::new_with_max_size(n_big, e_big, MAX_RSA_BITS) {
            c.add(
                Class::Malformed,
                JWK_RSA_INVALID,
                format!("not a valid RSA public key: {err}"),
                Some("n"),
            );
        }
    }
    Some(Material::Rsa { n, e })
}

/// The curve of an EC or OKP key; a missing `crv` is a malformed key (a `crv` of the wrong
/// type was already reported by the caller).
pub(super) fn required_crv<'a>(
    key: &Map<String, Value>,
    crv: Option<&'a str>,
    c: &mut KeyCheck,
) -> Option<&'a str> {
    if crv.is_none() && !key.contains_key("crv") {
        c.add(
            Class::Malformed,
            JWK_MISSING_MEMBER,
            "crv is required".into(),
            Some("crv"),
        );
    }
    crv
}

pub(super) fn ec_material(
    key: &Map<String, Value>,
    crv: Option<&str>,
    c: &mut KeyCheck,
) -> Option<Material> {
    let crv = required_crv(key, crv, c)?;
    let size = match crv {
        "P-256" => 32,
        "P-384" => 48,
        "P-521" => 66,
        other => {
            c.add(
                Class::Unusable,
                JWK_UNSUPPORTED_CRV,
                format!("EC curve {other:?} is not supported"),
                Some("crv"),
            );
            return None;
        }
    };
    let x = c.b64(key, "x");
    let y = c.b64(key, "y");
    let (x, y) = (x?, y?);
    if x.len() != size || y.len() != size {
        c.add(
            Class::Malformed,
            JWK_EC_COORDINATE_LENGTH,
            format!(
                "{crv} coordinates must be {size} bytes (x has {}, y has {})",
                x.len(),
                y.len()
            ),
            None,
        );
        return None;
    }
    let mut point = Vec::with_capacity(1 + 2 * size);
    point.push(4);
    point.extend_from_slice(&x);
    point.extend_from_slice(&y);
    let on_curve = match crv {
        "P-256" => p256_on_curve(&point),
        "P-384" => p384_on_curve(&point),
        _ => p521_on_curve(&point),
    };
    if !on_curve {
        c.add(
            Class::Dangerous,
            JWK_POINT_NOT_ON_CURVE,
            format!("the point is not on {crv}"),
            None,
        );
        return None;
    }
    Some(Material::Ec { point })
}

pub(super) fn p256_on_curve(point: &[u8]) -> bool {
    use p256::elliptic_curve::sec1::FromEncodedPoint;
    p256::EncodedPoint::from_bytes(point)
        .map(|ep| bool::from(p256::PublicKey::from_encoded_point(&ep).is_some()))
        .unwrap_or(false)
}

pub(super) fn p384_on_curve(point: &[u8]) -> bool {
    use p384::elliptic_curve::sec1::FromEncodedPoint;
    p384::EncodedPoint::from_bytes(point)
        .map(|ep| bool::from(p384::PublicKey::from_encoded_point(&ep).is_some()))
        .unwrap_or(false)
}

pub(super) fn p521_on_curve(point: &[u8]) -> bool {
    use p521::elliptic_curve::sec1::FromEncodedPoint;
    p521::EncodedPoint::from_bytes(point)
        .map(|ep| bool::from(p521::PublicKey::from_encoded_point(&ep).is_some()))
        .unwrap_or(false)
}

pub(super) fn okp_material(
    key: &Map<String, Value>,
    crv: Option<&str>,
    c: &mut KeyCheck,
) -> Option<Material> {
    let crv = required_crv(key, crv, c)?;
    if crv != "Ed25519" && crv != "X25519" {
        c.add(
            Class::Unusable,
            JWK_UNSUPPORTED_CRV,
            format!("OKP curve {crv:?} is not supported"),
            Some("crv"),
        );
        return None;
    }
    let x = c.b64(key, "x")?;
    let Ok(bytes) = <[u8; 32]>::try_from(x.as_slice()) else {
        c.add(
            Class::Malformed,
            JWK_OKP_KEY_LENGTH,
            format!("{crv} x must be 32 bytes, not {}", x.len()),
            Some("x"),
        );
        return None;
    };
    if crv == "Ed25519" {
        match ed25519_dalek::VerifyingKey::from_bytes(&bytes) {
            Err(_) => {
                c.add(
                    Class::Dangerous,
                    JWK_POINT_NOT_ON_CURVE,
                    "x is not an Ed25519 point".into(),
                    Some("x"),
                );
                return None;
            }
            Ok(vk) if vk.is_weak() => {
                c.add(
                    Class::Dangerous,
                    JWK_WEAK_KEY,
                    "x is a small-order Ed25519 point".into(),
                    Some("x"),
                );
                return None;
            }
            Ok(_) => {}
        }
    }
    Some(Material::Okp { x })
}
