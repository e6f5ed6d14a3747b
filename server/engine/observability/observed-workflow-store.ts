import type { StartedWorkflow, StepOutcome, WorkflowState, WorkflowStore } from '../workflows/store.js';
import type { ServiceMetrics } from './metrics.js';
import type { TraceStore } from '../traces/trace-store.js';

/** A workflow store that counts workflows and marks their start and finish in their traces. */
export class ObservedWorkflowStore implements WorkflowStore {
  readonly #inner: WorkflowStore;
  readonly #traces: TraceStore;
  readonly #metrics: ServiceMetrics;

  constructor(inner: WorkflowStore, traces: TraceStore, metrics: ServiceMetrics) {
    this.#inner = inner;
    this.#traces = traces;
    this.#metrics = metrics;
  }

  async start(state: StartedWorkflow): Promise<void> {
    await this.#inner.start(state);
    this.#metrics.workflowsStarted.inc({ flow: state.flow });
    this.#traces.record(state.traceId, {
      kind: 'workflow_started',
      flow: state.flow,
      subject: state.subject,
      steps: [...state.steps],
    });
  }

  async complete(traceId: string, step: string, outcome: StepOutcome) {
    const result = await this.#inner.complete(traceId, step, outcome);
    // Exactly one caller sees the workflow finish.
    if (result?.firstToFinish) {
      const failed = Object.values(result.state.outcomes).includes('dead');
      this.#metrics.workflowsFinished.inc({
        flow: result.state.flow,
        outcome: failed ? 'failed' : 'succeeded',
      });
      this.#traces.record(traceId, { kind: 'workflow_finished', outcomes: { ...result.state.outcomes } });
    }
    return result;
  }

  async cancel(traceId: string) {
    const result = await this.#inner.cancel(traceId);
    // Exactly one caller cancels it, and only a workflow still running.
    if (result?.cancelled) {
      this.#metrics.workflowsFinished.inc({ flow: result.state.flow, outcome: 'cancelled' });
      this.#traces.record(traceId, {
        kind: 'workflow_finished',
        outcomes: { ...result.state.outcomes },
        cancelled: true,
      });
    }
    return result;
  }

  get(traceId: string): Promise<WorkflowState | null> {
    return this.#inner.get(traceId);
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}
