/**
 * A trace's step runs, folded from its entries: one per attempt, in the
 * order they started. An attempt interrupted by its instance's shutdown is
 * not counted, so the run that follows has the same attempt number: it is
 * a run of its own, not a replacement of the interrupted one.
 */
import { describe, expect, test } from 'vitest';

import { stepRunsOf, type TraceEntry } from '../../shared/trace.js';

const at = (second: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, second)).toISOString();

let seq = 0;
const started = (step: string, attempt: number, second: number): TraceEntry => ({
  seq: (seq += 1),
  at: at(second),
  kind: 'step_started',
  step,
  attempt,
});
const finished = (
  step: string,
  attempt: number,
  status: 'succeeded' | 'failed' | 'interrupted',
  [from, to]: readonly [number, number],
): TraceEntry => ({
  seq: (seq += 1),
  at: at(to),
  kind: 'step_finished',
  step,
  attempt,
  status,
  start: at(from),
  end: at(to),
  durationMs: (to - from) * 1000,
  error: status === 'failed' ? 'Error: boom' : null,
});

const run = (
  step: string,
  attempt: number,
  status: 'running' | 'succeeded' | 'failed' | 'interrupted',
  [from, to]: readonly [number, number | null],
) => ({
  step,
  attempt,
  status,
  start: at(from),
  end: to === null ? null : at(to),
  durationMs: to === null ? null : (to - from) * 1000,
  error: status === 'failed' ? 'Error: boom' : null,
});

describe('stepRunsOf', () => {
  test('an interrupted attempt and the run of the same number after it are two runs, in the order they started', () => {
    expect(
      stepRunsOf([
        started('Enrich', 1, 1),
        started('Feed', 1, 1),
        finished('Feed', 1, 'succeeded', [1, 2]),
        finished('Enrich', 1, 'interrupted', [1, 3]),
        started('Enrich', 1, 4),
        finished('Enrich', 1, 'succeeded', [4, 6]),
      ]),
    ).toEqual([
      run('Enrich', 1, 'interrupted', [1, 3]),
      run('Feed', 1, 'succeeded', [1, 2]),
      run('Enrich', 1, 'succeeded', [4, 6]),
    ]);
  });

  test('failed attempts and their retries; a run still going; a run whose start was dropped', () => {
    expect(
      stepRunsOf([
        // The start of this run was dropped (entry limit): its end alone shows it.
        finished('Feed', 1, 'failed', [0, 1]),
        started('Feed', 2, 2),
        finished('Feed', 2, 'succeeded', [2, 3]),
        started('Enrich', 1, 3),
      ]),
    ).toEqual([
      run('Feed', 1, 'failed', [0, 1]),
      run('Feed', 2, 'succeeded', [2, 3]),
      run('Enrich', 1, 'running', [3, null]),
    ]);
  });
});
