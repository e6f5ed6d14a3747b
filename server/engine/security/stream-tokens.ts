import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';

export type TokenCheck =
  'ok' | 'missing' | 'malformed' | 'invalid' | 'expired' | 'other-workflow' | 'wrong-kind';

export type StreamTokenOptions = {
  /** Signs new tokens and verifies them. */
  readonly secret: string;
  /** Still accepted for verification, so the secret can be rotated without cutting off clients. */
  readonly previousSecrets?: readonly string[];
  readonly ttlSeconds: number;
  readonly now?: () => number;
};

const VERSION = 'v2';
/** HMAC-SHA256. */
const SIGNATURE_BYTES = 32;
/** A workflow kind as the engine names it (see names.ts). */
const KIND = /^[A-Za-z][A-Za-z0-9]*$/;

/**
 * Read access to one workflow of one kind:
 * `v2.<kind>.<traceId>.<expiry>.<hmac>`, the HMAC-SHA256 of the first four
 * parts. Carrying the kind and the trace id lets a valid token for another
 * workflow, or for the right workflow on another kind's procedure, be told
 * apart from a forged one. Each token has exactly one spelling: only the
 * canonical base64url of the signature is accepted.
 */
export class StreamTokens {
  /** Key objects made once: an HMAC from a string key imports the key on every call. */
  readonly #secrets: readonly KeyObject[];
  readonly #ttlSeconds: number;
  readonly #now: () => number;

  constructor(options: StreamTokenOptions) {
    this.#secrets = [options.secret, ...(options.previousSecrets ?? [])].map((secret) =>
      createSecretKey(Buffer.from(secret, 'utf8')),
    );
    this.#ttlSeconds = options.ttlSeconds;
    this.#now = options.now ?? Date.now;
  }

  issue(kind: string, traceId: string): string {
    if (!KIND.test(kind)) throw new TypeError(`Expected a workflow kind, got \`${kind}\``);
    // Rounded up to the second: a token is valid for at least its whole TTL.
    const expiresAt = Math.ceil((this.#now() + this.#ttlSeconds * 1000) / 1000);
    const body = `${VERSION}.${kind}.${traceId}.${expiresAt}`;
    // The first secret is the current one; there is always one.
    const [current] = this.#secrets;
    if (!current) throw new Error('no signing secret');
    return `${body}.${sign(current, body).toString('base64url')}`;
  }

  /** The kind a well-formed token names (not yet verified), or null. */
  kindOf(token: string | null | undefined): string | null {
    const parts = token?.split('.') ?? [];
    return parts.length === 5 && parts[0] === VERSION && KIND.test(parts[1] ?? '')
      ? (parts[1] ?? null)
      : null;
  }

  /**
   * Whether `token` opens workflow `traceId` of kind `expectedKind` (of
   * any kind when null): a genuine token of another workflow is
   * `other-workflow`, one of this workflow used for another kind `wrong-kind`.
   */
  verify(expectedKind: string | null, traceId: string, token: string | null | undefined): TokenCheck {
    if (!token) return 'missing';
    const parts = token.split('.');
    const [version, kind, tokenTraceId, expiry, signature] = parts;
    if (
      parts.length !== 5 ||
      version !== VERSION ||
      !kind ||
      !KIND.test(kind) ||
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
    const body = `${version}.${kind}.${tokenTraceId}.${expiry}`;
    // Both sides are SIGNATURE_BYTES long: the comparison covers every byte.
    const signedByUs = this.#secrets.some((secret) => timingSafeEqual(sign(secret, body), given));
    if (!signedByUs) return 'invalid';
    if (Number(expiry) * 1000 <= this.#now()) return 'expired';
    if (tokenTraceId !== traceId) return 'other-workflow';
    return expectedKind === null || kind === expectedKind ? 'ok' : 'wrong-kind';
  }
}

function sign(secret: KeyObject, body: string): Buffer {
  return createHmac('sha256', secret).update(body).digest();
}
