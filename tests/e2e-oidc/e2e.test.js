// End to end (issue 14): the real oidc-provider 9.x with Client ID Metadata Documents
// fetched through the real Portcullis binary by the Node kit's adapter, and the MCP
// TypeScript SDK client doing the whole authorization-code + PKCE login to a token; then
// hostile client_ids, each refused with its problem codes in the operator's log, and zero
// connections to the blocked addresses.
//
// Run by scripts/e2e-oidc.sh inside a private network namespace whose only interface is `lo`
// (PORTCULLIS_SEALED=1): 169.254.169.254 and 10.0.0.5 are added to that `lo` and the lab
// counts connections to them. Outside such a namespace the two cases that resolve to
// non-loopback addresses are SKIPPED (nothing here may even try to reach them).

import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';

import { auth } from '@modelcontextprotocol/sdk/client/auth.js';
import { PortcullisClient, BlockedError, InvalidError } from '@portcullis/client';
import { oidcProviderAdapter } from '@portcullis/client/oidc-provider';
import Provider, { errors } from 'oidc-provider';
import { SignJWT, createRemoteJWKSet, exportJWK, generateKeyPair, jwtVerify } from 'jose';

import { startLab } from '../../clients/node/test/lab.js';

const SEALED = process.env.PORTCULLIS_SEALED === '1';
const TOKEN = 'e2e-as-token';
const GOOD = 'app.mcp.test';
const CALLBACK = 'http://127.0.0.1:33418/callback';

function cimd(host, path, extra = {}) {
  return JSON.stringify({
    client_id: `https://${host}:\${PORT}${path}`,
    client_name: 'MCP e2e client',
    application_type: 'native',
    redirect_uris: [CALLBACK],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
    ...extra,
  });
}

// A private_key_jwt client: its public key is published at its jwks_uri on the lab origin.
const clientKeys = await generateKeyPair('ES256');
const clientJwk = { ...(await exportJWK(clientKeys.publicKey)), kid: 'pkjwt-1', alg: 'ES256', use: 'sig' };

const SPEC = {
  names: {
    [GOOD]: ['127.0.0.2'],
    'mixed.mcp.test': ['127.0.0.2', '127.0.0.1'],
    ...(SEALED ? { 'meta.mcp.test': ['169.254.169.254'], 'intranet.mcp.test': ['10.0.0.5'] } : {}),
  },
  routes: {
    '/client.json': { headers: { 'cache-control': 'max-age=60' }, body: cimd(GOOD, '/client.json') },
    '/secret.json': { body: cimd(GOOD, '/secret.json', { token_endpoint_auth_method: 'client_secret_post', client_secret: 'shared-secret' }) },
    '/mismatch.json': { body: cimd(GOOD, '/someone-else.json') },
    '/pkjwt.json': {
      body: cimd(GOOD, '/pkjwt.json', {
        token_endpoint_auth_method: 'private_key_jwt',
        token_endpoint_auth_signing_alg: 'ES256',
        jwks_uri: `https://${GOOD}:\${PORT}/jwks.json`,
      }),
    },
    '/jwks.json': { headers: { 'cache-control': 'max-age=300' }, body: JSON.stringify({ keys: [clientJwk] }) },
  },
  callers: [{ name: 'oidc-provider', token: TOKEN }],
  counters: SEALED ? ['169.254.169.254', '10.0.0.5'] : [],
};

let lab;
let issuer;
let server;
let resourceServer;
let resource; // the MCP server URL (RFC 8707 resource indicator)
const MCP_SCOPE = 'mcp:tools';
const operatorLog = [];
const fetches = [];
const providerErrors = [];

before(async () => {
  lab = await startLab(SPEC);
  const kit = new PortcullisClient({ url: lab.service, token: TOKEN, audience: 'oidc-provider' });
  const adapter = oidcProviderAdapter(kit, {
    log: (event) => {
      operatorLog.push(event);
      process.stderr.write(`operator log: ${JSON.stringify(event)}\n`);
    },
    onFetch: (event) => fetches.push(event),
  });
  server = createServer();
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  issuer = `http://127.0.0.1:${server.address().port}`;
  resourceServer = createServer(mcpResourceServer);
  await new Promise((r) => resourceServer.listen(0, '127.0.0.1', r));
  resource = `http://127.0.0.1:${resourceServer.address().port}/mcp`;
  const provider = new Provider(issuer, {
    fetch: adapter.fetch,
    sectorIdentifierUriValidate: adapter.sectorIdentifierUriValidate,
    features: {
      devInteractions: { enabled: true },
      clientIdMetadataDocument: {
        enabled: true,
        ack: 'draft-02',
        ...adapter.clientIdMetadataDocument,
        // Let the verdict's cache claim (as Cache-Control) decide; no floor of our own.
        cacheDuration: { min: 0, max: 300 },
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: (ctx, client, oneOf) => oneOf ?? resource,
        getResourceServerInfo: (ctx, indicator) => {
          if (indicator !== resource) throw new errors.InvalidTarget();
          return { scope: MCP_SCOPE, audience: resource, accessTokenFormat: 'jwt' };
        },
      },
    },
    pkce: { required: () => true },
    findAccount: (ctx, sub) => ({ accountId: sub, claims: () => ({ sub }) }),
  });
  provider.on('authorization.error', (ctx, err) => providerErrors.push(err));
  provider.on('server_error', (ctx, err) => providerErrors.push(err));
  // Token endpoint failures with their cause chain, for diagnosis.
  provider.on('grant.error', (ctx, err) => {
    const chain = [];
    for (let e = err; e && chain.length < 5; e = e.cause) chain.push(e.error_description ?? e.message);
    process.stderr.write(`grant.error: ${chain.join(' <- ')}\n`);
  });
  server.on('request', provider.callback());
});

after(async () => {
  await new Promise((r) => server?.close(r) ?? r());
  await new Promise((r) => resourceServer?.close(r) ?? r());
  await lab?.stop();
});

/**
 * The MCP server's authorization side (RFC 9728 + RFC 6750): publishes its protected
 * resource metadata naming the authorization server, and accepts only access tokens that
 * the authorization server issued for this resource.
 */
async function mcpResourceServer(req, res) {
  const base = `http://127.0.0.1:${resourceServer.address().port}`;
  const metadataUrl = `${base}/.well-known/oauth-protected-resource/mcp`;
  if (req.method === 'GET' && req.url.startsWith('/.well-known/oauth-protected-resource')) {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ resource, authorization_servers: [issuer], scopes_supported: [MCP_SCOPE] }));
    return;
  }
  if (req.url === '/mcp') {
    const header = req.headers.authorization ?? '';
    try {
      const jwks = createRemoteJWKSet(new URL(`${issuer}/jwks`));
      const { payload } = await jwtVerify(header.replace(/^Bearer /u, ''), jwks, { issuer, audience: resource });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: true, sub: payload.sub, client_id: payload.client_id, scope: payload.scope }));
    } catch {
      res.writeHead(401, { 'www-authenticate': `Bearer resource_metadata="${metadataUrl}"` });
      res.end();
    }
    return;
  }
  res.writeHead(404);
  res.end();
}

/** A tiny browser: manual redirects, one cookie jar, loopback only. */
function browser() {
  const jar = new Map();
  async function request(url, init = {}) {
    const target = new URL(url);
    assert.ok(['127.0.0.1', 'localhost'].includes(target.hostname), `browser stays on loopback: ${url}`);
    const headers = { ...(init.headers ?? {}) };
    if (jar.size) headers.cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const i = pair.indexOf('=');
      jar.set(pair.slice(0, i), pair.slice(i + 1));
    }
    return res;
  }
  /** Follows redirects until a page (or the callback) is reached. */
  async function follow(url, init) {
    let res = await request(url, init);
    let at = url;
    for (let i = 0; i < 10 && res.status >= 300 && res.status < 400; i++) {
      at = new URL(res.headers.get('location'), at).href;
      if (at.startsWith(CALLBACK)) return { at, res };
      res = await request(at);
    }
    return { at, res };
  }
  return { request, follow };
}

function mcpClientProvider(clientMetadataUrl) {
  const state = { authorizationUrl: undefined, tokens: undefined, info: undefined, verifier: undefined };
  return {
    saved: state,
    clientMetadataUrl,
    get redirectUrl() {
      return CALLBACK;
    },
    get clientMetadata() {
      return {
        client_name: 'MCP e2e client',
        redirect_uris: [CALLBACK],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'none',
        scope: MCP_SCOPE,
      };
    },
    clientInformation: () => state.info,
    saveClientInformation: (info) => {
      state.info = info;
    },
    tokens: () => state.tokens,
    saveTokens: (t) => {
      state.tokens = t;
    },
    redirectToAuthorization: (url) => {
      state.authorizationUrl = url;
    },
    saveCodeVerifier: (v) => {
      state.verifier = v;
    },
    codeVerifier: () => state.verifier,
  };
}

/** Drives oidc-provider's devInteractions (login, consent) and returns the code. */
async function loginAndConsent(authUrl) {
  const b = browser();
  let { at, res } = await b.follow(authUrl.href);
  assert.equal(res.status, 200, `login page at ${at}: ${await res.clone().text()}`);
  assert.match(at, /\/interaction\//u);
  ({ at, res } = await b.follow(at, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ prompt: 'login', login: 'alice', password: 'any' }),
  }));
  if (!at.startsWith(CALLBACK)) {
    assert.equal(res.status, 200, `consent page at ${at}`);
    ({ at, res } = await b.follow(at, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ prompt: 'consent' }),
    }));
  }
  assert.ok(at.startsWith(CALLBACK), `redirected back to the client: ${at}`);
  const code = new URL(at).searchParams.get('code');
  assert.ok(code, `an authorization code in ${at}`);
  return code;
}

describe('MCP SDK login through oidc-provider with a CIMD client fetched via Portcullis', () => {
  test('authorization code + PKCE to a token', async () => {
    const clientId = lab.url(GOOD, '/client.json');
    const mcp = mcpClientProvider(clientId);
    // Unauthenticated, the MCP server answers 401 pointing at its resource metadata.
    const anonymous = await fetch(resource, { method: 'POST' });
    assert.equal(anonymous.status, 401);
    assert.match(anonymous.headers.get('www-authenticate'), /resource_metadata=/u);

    // The SDK discovers the AS through RFC 9728, sees client_id_metadata_document_supported,
    // and uses the URL of its metadata document as its client_id.
    assert.equal(await auth(mcp, { serverUrl: resource }), 'REDIRECT');
    const authUrl = mcp.saved.authorizationUrl;
    assert.ok(authUrl.href.startsWith(`${issuer}/`), authUrl.href);
    assert.equal(authUrl.searchParams.get('client_id'), clientId);
    assert.equal(authUrl.searchParams.get('resource'), resource);
    assert.equal(authUrl.searchParams.get('scope'), MCP_SCOPE);
    assert.equal(authUrl.searchParams.get('code_challenge_method'), 'S256');

    const code = await loginAndConsent(authUrl);

    assert.equal(await auth(mcp, { serverUrl: resource, authorizationCode: code }), 'AUTHORIZED');
    assert.ok(mcp.saved.tokens?.access_token, 'an access token');
    assert.equal(mcp.saved.tokens.token_type.toLowerCase(), 'bearer');

    // The token is for this MCP server and this client, and the MCP server accepts it.
    const called = await fetch(resource, {
      method: 'POST',
      headers: { authorization: `Bearer ${mcp.saved.tokens.access_token}` },
    });
    assert.equal(called.status, 200);
    const seen = await called.json();
    assert.equal(seen.sub, 'alice');
    assert.equal(seen.client_id, clientId);
    assert.equal(seen.scope, MCP_SCOPE);
    assert.equal(operatorLog.length, 0, `no refusal for the good client: ${JSON.stringify(operatorLog)}`);
    // oidc-provider's CIMD fetch went through the kit, classified as client_metadata.
    // (Once per step of the login while the verdict carries no `cache` claim — the adapter
    // then answers `no-store` — and once per 60 s when it does: the origin says max-age=60.)
    assert.ok(fetches.length >= 1);
    for (const f of fetches) {
      assert.deepEqual(f, { url: clientId, purpose: 'client_metadata', kind: 'client_metadata', outcome: 'valid' });
    }
  });
});

describe('a private_key_jwt CIMD client', () => {
  test('its jwks_uri is fetched through Portcullis, and its client assertion verifies', async () => {
    const clientId = lab.url(GOOD, '/pkjwt.json');
    const mcp = mcpClientProvider(clientId);
    mcp.addClientAuthentication = async (headers, params) => {
      const assertion = await new SignJWT({})
        .setProtectedHeader({ alg: 'ES256', kid: clientJwk.kid })
        .setIssuer(clientId)
        .setSubject(clientId)
        .setAudience(issuer)
        .setJti(crypto.randomUUID())
        .setIssuedAt()
        .setExpirationTime('60s')
        .sign(clientKeys.privateKey);
      params.set('client_id', clientId);
      params.set('client_assertion_type', 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
      params.set('client_assertion', assertion);
    };
    const seen = fetches.length;
    assert.equal(await auth(mcp, { serverUrl: resource }), 'REDIRECT');
    const code = await loginAndConsent(mcp.saved.authorizationUrl);
    assert.equal(await auth(mcp, { serverUrl: resource, authorizationCode: code }), 'AUTHORIZED');
    assert.ok(mcp.saved.tokens?.access_token);
    const kinds = fetches.slice(seen).map((f) => `${f.purpose} ${new URL(f.url).pathname} ${f.outcome}`);
    assert.ok(kinds.includes('client_metadata /pkjwt.json valid'), kinds.join('; '));
    assert.ok(kinds.includes('jwks_uri /jwks.json valid'), kinds.join('; '));
    assert.ok(kinds.every((k) => !k.startsWith('client_metadata /jwks.json')), kinds.join('; '));
  });
});

describe('hostile client_ids are refused, with codes for the operator', () => {
  async function attempt(clientId) {
    const before = operatorLog.length;
    const errsBefore = providerErrors.length;
    const url = new URL(`${issuer}/auth`);
    url.search = new URLSearchParams({
      client_id: clientId,
      response_type: 'code',
      redirect_uri: CALLBACK,
      scope: 'openid',
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGjSstw-cM',
      code_challenge_method: 'S256',
    }).toString();
    const res = await fetch(url, { redirect: 'manual' });
    const body = await res.text();
    return { res, body, events: operatorLog.slice(before), errs: providerErrors.slice(errsBefore) };
  }

  function refused({ res, body, events, errs }, errorClass, code) {
    // oidc-provider's own authorization.error event carries the kit's typed error as the
    // cause, so an AS that already logs those events sees the codes too.
    assert.ok(errs.some((e) => e?.cause instanceof errorClass && e.cause.codes.includes(code)), `cause with ${code} in oidc-provider's error event`);
    // The user sees the authorization server's own error page, not a redirect to the client.
    assert.equal(res.status, 400, body.slice(0, 300));
    assert.match(body, /invalid_client/u);
    // The operator sees which client and why.
    assert.ok(events.length >= 1, 'a refusal was logged');
    const e = events[0];
    assert.equal(e.event, 'portcullis_refusal');
    assert.equal(e.kind, 'client_metadata');
    assert.equal(e.error, errorClass.name);
    assert.ok(e.codes.includes(code), `${code} in ${JSON.stringify(e.codes)}`);
  }

  test('a name resolving to 169.254.169.254', { skip: !SEALED && 'needs the sealed namespace' }, async () => {
    refused(await attempt(lab.url('meta.mcp.test', '/client.json')), BlockedError, 'cloud_metadata');
  });

  test('a name resolving to 10.0.0.5', { skip: !SEALED && 'needs the sealed namespace' }, async () => {
    refused(await attempt(lab.url('intranet.mcp.test', '/client.json')), BlockedError, 'private_use');
  });

  test('a name with good and loopback answers', async () => {
    refused(await attempt(lab.url('mixed.mcp.test', '/client.json')), BlockedError, 'mixed_resolution');
  });

  test('a document with a shared secret', async () => {
    const r = await attempt(lab.url(GOOD, '/secret.json'));
    refused(r, InvalidError, r.events[0]?.codes?.find((c) => c.includes('secret')) ?? 'a *secret* code');
  });

  test('a document whose client_id is another URL', async () => {
    const r = await attempt(lab.url(GOOD, '/mismatch.json'));
    refused(r, InvalidError, r.events[0]?.codes?.find((c) => c.includes('client_id')) ?? 'a client_id code');
  });

  test('zero connections reached the blocked addresses; the good client was fetched', async () => {
    if (SEALED) {
      // Positive control: one deliberate connection to each counter (inside the sealed
      // namespace these addresses are on `lo`), so "zero from Portcullis" means something.
      // Outside a sealed namespace the lab refuses to open these counters (SealedNet), so
      // startLab fails before this line could ever run.
      for (const host of ['169.254.169.254', '10.0.0.5']) {
        await new Promise((resolve, reject) => {
          const socket = connect({ host, port: lab.port }, () => {
            socket.end();
            resolve();
          });
          socket.once('error', reject);
        });
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    const report = await lab.stop();
    lab = undefined;
    process.stderr.write(`lab report: ${JSON.stringify(report)}\n`);
    assert.ok(report?.stopped, 'the lab reported its counters');
    assert.ok(report.origin_hits['/client.json'] >= 1, 'the good CIMD was fetched from the allowed origin');
    if (!SEALED) {
      console.error('SKIPPED: connection counters on 169.254.169.254 / 10.0.0.5 need the sealed namespace');
      return;
    }
    // Exactly the control connection each: none from the refused client_ids.
    assert.deepEqual(report.counters, { '10.0.0.5': 1, '169.254.169.254': 1 });
  });
});

if (!SEALED) {
  console.error('SKIPPED: the 169.254.169.254 / 10.0.0.5 cases and the connection count need PORTCULLIS_SEALED=1 (scripts/e2e-oidc.sh)');
}
