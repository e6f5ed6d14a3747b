export type RateLimiterOptions = {
  /** Tokens added per minute, per key. 0 turns the limiter off. */
  readonly perMinute: number;
  /** Bucket size: how many calls a key may make at once after a quiet spell. */
  readonly burst: number;
  /** Keys tracked at most; the least recently seen are forgotten beyond it. @default 10_000 */
  readonly maxKeys?: number;
  readonly now?: () => number;
};

export type RateDecision =
  { readonly allowed: true } | { readonly allowed: false; readonly retryAfterMs: number };

type Bucket = { tokens: number; updatedAt: number };

/**
 * A token bucket per key (client IP or API key). Memory is bounded by
 * `maxKeys`: a forgotten key starts again with a full bucket, which is the
 * lenient side to err on.
 */
export class RateLimiter {
  readonly #buckets = new Map<string, Bucket>();
  readonly #perMs: number;
  readonly #burst: number;
  readonly #maxKeys: number;
  readonly #now: () => number;

  constructor(options: RateLimiterOptions) {
    const { perMinute, burst, maxKeys = 10_000 } = options;
    if (!Number.isFinite(perMinute) || perMinute < 0) {
      throw new TypeError(`Expected \`perMinute\` to be a number >= 0, got \`${perMinute}\``);
    }
    if (!Number.isInteger(burst) || burst < 1) {
      throw new TypeError(`Expected \`burst\` to be an integer >= 1, got \`${burst}\``);
    }
    if (!Number.isInteger(maxKeys) || maxKeys < 1) {
      throw new TypeError(`Expected \`maxKeys\` to be an integer >= 1, got \`${maxKeys}\``);
    }
    this.#perMs = perMinute / 60_000;
    this.#burst = burst;
    this.#maxKeys = maxKeys;
    this.#now = options.now ?? Date.now;
  }

  get enabled(): boolean {
    return this.#perMs > 0;
  }

  /** Takes one token for `key`, or says how long until one is available. */
  take(key: string): RateDecision {
    if (!this.enabled) return { allowed: true };
    const now = this.#now();
    const bucket = this.#buckets.get(key) ?? { tokens: this.#burst, updatedAt: now };
    bucket.tokens = Math.min(this.#burst, bucket.tokens + (now - bucket.updatedAt) * this.#perMs);
    bucket.updatedAt = now;
    // Re-inserting keeps the map in least-recently-seen order.
    this.#buckets.delete(key);
    this.#buckets.set(key, bucket);
    this.#forgetOldest();
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { allowed: true };
    }
    return { allowed: false, retryAfterMs: Math.ceil((1 - bucket.tokens) / this.#perMs) };
  }

  /** Keys currently tracked (bounded by `maxKeys`). */
  get size(): number {
    return this.#buckets.size;
  }

  #forgetOldest(): void {
    for (const key of this.#buckets.keys()) {
      if (this.#buckets.size <= this.#maxKeys) return;
      this.#buckets.delete(key);
    }
  }
}
