// The verifier with locally signed verdicts: checks the live service cannot trigger.

import assert from 'node:assert/strict';
import { before, test } from 'node:test';

import { SignJWT, exportJWK, generateKeyPair } from 'jose';

import { PortcullisClient, ProtocolError, cacheMaxAge } from '../src/index.js';

const URL_ = 'https://client.example/metadata.json';
let privateKey;
let client;

before(async () => {
  const pair = await generateKeyPair('EdDSA', { extractable: true });
  privateKey = pair.privateKey;
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'EdDSA', use: 'sig' };
  client = new PortcullisClient({
    url: 'http://127.0.0.1:9',
    audience: 'as-1',
    fetch: async () => new Response(JSON.stringify({ keys: [jwk] }), { status: 200 }),
  });
});

async function sign(claims = {}, header = {}, omit = []) {
  const body = { url: URL_, kind: 'client_metadata', outcome: 'valid', problems: [], jti: 'j'.repeat(22), ...claims };
  for (const k of omit) delete body[k];
  const jwt = new SignJWT(body)
    .setProtectedHeader({ alg: 'EdDSA', typ: 'portcullis-verdict+jwt', kid: 'k1', ...header })
    .setIssuer('portcullis')
    .setAudience('as-1')
    .setIssuedAt()
    .setExpirationTime('60s');
  return jwt.sign(privateKey);
}

const req = { url: URL_, kind: 'client_metadata' };

function rejectsWith(promise, code) {
  return assert.rejects(promise, (err) => {
    assert.ok(err instanceof ProtocolError, err);
    assert.equal(err.code, code, err.message);
    return true;
  });
}

test('a locally signed verdict verifies', async () => {
  const claims = await client.verify(await sign(), req);
  assert.equal(claims.outcome, 'valid');
});

test('typ is compared exactly (no application/ prefix, no other typ)', async () => {
  await rejectsWith(client.verify(await sign({}, { typ: 'application/portcullis-verdict+jwt' }), req), 'wrong_typ');
  await rejectsWith(client.verify(await sign({}, { typ: 'JWT' }), req), 'wrong_typ');
});

test('jti is required; an unknown outcome is refused', async () => {
  await rejectsWith(client.verify(await sign({}, {}, ['jti']), req), 'missing_jti');
  await rejectsWith(client.verify(await sign({ outcome: 'maybe' }), req), 'unknown_outcome');
});

test('echoed expectations must match (order and nulls do not matter)', async () => {
  const jws = await sign({ expect: { issuer: 'https://as.example', resource: null } });
  await rejectsWith(client.verify(jws, req), 'expect_mismatch');
  await rejectsWith(client.verify(jws, { ...req, expect: { issuer: 'https://other.example' } }), 'expect_mismatch');
  const ok = await client.verify(jws, { ...req, expect: { issuer: 'https://as.example' } });
  assert.equal(ok.outcome, 'valid');
});

test('cacheMaxAge follows the cache claim', () => {
  assert.equal(cacheMaxAge({ cache: { max_age_s: 30, no_store: false } }), 30);
  assert.equal(cacheMaxAge({ cache: { max_age_s: 30, no_store: true } }), 0);
  assert.equal(cacheMaxAge({}), 0);
  assert.equal(cacheMaxAge({ cache: { max_age_s: -1, no_store: false } }), 0);
});
