import { z } from 'zod';

import { PetIdSchema, PetInputSchema, type Pet } from '../../../../shared/pet.js';
import { PetCreationItem } from '../../../../shared/pet-creation.js';
import { toPublicPet } from '../../../../shared/public-pet.js';
import {
  limitStarts,
  mutationProcedure,
  readProcedure,
  router,
  workflowSubscription,
  type DataView,
} from '../../../engine/index.js';
import { petNotFound } from '../errors.js';
import { treatProcedure, vetClearanceProcedure } from '../treatments/procedures.js';
import { petCreationWorkflow } from './workflow.js';

/** Pets per page of `pets.list`: a page never holds more than `max`. */
export const LIST_LIMIT = { default: 50, max: 100 } as const;

/** A pet id as `pets.list` hands it out in `nextCursor`. */
const CursorSchema = z.string().regex(/^\d{1,15}$/, 'must be the nextCursor of a previous page');

/**
 * Anonymous callers of a service that requires API keys get the public
 * view (`PublicPet`): the private fields are absent, so the type stays `Pet`.
 */
const shown = (pet: Pet, view: DataView): Pet => (view === 'full' ? pet : toPublicPet(pet));

export const petsRouter = router({
  /** Stores the pet, opens its stream and starts the workflow; never waits for the steps. */
  create: mutationProcedure
    .use(limitStarts('pets created'))
    .input(PetInputSchema)
    .mutation(async ({ input, ctx }) => {
      const pet = await ctx.services.pets.create(input);
      const run = await ctx.workflows.start(petCreationWorkflow, {
        subject: pet.name,
        starter: 'CreatePetApi',
      });
      run.logger.info({ petId: pet.id, species: pet.species }, '🐾 Pet created');
      const stream = await run.streams.petCreation.set(run.traceId, PetCreationItem.message, {
        message: `Pet ${pet.name} (ID: ${pet.id}) created successfully - Species: ${pet.species}, Age: ${pet.ageMonths} months, Status: ${pet.status}`,
        stage: 'created',
        progress: 100,
      });
      await run.emit('pet.created', { pet });
      await run.emit('feeding.reminder.enqueued', { pet });
      return { pet, traceId: run.traceId, stream, streamToken: run.streamToken };
    }),

  get: readProcedure.input(z.strictObject({ id: PetIdSchema })).query(async ({ input, ctx }) => {
    const pet = await ctx.services.pets.get(input.id);
    if (!pet) throw petNotFound(input.id);
    return shown(pet, ctx.view);
  }),

  /**
   * Newest first, one page at a time: pass `nextCursor` back as `cursor`
   * for the next page (null: the last page). Pets created meanwhile never
   * appear on later pages, so a walk sees each pet once.
   */
  list: readProcedure
    .input(
      z
        .strictObject({
          limit: z.number().int().min(1).max(LIST_LIMIT.max).optional(),
          cursor: CursorSchema.nullish(),
        })
        .optional(),
    )
    .query(async ({ input, ctx }) => {
      const page = await ctx.services.pets.list({
        limit: input?.limit ?? LIST_LIMIT.default,
        cursor: input?.cursor ?? null,
      });
      return { items: page.items.map((pet) => shown(pet, ctx.view)), nextCursor: page.nextCursor };
    }),

  /** Starts the treatment of an ill pet (the `treatment` workflow); answers at once. */
  treat: treatProcedure,
  /** The vet's answer to the pet's treatment, which waits for it. */
  vetClearance: vetClearanceProcedure,
});

/**
 * `petCreation.onUpdate`: the workflow's `petCreation` stream, as the seed
 * defined it (its `petProfile` stream is on `workflows.onUpdate`).
 */
export const petCreationRouter = router({
  onUpdate: workflowSubscription(petCreationWorkflow, { streams: ['petCreation'] }),
});
