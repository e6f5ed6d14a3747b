import type { StepOutcome, WorkflowState, WorkflowStore } from './workflow-store.js';

type Entry = { state: WorkflowState; expiry?: NodeJS.Timeout };

export class MemoryWorkflowStore implements WorkflowStore {
  readonly #workflows = new Map<string, Entry>();
  readonly #retentionMs: number;

  /** @param retentionMs how long a finished workflow is remembered */
  constructor(retentionMs: number) {
    this.#retentionMs = retentionMs;
  }

  async start(state: Omit<WorkflowState, 'outcomes' | 'finishedAt'>): Promise<void> {
    this.#workflows.set(state.traceId, { state: { ...state, outcomes: {}, finishedAt: null } });
  }

  async complete(traceId: string, step: string, outcome: StepOutcome) {
    const entry = this.#workflows.get(traceId);
    if (!entry) return null;
    const outcomes = { ...entry.state.outcomes, [step]: outcome };
    const allDone = entry.state.steps.every((name) => name in outcomes);
    const firstToFinish = allDone && entry.state.finishedAt === null;
    entry.state = {
      ...entry.state,
      outcomes,
      finishedAt: firstToFinish ? new Date().toISOString() : entry.state.finishedAt,
    };
    if (firstToFinish) {
      entry.expiry = setTimeout(() => this.#workflows.delete(traceId), this.#retentionMs);
      entry.expiry.unref();
    }
    return { state: entry.state, allDone, firstToFinish };
  }

  async get(traceId: string): Promise<WorkflowState | null> {
    return this.#workflows.get(traceId)?.state ?? null;
  }

  async close(): Promise<void> {
    for (const entry of this.#workflows.values()) clearTimeout(entry.expiry);
    this.#workflows.clear();
  }
}
