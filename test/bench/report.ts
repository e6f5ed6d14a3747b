/** The results table (Markdown, for the terminal and bench/RESULTS.md) and the goal checks. */
import os from 'node:os';

import { baselineOf, medianOf, ratioTo, type MetricName, type Row } from './results.js';
import { SERVER_LABELS, type ServerKind } from './servers/bench-server.js';

const num = (value: number, digits: number) =>
  Number.isFinite(value) ? value.toLocaleString('en', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : '';
const ratio = (value: number) => (Number.isFinite(value) ? `${value.toFixed(2)}×` : '');
/** Small figures keep their digits; large ones are rounded. */
const auto = (value: number) => num(value, Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2);

export function resultsTable(rows: readonly Row[]): string {
  const header = [
    'Scenario',
    'Size',
    'Server',
    'Rate',
    '× base',
    'p50 ms',
    'p99 ms',
    'p99 × base',
    'Server CPU µs',
    '× base',
    'Redis CPU µs',
    'RSS KB/conn',
    '× base',
    'Client CPU µs',
  ];
  const lines = [`| ${header.join(' | ')} |`, `|${header.map((_, i) => (i < 3 ? ' --- ' : ' ---: ')).join('|')}|`];
  for (const row of rows) {
    const base = baselineOf(rows, row);
    const m = (metric: MetricName) => medianOf(row, metric);
    const r = (metric: MetricName) => ratio(ratioTo(row, base, metric));
    const rate = m('rate');
    lines.push(
      `| ${[
        row.scenario,
        row.size,
        row.label ?? SERVER_LABELS[row.kind],
        Number.isFinite(rate) ? `${num(rate, 0)} ${row.unit}` : '',
        r('rate'),
        auto(m('p50Ms')),
        auto(m('p99Ms')),
        r('p99Ms'),
        auto(m('cpuUs')),
        r('cpuUs'),
        auto(m('redisCpuUs')),
        auto(m('rssKb')),
        r('rssKb'),
        auto(m('clientCpuUs')),
      ].join(' | ')} |`,
    );
  }
  return lines.join('\n');
}

type Goal = {
  readonly text: string;
  readonly scenario: string;
  /** The row's size; its start is enough (`2,000 workflows` matches `2,000 workflows, 200 in flight`). */
  readonly size: string;
  readonly metric: MetricName;
  readonly bound: number;
  readonly atLeast: boolean;
  /** The row measured. @default 'ours' */
  readonly kind?: ServerKind;
  /** The row it is compared with. @default the scenario's baseline (raw ws, or bare tRPC for whole workflows) */
  readonly against?: ServerKind;
};

const WORKFLOWS = { scenario: 'Workflows end to end', size: '2,000 workflows' } as const;

export const GOALS: readonly Goal[] = [
  { text: 'Fan-out, 1,000 subscribers: deliveries/s ≥ 0.9× raw ws', scenario: 'Fan-out', size: '1,000 subscribers', metric: 'rate', bound: 0.9, atLeast: true },
  { text: 'Fan-out, 1,000 subscribers: server CPU per delivery ≤ 1.2× raw ws', scenario: 'Fan-out', size: '1,000 subscribers', metric: 'cpuUs', bound: 1.2, atLeast: false },
  { text: '1,000 independent streams: deliveries/s ≥ 0.8× raw ws', scenario: 'Independent streams', size: '1,000 streams', metric: 'rate', bound: 0.8, atLeast: true },
  { text: 'p99 at a fixed 20k deliveries/s (fan-out to 1,000): ≤ 1.5× raw ws', scenario: 'Fan-out at 20k deliveries/s', size: '1,000 subscribers', metric: 'p99Ms', bound: 1.5, atLeast: false },
  { text: 'RSS per idle subscribed connection at 5,000: ≤ 1.5× raw ws', scenario: 'Idle memory', size: '5,000 connections', metric: 'rssKb', bound: 1.5, atLeast: false },
  { text: 'Whole workflows, memory: server CPU per workflow ≤ 0.6× bare tRPC', ...WORKFLOWS, metric: 'cpuUs', bound: 0.6, atLeast: false },
  { text: 'Whole workflows, memory: workflows/s ≥ 1.3× bare tRPC', ...WORKFLOWS, metric: 'rate', bound: 1.3, atLeast: true },
  { text: 'Whole workflows, memory: p99 create → finished ≤ 1.0× bare tRPC', ...WORKFLOWS, metric: 'p99Ms', bound: 1.0, atLeast: false },
  { text: 'Whole workflows, Redis: workflows/s ≥ 0.6× the memory backend', ...WORKFLOWS, metric: 'rate', bound: 0.6, atLeast: true, kind: 'ours-redis', against: 'ours' },
];

export function goalLines(rows: readonly Row[]): string[] {
  const find = (goal: Goal, kind: ServerKind) =>
    rows.find((r) => r.scenario === goal.scenario && r.size.startsWith(goal.size) && r.kind === kind && !r.label);
  return GOALS.map((goal) => {
    const row = find(goal, goal.kind ?? 'ours');
    const against = row && (goal.against ? find(goal, goal.against) : baselineOf(rows, row));
    const value = row ? ratioTo(row, against, goal.metric) : Number.NaN;
    if (!Number.isFinite(value)) return `- ${goal.text}: not measured in this run`;
    const met = goal.atLeast ? value >= goal.bound : value <= goal.bound;
    return `- ${goal.text}: ${value.toFixed(2)}× — ${met ? 'met' : 'not met'}`;
  });
}

export type RunInfo = {
  readonly startedAt: Date;
  readonly seconds: number;
  readonly loadBefore: readonly number[];
  readonly loadAfter: readonly number[];
  readonly rounds: number;
  readonly command: string;
};

export function machineLines(info: RunInfo): string[] {
  const cpus = os.cpus();
  const load = (l: readonly number[]) => l.map((v) => v.toFixed(2)).join(', ');
  return [
    `- Date: ${info.startedAt.toISOString()}, ${info.seconds.toFixed(0)} s for the whole run (\`${info.command}\`, ${info.rounds} rounds per scenario)`,
    `- Machine: ${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${cpus.length} cores, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB memory, ${os.type()} ${os.release()}`,
    `- Node ${process.version}`,
    `- Load average (1, 5, 15 min): ${load(info.loadBefore)} before, ${load(info.loadAfter)} after`,
  ];
}

/**
 * The results file: the run's table, notes and goals, then `analysis` (the
 * hand-written "where the time goes", from CPU profiles, kept in
 * bench/where-the-time-goes.md) when given.
 */
export function resultsMarkdown(rows: readonly Row[], info: RunInfo, notes: readonly string[] = [], analysis = ''): string {
  return [
    '# Benchmark results',
    '',
    'Written by `npm run bench` (test/bench/run.ts); docs/performance.md explains each column.',
    '',
    ...machineLines(info),
    '',
    resultsTable(rows),
    '',
    ...notes.map((note) => `- ${note}`),
    ...(notes.length > 0 ? [''] : []),
    '## Goals (medians of per-round ratios)',
    '',
    ...goalLines(rows),
    '',
    ...(analysis ? [analysis.trim(), ''] : []),
  ].join('\n');
}
