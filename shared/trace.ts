import { z } from 'zod';

/**
 * A workflow's timeline: what happened, in order, all under one trace id.
 * Entries are append-only and numbered (`seq`) within their trace, so a live
 * reader can resume after the last one it saw.
 */
const entryBase = {
  /** 1, 2, 3… within the trace; pass the last one back to resume. */
  seq: z.number().int().min(1),
  /** ISO-8601 time the entry was recorded. */
  at: z.string(),
};

/**
 * `interrupted`: stopped by the service's shutdown, not a failure of the step;
 * `waiting`: the attempt ended in a wait for an input (`ctx.waitFor`); the step runs again when the wait ends.
 */
export const StepRunStatusSchema = z.enum(['running', 'succeeded', 'failed', 'interrupted', 'waiting']);
export type StepRunStatus = z.infer<typeof StepRunStatusSchema>;

export const LogLevelNameSchema = z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']);
export type LogLevelName = z.infer<typeof LogLevelNameSchema>;

export const TraceEntrySchema = z.discriminatedUnion('kind', [
  z.object({
    ...entryBase,
    kind: z.literal('workflow_started'),
    flow: z.string(),
    subject: z.string(),
    /** Steps the workflow waits for. */
    steps: z.array(z.string()),
  }),
  z.object({
    ...entryBase,
    kind: z.literal('step_started'),
    step: z.string(),
    attempt: z.number().int().min(1),
  }),
  z.object({
    ...entryBase,
    kind: z.literal('step_finished'),
    step: z.string(),
    attempt: z.number().int().min(1),
    status: z.enum(['succeeded', 'failed', 'interrupted', 'waiting']),
    start: z.string(),
    end: z.string(),
    durationMs: z.number().min(0),
    /** The failure's message (never its stack). */
    error: z.string().nullable(),
  }),
  z.object({
    ...entryBase,
    kind: z.literal('emit'),
    topic: z.string(),
  }),
  z.object({
    ...entryBase,
    kind: z.literal('stream_write'),
    stream: z.string(),
    eventId: z.string(),
    itemId: z.string(),
    eventKind: z.enum(['set', 'delete', 'finished', 'cancelled']),
    /** The event's data as written. */
    data: z.unknown(),
  }),
  z.object({
    ...entryBase,
    kind: z.literal('log'),
    level: LogLevelNameSchema,
    msg: z.string(),
    step: z.string().nullable(),
  }),
  z.object({
    ...entryBase,
    kind: z.literal('wait_started'),
    step: z.string(),
    /** What is awaited (`vetClearance`). */
    name: z.string(),
    /** Who is expected to answer (`vet`). */
    awaitedBy: z.string(),
    /** ISO-8601: unanswered by then, the wait times out. */
    deadline: z.string(),
  }),
  z.object({
    ...entryBase,
    kind: z.literal('wait_ended'),
    step: z.string(),
    name: z.string(),
    status: z.enum(['received', 'timedOut', 'cancelled']),
    /** Who answered, and the input as given (null unless received). */
    by: z.string().nullable(),
    input: z.unknown(),
  }),
  z.object({
    ...entryBase,
    kind: z.literal('workflow_finished'),
    outcomes: z.record(z.string(), z.enum(['succeeded', 'dead'])),
    /** True when it ended by `workflows.cancel`: `outcomes` then holds the steps done before. */
    cancelled: z.boolean().optional(),
  }),
]);
export type TraceEntry = z.infer<typeof TraceEntrySchema>;
export type TraceEntryKind = TraceEntry['kind'];

type DistributiveOmit<T, TKey extends PropertyKey> = T extends unknown ? Omit<T, TKey> : never;

/** An entry before the trace numbers and stamps it. */
export type TraceEntryInput = DistributiveOmit<TraceEntry, 'seq' | 'at'>;

/** One attempt of one step, as the timeline shows it. */
export const StepRunSchema = z.object({
  step: z.string(),
  attempt: z.number().int().min(1),
  status: StepRunStatusSchema,
  start: z.string(),
  end: z.string().nullable(),
  durationMs: z.number().min(0).nullable(),
  error: z.string().nullable(),
});
export type StepRun = z.infer<typeof StepRunSchema>;

export const TraceSummarySchema = z.object({
  traceId: z.string(),
  /** Null until the workflow registers (a log line may come first). */
  flow: z.string().nullable(),
  subject: z.string().nullable(),
  status: z.enum(['running', 'finished']),
  /** Steps that ended dead (every attempt failed). */
  failedSteps: z.number().int().min(0),
  startedAt: z.string(),
  finishedAt: z.string().nullable(),
  /** Entries recorded, including any dropped. */
  entryCount: z.number().int().min(0),
  /** Oldest entries dropped because the trace reached its entry limit. */
  droppedEntries: z.number().int().min(0),
});
export type TraceSummary = z.infer<typeof TraceSummarySchema>;

export const TraceSchema = TraceSummarySchema.extend({
  entries: z.array(TraceEntrySchema),
  /** Every step attempt, in the order they started. */
  stepRuns: z.array(StepRunSchema),
});
export type Trace = z.infer<typeof TraceSchema>;

export const TracePageSchema = z.object({
  items: z.array(TraceSummarySchema),
  /** Pass back as `cursor` for the next (older) page; null on the last page. */
  nextCursor: z.string().nullable(),
});
export type TracePage = z.infer<typeof TracePageSchema>;

/**
 * Folds a trace's step entries into one run per attempt. An attempt stopped
 * by its instance's shutdown is not counted, so the attempt that follows it
 * (on another instance, say) has the same number: a start after a finished
 * run of the same number is a new run.
 */
export function stepRunsOf(entries: readonly TraceEntry[]): StepRun[] {
  const runs: StepRun[] = [];
  /** The run each step attempt's next `step_finished` closes. */
  const open = new Map<string, number>();
  for (const entry of entries) {
    if (entry.kind === 'step_started') {
      const index =
        runs.push({
          step: entry.step,
          attempt: entry.attempt,
          status: 'running',
          start: entry.at,
          end: null,
          durationMs: null,
          error: null,
        }) - 1;
      open.set(`${entry.step}\u0000${entry.attempt}`, index);
    } else if (entry.kind === 'step_finished') {
      const key = `${entry.step}\u0000${entry.attempt}`;
      const run: StepRun = {
        step: entry.step,
        attempt: entry.attempt,
        status: entry.status,
        start: entry.start,
        end: entry.end,
        durationMs: entry.durationMs,
        error: entry.error,
      };
      const index = open.get(key);
      open.delete(key);
      // A run whose start entry was dropped still shows.
      if (index === undefined) runs.push(run);
      else runs[index] = run;
    }
  }
  return runs;
}
