// AS-side cost of a verified lookup in Node: PortcullisClient.verify() of a typical `valid`
// CIMD verdict (EdDSA and ES256), keys already cached. Run: node bench/verify.js [N]
import { SignJWT, exportJWK, generateKeyPair } from 'jose';

import { PortcullisClient } from '../src/index.js';

const N = Number(process.argv[2] ?? 5000);
const URL_ = 'https://client.example/oauth/metadata.json';

async function one(alg) {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k', alg, use: 'sig' };
  const now = Math.floor(Date.now() / 1000);
  const jws = await new SignJWT({
    url: URL_, kind: 'client_metadata', outcome: 'valid', problems: [], jti: '0urB5zYo31Z4xT0JcW5T0w',
    fetch: { final_url: URL_, address: '203.0.113.7:443', status: 200, bytes: 412, fetched_at: now },
    document: { client_id: URL_, client_name: 'Example', redirect_uris: ['https://client.example/cb'], token_endpoint_auth_method: 'none' },
    cache: { max_age_s: 300, no_store: false },
  })
    .setProtectedHeader({ alg, typ: 'portcullis-verdict+jwt', kid: 'k' })
    .setIssuer('portcullis').setAudience('as-1').setIssuedAt(now).setExpirationTime(now + 60)
    .sign(privateKey);
  const client = new PortcullisClient({
    url: 'http://127.0.0.1:9',
    audience: 'as-1',
    fetch: async () => new Response(JSON.stringify({ keys: [jwk] }), { status: 200 }),
  });
  const req = { url: URL_, kind: 'client_metadata' };
  for (let i = 0; i < 200; i++) await client.verify(jws, req); // warm up
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) await client.verify(jws, req);
  const us = Number(process.hrtime.bigint() - t0) / 1000 / N;
  console.log(JSON.stringify({ alg, verifications: N, mean_us: Number(us.toFixed(1)) }));
}

await one('EdDSA');
await one('ES256');
