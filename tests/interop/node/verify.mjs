// Verifies Portcullis verdicts with jose (Node), one line per alg:
// `jose <alg> accept|reject [why]`. Run by scripts/alg-interop.sh with DIR holding
// `<alg>.jws` and `<alg>.jwks.json` (written by `cargo run --example alg_interop`).
import { readFileSync } from "node:fs";
import { createLocalJWKSet, jwtVerify } from "jose";

const dir = process.argv[2];
for (const alg of ["Ed25519", "EdDSA", "ES256"]) {
  const token = readFileSync(`${dir}/${alg}.jws`, "utf8").trim();
  const jwks = JSON.parse(readFileSync(`${dir}/${alg}.jwks.json`, "utf8"));
  try {
    const { protectedHeader } = await jwtVerify(token, createLocalJWKSet(jwks), {
      algorithms: [alg],
      audience: "interop-as",
      issuer: "portcullis",
      typ: "portcullis-verdict+jwt",
    });
    if (protectedHeader.alg !== alg) throw new Error(`alg ${protectedHeader.alg}`);
    console.log(`jose ${alg} accept`);
  } catch (e) {
    console.log(`jose ${alg} reject ${e.code ?? e.name}: ${String(e.message).slice(0, 80)}`);
  }
}
