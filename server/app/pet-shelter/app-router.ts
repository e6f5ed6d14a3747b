import {
  createCallerFactory,
  router,
  systemRouter,
  tracesRouter,
  workflowsRouter,
} from '../../engine/index.js';
import { adoptionsRouter } from './adoptions/router.js';
import { petCreationRouter, petsRouter } from './pets/router.js';

/** The shelter's whole API: its procedures beside the engine's. Clients import its type only. */
export const appRouter = router({
  pets: petsRouter,
  petCreation: petCreationRouter,
  adoptions: adoptionsRouter,
  workflows: workflowsRouter,
  traces: tracesRouter,
  system: systemRouter,
});

export type AppRouter = typeof appRouter;
// Whoever reads AppRouter's types also loads the services' declaration merging, which types `ctx.services`.
export type { ShelterServices } from './services.js';
export const createCaller = createCallerFactory(appRouter);
