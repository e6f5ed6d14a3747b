/**
 * What the memory backend keeps of finished workflows. The memory stream
 * storage, workflow store and trace store share one, so that all three keep
 * and drop the same workflows together: a finished workflow is kept for
 * `retentionMs` at most, and beyond `maxFinished` finished workflows, or
 * beyond `maxBytes` of kept data, the oldest finished ones are evicted first.
 * Running workflows are never evicted: their data counts towards `maxBytes`,
 * but only finished ones make room, so while more is running than the bounds
 * allow, memory stays above them until those finish.
 */
export type MemoryRetentionOptions = {
  /** How long a finished workflow is kept, in ms. */
  readonly retentionMs: number;
  /** Finished workflows kept at most. @default Infinity */
  readonly maxFinished?: number;
  /** Kept data, as an estimate of its JSON size in bytes (see `jsonSize`). @default Infinity */
  readonly maxBytes?: number;
  readonly now?: () => number;
};

/** Why a workflow's data was dropped: its retention time passed, or a bound made room. */
export type DropReason = 'expired' | 'evicted';

export type Dropper = (id: string, reason: DropReason) => void;

export class MemoryRetention {
  readonly #retentionMs: number;
  readonly #maxFinished: number;
  readonly #maxBytes: number;
  readonly #now: () => number;
  /** Finished workflows → when they finished, oldest first (Map order is insertion order). */
  readonly #finished = new Map<string, number>();
  readonly #bytes = new Map<string, number>();
  readonly #droppers = new Set<Dropper>();
  #totalBytes = 0;
  #evicted = 0;
  /** One timer for the oldest finished workflow, not one per workflow. */
  #timer: NodeJS.Timeout | undefined;

  constructor(options: MemoryRetentionOptions) {
    if (!Number.isInteger(options.retentionMs) || options.retentionMs < 0) {
      throw new TypeError(`Expected \`retentionMs\` to be an integer >= 0, got \`${options.retentionMs}\``);
    }
    for (const key of ['maxFinished', 'maxBytes'] as const) {
      const value = options[key];
      if (
        value !== undefined &&
        value !== Number.POSITIVE_INFINITY &&
        !(Number.isInteger(value) && value >= 1)
      ) {
        throw new TypeError(`Expected \`${key}\` to be an integer >= 1, got \`${value}\``);
      }
    }
    this.#retentionMs = options.retentionMs;
    this.#maxFinished = options.maxFinished ?? Number.POSITIVE_INFINITY;
    this.#maxBytes = options.maxBytes ?? Number.POSITIVE_INFINITY;
    this.#now = options.now ?? Date.now;
  }

  /** Calls `drop` for every workflow dropped from now on. Returns the function that stops it. */
  onDrop(drop: Dropper): () => void {
    this.#droppers.add(drop);
    return () => this.#droppers.delete(drop);
  }

  /** Counts `bytes` more (or fewer, when negative) of data kept for the workflow. */
  grow(id: string, bytes: number): void {
    const current = this.#bytes.get(id) ?? 0;
    const next = Math.max(0, current + bytes);
    if (next === 0) this.#bytes.delete(id);
    else this.#bytes.set(id, next);
    this.#totalBytes += next - current;
    if (bytes > 0 && this.#totalBytes > this.#maxBytes) this.#evict();
  }

  /** The workflow finished: its retention time starts now. Later calls for it change nothing. */
  finish(id: string): void {
    if (this.#finished.has(id)) return;
    this.#finished.set(id, this.#now());
    this.#evict();
    if (this.#timer === undefined) this.#schedule();
  }

  isFinished(id: string): boolean {
    return this.#finished.has(id);
  }

  /** Evicts the oldest finished workflow; false when none is finished. */
  evictOldest(): boolean {
    const oldest = this.#finished.keys().next();
    if (oldest.done) return false;
    this.#drop(oldest.value, 'evicted');
    return true;
  }

  /** Finished workflows kept. */
  get finishedCount(): number {
    return this.#finished.size;
  }

  /** Estimated bytes kept, running workflows included. */
  get bytes(): number {
    return this.#totalBytes;
  }

  /** Workflows evicted to stay within the bounds so far (expired ones are not counted). */
  get evictedTotal(): number {
    return this.#evicted;
  }

  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#finished.clear();
    this.#bytes.clear();
    this.#totalBytes = 0;
  }

  #evict(): void {
    while (
      this.#finished.size > this.#maxFinished ||
      (this.#totalBytes > this.#maxBytes && this.#finished.size > 0)
    ) {
      this.evictOldest();
    }
  }

  #drop(id: string, reason: DropReason): void {
    this.#finished.delete(id);
    this.#totalBytes -= this.#bytes.get(id) ?? 0;
    this.#bytes.delete(id);
    if (reason === 'evicted') this.#evicted += 1;
    for (const drop of this.#droppers) drop(id, reason);
  }

  #schedule(): void {
    const oldest = this.#finished.values().next();
    if (oldest.done) {
      this.#timer = undefined;
      return;
    }
    const delay = Math.max(0, oldest.value + this.#retentionMs - this.#now());
    this.#timer = setTimeout(() => this.#expire(), delay);
    this.#timer.unref();
  }

  #expire(): void {
    const deadline = this.#now() - this.#retentionMs;
    for (const [id, finishedAt] of this.#finished) {
      if (finishedAt > deadline) break;
      this.#drop(id, 'expired');
    }
    this.#schedule();
  }
}

/** Per kept event or entry, beyond its data: ids, time, kind and the objects holding them. */
const RECORD_OVERHEAD = 96;

/**
 * The estimate `maxBytes` is measured in: a record's data as JSON text plus
 * a fixed overhead, close to the heap the record takes.
 */
export function jsonSize(data: unknown): number {
  if (data === null || data === undefined) return RECORD_OVERHEAD;
  try {
    return RECORD_OVERHEAD + (JSON.stringify(data)?.length ?? 0);
  } catch {
    // Not JSON (a BigInt, a cycle): counted as its overhead alone.
    return RECORD_OVERHEAD;
  }
}
