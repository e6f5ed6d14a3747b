import { randomBytes } from 'node:crypto';

import type { TraceId } from '../shared/trace-id.js';
import type { EventBus } from './bus/event-bus.js';
import type { Logger } from './log.js';
import type { Observability } from './observability/observability.js';
import type { ApiKeys } from './security/api-keys.js';
import { IN_PROCESS_CALLER, type Caller } from './security/caller.js';
import type { RateLimiter } from './security/rate-limiter.js';
import type { ResponseBudget } from './security/response-budget.js';
import type { StreamTokens } from './security/stream-tokens.js';
import type { SubscriptionSlots } from './security/subscription-slots.js';
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
  readonly apiKeys: ApiKeys;
  /** Per-client budget of `pets.create` calls. */
  readonly createRate: RateLimiter;
  /** Traces, metrics and stream analytics. */
  readonly observability: Observability;
};

/** What the transport knows about one request or connection. */
export type RequestScope = {
  readonly caller: Caller;
  /** The connection's subscription budget (WebSocket); null where each request stands alone. */
  readonly subscriptions: SubscriptionSlots | null;
  /** Bytes one HTTP request's answers may still take; null where each call is bounded alone (WebSocket). */
  readonly responseBudget?: ResponseBudget | null;
};

const IN_PROCESS: RequestScope = { caller: IN_PROCESS_CALLER, subscriptions: null };

/** Serves HTTP and WebSocket alike: one context per request or connection. */
export function createContextFactory(services: Services) {
  return (scope: RequestScope = IN_PROCESS) => ({ ...services, ...scope });
}

export type Context = Awaited<ReturnType<ReturnType<typeof createContextFactory>>>;

/** A fresh trace id: 128 random bits, 32 hex characters. */
export function newTraceId(): TraceId {
  return randomBytes(16).toString('hex') as TraceId;
}
