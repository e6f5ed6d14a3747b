import { z } from 'zod';

import { PetIdSchema, PetInputSchema, type Pet } from '../../shared/pet.js';
import { PetCreationItem } from '../../shared/pet-creation.js';
import { toPublicPet } from '../../shared/public-pet.js';
import { petNotFound } from '../errors.js';
import type { PetView } from '../security/access.js';
import { limitCreateRate, petReadProcedure, router, workflowProcedure } from '../trpc.js';

/** Pets per page of `pets.list`: a page never holds more than `max`. */
export const LIST_LIMIT = { default: 50, max: 100 } as const;

/** A pet id as `pets.list` hands it out in `nextCursor`. */
const CursorSchema = z.string().regex(/^\d{1,15}$/, 'must be the nextCursor of a previous page');

/**
 * Anonymous callers of a service that requires API keys get the public
 * view (`PublicPet`): the private fields are absent, so the type stays `Pet`.
 */
const shown = (pet: Pet, view: PetView): Pet => (view === 'full' ? pet : toPublicPet(pet));

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

  get: petReadProcedure.input(z.strictObject({ id: PetIdSchema })).query(async ({ input, ctx }) => {
    const pet = await ctx.pets.get(input.id);
    if (!pet) throw petNotFound(input.id);
    return shown(pet, ctx.petView);
  }),

  /**
   * Newest first, one page at a time: pass `nextCursor` back as `cursor`
   * for the next page (null: the last page). Pets created meanwhile never
   * appear on later pages, so a walk sees each pet once.
   */
  list: petReadProcedure
    .input(
      z
        .strictObject({
          limit: z.number().int().min(1).max(LIST_LIMIT.max).optional(),
          cursor: CursorSchema.nullish(),
        })
        .optional(),
    )
    .query(async ({ input, ctx }) => {
      const page = await ctx.pets.list({
        limit: input?.limit ?? LIST_LIMIT.default,
        cursor: input?.cursor ?? null,
      });
      return { items: page.items.map((pet) => shown(pet, ctx.petView)), nextCursor: page.nextCursor };
    }),
});
