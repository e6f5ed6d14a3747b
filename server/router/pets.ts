import { z } from 'zod';

import { PetIdSchema, PetInputSchema } from '../../shared/pet.js';
import { PetCreationItem } from '../../shared/pet-creation.js';
import { petNotFound } from '../errors.js';
import { limitCreateRate, publicProcedure, router, workflowProcedure } from '../trpc.js';

export const LIST_LIMIT = { default: 50, max: 500 } as const;

export const petsRouter = router({
  /** Stores the pet, opens its stream and starts the workflow; never waits for the steps. */
  create: workflowProcedure('CreatePetApi', ['pet.created', 'feeding.reminder.enqueued'])
    .use(limitCreateRate)
    .input(PetInputSchema)
    .mutation(async ({ input, ctx }) => {
      const pet = await ctx.pets.create(input);
      ctx.logger.info({ petId: pet.id, species: pet.species }, '🐾 Pet created');
      // Registered before anything is published, so no step can finish unseen.
      await ctx.workflows.start(ctx.traceId, 'petCreation', pet.name);
      const stream = await ctx.streams.petCreation.set(ctx.traceId, PetCreationItem.message, {
        message: `Pet ${pet.name} (ID: ${pet.id}) created successfully - Species: ${pet.species}, Age: ${pet.ageMonths} months, Status: ${pet.status}`,
        stage: 'created',
        progress: 100,
      });
      await ctx.emit('pet.created', { pet });
      await ctx.emit('feeding.reminder.enqueued', { pet });
      return { pet, traceId: ctx.traceId, stream, streamToken: ctx.tokens.issue(ctx.traceId) };
    }),

  get: publicProcedure.input(z.strictObject({ id: PetIdSchema })).query(async ({ input, ctx }) => {
    const pet = await ctx.pets.get(input.id);
    if (!pet) throw petNotFound(input.id);
    return pet;
  }),

  /** Newest first. */
  list: publicProcedure
    .input(z.strictObject({ limit: z.number().int().min(1).max(LIST_LIMIT.max).optional() }).optional())
    .query(({ input, ctx }) => ctx.pets.list(input?.limit ?? LIST_LIMIT.default)),
});
