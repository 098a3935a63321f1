"""Verifies Portcullis verdicts with joserfc and PyJWT, one line per (verifier, alg):
`<verifier> <alg> accept|reject [why]`. Run by scripts/alg-interop.sh with DIR holding
`<alg>.jws` and `<alg>.jwks.json` (written by `cargo run --example alg_interop`)."""
import json
import sys
import warnings

AUD = "interop-as"
ISS = "portcullis"
ALGS = ["Ed25519", "EdDSA", "ES256"]


def joserfc_verify(token, jwks, alg):
    from joserfc import jwt
    from joserfc.jwk import KeySet
    from joserfc.jwt import JWTClaimsRegistry

    keys = KeySet.import_key_set(jwks)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tok = jwt.decode(token, keys, algorithms=[alg])
    JWTClaimsRegistry(aud={"essential": True, "value": AUD},
                      iss={"essential": True, "value": ISS}).validate(tok.claims)
    if tok.header.get("typ") != "portcullis-verdict+jwt":
        raise ValueError("typ")
    dep = [str(w.message) for w in caught if "deprecat" in str(w.message).lower()
           or issubclass(w.category, DeprecationWarning)]
    return "deprecation warning: " + dep[0][:60] if dep else ""


def pyjwt_verify(token, jwks, alg):
    import jwt

    header = jwt.get_unverified_header(token)
    jwk_set = jwt.PyJWKSet.from_dict(jwks)
    key = next(k for k in jwk_set.keys if k.key_id == header["kid"])
    jwt.decode(token, key.key, algorithms=[alg], audience=AUD, issuer=ISS)
    return ""


def main():
    d = sys.argv[1]
    for name, fn in [("joserfc", joserfc_verify), ("PyJWT", pyjwt_verify)]:
        for alg in ALGS:
            token = open(f"{d}/{alg}.jws").read().strip()
            jwks = json.load(open(f"{d}/{alg}.jwks.json"))
            try:
                note = fn(token, jwks, alg)
                print(f"{name} {alg} accept {note}".rstrip())
            except Exception as e:  # every failure is a finding, reported in the table
                print(f"{name} {alg} reject {type(e).__name__}: {str(e)[:80]}")


if __name__ == "__main__":
    main()
