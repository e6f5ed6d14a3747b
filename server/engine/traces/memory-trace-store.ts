import { EventEmitter } from 'eventemitter3';

import {
  stepRunsOf,
  type Trace,
  type TraceEntry,
  type TraceEntryInput,
  type TracePage,
  type TraceSummary,
} from '../../../shared/trace.js';
import { jsonSize, MemoryRetention } from '../backends/memory-retention.js';
import type { TraceListener, TraceListOptions, TraceRead, TraceStore } from './trace-store.js';

export type MemoryTraceStoreOptions = {
  /** Traces kept; beyond it the oldest finished workflow goes, or the oldest trace when none is finished. */
  readonly maxTraces: number;
  /** Entries kept per trace; the oldest are dropped beyond it. */
  readonly maxEntries: number;
  /** How long a finished trace is kept, in ms (the streams' retention; used when no `retention` is given). */
  readonly retentionMs: number;
  /**
   * Decides when a finished workflow's trace goes (time, count and size
   * bounds), shared with the memory stream storage and workflow store; one
   * with the time bound alone when absent.
   */
  readonly retention?: MemoryRetention;
  readonly now?: () => Date;
};

type StoredTrace = {
  /** Creation order across traces: the list cursor. */
  readonly ordinal: number;
  readonly traceId: string;
  readonly startedAt: string;
  flow: string | null;
  subject: string | null;
  finishedAt: string | null;
  failedSteps: number;
  seq: number;
  dropped: number;
  /** Estimated size of the kept entries (see `jsonSize`). */
  bytes: number;
  readonly entries: TraceEntry[];
};

type LiveEvents = Record<string, [TraceEntry | null]>;

/** The embedded trace store: per-process memory, bounded. */
export class MemoryTraceStore implements TraceStore {
  readonly #traces = new Map<string, StoredTrace>();
  // A null payload means the trace is gone.
  readonly #live = new EventEmitter<LiveEvents>();
  readonly #options: MemoryTraceStoreOptions;
  readonly #retention: MemoryRetention;
  readonly #ownsRetention: boolean;
  readonly #stopDropping: () => void;
  readonly #now: () => Date;
  #ordinal = 0;

  constructor(options: MemoryTraceStoreOptions) {
    for (const key of ['maxTraces', 'maxEntries'] as const) {
      const value = options[key];
      if (!Number.isInteger(value) || value < 1) {
        throw new TypeError(`Expected \`${key}\` to be an integer >= 1, got \`${value}\``);
      }
    }
    if (!Number.isInteger(options.retentionMs) || options.retentionMs < 0) {
      throw new TypeError(`Expected \`retentionMs\` to be an integer >= 0, got \`${options.retentionMs}\``);
    }
    this.#options = options;
    this.#now = options.now ?? (() => new Date());
    this.#ownsRetention = options.retention === undefined;
    this.#retention = options.retention ?? new MemoryRetention({ retentionMs: options.retentionMs });
    this.#stopDropping = this.#retention.onDrop((traceId) => this.#drop(traceId));
  }

  record(traceId: string, input: TraceEntryInput, time?: string): void {
    const at = time ?? this.#now().toISOString();
    const trace = this.#traces.get(traceId) ?? this.#create(traceId, at);
    trace.seq += 1;
    // Spreading after the fixed keys is V8's fast object-clone path.
    const entry: TraceEntry = { seq: trace.seq, at, ...input };
    let size = jsonSize(entry);
    trace.entries.push(entry);
    if (trace.entries.length > this.#options.maxEntries) {
      const dropped = trace.entries.shift();
      if (dropped) size -= jsonSize(dropped);
      trace.dropped += 1;
    }
    trace.bytes += size;
    const finishes = entry.kind === 'workflow_finished' && trace.finishedAt === null;
    if (entry.kind === 'workflow_started') {
      trace.flow = entry.flow;
      trace.subject = entry.subject;
    } else if (finishes) {
      trace.finishedAt = at;
      trace.failedSteps = Object.values(entry.outcomes).filter((o) => o === 'dead').length;
    }
    this.#live.emit(traceId, entry);
    // Last: accounting may drop traces, this one included when it alone is over the bounds.
    this.#retention.grow(traceId, size);
    if (finishes) this.#retention.finish(traceId);
  }

  async get(traceId: string): Promise<Trace | null> {
    const trace = this.#traces.get(traceId);
    if (!trace) return null;
    const entries = [...trace.entries];
    return { ...summaryOf(trace), entries, stepRuns: stepRunsOf(entries) };
  }

  async readAfter(traceId: string, after: number | null): Promise<TraceRead | null> {
    const trace = this.#traces.get(traceId);
    if (!trace) return null;
    const from = after ?? 0;
    const firstKept = trace.entries[0]?.seq ?? trace.seq + 1;
    return {
      entries: trace.entries.filter((entry) => entry.seq > from),
      reset: from + 1 < firstKept,
    };
  }

  async list({ limit, cursor }: TraceListOptions): Promise<TracePage> {
    const before = cursor ? Number(cursor) : Number.POSITIVE_INFINITY;
    const items: TraceSummary[] = [];
    let last: StoredTrace | undefined;
    let more = false;
    // Map order is creation order: walk it backwards for newest first.
    const all = [...this.#traces.values()];
    for (let i = all.length - 1; i >= 0; i -= 1) {
      const trace = all[i];
      if (!trace || trace.ordinal >= before) continue;
      if (items.length === limit) {
        more = true;
        break;
      }
      items.push(summaryOf(trace));
      last = trace;
    }
    return { items, nextCursor: more && last ? String(last.ordinal) : null };
  }

  listen(traceId: string, listener: TraceListener): () => void {
    const forward = (entry: TraceEntry | null) => (entry ? listener.entry(entry) : listener.gone());
    this.#live.on(traceId, forward);
    return () => this.#live.off(traceId, forward);
  }

  size(): number {
    return this.#traces.size;
  }

  listenerCount(): number {
    return this.#live.eventNames().reduce((sum, name) => sum + this.#live.listenerCount(name), 0);
  }

  async close(): Promise<void> {
    this.#stopDropping();
    if (this.#ownsRetention) this.#retention.close();
    this.#traces.clear();
    this.#live.removeAllListeners();
  }

  #create(traceId: string, at: string): StoredTrace {
    this.#ordinal += 1;
    const trace: StoredTrace = {
      ordinal: this.#ordinal,
      traceId,
      startedAt: at,
      flow: null,
      subject: null,
      finishedAt: null,
      failedSteps: 0,
      seq: 0,
      dropped: 0,
      bytes: 0,
      entries: [],
    };
    this.#traces.set(traceId, trace);
    // Finished workflows make room first, everywhere they are kept; a trace
    // that never finishes (a request's log lines alone) goes when none is left.
    while (this.#traces.size > this.#options.maxTraces) {
      if (this.#retention.evictOldest()) continue;
      const oldest = this.#traces.values().next();
      if (oldest.done) break;
      this.#retention.grow(oldest.value.traceId, -oldest.value.bytes);
      this.#drop(oldest.value.traceId);
    }
    return trace;
  }

  #drop(traceId: string): void {
    if (!this.#traces.delete(traceId)) return;
    this.#live.emit(traceId, null);
    this.#live.removeAllListeners(traceId);
  }
}

function summaryOf(trace: StoredTrace): TraceSummary {
  return {
    traceId: trace.traceId,
    flow: trace.flow,
    subject: trace.subject,
    status: trace.finishedAt === null ? 'running' : 'finished',
    failedSteps: trace.failedSteps,
    startedAt: trace.startedAt,
    finishedAt: trace.finishedAt,
    entryCount: trace.seq,
    droppedEntries: trace.dropped,
  };
}
