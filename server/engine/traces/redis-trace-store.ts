import type { Redis } from 'ioredis';
import { z } from 'zod';

import { createDeferred } from '../../../shared/deferred.js';
import {
  stepRunsOf,
  TraceEntrySchema,
  type Trace,
  type TraceEntry,
  type TraceEntryInput,
  type TracePage,
  type TraceSummary,
} from '../../../shared/trace.js';
import type { Logger } from '../log.js';
import type { RedisKeys } from '../backends/redis/keys.js';
import { pairsToRecord } from '../backends/redis/replies.js';
import { whileReachable } from '../backends/redis/storage-unavailable.js';
import { parseEntries, type StreamEntry, type StreamReader } from '../backends/redis/stream-reader.js';
import { traceKeysOf, type TraceKeys } from './redis-keys.js';
import { listTracesScript, readTraceScript, recordTraceEntriesScript } from './redis-scripts.js';
import type { TraceListener, TraceListOptions, TraceRead, TraceStore } from './trace-store.js';

export type RedisTraceStoreOptions = {
  /**
   * For every command: the same connection `reader` asks start positions
   * on, so a read issued after `listen` overlaps the live entries.
   */
  readonly client: Redis;
  /** The process's one live reader, shared with the stream storage. */
  readonly reader: StreamReader;
  readonly keys: RedisKeys;
  /** Traces kept; beyond it the oldest finished trace goes, or the oldest trace when none is finished. */
  readonly maxTraces: number;
  /** Entries kept per trace; the oldest are dropped beyond it. */
  readonly maxEntries: number;
  /** How long a finished trace is kept, in ms. */
  readonly retentionMs: number;
  readonly log: Logger;
  /** Entries waiting to be written, at most; more are dropped (Redis unreachable or too slow). @default 5000 */
  readonly maxQueued?: number;
  readonly now?: () => Date;
};

/** Entries per script call: a bounded amount of work for Redis at a time. */
const BATCH_ENTRIES = 200;

const count = z.coerce.number().int().min(0);
const MetaSchema = z.object({
  ordinal: z.string(),
  startedAt: z.string(),
  seq: count,
  dropped: count,
  flow: z.string().optional(),
  subject: z.string().optional(),
  finishedAt: z.string().optional(),
  failedSteps: count.optional(),
});
type Meta = z.infer<typeof MetaSchema>;

type Waiter = { readonly until: number; readonly resolve: () => void };

/**
 * Traces on Redis, shared by every instance on the same Redis and prefix
 * (keys: see TraceKeys). Each trace is a Redis Stream of its entries plus a
 * summary hash, both updated by one Lua script that numbers the entries, so
 * a workflow's timeline is whole and ordered whichever instance recorded
 * which entry. Live entries come from the process's shared stream reader.
 *
 * `record` only queues: a background writer sends the queue in order,
 * batched into one script call per round trip. What this instance recorded
 * is visible to its own later reads; other instances see it once written.
 * While Redis is unreachable, entries are dropped and counted, never thrown.
 */
export class RedisTraceStore implements TraceStore {
  readonly #client: Redis;
  readonly #reader: StreamReader;
  readonly #keys: TraceKeys;
  readonly #options: RedisTraceStoreOptions;
  readonly #maxQueued: number;
  readonly #now: () => Date;
  readonly #queue: string[][] = [];
  readonly #waiters: Waiter[] = [];
  readonly #listeners = new Set<() => void>();
  #writing: Promise<void> | undefined;
  /** Entries queued so far, and how many of them were written or dropped since: reads wait for the gap. */
  #queued = 0;
  #settled = 0;
  #size = 0;
  #lost = 0;
  #lostInOutage = 0;
  #outage = false;
  #unwritableLogged = false;
  #closed = false;

  constructor(options: RedisTraceStoreOptions) {
    for (const key of ['maxTraces', 'maxEntries', 'maxQueued'] as const) {
      const value = options[key];
      if (value !== undefined && (!Number.isInteger(value) || value < 1)) {
        throw new TypeError(`Expected \`${key}\` to be an integer >= 1, got \`${value}\``);
      }
    }
    if (!Number.isInteger(options.retentionMs) || options.retentionMs < 0) {
      throw new TypeError(`Expected \`retentionMs\` to be an integer >= 0, got \`${options.retentionMs}\``);
    }
    this.#client = options.client;
    this.#reader = options.reader;
    this.#keys = traceKeysOf(options.keys);
    this.#options = options;
    this.#maxQueued = options.maxQueued ?? 5000;
    this.#now = options.now ?? (() => new Date());
  }

  record(traceId: string, input: TraceEntryInput, time?: string): void {
    if (this.#closed) return;
    if (this.#queue.length >= this.#maxQueued) {
      this.#lose(1, new Error(`More than ${this.#maxQueued} trace entries wait to be written`));
      return;
    }
    let args: string[];
    try {
      args = recordArgs(traceId, input, time ?? this.#now().toISOString());
    } catch (error) {
      // Data JSON cannot hold (a BigInt, a cycle): a bug of the caller, not an outage.
      this.#lost += 1;
      if (!this.#unwritableLogged)
        this.#options.log.warn({ err: error, traceId }, 'A trace entry cannot be written as JSON; dropped');
      this.#unwritableLogged = true;
      return;
    }
    this.#queue.push(args);
    this.#queued += 1;
    this.#writing ??= this.#writeQueued();
  }

  async get(traceId: string): Promise<Trace | null> {
    const read = await this.#read(traceId, 0);
    if (!read) return null;
    return { ...summaryOf(traceId, read.meta), entries: read.entries, stepRuns: stepRunsOf(read.entries) };
  }

  async readAfter(traceId: string, after: number | null): Promise<TraceRead | null> {
    const from = after ?? 0;
    const read = await this.#read(traceId, from);
    if (!read) return null;
    return {
      entries: read.entries.filter((entry) => entry.seq > from),
      // Kept entries have no gaps: the first kept one follows the dropped ones.
      reset: from < read.meta.dropped,
    };
  }

  async list({ limit, cursor }: TraceListOptions): Promise<TracePage> {
    await this.#ownWrites();
    const before = cursor ? Number(cursor) : Number.NaN;
    const reply = await whileReachable(() =>
      listTracesScript.run(
        this.#client,
        [this.#keys.index, this.#keys.finished],
        [this.#keys.traceBase, Number.isSafeInteger(before) ? `(${before}` : '+inf', limit],
      ),
    );
    const fields: readonly unknown[] = Array.isArray(reply) ? reply : [];
    const [rows, more, size] = fields;
    if (typeof size === 'number') this.#size = size;
    const items: TraceSummary[] = [];
    let last: Meta | undefined;
    for (const row of Array.isArray(rows) ? rows : []) {
      if (!Array.isArray(row) || typeof row[0] !== 'string' || !Array.isArray(row[1])) continue;
      last = MetaSchema.parse(pairsToRecord(row[1]));
      items.push(summaryOf(row[0], last));
    }
    return { items, nextCursor: more === 1 && last ? last.ordinal : null };
  }

  /**
   * Entries recorded on any instance after the shared reader learned where
   * the trace's log ends (asked at once on `client`: a read issued on it
   * after this call overlaps the live entries). `gone` comes when the reader
   * notices the log was deleted (retention, the trace limit) or replaced by
   * a new trace of the same id: at its next check, within its `verifyMs`.
   */
  listen(traceId: string, listener: TraceListener): () => void {
    if (this.#closed) return () => undefined;
    const stop = this.#reader.listen(this.#keys.log(traceId), {
      entry: (raw) => {
        const entry = this.#entryOf(raw);
        if (entry) listener.entry(entry);
      },
      lost: () => {
        this.#listeners.delete(unlisten);
        listener.gone();
      },
    });
    const unlisten = () => {
      if (this.#listeners.delete(unlisten)) stop();
    };
    this.#listeners.add(unlisten);
    return unlisten;
  }

  /**
   * Traces kept, as Redis counted them at this instance's last write or
   * list: approximate, since other instances create traces meanwhile.
   */
  size(): number {
    return this.#size;
  }

  listenerCount(): number {
    return this.#listeners.size;
  }

  /** Entries dropped so far because they could not be written. */
  get lostEntries(): number {
    return this.#lost;
  }

  /** Writes what is queued (or drops it when Redis is unreachable) and stops listening; the connections stay open. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#writing;
    for (const unlisten of [...this.#listeners]) unlisten();
  }

  async #read(traceId: string, after: number): Promise<{ meta: Meta; entries: TraceEntry[] } | null> {
    await this.#ownWrites();
    const reply = await whileReachable(() =>
      readTraceScript.run(
        this.#client,
        [this.#keys.meta(traceId), this.#keys.log(traceId)],
        [String(seqBound(after))],
      ),
    );
    if (!Array.isArray(reply) || !Array.isArray(reply[0])) return null;
    const meta = MetaSchema.parse(pairsToRecord(reply[0]));
    const entries: TraceEntry[] = [];
    for (const raw of parseEntries(reply[1])) {
      const entry = this.#entryOf(raw);
      if (entry) entries.push(entry);
    }
    return { meta, entries };
  }

  /** Resolves once every entry this instance recorded before the call is written or dropped. */
  async #ownWrites(): Promise<void> {
    if (this.#settled >= this.#queued) return;
    const done = createDeferred<void>();
    this.#waiters.push({ until: this.#queued, resolve: done.resolve });
    await done.promise;
  }

  async #writeQueued(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, BATCH_ENTRIES);
      await this.#write(batch);
      this.#settled += batch.length;
      if (this.#closed && this.#outage) {
        // Shutting down with Redis away: what is left would only fail, one batch at a time.
        this.#lose(this.#queue.length, null);
        this.#settled += this.#queue.splice(0).length;
      }
      for (let i = this.#waiters.length - 1; i >= 0; i -= 1) {
        const waiter = this.#waiters[i];
        if (waiter && waiter.until <= this.#settled) {
          this.#waiters.splice(i, 1);
          waiter.resolve();
        }
      }
    }
    this.#writing = undefined;
  }

  async #write(batch: readonly string[][]): Promise<void> {
    const { maxEntries, maxTraces, retentionMs, log } = this.#options;
    try {
      const size = await recordTraceEntriesScript.run(
        this.#client,
        [this.#keys.index, this.#keys.finished, this.#keys.ordinal],
        [this.#keys.traceBase, maxEntries, maxTraces, retentionMs, ...batch.flat()],
      );
      if (typeof size === 'number') this.#size = size;
      if (this.#outage) {
        log.info({ lost: this.#lostInOutage }, 'Trace entries are written to Redis again');
        this.#outage = false;
        this.#lostInOutage = 0;
      }
    } catch (error) {
      // Not retried: a timed-out write may have been applied, and a retry would record it twice.
      this.#lose(batch.length, error);
    }
  }

  /** Counts entries that will never be written; logs once until a write succeeds again. */
  #lose(entries: number, error: unknown): void {
    this.#lost += entries;
    this.#lostInOutage += entries;
    if (this.#outage) return;
    this.#outage = true;
    this.#options.log.warn(
      { err: error },
      'Trace entries cannot be written to Redis; dropping them until a write succeeds again',
    );
  }

  #entryOf(raw: StreamEntry): TraceEntry | null {
    const json = raw.fields['e'];
    try {
      return TraceEntrySchema.parse(JSON.parse(json ?? ''));
    } catch (error) {
      this.#options.log.error({ err: error, id: raw.id }, 'Unreadable trace entry in Redis; skipped');
      return null;
    }
  }
}

/** A seq to read after as Redis can hold it: a whole number, at most the largest one kept exactly. */
function seqBound(after: number): number {
  if (Number.isNaN(after) || after < 0) return 0;
  return Math.min(Math.floor(after), Number.MAX_SAFE_INTEGER);
}

/** The script's ARGV for one entry (see `recordTraceEntriesScript`). */
function recordArgs(traceId: string, input: TraceEntryInput, at: string): string[] {
  const started = input.kind === 'workflow_started' ? input : null;
  const finished = input.kind === 'workflow_finished' ? input : null;
  const failedSteps = finished ? Object.values(finished.outcomes).filter((o) => o === 'dead').length : 0;
  return [
    traceId,
    started ? 's' : finished ? 'f' : '',
    started?.flow ?? '',
    started?.subject ?? '',
    String(failedSteps),
    at,
    JSON.stringify({ at, ...input }),
  ];
}

function summaryOf(traceId: string, meta: Meta): TraceSummary {
  return {
    traceId,
    flow: meta.flow ?? null,
    subject: meta.subject ?? null,
    status: meta.finishedAt === undefined ? 'running' : 'finished',
    failedSteps: meta.failedSteps ?? 0,
    startedAt: meta.startedAt,
    finishedAt: meta.finishedAt ?? null,
    entryCount: meta.seq,
    droppedEntries: meta.dropped,
  };
}
