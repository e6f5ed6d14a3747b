import { createHmac, timingSafeEqual } from 'node:crypto';

export type TokenCheck = 'ok' | 'missing' | 'malformed' | 'invalid' | 'expired' | 'other-workflow';

export type StreamTokenOptions = {
  /** Signs new tokens and verifies them. */
  readonly secret: string;
  /** Still accepted for verification, so the secret can be rotated without cutting off clients. */
  readonly previousSecrets?: readonly string[];
  readonly ttlSeconds: number;
  readonly now?: () => number;
};

const VERSION = 'v1';

/**
 * Read access to one workflow's stream: `v1.<traceId>.<expiry>.<hmac>`, the
 * HMAC-SHA256 of the first three parts. Carrying the trace id lets a valid
 * token for another workflow be told apart from a forged one.
 */
export class StreamTokens {
  readonly #secrets: readonly string[];
  readonly #ttlSeconds: number;
  readonly #now: () => number;

  constructor(options: StreamTokenOptions) {
    this.#secrets = [options.secret, ...(options.previousSecrets ?? [])];
    this.#ttlSeconds = options.ttlSeconds;
    this.#now = options.now ?? Date.now;
  }

  issue(traceId: string): string {
    const expiresAt = Math.floor(this.#now() / 1000) + this.#ttlSeconds;
    const body = `${VERSION}.${traceId}.${expiresAt}`;
    // The first secret is the current one.
    return `${body}.${sign(this.#secrets[0] ?? '', body)}`;
  }

  verify(traceId: string, token: string | null | undefined): TokenCheck {
    if (!token) return 'missing';
    const parts = token.split('.');
    const [version, tokenTraceId, expiry, signature] = parts;
    if (
      parts.length !== 4 ||
      version !== VERSION ||
      !tokenTraceId ||
      !expiry ||
      !signature ||
      !/^\d+$/.test(expiry)
    ) {
      return 'malformed';
    }
    const body = `${version}.${tokenTraceId}.${expiry}`;
    const given = Buffer.from(signature, 'base64url');
    const signedByUs = this.#secrets.some((secret) => {
      const expected = Buffer.from(sign(secret, body), 'base64url');
      return expected.length === given.length && timingSafeEqual(expected, given);
    });
    if (!signedByUs) return 'invalid';
    if (Number(expiry) * 1000 <= this.#now()) return 'expired';
    return tokenTraceId === traceId ? 'ok' : 'other-workflow';
  }
}

function sign(secret: string, body: string): string {
  return createHmac('sha256', secret).update(body).digest('base64url');
}
