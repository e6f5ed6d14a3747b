import type { PetClient, WorkflowEvent } from '../client/create-client.js';
import type { PetCreationStage } from '../shared/pet-creation.js';
import { PROFILE_FIELDS, type Pet, type ProfileField } from '../shared/pet.js';
import { adoptForm, type Submitted } from './adopt-form.js';
import { byId, h, messageLine } from './dom.js';
import type { KindView } from './kind-view.js';
import type { KnownWorkflow } from './known-workflows.js';
import { petCard } from './pet-card.js';
import { StageBars } from './stage-bars.js';

type Event = WorkflowEvent<'petCreation'>;

/** A treatment started from the pet card. */
export type TreatmentStarted = { readonly pet: Pet; readonly traceId: string; readonly streamToken: string };
type MessageEvent = WorkflowEvent<'petCreation', 'petCreation'>;
type ProfileEvent = WorkflowEvent<'petCreation', 'petProfile'>;
type StepStage = Exclude<PetCreationStage, 'finished'>;

/** The bars, in the order they are shown. */
const STAGES: readonly { readonly stage: StepStage; readonly label: string }[] = [
  { stage: 'created', label: 'Created' },
  { stage: 'feeding', label: 'Feeding reminder' },
  { stage: 'enrichment', label: 'AI enrichment' },
];

const FIELD_LABELS: Readonly<Record<ProfileField, string>> = {
  bio: 'Bio',
  breedGuess: 'Breed guess',
  temperamentTags: 'Temperament',
  adopterHints: 'For adopters',
};

/**
 * A pet creation: its `petCreation` stream (messages, a progress bar per
 * step, the bio while it is written), its `petProfile` stream (the profile
 * field by field, drafts included), then the pet card, with the adoption
 * form when the pet is healthy.
 */
export class PetCreationView implements KindView<'petCreation'> {
  readonly root = byId('view-petCreation');
  readonly #client: PetClient;
  readonly #onAdoption: (submitted: Submitted) => void;
  readonly #onTreatment: (started: TreatmentStarted) => void;
  readonly #bars = new StageBars(byId('progress'), STAGES, { idPrefix: 'progress-' });
  readonly #partialMessages = new Set<string>();

  constructor(
    client: PetClient,
    onAdoption: (submitted: Submitted) => void,
    onTreatment: (started: TreatmentStarted) => void,
  ) {
    this.#client = client;
    this.#onAdoption = onAdoption;
    this.#onTreatment = onTreatment;
  }

  title(workflow: KnownWorkflow): string {
    return `Workflow for ${workflow.name}`;
  }

  get progress(): number {
    return this.#bars.overall;
  }

  reset(): void {
    byId('messages').replaceChildren();
    this.#bars.reset();
    this.#partialMessages.clear();
    byId('bio-box').hidden = true;
    byId('bio-live').textContent = '';
    byId('profile-fields').replaceChildren();
    byId('profile-empty').hidden = false;
    const card = byId('pet-card');
    card.hidden = true;
    card.replaceChildren();
  }

  render(event: Event): void {
    if (event.kind === 'reset') {
      this.#append(event, 'Earlier events of this stream are no longer kept.', 'note');
      return;
    }
    switch (event.stream) {
      case 'petCreation':
        this.#message(event);
        return;
      case 'petProfile':
        this.#profile(event);
        return;
    }
  }

  failed(finished: Event): boolean {
    return finished.stream === 'petCreation' && finished.data?.error === true;
  }

  async finished(workflow: KnownWorkflow, signal: AbortSignal): Promise<void> {
    try {
      const pet = await this.#client.pets.get.query({ id: workflow.petId });
      if (signal.aborted) return;
      const form =
        pet.status === 'healthy'
          ? adoptForm(this.#client, pet, this.#onAdoption)
          : pet.status === 'ill'
            ? this.#treatButton(pet)
            : null;
      const card = byId('pet-card');
      card.replaceChildren(petCard(pet, form));
      card.hidden = false;
    } catch {
      // The pet is gone (e.g. the server restarted): the stream view stays.
    }
  }

  /** "Start treatment" for an ill pet: `pets.treat`, then the page opens the treatment. */
  #treatButton(pet: Pet): HTMLElement {
    const button = h('button', { type: 'button', id: 'treat-pet' }, 'Start treatment');
    const error = h('p', { class: 'error', role: 'alert', id: 'treat-error', hidden: true });
    button.addEventListener('click', () => {
      button.disabled = true;
      this.#client.trpc.pets.treat.mutate({ petId: pet.id }).then(
        ({ traceId, streamToken }) => this.#onTreatment({ pet, traceId, streamToken }),
        (failure: unknown) => {
          button.disabled = false;
          error.textContent = failure instanceof Error ? failure.message : String(failure);
          error.hidden = false;
        },
      );
    });
    return h('div', { class: 'treat' }, button, error);
  }

  #message(event: MessageEvent): void {
    const data = event.data;
    if (!data) return;
    if (data.stage && data.stage !== 'finished' && data.progress !== undefined)
      this.#bars.set(data.stage, data.progress);
    if (data.partial !== undefined) {
      // The bio as the model writes it: the box shows it; the list shows each message once.
      byId('bio-box').hidden = false;
      byId('bio-live').textContent = data.partial;
      const key = `${event.itemId}\u0000${data.message}`;
      if (this.#partialMessages.has(key)) return;
      this.#partialMessages.add(key);
    }
    this.#append(event, data.message, data.error ? 'error' : event.kind);
  }

  #append(event: Event, message: string, kind: string): void {
    byId('messages').append(messageLine(event, message, kind));
  }

  /** Each field is one item: a later event replaces its row, in place. */
  #profile(event: ProfileEvent): void {
    const list = byId('profile-fields');
    const existing = [...list.children].find((row) => row.getAttribute('data-field') === event.itemId);
    const data = event.data;
    if (!data) {
      existing?.remove();
      byId('profile-empty').hidden = list.children.length > 0;
      return;
    }
    const value =
      typeof data.value === 'string'
        ? h('span', { class: 'field-value' }, data.value)
        : h('ul', { class: 'tags field-value' }, ...data.value.map((tag) => h('li', {}, tag)));
    const order = PROFILE_FIELDS.indexOf(data.field);
    const row = h(
      'div',
      {
        class: `profile-field${data.draft ? ' profile-draft' : ''}`,
        'data-field': data.field,
        'data-draft': String(data.draft),
        'data-source': data.source,
        'data-order': String(order),
        'data-event-id': event.eventId,
      },
      h('dt', {}, FIELD_LABELS[data.field]),
      h(
        'dd',
        {},
        value,
        h(
          'small',
          { class: 'field-source' },
          data.draft ? 'draft, being written' : data.source === 'model' ? 'by the model' : 'fallback',
        ),
      ),
    );
    if (existing) existing.replaceWith(row);
    else {
      const later = [...list.children].find((child) => Number(child.getAttribute('data-order')) > order);
      list.insertBefore(row, later ?? null);
    }
    byId('profile-empty').hidden = true;
  }
}
