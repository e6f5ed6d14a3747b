import { isTRPCClientError } from '@trpc/client';

import type { PetClient } from '../client/create-client.js';
import { byId, formatTime, h } from './dom.js';
import type { KnownWorkflow } from './known-workflows.js';

type Wait = Awaited<ReturnType<PetClient['trpc']['workflows']['waits']['query']>>[number];

/** The answers the page offers for each kind of wait: a button each, sent with the note. */
type Answer = { readonly label: string; readonly send: (note: string) => Promise<unknown> };

const STATUS_LABELS: Readonly<Record<Wait['status'], string>> = {
  waiting: 'waiting',
  received: 'answered',
  timedOut: 'timed out',
  cancelled: 'cancelled',
};

/**
 * What the selected workflow waits for (or waited for): each wait's name,
 * from whom, until when and how it ended, with the answers a person can
 * give while it waits; and the button that cancels the workflow.
 */
export class WaitsPanel {
  readonly #client: PetClient;
  #workflow: KnownWorkflow | null = null;
  #refreshing: Promise<void> | null = null;
  #again = false;
  #ended = false;

  constructor(client: PetClient) {
    this.#client = client;
    byId('cancel-workflow').addEventListener('click', () => void this.#cancel());
  }

  show(workflow: KnownWorkflow): void {
    this.#workflow = workflow;
    this.#ended = false;
    byId('waits-list').replaceChildren();
    byId('waits-empty').hidden = false;
    this.#error('');
    const cancel = byId<HTMLButtonElement>('cancel-workflow');
    cancel.hidden = false;
    cancel.disabled = false;
    void this.refresh();
  }

  /** The workflow ended: nothing more to answer or cancel. */
  ended(): void {
    this.#ended = true;
    byId('cancel-workflow').hidden = true;
    void this.refresh();
  }

  /** Reads the waits again (one read at a time; a call meanwhile reads once more after it). */
  refresh(): Promise<void> {
    if (this.#refreshing) {
      this.#again = true;
      return this.#refreshing;
    }
    this.#refreshing = (async () => {
      do {
        this.#again = false;
        const workflow = this.#workflow;
        if (!workflow) return;
        try {
          const waits = await this.#client.trpc.workflows.waits.query({
            traceId: workflow.traceId,
            token: workflow.token,
          });
          if (this.#workflow === workflow) this.#render(workflow, waits);
        } catch {
          // Gone or unreachable for now: the stream view says which.
        }
      } while (this.#again);
    })().finally(() => {
      this.#refreshing = null;
    });
    return this.#refreshing;
  }

  #render(workflow: KnownWorkflow, waits: readonly Wait[]): void {
    byId('waits-empty').hidden = waits.length > 0;
    byId('waits-list').replaceChildren(
      ...waits.map((wait) => {
        const answers = wait.status === 'waiting' && !this.#ended ? this.#answers(workflow, wait) : [];
        return h(
          'li',
          { class: 'wait', 'data-name': wait.name, 'data-status': wait.status },
          h('strong', {}, wait.name),
          ` awaited from the ${wait.awaitedBy} (step ${wait.step}), until ${new Date(wait.deadline).toLocaleDateString()} ${formatTime(wait.deadline)}: `,
          h('span', { class: 'wait-status' }, STATUS_LABELS[wait.status]),
          wait.by ? ` by the ${wait.by}: ${JSON.stringify(wait.input)}` : '',
          answers.length > 0 ? this.#answerForm(wait, answers) : null,
        );
      }),
    );
  }

  /** The answers of the waits this page knows how to answer. */
  #answers(workflow: KnownWorkflow, wait: Wait): Answer[] {
    const trpc = this.#client.trpc;
    switch (wait.name) {
      case 'vetClearance':
        return [
          {
            label: 'Clear',
            send: (note) => trpc.pets.vetClearance.mutate({ petId: workflow.petId, cleared: true, note }),
          },
          {
            label: 'Keep in treatment',
            send: (note) => trpc.pets.vetClearance.mutate({ petId: workflow.petId, cleared: false, note }),
          },
        ];
      case 'staffDecision':
        return [
          {
            label: 'Approve',
            send: (note) =>
              trpc.adoptions.decide.mutate({ traceId: workflow.traceId, decision: 'approve', note }),
          },
          {
            label: 'Reject',
            send: (note) =>
              trpc.adoptions.decide.mutate({ traceId: workflow.traceId, decision: 'reject', note }),
          },
        ];
      default:
        return [];
    }
  }

  #answerForm(wait: Wait, answers: readonly Answer[]): HTMLElement {
    const id = `wait-note-${wait.name}`;
    const note = h('input', {
      id,
      name: 'note',
      type: 'text',
      maxlength: '500',
      required: true,
      autocomplete: 'off',
    });
    const buttons = answers.map((answer) => {
      const button = h('button', { type: 'button', class: 'wait-answer' }, answer.label);
      button.addEventListener('click', () => {
        for (const b of buttons) b.disabled = true;
        this.#error('');
        answer.send(note.value).then(
          () => void this.refresh(),
          (error: unknown) => {
            for (const b of buttons) b.disabled = false;
            this.#error(isTRPCClientError(error) ? error.message : String(error));
          },
        );
      });
      return button;
    });
    return h('div', { class: 'wait-form' }, h('label', { for: id }, 'Note'), note, ...buttons);
  }

  async #cancel(): Promise<void> {
    const workflow = this.#workflow;
    if (!workflow) return;
    const button = byId<HTMLButtonElement>('cancel-workflow');
    button.disabled = true;
    this.#error('');
    try {
      await this.#client.trpc.workflows.cancel.mutate({ traceId: workflow.traceId, token: workflow.token });
    } catch (error) {
      button.disabled = false;
      this.#error(isTRPCClientError(error) ? error.message : String(error));
    }
  }

  #error(text: string): void {
    const error = byId('waits-error');
    error.textContent = text;
    error.hidden = text === '';
  }
}
