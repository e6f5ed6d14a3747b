import { collectDefaultMetrics, Registry } from 'prom-client';

let processRegistry: Registry | undefined;

/**
 * Node's default process metrics (CPU, memory, event loop lag, GC, handles).
 * They describe the process, not one app, and their collectors (an event
 * loop monitor, a GC observer) cannot be stopped: one set per process,
 * however many apps it runs.
 */
export function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}
