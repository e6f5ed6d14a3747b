export type TextProgressThrottleOptions = {
  /** Least time between two writes, in ms. @default 250 */
  readonly minIntervalMs?: number;
  /** Growth in characters that is worth a write even sooner. @default 120 */
  readonly minChars?: number;
  /** The clock, in ms. @default performance.now */
  readonly now?: () => number;
};

/**
 * Decides when text that grows token by token is worth another stream
 * event: the first piece at once, then only once enough time has passed or
 * enough text has been added, so a fast model cannot flood subscribers.
 */
export class TextProgressThrottle {
  readonly #minIntervalMs: number;
  readonly #minChars: number;
  readonly #now: () => number;
  #lastAt = Number.NEGATIVE_INFINITY;
  #lastLength = 0;

  constructor(options: TextProgressThrottleOptions = {}) {
    const { minIntervalMs = 250, minChars = 120, now = () => performance.now() } = options;
    if (!Number.isFinite(minIntervalMs) || minIntervalMs < 0) {
      throw new TypeError(`Expected \`minIntervalMs\` to be a number ≥ 0, got \`${minIntervalMs}\``);
    }
    if (!Number.isInteger(minChars) || minChars < 1) {
      throw new TypeError(`Expected \`minChars\` to be an integer ≥ 1, got \`${minChars}\``);
    }
    this.#minIntervalMs = minIntervalMs;
    this.#minChars = minChars;
    this.#now = now;
  }

  /** True when `text` should be written now; the caller then writes it. */
  shouldWrite(text: string): boolean {
    const grown = text.length - this.#lastLength;
    if (grown <= 0) return false;
    const now = this.#now();
    if (now - this.#lastAt < this.#minIntervalMs && grown < this.#minChars) return false;
    this.#lastAt = now;
    this.#lastLength = text.length;
    return true;
  }
}
