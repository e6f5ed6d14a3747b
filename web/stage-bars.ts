import { h } from './dom.js';

export type StageLabel<TStage extends string> = { readonly stage: TStage; readonly label: string };

/**
 * One progress bar per stage of a workflow, added when the stage first
 * reports, kept in the stages' order; and the workflow's overall progress
 * from them.
 */
export class StageBars<TStage extends string> {
  readonly #container: HTMLElement;
  readonly #stages: readonly StageLabel<TStage>[];
  readonly #idPrefix: string;
  readonly #notes: boolean;
  readonly #bars = new Map<
    TStage,
    { readonly progress: HTMLProgressElement; readonly value: HTMLElement; readonly note: HTMLElement | null }
  >();

  /** `notes`: each bar also shows the stage's last message. */
  constructor(
    container: HTMLElement,
    stages: readonly StageLabel<TStage>[],
    options: { readonly idPrefix: string; readonly notes?: boolean },
  ) {
    this.#container = container;
    this.#stages = stages;
    this.#idPrefix = options.idPrefix;
    this.#notes = options.notes ?? false;
  }

  reset(): void {
    this.#container.replaceChildren();
    this.#bars.clear();
  }

  set(stage: TStage, value: number, note?: string): void {
    let bar = this.#bars.get(stage);
    if (!bar) {
      const id = `${this.#idPrefix}${stage}`;
      const progress = h('progress', { id, max: '100', value: '0' });
      const label = h('span', { class: 'bar-value' });
      const noteElement = this.#notes ? h('span', { class: 'bar-note' }) : null;
      const order = this.#stages.findIndex((s) => s.stage === stage);
      const row = h(
        'div',
        { class: 'bar', 'data-order': String(order), 'data-stage': stage },
        h('label', { for: id }, this.#stages[order]?.label ?? stage),
        progress,
        label,
        noteElement,
      );
      const later = [...this.#container.children].find(
        (child) => Number(child.getAttribute('data-order')) > order,
      );
      this.#container.insertBefore(row, later ?? null);
      bar = { progress, value: label, note: noteElement };
      this.#bars.set(stage, bar);
    }
    bar.progress.value = value;
    bar.progress.textContent = `${value}%`;
    bar.value.textContent = `${value}%`;
    if (bar.note && note !== undefined) bar.note.textContent = note;
  }

  /** The mean of every stage's progress, a stage not yet reported counting as 0. */
  get overall(): number {
    if (this.#stages.length === 0) return 0;
    const sum = this.#stages.reduce(
      (total, { stage }) => total + (this.#bars.get(stage)?.progress.value ?? 0),
      0,
    );
    return Math.round(sum / this.#stages.length);
  }
}
