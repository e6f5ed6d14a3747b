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
/** HMAC-SHA256. */
const SIGNATURE_BYTES = 32;

/**
 * Read access to one workflow's stream: `v1.<traceId>.<expiry>.<hmac>`, the
 * HMAC-SHA256 of the first three parts. Carrying the trace id lets a valid
 * token for another workflow be told apart from a forged one. Each token has
 * exactly one spelling: only the canonical base64url of the signature is
 * accepted.
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
    // Rounded up to the second: a token is valid for at least its whole TTL.
    const expiresAt = Math.ceil((this.#now() + this.#ttlSeconds * 1000) / 1000);
    const body = `${VERSION}.${traceId}.${expiresAt}`;
    // The first secret is the current one.
    return `${body}.${sign(this.#secrets[0] ?? '', body).toString('base64url')}`;
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
    // The decoder skips what is not base64url, reads `+` and `/` too, and ignores the last
    // character's two spare bits: only the spelling it would write itself is the token.
    const given = Buffer.from(signature, 'base64url');
    if (given.length !== SIGNATURE_BYTES || given.toString('base64url') !== signature) return 'malformed';
    const body = `${version}.${tokenTraceId}.${expiry}`;
    // Both sides are SIGNATURE_BYTES long: the comparison covers every byte.
    const signedByUs = this.#secrets.some((secret) => timingSafeEqual(sign(secret, body), given));
    if (!signedByUs) return 'invalid';
    if (Number(expiry) * 1000 <= this.#now()) return 'expired';
    return tokenTraceId === traceId ? 'ok' : 'other-workflow';
  }
}

function sign(secret: string, body: string): Buffer {
  return createHmac('sha256', secret).update(body).digest();
}
