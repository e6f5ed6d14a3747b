import { createCallerFactory, router } from '../trpc.js';
import { petCreationRouter } from './pet-creation.js';
import { petsRouter } from './pets.js';

export const appRouter = router({
  pets: petsRouter,
  petCreation: petCreationRouter,
});

export type AppRouter = typeof appRouter;
export const createCaller = createCallerFactory(appRouter);
