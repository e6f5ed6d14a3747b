import { createHash, timingSafeEqual } from 'node:crypto';

export type ApiKeyCheck = 'ok' | 'not-required' | 'missing' | 'invalid';

/**
 * The optional API keys (`API_KEYS`). Keys are compared as SHA-256 digests
 * with `timingSafeEqual`, and every configured key is compared on each
 * check, so the time taken says nothing about how close a guess was.
 */
export class ApiKeys {
  readonly #digests: readonly Buffer[];

  constructor(keys: readonly string[]) {
    for (const key of keys) {
      if (typeof key !== 'string' || key.length === 0) {
        throw new TypeError(`Expected every API key to be a non-empty string, got \`${String(key)}\``);
      }
    }
    this.#digests = keys.map(digest);
  }

  /** True when keys are configured: mutations and WebSocket connections must present one. */
  get required(): boolean {
    return this.#digests.length > 0;
  }

  check(presented: string | null | undefined): ApiKeyCheck {
    if (!this.required) return 'not-required';
    if (!presented) return 'missing';
    const given = digest(presented);
    let matched = false;
    for (const known of this.#digests) matched = timingSafeEqual(known, given) || matched;
    return matched ? 'ok' : 'invalid';
  }
}

function digest(key: string): Buffer {
  return createHash('sha256').update(key).digest();
}
