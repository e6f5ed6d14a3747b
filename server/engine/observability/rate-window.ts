/** Samples of a growing total, read back as a rate per second over a sliding window. */
export class RateWindow {
  readonly #windowMs: number;
  readonly #samples: { readonly at: number; readonly total: number }[] = [];

  /** @param windowMs how far back the rate looks */
  constructor(windowMs: number) {
    if (!Number.isFinite(windowMs) || windowMs <= 0) {
      throw new TypeError(`Expected \`windowMs\` to be a positive number, got \`${windowMs}\``);
    }
    this.#windowMs = windowMs;
  }

  add(at: number, total: number): void {
    this.#samples.push({ at, total });
    while (this.#samples.length > 1 && (this.#samples[0]?.at ?? at) < at - this.#windowMs)
      this.#samples.shift();
  }

  /** Units per second between the oldest sample in the window and `total` now. */
  rate(at: number, total: number): number {
    const oldest = this.#samples[0];
    if (!oldest || at <= oldest.at) return 0;
    return Math.max(0, total - oldest.total) / ((at - oldest.at) / 1000);
  }
}
