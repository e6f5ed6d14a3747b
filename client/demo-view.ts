/** How the demo shows a workflow: readable lines (coloured on a terminal), or JSON lines for scripts. */
import picocolors from 'picocolors';

import type { Pet } from '../shared/pet.js';
import type { PetCreationEvent, PetCreationStage } from '../shared/pet-creation.js';
import type { TreatmentEvent } from './demo-treatment.js';
import type { WatchStateChange } from './workflow-watch.js';

export type CreatedWorkflow = { readonly pet: Pet; readonly traceId: string; readonly streamToken: string };

export type DemoView = {
  readonly created: (created: CreatedWorkflow) => void;
  readonly event: (event: PetCreationEvent) => void;
  readonly state: (change: WatchStateChange) => void;
  readonly pet: (pet: Pet) => void;
  /** An event of the pet's treatment (`--treat`). */
  readonly treatment: (event: TreatmentEvent) => void;
  /** What the demo did or waits for, in a sentence. */
  readonly note: (text: string) => void;
};

type Write = (text: string) => void;

export type HumanViewOptions = {
  readonly write: Write;
  /**
   * A terminal: colours, and below the scrolling event lines a live
   * progress bar per step (redrawn in place, with the bio as it is written).
   */
  readonly terminal: boolean;
  /** Terminal width, to keep each bar on one line. @default 80 */
  readonly columns?: number;
};

const BAR_WIDTH = 16;
/** The workflow's steps, which get a bar each. */
const STEP_BARS: readonly PetCreationStage[] = ['feeding', 'enrichment'];
const STAGE_WIDTH = 10;
type Colors = ReturnType<typeof picocolors.createColors>;

/** One line per event (the step, its progress, the message); on a terminal, live bars below. */
export function humanView(options: HumanViewOptions): DemoView {
  const { write, terminal } = options;
  const columns = Math.max(40, options.columns ?? 80);
  const c = picocolors.createColors(terminal);
  const stageColor: Record<PetCreationStage, (text: string) => string> = {
    created: c.cyan,
    feeding: c.yellow,
    enrichment: c.magenta,
    finished: c.green,
  };
  /** The steps' bars, drawn in the order of STEP_BARS. */
  const bars = new Map<PetCreationStage, { progress: number; text: string; draft: boolean }>();
  let footerLines = 0;
  let footerFrozen = false;
  // Set by a lost connection, so that "reconnected" is said only after one.
  let lost = false;

  const clearFooter = () => {
    // Up to the footer's first line, then clear to the end of the screen.
    if (footerLines > 0) write(`\u001b[${footerLines}F\u001b[0J`);
    footerLines = 0;
  };
  const drawFooter = () => {
    if (!terminal || footerFrozen) return;
    for (const stage of STEP_BARS) {
      const state = bars.get(stage);
      if (!state) continue;
      const { progress, text, draft } = state;
      // A wrapped line would break the count of lines to redraw: cut the text to fit.
      const room = columns - 1 - (2 + STAGE_WIDTH + 1 + BAR_WIDTH + 1 + 4 + 2);
      const shown = text.length > room ? `${text.slice(0, Math.max(0, room - 1))}…` : text;
      const percent = `${String(Math.round(progress)).padStart(3)}%`;
      write(
        `  ${stageColor[stage](stage.padEnd(STAGE_WIDTH))} ${bar(progress, c)} ${percent}  ${draft ? c.dim(shown) : shown}\n`,
      );
      footerLines += 1;
    }
  };
  const line = (text: string) => {
    clearFooter();
    write(`${text}\n`);
    drawFooter();
  };

  return {
    created: ({ pet, traceId, streamToken }) => {
      line(
        `${c.bold(`Created ${pet.name}`)} (pet ${pet.id}, ${pet.species}, ${pet.ageMonths} months) · trace ${traceId}`,
      );
      line(c.dim(`Watch it again: npm run demo -- --watch ${traceId} --token ${streamToken}`));
    },
    event: (event) => {
      const data = event.data;
      if (event.kind === 'reset') {
        line(c.yellow('Earlier events are no longer kept; showing what is.'));
        return;
      }
      if (!data) return;
      const stage = data.stage ?? (event.kind === 'finished' ? 'finished' : 'created');
      const progress = data.progress ?? bars.get(stage)?.progress ?? 0;
      const isDraft =
        data.partial !== undefined &&
        event.itemId === 'progress_bio' &&
        !data.message.startsWith('Generated');
      if (STEP_BARS.includes(stage)) {
        bars.set(stage, {
          progress,
          text: isDraft ? (data.partial ?? '').replace(/\s+/g, ' ') : data.message,
          draft: isDraft,
        });
      }
      if (isDraft) {
        // A draft of the bio while the model writes it: the bar shows it on a
        // terminal; plain output waits for the finished field.
        if (terminal) {
          clearFooter();
          drawFooter();
        }
        return;
      }
      const percent =
        data.progress === undefined ? '    ' : `${String(Math.round(data.progress)).padStart(3)}%`;
      const message = data.error
        ? c.red(data.message)
        : event.kind === 'finished'
          ? c.bold(data.message)
          : data.message;
      line(
        terminal
          ? `  ${stageColor[stage](stage.padEnd(STAGE_WIDTH))} ${percent}  ${message}`
          : `[${stage.padEnd(STAGE_WIDTH)} ${percent}] ${data.message}`,
      );
    },
    state: ({ state, failures, error }) => {
      if (state === 'reconnecting' || (state === 'connecting' && failures > 0)) {
        const why = error ? ` (${error.message})` : '';
        line(
          c.yellow(
            lost
              ? `-- still unreachable after ${failures} attempts${why}; retrying`
              : `-- connection lost${why}; reconnecting`,
          ),
        );
        lost = true;
      } else if (state === 'open' && lost) {
        lost = false;
        line(c.green('-- reconnected; resuming after the last event shown'));
      }
    },
    treatment: (event) => {
      const data = event.data;
      if (!data) return;
      const awaited = data.awaiting
        ? c.yellow(` ⧗ awaited: ${data.awaiting}, from the ${data.awaitedBy ?? 'staff'}`)
        : '';
      const note = data.note ? c.dim(` (${data.note})`) : '';
      const message = event.kind === 'set' ? data.message : c.bold(data.message);
      line(`[${'treatment'.padEnd(STAGE_WIDTH)} ${data.stage.padStart(4)}] ${message}${awaited}${note}`);
    },
    note: (text) => line(c.dim(`-- ${text}`)),
    pet: (pet) => {
      // The bars stay on screen as they ended; the profile goes below them.
      footerFrozen = true;
      footerLines = 0;
      const status =
        pet.status === 'ill'
          ? c.red(pet.status)
          : pet.status === 'healthy'
            ? c.green(pet.status)
            : pet.status;
      line('');
      line(`${c.bold(pet.name)} (pet ${pet.id}): ${pet.species}, ${pet.ageMonths} months, ${status}`);
      const rows: [string, string | undefined][] = [
        ['weight', pet.weightKg === undefined ? undefined : `${pet.weightKg} kg`],
        ['symptoms', pet.symptoms?.join(', ')],
        ['notes', pet.notes],
        ['next feeding', pet.nextFeedingAt],
        ['bio', pet.profile?.bio],
        ['breed guess', pet.profile?.breedGuess],
        ['temperament', pet.profile?.temperamentTags.join(', ')],
        ['adopter hints', pet.profile?.adopterHints],
      ];
      for (const [label, value] of rows) {
        if (value) line(`  ${c.dim(label.padEnd(14))} ${value}`);
      }
    },
  };
}

/** One JSON object per line: `created`, then `event`s (and `state` changes), then the `pet`. */
export function jsonView(write: Write): DemoView {
  const line = (value: unknown) => write(`${JSON.stringify(value)}\n`);
  return {
    created: ({ pet, traceId, streamToken }) => line({ type: 'created', traceId, streamToken, pet }),
    event: (event) => line({ type: 'event', event }),
    state: ({ state, failures, error }) =>
      line({ type: 'state', state, failures, error: error?.message ?? null }),
    pet: (pet) => line({ type: 'pet', pet }),
    treatment: (event) => line({ type: 'treatment', event }),
    note: (text) => line({ type: 'note', text }),
  };
}

function bar(progress: number, c: Colors): string {
  const filled = Math.round((Math.min(100, Math.max(0, progress)) / 100) * BAR_WIDTH);
  return c.green('█'.repeat(filled)) + c.dim('░'.repeat(BAR_WIDTH - filled));
}
