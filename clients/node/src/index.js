// @portcullis/client: ask Portcullis to fetch a URL, verify the signed verdict, and get
// either the verified claims (outcome `valid`) or a typed error carrying the problem codes.
//
// The kit never reads the unsigned `claims` copy of the reply: only the JWS counts.

import { createLocalJWKSet, jwtVerify, errors as joseErrors } from 'jose';

import {
  BlockedError,
  InvalidError,
  PortcullisError,
  ProtocolError,
  UnavailableError,
  UnreachableError,
  VerdictError,
} from './errors.js';

export {
  BlockedError,
  InvalidError,
  PortcullisError,
  ProtocolError,
  UnavailableError,
  UnreachableError,
  VerdictError,
};

/** JWS `typ` of every verdict (compared exactly, RFC 8725 §3.11). */
export const VERDICT_TYP = 'portcullis-verdict+jwt';
/** Algorithms the service signs with; narrow it to what your deployment uses. */
export const DEFAULT_ALLOWED_ALGS = Object.freeze(['EdDSA', 'Ed25519', 'ES256']);
/** Seconds of clock skew tolerated on `exp` / `iat`. Small: verdicts are short-lived. */
export const DEFAULT_CLOCK_TOLERANCE_S = 5;
/** Document kinds the service knows. */
export const KINDS = Object.freeze([
  'client_metadata',
  'jwks',
  'protected_resource_metadata',
  'authorization_server_metadata',
  'json',
]);
/** How long to wait for the service when the caller gives no deadline. */
export const DEFAULT_TIMEOUT_MS = 10_000;
/** Extra time past the service-side deadline before the kit gives up on the HTTP call. */
const DEADLINE_SLACK_MS = 250;

const JOSE_CODES = {
  ERR_JWT_EXPIRED: 'expired',
  ERR_JWS_SIGNATURE_VERIFICATION_FAILED: 'bad_signature',
  ERR_JOSE_ALG_NOT_ALLOWED: 'alg_not_allowed',
  ERR_JWKS_NO_MATCHING_KEY: 'unknown_kid',
  ERR_JWKS_MULTIPLE_MATCHING_KEYS: 'ambiguous_kid',
  ERR_JWS_INVALID: 'bad_jws',
  ERR_JWT_INVALID: 'bad_jws',
  ERR_JOSE_NOT_SUPPORTED: 'alg_not_allowed',
};

const CLAIM_CODES = {
  iss: 'wrong_issuer',
  aud: 'wrong_audience',
  typ: 'wrong_typ',
  exp: 'expired',
  iat: 'bad_iat',
  nbf: 'bad_iat',
  jti: 'missing_jti',
};

/** Maps a jose error to the kit's stable code. */
function joseCode(err) {
  if (err?.code === 'ERR_JWT_CLAIM_VALIDATION_FAILED') {
    return CLAIM_CODES[err.claim] ?? 'claim_invalid';
  }
  return JOSE_CODES[err?.code] ?? 'verification_failed';
}

/**
 * How long the caller may cache the *document* of a verdict, in seconds, from the signed
 * `cache` claim. 0 means do not cache (also when the service predates the claim).
 */
export function cacheMaxAge(claims) {
  const cache = claims?.cache;
  if (!cache || typeof cache !== 'object' || cache.no_store === true) return 0;
  const n = cache.max_age_s;
  return Number.isSafeInteger(n) && n > 0 ? n : 0;
}

/** Seconds from a Retry-After header (delta-seconds or HTTP date), or undefined. */
function parseRetryAfter(value) {
  if (!value) return undefined;
  if (/^\d+$/u.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

/** The members of an expectations object that carry a value, in a stable order. */
function expectEntries(expect) {
  return Object.entries(expect ?? {})
    .filter(([, v]) => v !== undefined && v !== null)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

function sameExpect(a, b) {
  return JSON.stringify(expectEntries(a)) === JSON.stringify(expectEntries(b));
}

export class PortcullisClient {
  /**
   * @param {object} options
   * @param {string} options.url       base URL of the service, e.g. `http://127.0.0.1:8787`
   * @param {string} [options.token]   bearer token of this caller
   * @param {string} [options.issuer]  expected `iss` (the service's `signing.issuer`)
   * @param {string} options.audience  expected `aud`: this caller's name in the service config
   * @param {string[]} [options.allowedAlgs]
   * @param {number} [options.clockToleranceS]
   * @param {typeof fetch} [options.fetch] HTTP implementation (tests, proxies)
   */
  constructor({
    url,
    token,
    issuer = 'portcullis',
    audience,
    allowedAlgs = DEFAULT_ALLOWED_ALGS,
    clockToleranceS = DEFAULT_CLOCK_TOLERANCE_S,
    fetch: fetchImpl = globalThis.fetch,
  } = {}) {
    if (typeof url !== 'string' || !url) throw new TypeError('PortcullisClient: url is required');
    if (typeof audience !== 'string' || !audience) {
      throw new TypeError('PortcullisClient: audience (this caller\'s name) is required');
    }
    if (!Array.isArray(allowedAlgs) || allowedAlgs.length === 0) {
      throw new TypeError('PortcullisClient: allowedAlgs must be a non-empty array');
    }
    this.base = url.replace(/\/+$/u, '');
    this.token = token;
    this.issuer = issuer;
    this.audience = audience;
    this.allowedAlgs = [...allowedAlgs];
    this.clockToleranceS = clockToleranceS;
    this.httpFetch = fetchImpl;
    this.keySet = undefined; // { jwks, lookup }
    this.keyFetches = 0;
  }

  /** Fetches `/v1/keys` (again) and replaces the cached key set. */
  async refreshKeys(signal) {
    let response;
    try {
      response = await this.httpFetch(`${this.base}/v1/keys`, { signal });
    } catch (cause) {
      throw new UnavailableError(0, 'service_unreachable', String(cause?.message ?? cause));
    }
    if (response.status !== 200) {
      throw new ProtocolError('keys_unavailable', `GET /v1/keys answered ${response.status}`, {
        status: response.status,
      });
    }
    let jwks;
    try {
      jwks = await response.json();
    } catch (cause) {
      throw new ProtocolError('keys_unavailable', 'GET /v1/keys is not JSON', { cause });
    }
    if (!jwks || !Array.isArray(jwks.keys)) {
      throw new ProtocolError('keys_unavailable', 'GET /v1/keys is not a JWK Set');
    }
    this.keyFetches += 1;
    this.keySet = { jwks, lookup: createLocalJWKSet(jwks) };
    return jwks;
  }

  /**
   * Verifies a compact verdict JWS against the service keys and the request it answers.
   * Returns the claims whatever the outcome; throws `ProtocolError` when the verdict cannot
   * be trusted. Refetches the keys once when the `kid` is unknown (key rotation).
   *
   * @param {string} jws
   * @param {{url: string, kind: string, expect?: object}} request
   * @param {{currentDate?: Date, signal?: AbortSignal}} [options]
   */
  async verify(jws, request, { currentDate, signal } = {}) {
    if (typeof jws !== 'string') throw new ProtocolError('bad_reply', 'no verdict in the reply');
    if (!this.keySet) await this.refreshKeys(signal);
    const options = {
      issuer: this.issuer,
      audience: this.audience,
      algorithms: this.allowedAlgs,
      typ: VERDICT_TYP,
      clockTolerance: this.clockToleranceS,
      requiredClaims: ['iss', 'aud', 'exp', 'iat', 'jti'],
      currentDate,
    };
    let result;
    try {
      result = await jwtVerify(jws, this.keySet.lookup, options);
    } catch (err) {
      if (!(err instanceof joseErrors.JWKSNoMatchingKey)) {
        throw new ProtocolError(joseCode(err), err.message, { cause: err });
      }
      await this.refreshKeys(signal);
      try {
        result = await jwtVerify(jws, this.keySet.lookup, options);
      } catch (again) {
        throw new ProtocolError(joseCode(again), again.message, { cause: again });
      }
    }
    // The header typ is exact (jose normalizes the application/ prefix away).
    if (result.protectedHeader.typ !== VERDICT_TYP) {
      throw new ProtocolError('wrong_typ', `typ ${result.protectedHeader.typ}`);
    }
    const claims = result.payload;
    if (claims.url !== request.url) {
      throw new ProtocolError('url_mismatch', `verdict is about ${claims.url}, asked ${request.url}`);
    }
    if (claims.kind !== request.kind) {
      throw new ProtocolError('kind_mismatch', `verdict is for kind ${claims.kind}, asked ${request.kind}`);
    }
    // Services that echo the expectations must echo the ones asked for.
    if (claims.expect !== undefined && !sameExpect(claims.expect, request.expect)) {
      throw new ProtocolError('expect_mismatch', 'verdict was judged against other expectations');
    }
    if (!['valid', 'invalid', 'blocked', 'unreachable'].includes(claims.outcome)) {
      throw new ProtocolError('unknown_outcome', `outcome ${claims.outcome}`);
    }
    return claims;
  }

  /**
   * Asks the service to fetch `url` as `kind` and returns the verified claims of a `valid`
   * verdict (`claims.document` is the validated document). Throws `BlockedError`,
   * `InvalidError`, `UnreachableError` (signed refusals, with `codes`), `UnavailableError`
   * (429/503, retryable, with `retryAfter`) or `ProtocolError`.
   *
   * @param {string} url
   * @param {{kind: string, expect?: {resource?: string, issuer?: string}, deadlineMs?: number,
   *          profile?: string, signal?: AbortSignal}} options
   */
  async fetch(url, { kind, expect, deadlineMs, profile, signal } = {}) {
    const claims = await this.judge(url, { kind, expect, deadlineMs, profile, signal });
    switch (claims.outcome) {
      case 'valid':
        return claims;
      case 'blocked':
        throw new BlockedError(claims);
      case 'invalid':
        throw new InvalidError(claims);
      default:
        throw new UnreachableError(claims);
    }
  }

  /** Like `fetch`, but returns the verified claims of any outcome instead of throwing. */
  async judge(url, { kind, expect, deadlineMs, profile, signal } = {}) {
    if (typeof url !== 'string') throw new TypeError('url must be a string');
    if (!KINDS.includes(kind)) throw new TypeError(`kind must be one of ${KINDS.join(', ')}`);
    const body = { url, kind };
    if (expect && Object.keys(expect).length) body.expect = expect;
    if (profile) body.profile = profile;
    const headers = { 'content-type': 'application/json', accept: 'application/json' };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    let timeout = DEFAULT_TIMEOUT_MS;
    if (deadlineMs !== undefined) {
      if (!Number.isSafeInteger(deadlineMs) || deadlineMs <= 0) {
        throw new TypeError('deadlineMs must be a positive integer');
      }
      // The header form of the deadline: accepted by every service version (an older one
      // ignores it; the body member would be refused by its strict parser).
      headers['x-portcullis-deadline-ms'] = String(deadlineMs);
      timeout = deadlineMs + DEADLINE_SLACK_MS;
    }
    const signals = [AbortSignal.timeout(timeout)];
    if (signal) signals.push(signal);
    const combined = AbortSignal.any(signals);

    let response;
    try {
      response = await this.httpFetch(`${this.base}/v1/fetch`, {
        method: 'POST',
        headers,
        body: JSON.stringify(body),
        signal: combined,
      });
    } catch (cause) {
      // Our own time limit (deadline + slack) ran out: the service did not answer in time.
      const timedOut = combined.aborted && !signal?.aborted;
      throw new UnavailableError(0, timedOut ? 'service_timeout' : 'service_unreachable', String(cause?.message ?? cause));
    }
    const text = await response.text().catch(() => '');
    let reply;
    try {
      reply = text ? JSON.parse(text) : undefined;
    } catch {
      reply = undefined;
    }
    const { status } = response;
    if (status === 429 || status === 503) {
      const retryAfter = Number.isSafeInteger(reply?.retry_after)
        ? reply.retry_after
        : parseRetryAfter(response.headers.get('retry-after'));
      throw new UnavailableError(status, reply?.error ?? (status === 429 ? 'rate_limited' : 'overloaded'), reply?.detail, retryAfter);
    }
    if (status !== 200) {
      throw new ProtocolError(reply?.error ?? `http_${status}`, reply?.detail, { status });
    }
    if (!reply || typeof reply.verdict !== 'string') {
      throw new ProtocolError('bad_reply', '200 without a verdict');
    }
    return this.verify(reply.verdict, { url, kind, expect }, { signal: combined });
  }
}

export default PortcullisClient;
