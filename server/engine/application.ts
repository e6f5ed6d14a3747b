/**
 * What an application hands the engine: its workflows, its own services,
 * its router and its extra HTTP routes. The engine never imports an
 * application; the application imports the engine (server/engine/index.ts).
 */
import type { AnyTRPCRouter } from '@trpc/server';
import type { Redis } from 'ioredis';

import type { Config } from './config.js';
import type { Logger } from './log.js';
import type { Context, RequestScope } from './transport/context.js';
import type { HttpRoute } from './transport/http-routes.js';
import type { AnyWorkflow } from './workflows/define-workflow.js';

/**
 * The application's own services (stores, API clients), as its steps,
 * workflows and procedures get them (`ctx.services`). An application
 * declares their type by augmenting this interface, once:
 *
 * @example
 * declare module '../engine/index.js' {
 *   interface ApplicationServices extends ShelterServices {}
 * }
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- filled in by the application (declaration merging)
export interface ApplicationServices {}

/** What an application builds its services from. */
export type ServiceEnvironment = {
  readonly config: Config;
  readonly logger: Logger;
  /**
   * The engine's Redis when it runs on one (REDIS_URL), else null (memory):
   * its command connection, and the prefix the application's keys go under.
   */
  readonly redis: { readonly client: Redis; readonly keyPrefix: string } | null;
};

/** What an application's HTTP routes are built from. */
export type RouteEnvironment = {
  readonly config: Config;
  readonly log: Logger;
  /** The context tRPC procedures get, for the caller of one request. */
  readonly createContext: (scope?: RequestScope) => Context;
};

export type Application = {
  /** Names the service in logs ("Pet shelter"). */
  readonly name: string;
  /** Every workflow of the application (its manifest): one line per workflow. */
  readonly workflows: readonly AnyWorkflow<ApplicationServices>[];
  /** Builds the application's services, once, at start-up. */
  readonly createServices: (environment: ServiceEnvironment) => ApplicationServices;
  /**
   * The services as one step attempt sees them: writes that fail once
   * `signal` aborts, so an attempt that timed out cannot write behind its
   * retry's back. Absent: the services as they are.
   */
  readonly fenceServices?: (services: ApplicationServices, signal: AbortSignal) => ApplicationServices;
  /** Releases the services, after the steps have stopped. */
  readonly closeServices?: (services: ApplicationServices) => Promise<void>;
  /**
   * The whole tRPC router: the application's procedures beside the
   * engine's (`workflows`, `traces`, `system`; see engineRouters).
   */
  readonly router: AnyTRPCRouter;
  /** Plain HTTP routes beside tRPC (REST, SSE), served before the workbench's files. */
  readonly httpRoutes?: (environment: RouteEnvironment) => readonly HttpRoute[];
};

/** Checks an application's shape at definition time and keeps its type. */
export function defineApplication<const TApplication extends Application>(
  application: TApplication,
): TApplication {
  if (application.workflows.length === 0) {
    throw new TypeError(`Application \`${application.name}\` has no workflow`);
  }
  return application;
}
