import type { SystemStats } from '../shared/system-stats.js';
import { byId, h } from './dom.js';

/** Stream analytics at a glance, from `system.stats`. */
export function renderStats(stats: SystemStats): void {
  const figures: [string, string][] = [
    ['Connected clients', String(stats.connectedClients)],
    ['Active subscriptions', String(stats.activeSubscriptions.total)],
    ['Events written', String(stats.eventsWritten.total)],
    ['Events delivered', String(stats.eventsDelivered.total)],
    ['Delivery rate', `${stats.deliveryRatePerSecond.toFixed(1)}/s`],
    ['Delivery lag p95', stats.deliveryLag.p95Ms === null ? '–' : `≤ ${stats.deliveryLag.p95Ms} ms`],
    ['Workflows started', String(stats.workflows.started)],
    ['Workflows finished', String(stats.workflows.finished)],
    ['Step failures', String(stats.steps.failures)],
    ['Workflows evicted', String(stats.workflows.evicted)],
    ['Log lines dropped', String(stats.logLinesDropped)],
  ];
  byId('stats').replaceChildren(
    ...figures.map(([label, value]) => h('div', { class: 'stat' }, h('dt', {}, label), h('dd', {}, value))),
  );
}
