import { stepRunsOf, type StepRunStatus, type TraceEntry } from '../shared/trace.js';
import { byId, h } from './dom.js';

type FinishedStatus = Exclude<StepRunStatus, 'running'>;

/** The selected workflow's trace: one bar per step attempt, and every entry in order. */
export class TraceView {
  #entries: TraceEntry[] = [];

  reset(): void {
    this.#entries = [];
    byId('timeline').replaceChildren();
    byId('step-runs').replaceChildren();
    byId('trace-count').textContent = '0';
  }

  add(entry: TraceEntry): void {
    const last = this.#entries.at(-1);
    // A resumed subscription never repeats an entry, but a late duplicate must not show twice.
    if (last && entry.seq <= last.seq) return;
    this.#entries.push(entry);
    const first = this.#entries[0] ?? entry;
    byId('timeline').append(
      h(
        'li',
        { class: `entry entry-${entry.kind}` },
        h('span', { class: 'offset' }, `+${offsetMs(first.at, entry.at)} ms`),
        h('span', {}, describe(entry)),
      ),
    );
    byId('trace-count').textContent = String(this.#entries.length);
    this.#renderRuns();
  }

  #renderRuns(): void {
    const runs = stepRunsOf(this.#entries);
    const start = Date.parse(this.#entries[0]?.at ?? new Date().toISOString());
    const ends = runs.map((run) => Date.parse(run.end ?? new Date().toISOString()));
    const span = Math.max(1, ...ends.map((end) => end - start));
    byId('step-runs').replaceChildren(
      ...runs.map((run) => {
        const bar = h('span', { class: `run-bar run-${run.status}` });
        const from = Date.parse(run.start) - start;
        const to = (run.end ? Date.parse(run.end) : Date.now()) - start;
        bar.style.left = `${(Math.max(0, from) / span) * 100}%`;
        bar.style.width = `${Math.max(1, ((to - from) / span) * 100)}%`;
        return h(
          'div',
          { class: 'run' },
          h('span', { class: 'run-label' }, `${run.step} · attempt ${run.attempt}`),
          h(
            'span',
            {
              class: 'run-track',
              role: 'img',
              'aria-label': `${run.step} attempt ${run.attempt}: ${run.status}`,
            },
            bar,
          ),
          h(
            'span',
            { class: 'run-status' },
            run.durationMs === null
              ? STATUS_LABEL[run.status]
              : `${STATUS_LABEL[run.status]} in ${Math.round(run.durationMs)} ms`,
            run.error ? ` (${run.error})` : '',
          ),
        );
      }),
    );
  }
}

/** How a finished attempt shows; `interrupted` is not a failure: the service stopped it at shutdown. */
const STATUS_SYMBOL: Record<FinishedStatus, string> = {
  succeeded: '✔',
  failed: '✖',
  interrupted: '⏸',
  waiting: '⧗',
};
const STATUS_LABEL: Record<StepRunStatus, string> = {
  running: 'running',
  succeeded: 'succeeded',
  failed: 'failed',
  interrupted: 'interrupted by shutdown',
  waiting: 'waiting for an input',
};

function offsetMs(from: string, to: string): number {
  return Math.max(0, Date.parse(to) - Date.parse(from));
}

function describe(entry: TraceEntry): string {
  switch (entry.kind) {
    case 'workflow_started':
      return `Workflow ${entry.flow} started for ${entry.subject} (steps: ${entry.steps.join(', ')})`;
    case 'step_started':
      return `▶ ${entry.step} attempt ${entry.attempt} started`;
    case 'step_finished':
      return `${STATUS_SYMBOL[entry.status]} ${entry.step} attempt ${entry.attempt} ${STATUS_LABEL[entry.status]} in ${Math.round(entry.durationMs)} ms${entry.error ? `: ${entry.error}` : ''}`;
    case 'emit':
      return `→ emitted ${entry.topic}`;
    case 'stream_write':
      return `✎ ${entry.stream} #${entry.eventId} ${entry.itemId}${messageOf(entry.data)}`;
    case 'log':
      return `[${entry.level}]${entry.step ? ` ${entry.step}:` : ''} ${entry.msg}`;
    case 'wait_started':
      return `⧗ ${entry.step} waits for ${entry.name} from ${entry.awaitedBy} until ${entry.deadline}`;
    case 'wait_ended':
      return entry.status === 'received'
        ? `↩ ${entry.name} received from ${entry.by ?? 'unknown'}: ${JSON.stringify(entry.input)}`
        : `↩ ${entry.name} ${entry.status === 'timedOut' ? 'timed out' : 'cancelled'}`;
    case 'workflow_finished':
      return `■ Workflow ${entry.cancelled ? 'cancelled' : 'finished'} (${Object.entries(entry.outcomes)
        .map(([step, outcome]) => `${step} ${outcome}`)
        .join(', ')})`;
  }
}

/** What a stream write says, whichever kind's stream it is: a message, an audit detail, a profile field. */
function messageOf(data: unknown): string {
  if (typeof data !== 'object' || data === null) return '';
  for (const key of ['message', 'detail', 'field'] as const) {
    if (key in data) {
      const value: unknown = (data as Record<typeof key, unknown>)[key];
      if (typeof value === 'string') return `: ${value}`;
    }
  }
  return '';
}
