/**
 * The bytes the answers of one HTTP request may still take. A batch's
 * answers travel in one body that is built whole in memory, so they share
 * one budget (`MAX_RESPONSE_BYTES`).
 */
export class ResponseBudget {
  readonly limit: number;
  #left: number;

  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 1) {
      throw new TypeError(`Expected \`limit\` to be an integer >= 1, got \`${limit}\``);
    }
    this.limit = limit;
    this.#left = limit;
  }

  get left(): number {
    return this.#left;
  }

  /** Takes `bytes` from the budget; false, taking nothing, when they do not fit. */
  take(bytes: number): boolean {
    if (bytes > this.#left) return false;
    this.#left -= bytes;
    return true;
  }
}
