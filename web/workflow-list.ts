import type { Pet } from '../shared/pet.js';
import type { TraceSummary } from '../shared/trace.js';
import { byId, formatTime, h } from './dom.js';
import { isWorkflowKind, KIND_LABELS, type KnownWorkflow, type KnownWorkflows } from './known-workflows.js';

export type WorkflowListInput = {
  readonly traces: readonly TraceSummary[];
  readonly pets: readonly Pet[];
  readonly known: KnownWorkflows;
  readonly selected: string | null;
  readonly onSelect: (workflow: KnownWorkflow) => void;
};

/** Every kept workflow of every kind, newest first; those started here can be opened. */
export function renderWorkflowList(input: WorkflowListInput): void {
  const pets = new Map(input.pets.map((pet) => [pet.id, pet]));
  const list = byId('workflows');
  if (input.traces.length === 0) {
    list.replaceChildren(h('li', { class: 'empty' }, 'No workflow yet: create a pet.'));
    return;
  }
  list.replaceChildren(
    ...input.traces.map((trace) => {
      const known = input.known.get(trace.traceId);
      const pet = known ? pets.get(known.petId) : undefined;
      const status = trace.status === 'running' ? 'running' : trace.failedSteps > 0 ? 'failed' : 'finished';
      // The trace names the kind once the workflow registers; until then, what this browser knows.
      const kind = trace.flow ?? known?.kind ?? null;
      const button = h(
        'button',
        {
          type: 'button',
          class: 'workflow',
          'data-trace-id': trace.traceId,
          'data-kind': kind ?? undefined,
          'aria-current': trace.traceId === input.selected ? 'true' : undefined,
          disabled: !known,
        },
        h('span', { class: 'workflow-name' }, trace.subject ?? known?.name ?? 'Unnamed workflow'),
        kind
          ? h('span', { class: 'badge badge-kind' }, isWorkflowKind(kind) ? KIND_LABELS[kind] : kind)
          : null,
        h('span', { class: `badge badge-${status}` }, status),
        pet ? h('span', { class: 'badge badge-pet' }, pet.status.replace('_', ' ')) : null,
        h('time', { datetime: trace.startedAt }, formatTime(trace.startedAt)),
      );
      if (known) button.addEventListener('click', () => input.onSelect(known));
      return h('li', {}, button);
    }),
  );
}
