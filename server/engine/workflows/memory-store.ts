import { MemoryRetention } from '../backends/memory-retention.js';
import type { StartedWorkflow, StepOutcome, WorkflowState, WorkflowStore } from './store.js';

/** Workflow progress in process memory; a finished workflow goes as its retention decides. */
export class MemoryWorkflowStore implements WorkflowStore {
  readonly #workflows = new Map<string, WorkflowState>();
  readonly #retention: MemoryRetention;
  readonly #ownsRetention: boolean;
  readonly #stopDropping: () => void;

  /**
   * @param retention how long a finished workflow is remembered (ms), or the
   *   retention shared with the other memory stores
   */
  constructor(retention: number | MemoryRetention) {
    this.#ownsRetention = typeof retention === 'number';
    this.#retention =
      typeof retention === 'number' ? new MemoryRetention({ retentionMs: retention }) : retention;
    this.#stopDropping = this.#retention.onDrop((traceId) => this.#workflows.delete(traceId));
  }

  async start(state: StartedWorkflow): Promise<void> {
    this.#workflows.set(state.traceId, { ...state, outcomes: {}, finishedAt: null, cancelledAt: null });
  }

  async cancel(traceId: string) {
    const current = this.#workflows.get(traceId);
    if (!current) return null;
    if (current.finishedAt !== null) return { state: current, cancelled: false };
    const now = new Date().toISOString();
    const state: WorkflowState = { ...current, finishedAt: now, cancelledAt: now };
    this.#workflows.set(traceId, state);
    this.#retention.finish(traceId);
    return { state, cancelled: true };
  }

  async complete(traceId: string, step: string, outcome: StepOutcome) {
    const current = this.#workflows.get(traceId);
    if (!current) return null;
    const outcomes = { ...current.outcomes, [step]: outcome };
    const allDone = current.steps.every((name) => name in outcomes);
    const firstToFinish = allDone && current.finishedAt === null;
    const state: WorkflowState = {
      ...current,
      outcomes,
      finishedAt: firstToFinish ? new Date().toISOString() : current.finishedAt,
    };
    this.#workflows.set(traceId, state);
    if (firstToFinish) this.#retention.finish(traceId);
    return { state, allDone, firstToFinish };
  }

  async get(traceId: string): Promise<WorkflowState | null> {
    return this.#workflows.get(traceId) ?? null;
  }

  async close(): Promise<void> {
    this.#stopDropping();
    if (this.#ownsRetention) this.#retention.close();
    this.#workflows.clear();
  }
}
