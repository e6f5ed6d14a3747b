import { z } from 'zod';

import type { BusMessage } from '../bus/topics.js';

/**
 * Where a wait stands: `waiting` until one of the others, once:
 * `received` (its input came), `timedOut` (its deadline passed) or
 * `cancelled` (its workflow was cancelled).
 */
export const WaitStatusSchema = z.enum(['waiting', 'received', 'timedOut', 'cancelled']);
export type WaitStatus = z.infer<typeof WaitStatusSchema>;

/** What a wait is, fixed when it opens. */
export const OpenedWaitSchema = z.object({
  traceId: z.string(),
  /** Unique within its workflow run (letters and digits). */
  name: z.string(),
  /** The workflow kind. */
  flow: z.string(),
  /** The step that waits, and the message it handles: delivered to it again when the wait ends. */
  step: z.string(),
  message: z.object({
    id: z.string(),
    topic: z.string(),
    traceId: z.string(),
    data: z.unknown(),
    publishedAt: z.string(),
  }),
  /** Who is expected to answer ("vet", "staff"). */
  awaitedBy: z.string(),
  openedAt: z.string(),
  /** ISO-8601: unanswered by then, it times out. */
  deadline: z.string(),
});
export type OpenedWait = z.infer<typeof OpenedWaitSchema> & { readonly message: BusMessage };

/** How a wait ended. */
export type WaitSettlement =
  | { readonly status: 'received'; readonly input: unknown; readonly by: string }
  | { readonly status: 'timedOut' | 'cancelled' };

export type WaitRecord = OpenedWait & {
  readonly status: WaitStatus;
  /** The input received (null otherwise). */
  readonly input: unknown;
  /** Who gave it (null otherwise). */
  readonly by: string | null;
  readonly settledAt: string | null;
};

/**
 * The waits of running workflows: what a waiting step leaves behind
 * instead of a running attempt. `open` and `settle` are atomic, so across
 * instances a wait opens once and ends once (one input, or its timeout,
 * or its cancel: whichever comes first).
 */
export interface WaitStore {
  /** Opens the wait unless it exists; returns the record as stored, and whether this call opened it. */
  open(wait: OpenedWait): Promise<{ readonly record: WaitRecord; readonly opened: boolean }>;
  get(traceId: string, name: string): Promise<WaitRecord | null>;
  /** Every wait of the workflow, in the order they opened. */
  list(traceId: string): Promise<WaitRecord[]>;
  /**
   * Ends a waiting wait; null when it is unknown or no longer waiting
   * (another settlement won). An input or a deadline also marks the wait's
   * step as to be run again, in the same atomic step, until `resumed`.
   */
  settle(traceId: string, name: string, settlement: WaitSettlement, at: string): Promise<WaitRecord | null>;
  /** The wait's step has been queued to run again. */
  resumed(traceId: string, name: string): Promise<void>;
  /** Ended waits whose step was not queued again, settled at or before `before` (ms), at most `limit`. */
  unresumed(before: number, limit: number): Promise<{ readonly traceId: string; readonly name: string }[]>;
  /** Waits still waiting whose deadline is at or before `now` (ms), earliest first, at most `limit` of them. */
  due(now: number, limit: number): Promise<{ readonly traceId: string; readonly name: string }[]>;
  /** The earliest deadline of any wait still waiting (ms), or null. */
  nextDeadline(): Promise<number | null>;
  /** The workflow finished: its waits go when its retention ends. */
  finished(traceId: string): Promise<void>;
  close(): Promise<void>;
}

/** Whether a settlement runs the wait's step again: an input or a deadline does, a cancel does not. */
export const resumes = (settlement: WaitSettlement): boolean => settlement.status !== 'cancelled';

export function settledRecord(record: WaitRecord, settlement: WaitSettlement, at: string): WaitRecord {
  return {
    ...record,
    status: settlement.status,
    input: settlement.status === 'received' ? settlement.input : null,
    by: settlement.status === 'received' ? settlement.by : null,
    settledAt: at,
  };
}

/** The order `list` gives: by opening time, then name. */
export function byOpening(a: WaitRecord, b: WaitRecord): number {
  return a.openedAt.localeCompare(b.openedAt) || a.name.localeCompare(b.name);
}
