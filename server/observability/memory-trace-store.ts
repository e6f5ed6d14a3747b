import { EventEmitter } from 'eventemitter3';

import {
  stepRunsOf,
  type Trace,
  type TraceEntry,
  type TraceEntryInput,
  type TracePage,
  type TraceSummary,
} from '../../shared/trace.js';
import type { TraceListener, TraceListOptions, TraceRead, TraceStore } from './trace-store.js';

export type MemoryTraceStoreOptions = {
  /** Traces kept; the oldest is dropped beyond it, finished or not. */
  readonly maxTraces: number;
  /** Entries kept per trace; the oldest are dropped beyond it. */
  readonly maxEntries: number;
  /** How long a finished trace is kept, in ms (the streams' retention). */
  readonly retentionMs: number;
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
  readonly entries: TraceEntry[];
  expiry?: NodeJS.Timeout;
};

type LiveEvents = Record<string, [TraceEntry | null]>;

/** The embedded trace store: per-process memory, bounded. */
export class MemoryTraceStore implements TraceStore {
  readonly #traces = new Map<string, StoredTrace>();
  // A null payload means the trace is gone.
  readonly #live = new EventEmitter<LiveEvents>();
  readonly #options: MemoryTraceStoreOptions;
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
  }

  record(traceId: string, input: TraceEntryInput, time?: string): void {
    const at = time ?? this.#now().toISOString();
    const trace = this.#traces.get(traceId) ?? this.#create(traceId, at);
    trace.seq += 1;
    // Spreading after the fixed keys is V8's fast object-clone path.
    const entry: TraceEntry = { seq: trace.seq, at, ...input };
    trace.entries.push(entry);
    if (trace.entries.length > this.#options.maxEntries) {
      trace.entries.shift();
      trace.dropped += 1;
    }
    if (entry.kind === 'workflow_started') {
      trace.flow = entry.flow;
      trace.subject = entry.subject;
    } else if (entry.kind === 'workflow_finished' && trace.finishedAt === null) {
      trace.finishedAt = at;
      trace.failedSteps = Object.values(entry.outcomes).filter((o) => o === 'dead').length;
      this.#expireLater(trace);
    }
    this.#live.emit(traceId, entry);
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
    for (const trace of this.#traces.values()) clearTimeout(trace.expiry);
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
      entries: [],
    };
    this.#traces.set(traceId, trace);
    if (this.#traces.size > this.#options.maxTraces) {
      const oldest = this.#traces.keys().next();
      if (!oldest.done) this.#drop(oldest.value);
    }
    return trace;
  }

  #drop(traceId: string): void {
    const trace = this.#traces.get(traceId);
    if (!trace) return;
    clearTimeout(trace.expiry);
    this.#traces.delete(traceId);
    this.#live.emit(traceId, null);
    this.#live.removeAllListeners(traceId);
  }

  #expireLater(trace: StoredTrace): void {
    trace.expiry = setTimeout(() => this.#drop(trace.traceId), this.#options.retentionMs);
    trace.expiry.unref();
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
