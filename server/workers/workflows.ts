import { EventEmitter } from 'eventemitter3';

import { createDeferred } from '../../shared/deferred.js';
import { PetCreationItem } from '../../shared/pet-creation.js';
import type { Logger } from '../log.js';
import type { Streams } from '../streams/registry.js';
import type { StepOutcome, WorkflowState, WorkflowStore } from '../store/workflow-store.js';
import type { Step } from './define-step.js';

export type WorkflowsOptions = {
  readonly store: WorkflowStore;
  readonly streams: Streams;
  readonly steps: readonly Step[];
  readonly log: Logger;
};

/**
 * Knows which steps each workflow is waiting for. When the last one has
 * finished (succeeded or dead), it writes the stream's final event.
 */
export class Workflows {
  readonly #options: WorkflowsOptions;
  readonly #finished = new EventEmitter<Record<string, [WorkflowState]>>();

  constructor(options: WorkflowsOptions) {
    this.#options = options;
  }

  /** Registers a workflow before its first event is published. */
  async start(traceId: string, flow: string, subject: string): Promise<void> {
    const steps = this.#options.steps.filter((step) => step.flows.includes(flow)).map((step) => step.name);
    await this.#options.store.start({ traceId, flow, subject, steps, startedAt: new Date().toISOString() });
  }

  get(traceId: string): Promise<WorkflowState | null> {
    return this.#options.store.get(traceId);
  }

  async stepFinished(traceId: string, stepName: string, outcome: StepOutcome): Promise<void> {
    const step = this.#options.steps.find((s) => s.name === stepName);
    const stream = this.#options.streams.petCreation;
    const current = await this.#options.store.get(traceId);
    if (!current) return;
    if (outcome === 'dead') {
      await stream.set(traceId, PetCreationItem.stepFailed(stepName), {
        message: `❌ ${step?.title ?? stepName} failed for ${current.subject}; the workflow goes on without it`,
        stage: 'finished',
        error: true,
      });
    }
    const result = await this.#options.store.complete(traceId, stepName, outcome);
    if (!result?.firstToFinish) return;
    const failed = Object.values(result.state.outcomes).filter((o) => o === 'dead').length;
    await stream.finish(traceId, {
      message:
        failed === 0
          ? `Pet creation workflow finished for ${current.subject}`
          : `Pet creation workflow finished for ${current.subject} with ${failed} failed step${failed === 1 ? '' : 's'}`,
      stage: 'finished',
      progress: 100,
      ...(failed > 0 ? { error: true } : {}),
    });
    this.#options.log.info({ traceId, outcomes: result.state.outcomes }, '🏁 Workflow finished');
    this.#finished.emit(traceId, result.state);
  }

  /** Resolves when this process sees the workflow finish. */
  onFinished(traceId: string): Promise<WorkflowState> {
    const deferred = createDeferred<WorkflowState>();
    this.#finished.once(traceId, deferred.resolve);
    void this.get(traceId).then((state) => {
      if (state?.finishedAt) {
        this.#finished.off(traceId, deferred.resolve);
        deferred.resolve(state);
      }
    });
    return deferred.promise;
  }
}
