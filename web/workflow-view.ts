import {
  WatchError,
  type PetClient,
  type WatchState,
  type WorkflowEvent,
  type WorkflowKind,
} from '../client/create-client.js';
import { AdoptionView } from './adoption-view.js';
import type { Submitted } from './adopt-form.js';
import type { TreatmentStarted } from './pet-creation-view.js';
import { byId } from './dom.js';
import type { KindViews } from './kind-view.js';
import type { KnownWorkflow } from './known-workflows.js';
import { PetCreationView } from './pet-creation-view.js';
import { TraceView } from './trace-view.js';
import { TreatmentView } from './treatment-view.js';
import { WaitsPanel } from './waits-panel.js';
import { isEndKind } from '../shared/stream-event.js';

export type WorkflowViewOptions = {
  /** The stream watch's connection state, for the page header. */
  readonly onStateChange: (state: WatchState | 'idle') => void;
  /** The selected workflow finished (the list refreshes). */
  readonly onFinished: () => void;
  /** An adoption was submitted from a pet card (the page opens it). */
  readonly onAdoption: (submitted: Submitted) => void;
  /** A treatment was started from a pet card (the page opens it). */
  readonly onTreatment: (started: TreatmentStarted) => void;
};

/**
 * The selected workflow, of any kind: each of its streams as it arrives,
 * in its kind's sections, its overall progress and its end; beside it the
 * live trace. Both resume by themselves after a reconnect.
 */
export class WorkflowView {
  readonly #client: PetClient;
  readonly #options: WorkflowViewOptions;
  readonly #trace = new TraceView();
  readonly #waits: WaitsPanel;
  readonly #views: KindViews;
  #abort: AbortController | null = null;
  #selected: KnownWorkflow | null = null;

  constructor(client: PetClient, options: WorkflowViewOptions) {
    this.#client = client;
    this.#options = options;
    this.#waits = new WaitsPanel(client);
    this.#views = {
      petCreation: new PetCreationView(client, options.onAdoption, options.onTreatment),
      adoption: new AdoptionView(client),
      treatment: new TreatmentView(client),
    };
  }

  get selected(): string | null {
    return this.#selected?.traceId ?? null;
  }

  show(workflow: KnownWorkflow): void {
    if (this.#selected?.traceId === workflow.traceId) return;
    this.#abort?.abort();
    const abort = new AbortController();
    this.#abort = abort;
    this.#selected = workflow;
    this.#reset(workflow);
    void this.#watch(workflow.kind, workflow, abort.signal);
    this.#watchTrace(workflow, abort.signal);
  }

  #reset(workflow: KnownWorkflow): void {
    const view = this.#views[workflow.kind];
    byId('detail-title').textContent = view.title(workflow);
    byId('detail').dataset['kind'] = workflow.kind;
    this.#status('Connecting…');
    for (const other of Object.values(this.#views)) other.root.hidden = other !== view;
    view.reset(workflow);
    byId('overall').hidden = false;
    this.#overall(0);
    this.#trace.reset();
    this.#waits.show(workflow);
  }

  /** Watches every stream of the workflow through its kind's view. */
  async #watch<K extends WorkflowKind>(kind: K, workflow: KnownWorkflow, signal: AbortSignal): Promise<void> {
    const view = this.#views[kind];
    let finished: WorkflowEvent<K> | null = null;
    try {
      const watch = this.#client.watch(kind, workflow.traceId, workflow.token, {
        signal,
        onStateChange: ({ state }) => {
          if (signal.aborted) return;
          this.#options.onStateChange(state);
          if (state === 'open') this.#status('Live');
          if (state === 'reconnecting')
            this.#status('Connection lost: reconnecting, the stream resumes where it stopped…');
        },
      });
      for await (const event of watch) {
        view.render(event);
        if (isEndKind(event.kind)) finished = event;
        // A wait opened or ended shows in the stream (a stored write): read the waits again.
        else if (event.kind === 'set') void this.#waits.refresh();
        // The end is the whole way, whatever each stage reached.
        this.#overall(finished ? 100 : view.progress);
      }
    } catch (error) {
      if (signal.aborted) return;
      this.#status(
        error instanceof WatchError && error.code === 'NOT_FOUND'
          ? 'This workflow is no longer kept (its retention passed, or it was evicted or lost by its storage).'
          : `The stream stopped: ${error instanceof Error ? error.message : String(error)}`,
        true,
      );
      return;
    }
    if (signal.aborted || !finished) return;
    this.#options.onStateChange('closed');
    this.#waits.ended();
    if (finished.kind === 'cancelled') {
      this.#status('Cancelled');
      this.#options.onFinished();
      return;
    }
    const failed = view.failed(finished);
    this.#status(failed ? 'Finished, with a failed step' : 'Finished', failed);
    this.#options.onFinished();
    await view.finished(workflow, signal);
  }

  #watchTrace(workflow: KnownWorkflow, signal: AbortSignal): void {
    // Any kind's stream token reads its trace.
    const subscription = this.#client.trpc.traces.onEvent.subscribe(
      { traceId: workflow.traceId, token: workflow.token },
      {
        onData: (tracked) => {
          if (!signal.aborted) this.#trace.add(tracked.data);
        },
        onError: () => {
          // The trace is an aid: its loss (e.g. after a server restart) leaves the stream view intact.
        },
      },
    );
    signal.addEventListener('abort', () => subscription.unsubscribe(), { once: true });
  }

  #overall(value: number): void {
    const progress = byId<HTMLProgressElement>('overall-progress');
    progress.value = value;
    progress.textContent = `${value}%`;
    byId('overall-value').textContent = `${value}%`;
  }

  #status(text: string, error = false): void {
    const status = byId('workflow-status');
    status.textContent = text;
    status.classList.toggle('error', error);
  }
}
