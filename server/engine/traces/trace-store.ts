import type { Trace, TraceEntry, TraceEntryInput, TracePage } from '../../../shared/trace.js';

export type TraceListener = {
  /** A new entry of the trace. */
  readonly entry: (entry: TraceEntry) => void;
  /** The trace was dropped (retention or the trace limit): nothing more will come. */
  readonly gone: () => void;
};

export type TraceRead = {
  readonly entries: readonly TraceEntry[];
  /** True when entries after `after` were dropped: there is a gap. */
  readonly reset: boolean;
};

export type TraceListOptions = {
  readonly limit: number;
  /** From a previous page's `nextCursor`; the newest traces when absent. */
  readonly cursor?: string | null | undefined;
};

/**
 * Where workflow timelines live. Recording is synchronous and never fails:
 * it sits on the workflow's own path, which must not wait for it. Traces
 * follow the streams' retention: dropped a retention period after their
 * workflow finished, with bounded entries per trace and bounded traces.
 */
export interface TraceStore {
  /** Appends one entry, creating the trace on first use; `at` (ISO-8601) defaults to now. */
  record(traceId: string, entry: TraceEntryInput, at?: string): void;
  get(traceId: string): Promise<Trace | null>;
  /** Entries after seq `after` (all when null), oldest first; null for an unknown trace. */
  readAfter(traceId: string, after: number | null): Promise<TraceRead | null>;
  /** Newest first. */
  list(options: TraceListOptions): Promise<TracePage>;
  /** Live entries of one trace from now on. Returns the unsubscribe function. */
  listen(traceId: string, listener: TraceListener): () => void;
  /** Traces kept. */
  size(): number;
  /** How many live listeners there are (for leak checks). */
  listenerCount(): number;
  close(): Promise<void>;
}
