import { createCallerFactory, router } from '../trpc.js';
import { petCreationRouter } from './pet-creation.js';
import { petsRouter } from './pets.js';
import { systemRouter } from './system.js';
import { tracesRouter } from './traces.js';

export const appRouter = router({
  pets: petsRouter,
  petCreation: petCreationRouter,
  traces: tracesRouter,
  system: systemRouter,
});

export type AppRouter = typeof appRouter;
export const createCaller = createCallerFactory(appRouter);
