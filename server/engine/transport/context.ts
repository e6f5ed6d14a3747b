import type { ApplicationServices } from '../application.js';
import type { EventBus } from '../bus/event-bus.js';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { Observability } from '../observability/observability.js';
import type { ApiKeys } from '../security/api-keys.js';
import { IN_PROCESS_CALLER, type Caller } from '../security/caller.js';
import type { RateLimiter } from '../security/rate-limiter.js';
import type { ResponseBudget } from '../security/response-budget.js';
import type { StreamTokens } from '../security/stream-tokens.js';
import type { SubscriptionSlots } from '../security/subscription-slots.js';
import type { WorkflowLog } from '../streams/workflow-log.js';
import type { Waits } from '../waits/waits.js';
import type { WorkflowRuntime } from '../workflows/runtime.js';

/** Everything procedures use, built once by the engine. */
export type EngineServices = {
  readonly config: Config;
  readonly log: Logger;
  readonly bus: EventBus;
  /** Every workflow's ordered log: its streams, subscriptions and fan-out. */
  readonly workflowLog: WorkflowLog;
  /** Starts workflows and answers about them. */
  readonly workflows: WorkflowRuntime<ApplicationServices>;
  /** Steps waiting for an input: procedures give it with `answer`. */
  readonly waits: Waits;
  readonly tokens: StreamTokens;
  readonly apiKeys: ApiKeys;
  /** Per-client budget of workflow starts (every kind together). */
  readonly startRate: RateLimiter;
  /** Traces, metrics and stream analytics. */
  readonly observability: Observability;
  /** The application's own services. */
  readonly services: ApplicationServices;
};

/** What the transport knows about one request or connection. */
export type RequestScope = {
  readonly caller: Caller;
  /** The connection's subscription budget (WebSocket); null where each request stands alone. */
  readonly subscriptions: SubscriptionSlots | null;
  /** Bytes one HTTP request's answers may still take; null where each call is bounded alone (WebSocket). */
  readonly responseBudget?: ResponseBudget | null;
};

export type Context = EngineServices & RequestScope;

const IN_PROCESS: RequestScope = { caller: IN_PROCESS_CALLER, subscriptions: null };

/** Serves HTTP and WebSocket alike: one context per request or connection. */
export function createContextFactory(services: EngineServices) {
  return (scope: RequestScope = IN_PROCESS): Context => ({ ...services, ...scope });
}
