import type { Redis } from 'ioredis';
import { z } from 'zod';

import type { RedisKeys } from '../backends/redis/keys.js';
import { pairsToRecord, throwFirstError } from '../backends/redis/replies.js';
import { whileReachable } from '../backends/redis/storage-unavailable.js';
import { cancelWorkflowScript, completeStepScript } from './redis-scripts.js';
import type { StartedWorkflow, StepOutcome, WorkflowState, WorkflowStore } from './store.js';

export type RedisWorkflowStoreOptions = {
  readonly client: Redis;
  readonly keys: RedisKeys;
  /** How long a finished workflow is remembered, in ms. */
  readonly retentionMs: number;
};

const StartedSchema = z.object({
  traceId: z.string(),
  flow: z.string(),
  subject: z.string(),
  steps: z.array(z.string()),
  startedAt: z.string(),
});
const OutcomeSchema = z.enum(['succeeded', 'dead']);
const OUTCOME_FIELD = 'o:';

/**
 * Workflow progress on Redis: one hash per workflow (`state`, `finishedAt`,
 * `cancelledAt` and one `o:<step>` field per finished step). `complete` is one Lua script,
 * so concurrent steps on different instances agree on who finished last.
 */
export class RedisWorkflowStore implements WorkflowStore {
  readonly #client: Redis;
  readonly #keys: RedisKeys;
  readonly #retentionMs: number;

  constructor(options: RedisWorkflowStoreOptions) {
    if (!Number.isInteger(options.retentionMs) || options.retentionMs < 0) {
      throw new TypeError(`Expected \`retentionMs\` to be an integer >= 0, got \`${options.retentionMs}\``);
    }
    this.#client = options.client;
    this.#keys = options.keys;
    this.#retentionMs = options.retentionMs;
  }

  async start(state: StartedWorkflow): Promise<void> {
    const key = this.#keys.workflow(state.traceId);
    const started = StartedSchema.parse(state);
    await whileReachable(async () => {
      throwFirstError(await this.#client.multi().del(key).hset(key, 'state', JSON.stringify(started)).exec());
    });
  }

  async complete(traceId: string, step: string, outcome: StepOutcome) {
    const reply = await whileReachable(() =>
      completeStepScript.run(
        this.#client,
        [this.#keys.workflow(traceId)],
        [step, outcome, new Date().toISOString(), this.#retentionMs],
      ),
    );
    if (!Array.isArray(reply)) return null;
    const [allDone, firstToFinish, fields] = reply as [number, number, unknown[]];
    const state = decodeState(pairsToRecord(fields));
    return state ? { state, allDone: allDone === 1, firstToFinish: firstToFinish === 1 } : null;
  }

  async cancel(traceId: string) {
    const reply = await whileReachable(() =>
      cancelWorkflowScript.run(
        this.#client,
        [this.#keys.workflow(traceId)],
        [new Date().toISOString(), this.#retentionMs],
      ),
    );
    if (!Array.isArray(reply)) return null;
    const [cancelled, fields] = reply as [number, unknown[]];
    const state = decodeState(pairsToRecord(fields));
    return state ? { state, cancelled: cancelled === 1 } : null;
  }

  async get(traceId: string): Promise<WorkflowState | null> {
    return decodeState(await whileReachable(() => this.#client.hgetall(this.#keys.workflow(traceId))));
  }

  /** Nothing to release: the connection belongs to the caller. */
  close(): Promise<void> {
    return Promise.resolve();
  }
}

function decodeState(fields: Record<string, string>): WorkflowState | null {
  const { state, finishedAt, cancelledAt } = fields;
  if (state === undefined) return null;
  const outcomes: Record<string, StepOutcome> = {};
  for (const [field, value] of Object.entries(fields)) {
    if (field.startsWith(OUTCOME_FIELD))
      outcomes[field.slice(OUTCOME_FIELD.length)] = OutcomeSchema.parse(value);
  }
  return {
    ...StartedSchema.parse(JSON.parse(state)),
    outcomes,
    finishedAt: finishedAt ?? null,
    cancelledAt: cancelledAt ?? null,
  };
}
