import { WatchError, type PetClient, type WatchState } from '../client/create-client.js';
import type { PetCreationEvent, PetCreationStage } from '../shared/pet-creation.js';
import { byId, formatTime, h } from './dom.js';
import type { KnownWorkflow } from './known-workflows.js';
import { petCard } from './pet-card.js';
import { TraceView } from './trace-view.js';

type StepStage = Exclude<PetCreationStage, 'finished'>;

/** The bars, in the order they are shown. */
const STAGES: readonly { readonly stage: StepStage; readonly label: string }[] = [
  { stage: 'created', label: 'Created' },
  { stage: 'feeding', label: 'Feeding reminder' },
  { stage: 'enrichment', label: 'AI enrichment' },
];

export type WorkflowViewOptions = {
  /** The stream watch's connection state, for the page header. */
  readonly onStateChange: (state: WatchState | 'idle') => void;
  /** The selected workflow finished (the list refreshes). */
  readonly onFinished: () => void;
};

/**
 * The selected workflow: its stream as it arrives (messages, a progress bar
 * per step, the bio while it is written), then the pet card; beside it the
 * live trace. Both resume by themselves after a reconnect.
 */
export class WorkflowView {
  readonly #client: PetClient;
  readonly #options: WorkflowViewOptions;
  readonly #trace = new TraceView();
  #abort: AbortController | null = null;
  #selected: KnownWorkflow | null = null;
  readonly #bars = new Map<string, { readonly progress: HTMLProgressElement; readonly value: HTMLElement }>();
  readonly #partialMessages = new Set<string>();

  constructor(client: PetClient, options: WorkflowViewOptions) {
    this.#client = client;
    this.#options = options;
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
    void this.#watchStream(workflow, abort.signal);
    this.#watchTrace(workflow, abort.signal);
  }

  #reset(workflow: KnownWorkflow): void {
    byId('detail-title').textContent = `Workflow for ${workflow.name}`;
    this.#status('Connecting…');
    byId('messages').replaceChildren();
    byId('progress').replaceChildren();
    this.#bars.clear();
    this.#partialMessages.clear();
    const bio = byId('bio-box');
    bio.hidden = true;
    byId('bio-live').textContent = '';
    const card = byId('pet-card');
    card.hidden = true;
    card.replaceChildren();
    this.#trace.reset();
  }

  async #watchStream(workflow: KnownWorkflow, signal: AbortSignal): Promise<void> {
    let finished: PetCreationEvent | null = null;
    try {
      const watch = this.#client.watchPetCreation(workflow.traceId, workflow.token, {
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
        this.#render(event);
        if (event.kind === 'finished') finished = event;
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
    this.#status(
      finished.data?.error ? 'Finished, with a failed step' : 'Finished',
      finished.data?.error === true,
    );
    this.#options.onFinished();
    await this.#showPet(workflow, signal);
  }

  #watchTrace(workflow: KnownWorkflow, signal: AbortSignal): void {
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

  async #showPet(workflow: KnownWorkflow, signal: AbortSignal): Promise<void> {
    try {
      const pet = await this.#client.pets.get.query({ id: workflow.petId });
      if (signal.aborted) return;
      const card = byId('pet-card');
      card.replaceChildren(petCard(pet));
      card.hidden = false;
    } catch {
      // The pet is gone (e.g. the server restarted): the stream view stays.
    }
  }

  #render(event: PetCreationEvent): void {
    if (event.kind === 'reset') {
      this.#append(event, 'Earlier events of this stream are no longer kept.', 'note');
      return;
    }
    const data = event.data;
    if (!data) return;
    if (data.stage && data.stage !== 'finished' && data.progress !== undefined)
      this.#progress(data.stage, data.progress);
    if (data.partial !== undefined) {
      // The bio as the model writes it: the box shows it; the list shows each message once.
      const box = byId('bio-box');
      box.hidden = false;
      byId('bio-live').textContent = data.partial;
      const key = `${event.itemId}\u0000${data.message}`;
      if (this.#partialMessages.has(key)) return;
      this.#partialMessages.add(key);
    }
    this.#append(event, data.message, data.error ? 'error' : event.kind);
  }

  #append(event: PetCreationEvent, message: string, kind: string): void {
    byId('messages').append(
      h(
        'li',
        { class: `message message-${kind}`, 'data-item': event.itemId, 'data-event-id': event.eventId },
        h('time', { datetime: event.time }, formatTime(event.time)),
        h('span', { class: 'msg' }, message),
      ),
    );
  }

  #progress(stage: StepStage, value: number): void {
    let bar = this.#bars.get(stage);
    if (!bar) {
      const id = `progress-${stage}`;
      const progress = h('progress', { id, max: '100', value: '0' });
      const label = h('span', { class: 'bar-value' });
      const order = STAGES.findIndex((s) => s.stage === stage);
      const row = h(
        'div',
        { class: 'bar', 'data-order': String(order) },
        h('label', { for: id }, STAGES[order]?.label ?? stage),
        progress,
        label,
      );
      const container = byId('progress');
      const later = [...container.children].find((child) => Number(child.getAttribute('data-order')) > order);
      container.insertBefore(row, later ?? null);
      bar = { progress, value: label };
      this.#bars.set(stage, bar);
    }
    bar.progress.value = value;
    bar.progress.textContent = `${value}%`;
    bar.value.textContent = `${value}%`;
  }

  #status(text: string, error = false): void {
    const status = byId('workflow-status');
    status.textContent = text;
    status.classList.toggle('error', error);
  }
}
