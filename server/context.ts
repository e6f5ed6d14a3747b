import { randomBytes } from 'node:crypto';

import type { TraceId } from '../shared/trace-id.js';
import type { EventBus } from './bus/event-bus.js';
import type { Logger } from './log.js';
import type { StreamTokens } from './security/stream-tokens.js';
import type { Streams } from './streams/registry.js';
import type { StepServices } from './workers/define-step.js';
import type { Workflows } from './workers/workflows.js';

/** Everything procedures use, built once by the composition root. */
export type Services = StepServices & {
  readonly log: Logger;
  readonly bus: EventBus;
  readonly streams: Streams;
  readonly workflows: Workflows;
  readonly tokens: StreamTokens;
};

/** Serves HTTP and WebSocket alike: one context per request or connection. */
export function createContextFactory(services: Services) {
  return () => ({ ...services });
}

export type Context = Awaited<ReturnType<ReturnType<typeof createContextFactory>>>;

/** A fresh trace id: 128 random bits, 32 hex characters. */
export function newTraceId(): TraceId {
  return randomBytes(16).toString('hex') as TraceId;
}
