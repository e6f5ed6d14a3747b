import type { PetClient, WorkflowEvent } from '../client/create-client.js';
import { byId, formatTime, h, messageLine } from './dom.js';
import type { KindView } from './kind-view.js';
import type { KnownWorkflow } from './known-workflows.js';
import { StageBars } from './stage-bars.js';

type Event = WorkflowEvent<'adoption'>;
type ProgressEvent = WorkflowEvent<'adoption', 'adoptionProgress'>;
type AuditEvent = WorkflowEvent<'adoption', 'adoptionAudit'>;
type Stage = NonNullable<ProgressEvent['data']>['stage'];

const STAGES: readonly { readonly stage: Stage; readonly label: string }[] = [
  { stage: 'submitted', label: 'Submitted' },
  { stage: 'background', label: 'Background check' },
  { stage: 'homeMatch', label: 'Home match' },
  { stage: 'review', label: 'Staff review' },
  { stage: 'decision', label: 'Decision' },
];

const DECISION_LABELS = { submitted: 'Not decided yet', approved: 'Approved', rejected: 'Rejected' } as const;

/**
 * An adoption: its `adoptionProgress` stream (a bar per stage, the home
 * match score, the messages) and its `adoptionAudit` stream (who decided
 * what, one entry per decision point), then the application's decision.
 */
export class AdoptionView implements KindView<'adoption'> {
  readonly root = byId('view-adoption');
  readonly #client: PetClient;
  readonly #bars = new StageBars(byId('adoption-progress'), STAGES, {
    idPrefix: 'adoption-progress-',
    notes: true,
  });

  constructor(client: PetClient) {
    this.#client = client;
  }

  title(workflow: KnownWorkflow): string {
    return `Adoption of ${workflow.name}`;
  }

  get progress(): number {
    return this.#bars.overall;
  }

  reset(): void {
    this.#bars.reset();
    const score = byId('adoption-score');
    score.hidden = true;
    score.textContent = '';
    delete score.dataset['score'];
    byId('adoption-messages').replaceChildren();
    byId('adoption-audit').replaceChildren();
    byId('audit-empty').hidden = false;
    const decision = byId('adoption-decision');
    decision.hidden = true;
    decision.textContent = '';
    delete decision.dataset['status'];
  }

  render(event: Event): void {
    if (event.kind === 'reset') {
      this.#append(event, 'Earlier events of this workflow are no longer kept.', 'note');
      return;
    }
    switch (event.stream) {
      case 'adoptionProgress':
        this.#progress(event);
        return;
      case 'adoptionAudit':
        this.#audit(event);
        return;
    }
  }

  failed(): boolean {
    // A rejection is a decision, not a failure; a failed step shows in its stage and the trace.
    return false;
  }

  async finished(workflow: KnownWorkflow, signal: AbortSignal): Promise<void> {
    if (!workflow.applicationId) return;
    try {
      const application = await this.#client.trpc.adoptions.get.query({ id: workflow.applicationId });
      if (signal.aborted) return;
      const decision = byId('adoption-decision');
      decision.dataset['status'] = application.status;
      decision.replaceChildren(
        h('strong', {}, DECISION_LABELS[application.status]),
        application.reason ? `: ${application.reason}` : '',
      );
      decision.hidden = false;
    } catch {
      // The application is gone (e.g. the server restarted): the stream view stays.
    }
  }

  #progress(event: ProgressEvent): void {
    const data = event.data;
    if (!data) return;
    this.#bars.set(data.stage, data.progress, data.message);
    if (data.score !== undefined) {
      const score = byId('adoption-score');
      score.dataset['score'] = String(data.score);
      score.replaceChildren('Home match score: ', h('strong', {}, `${data.score}/100`));
      score.hidden = false;
    }
    this.#append(event, data.message, event.kind);
  }

  #append(event: Event, message: string, kind: string): void {
    byId('adoption-messages').append(messageLine(event, message, kind));
  }

  /** Each decision point is one item: a later event replaces its entry, in place. */
  #audit(event: AuditEvent): void {
    const list = byId('adoption-audit');
    const existing = [...list.children].find((entry) => entry.getAttribute('data-item') === event.itemId);
    const data = event.data;
    if (!data) {
      existing?.remove();
      byId('audit-empty').hidden = list.children.length > 0;
      return;
    }
    const entry = h(
      'li',
      {
        class: 'audit-entry',
        'data-item': event.itemId,
        'data-event-id': event.eventId,
        'data-action': data.action,
      },
      h('time', { datetime: event.time }, formatTime(event.time)),
      h('span', { class: 'audit-actor' }, data.actor),
      h('code', { class: 'audit-action' }, data.action),
      h('span', { class: 'audit-detail' }, data.detail),
    );
    if (existing) existing.replaceWith(entry);
    else list.append(entry);
    byId('audit-empty').hidden = true;
  }
}
