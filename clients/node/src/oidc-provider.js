// Adapter for panva's oidc-provider 9.x: routes its outbound fetches through Portcullis.
//
// oidc-provider makes every outbound request through one hook, `configuration.fetch(url,
// options)` (lib/helpers/fetch_request.js). Three of them GET documents that strangers
// control:
//   * the Client ID Metadata Document (lib/helpers/client_id_metadata_document.js), right
//     after `features.clientIdMetadataDocument.allowFetch(ctx, clientId)` said yes, for
//     exactly that client_id string;
//   * a `sector_identifier_uri` (lib/helpers/sector_validate.js), right after
//     `sectorIdentifierUriValidate(client)` said yes;
//   * a client's `jwks_uri` (lib/models/client.js, keystore refresh), with no hook before it.
// The adapter wraps the two hooks so they *announce* the URL about to be fetched, and the
// fetch hook classifies by that announcement — not by request options such as
// `redirect: 'manual'`, which oidc-provider may change in any release. An unannounced GET
// is a `jwks_uri` fetch. Non-GET requests (CIBA / back-channel logout POSTs) are refused
// unless the operator passes `otherFetch`.
//
// Purposes map to Portcullis kinds: client_metadata → `client_metadata`, sector_identifier →
// `json`, jwks_uri → `jwksKind` (default `jwks`). For kind `jwks` the service validates the set
// (weak, private or off-curve keys make it invalid) and the verdict's `document` is a JWK Set
// of the usable keys with their public members (kty, kid, use, alg, key_ops, crv, x, y, n, e,
// x5c, x5t#S256) plus an RFC 7638 `thumbprint`, never a private member — so oidc-provider
// verifies with exactly the keys the service judged. `jwksKind: 'json'` still works: the fetch
// is policy-checked, pinned and capped, and oidc-provider validates the JWK Set itself.

import { cacheMaxAge, ProtocolError } from './index.js';

/** How long an announcement waits for its fetch (the hooks run immediately before it). */
export const ANNOUNCEMENT_TTL_MS = 10_000;
/** Portcullis kind used for each fetch purpose (see the header comment for jwks_uri). */
export const KIND_FOR_PURPOSE = Object.freeze({
  client_metadata: 'client_metadata',
  sector_identifier: 'json',
  jwks_uri: 'jwks',
});
/** Default deadline sent to Portcullis: under oidc-provider's own 2.5 s fetch timeout. */
export const DEFAULT_DEADLINE_MS = 2_000;

/** The caching headers a verified document is served with, from the verdict's `cache` claim. */
export function cacheControlFor(claims) {
  const maxAge = cacheMaxAge(claims);
  return maxAge > 0 ? `max-age=${maxAge}` : 'no-store';
}

function defaultLog(event) {
  // One JSON line on stderr: what the operator greps for (`portcullis_refusal`).
  process.stderr.write(`${JSON.stringify(event)}\n`);
}

/**
 * @param {import('./index.js').PortcullisClient} client
 * @param {object} [options]
 * @param {number} [options.deadlineMs]  per-request deadline passed to Portcullis
 * @param {(event: object) => void} [options.log] receives one event per refused fetch
 * @param {(event: {url: string, purpose: string, kind: string, outcome?: string}) => void} [options.onFetch]
 *        observes every fetch and its classification (metrics, tests)
 * @param {(ctx: any, clientId: string) => Promise<boolean>|boolean} [options.allowFetch]
 *        your own CIMD allow-list, consulted before anything is announced
 * @param {(client: any) => boolean} [options.sectorIdentifierUriValidate]
 * @param {typeof fetch} [options.otherFetch] for non-GET requests; default: refuse
 * @param {'json'|'jwks'} [options.jwksKind] Portcullis kind for jwks_uri fetches
 * @returns {{fetch: Function, clientIdMetadataDocument: {allowFetch: Function},
 *            sectorIdentifierUriValidate: Function, classify: Function}}
 */
export function oidcProviderAdapter(client, {
  deadlineMs = DEFAULT_DEADLINE_MS,
  log = defaultLog,
  onFetch,
  jwksKind = KIND_FOR_PURPOSE.jwks_uri,
  allowFetch: userAllowFetch,
  sectorIdentifierUriValidate: userSectorValidate,
  otherFetch,
} = {}) {
  const announced = new Map(); // url -> [{ purpose, until }]

  const kindFor = { ...KIND_FOR_PURPOSE, jwks_uri: jwksKind };

  function announce(url, purpose) {
    const now = Date.now();
    for (const [key, list] of announced) {
      const live = list.filter((a) => a.until > now);
      if (live.length) announced.set(key, live);
      else announced.delete(key);
    }
    const list = announced.get(url) ?? [];
    list.push({ purpose, until: now + ANNOUNCEMENT_TTL_MS });
    announced.set(url, list);
  }

  /**
   * The purpose of an oidc-provider fetch: `client_metadata`, `sector_identifier` or
   * `jwks_uri`; undefined for non-GET requests. Consumes the URL's announcement.
   */
  function classify(url, method = 'GET') {
    if (method.toUpperCase() !== 'GET') return undefined;
    const list = announced.get(url);
    const now = Date.now();
    while (list?.length) {
      const a = list.shift();
      if (!list.length) announced.delete(url);
      if (a.until > now) return a.purpose;
    }
    return 'jwks_uri';
  }

  async function fetch(input, options = {}) {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const method = options.method ?? 'GET';
    const purpose = classify(url, method);
    if (purpose === undefined) {
      if (otherFetch) return otherFetch(input, options);
      throw new ProtocolError('method_not_supported', `${method} ${url}: Portcullis only fetches documents (GET)`);
    }
    const kind = kindFor[purpose];
    let claims;
    try {
      claims = await client.fetch(url, { kind, deadlineMs, signal: options.signal });
      onFetch?.({ url, purpose, kind, outcome: claims.outcome });
    } catch (err) {
      onFetch?.({ url, purpose, kind, outcome: err?.outcome, error: err?.name });
      log({
        event: 'portcullis_refusal',
        url,
        purpose,
        kind,
        error: err?.name,
        outcome: err?.outcome,
        codes: err?.codes ?? [],
        jti: err?.claims?.jti,
        retry_after: err?.retryAfter,
      });
      throw err;
    }
    const headers = {
      'content-type': 'application/json',
      'cache-control': cacheControlFor(claims),
    };
    return new Response(JSON.stringify(claims.document), { status: 200, headers });
  }

  return {
    fetch,
    classify,
    clientIdMetadataDocument: {
      async allowFetch(ctx, clientId) {
        if (userAllowFetch && !(await userAllowFetch(ctx, clientId))) return false;
        announce(clientId, 'client_metadata');
        return true;
      },
    },
    sectorIdentifierUriValidate(oidcClient) {
      if (userSectorValidate && !userSectorValidate(oidcClient)) return false;
      announce(new URL(oidcClient.sectorIdentifierUri).href, 'sector_identifier');
      return true;
    },
  };
}

export default oidcProviderAdapter;
