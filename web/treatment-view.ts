import type { PetClient, WorkflowEvent } from '../client/create-client.js';
import { byId, messageLine } from './dom.js';
import type { KindView } from './kind-view.js';
import type { KnownWorkflow } from './known-workflows.js';
import { petCard } from './pet-card.js';

type Event = WorkflowEvent<'treatment'>;
type Stage = NonNullable<Event['data']>['stage'];

/** How far along each stage is, for the overall bar. */
const PROGRESS: Readonly<Record<Stage, number>> = {
  started: 25,
  waiting: 50,
  cleared: 90,
  notCleared: 90,
  timedOut: 90,
  finished: 100,
};

/**
 * A treatment: its `treatment` stream (started, what it waits for and from
 * whom, the vet's answer or none), then the pet as the treatment left it.
 * The answer itself is given in the waits panel.
 */
export class TreatmentView implements KindView<'treatment'> {
  readonly root = byId('view-treatment');
  readonly #client: PetClient;
  #progress = 0;

  constructor(client: PetClient) {
    this.#client = client;
  }

  title(workflow: KnownWorkflow): string {
    return `Treatment of ${workflow.name}`;
  }

  get progress(): number {
    return this.#progress;
  }

  reset(): void {
    this.#progress = 0;
    byId('treatment-messages').replaceChildren();
    const card = byId('treatment-pet');
    card.hidden = true;
    card.replaceChildren();
  }

  render(event: Event): void {
    if (event.kind === 'reset') {
      this.#append(event, 'Earlier events of this workflow are no longer kept.', 'note');
      return;
    }
    const data = event.data;
    if (!data) return;
    this.#progress = Math.max(this.#progress, PROGRESS[data.stage]);
    const awaited = data.awaiting
      ? ` (awaited: ${data.awaiting}, from the ${data.awaitedBy ?? 'staff'})`
      : '';
    const note = data.note ? ` — “${data.note}”` : '';
    this.#append(event, `${data.message}${awaited}${note}`, event.kind);
  }

  failed(): boolean {
    return false;
  }

  async finished(workflow: KnownWorkflow, signal: AbortSignal): Promise<void> {
    try {
      const pet = await this.#client.pets.get.query({ id: workflow.petId });
      if (signal.aborted) return;
      const card = byId('treatment-pet');
      card.replaceChildren(petCard(pet));
      card.hidden = false;
    } catch {
      // The pet is gone (e.g. the server restarted): the stream view stays.
    }
  }

  #append(event: Event, message: string, kind: string): void {
    byId('treatment-messages').append(messageLine(event, message, kind));
  }
}
