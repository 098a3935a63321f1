// Typed errors of the Portcullis client kit. Every error carries `codes` (stable snake_case
// strings) so an authorization server can log *why* without parsing messages.

/** Base class: `codes` are the problem codes (verdict) or the error code (HTTP / kit). */
export class PortcullisError extends Error {
  constructor(message, { codes = [], problems = [], claims, cause } = {}) {
    super(message, cause ? { cause } : undefined);
    this.name = new.target.name;
    this.codes = codes;
    this.problems = problems;
    this.claims = claims;
  }

  /** Whether retrying later may succeed (only `UnavailableError`). */
  get retryable() {
    return false;
  }
}

/** A verdict that is not `valid`: base for the three signed refusals. */
export class VerdictError extends PortcullisError {
  constructor(outcome, claims) {
    const problems = Array.isArray(claims.problems) ? claims.problems : [];
    const errors = problems.filter((p) => p.severity !== 'warning');
    const codes = (errors.length ? errors : problems).map((p) => p.code);
    super(`portcullis: ${claims.url} is ${outcome} (${codes.join(', ') || 'no problem code'})`, {
      codes,
      problems,
      claims,
    });
    this.outcome = outcome;
    this.url = claims.url;
  }
}

/** The policy refused the URL or an address it resolved to; nothing was fetched from it. */
export class BlockedError extends VerdictError {
  constructor(claims) {
    super('blocked', claims);
  }
}

/** The document was fetched but is not a valid document of the requested kind. */
export class InvalidError extends VerdictError {
  constructor(claims) {
    super('invalid', claims);
  }
}

/** The origin could not be reached in time (DNS, connect, TLS, timeouts, deadline). */
export class UnreachableError extends VerdictError {
  constructor(claims) {
    super('unreachable', claims);
  }
}

/** 429 / 503: the service is throttling or overloaded. Retry after `retryAfter` seconds. */
export class UnavailableError extends PortcullisError {
  constructor(status, code, detail, retryAfter) {
    super(`portcullis: ${status} ${code}${detail ? `: ${detail}` : ''}`, { codes: [code] });
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }

  get retryable() {
    return true;
  }
}

/**
 * Anything else: a refused request (400/401/413/415, final), a transport failure, or an
 * answer that failed verification (bad signature, wrong issuer/audience, expired, a verdict
 * about another URL or kind). Never trust a document when this is thrown.
 */
export class ProtocolError extends PortcullisError {
  constructor(code, detail, { status, cause } = {}) {
    super(`portcullis: ${code}${detail ? `: ${detail}` : ''}`, { codes: [code], cause });
    this.code = code;
    this.status = status;
  }
}
