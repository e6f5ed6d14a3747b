import { answerWait, mutationProcedure } from '../../../engine/index.js';
import { petNotFound } from '../errors.js';
import { alreadyInTreatment, notInTreatment, petNotIll } from './errors.js';
import { TreatInputSchema, TreatmentItem, VET_CLEARANCE, VetClearanceInputSchema } from './schemas.js';
import { treatmentWorkflow } from './workflow.js';

/**
 * `pets.treat`: starts the treatment of an ill pet and answers at once;
 * the workflow then waits for the vet.
 */
export const treatProcedure = mutationProcedure.input(TreatInputSchema).mutation(async ({ input, ctx }) => {
  const { pets, treatments } = ctx.services;
  const pet = await pets.get(input.petId);
  if (!pet) throw petNotFound(input.petId);
  if (pet.status !== 'ill') throw petNotIll(pet);
  if (!(await treatments.claim(pet.id))) throw alreadyInTreatment(pet);
  try {
    const run = await ctx.workflows.start(treatmentWorkflow, { subject: pet.name, starter: 'TreatPetApi' });
    await treatments.started(pet.id, run.traceId);
    run.logger.info({ petId: pet.id }, '🩺 Treatment started');
    await run.streams.treatment.set(run.traceId, TreatmentItem.started, {
      message: `Treatment started for ${pet.name}`,
      stage: 'started',
    });
    await run.emit('treatment.started', { pet });
    return { traceId: run.traceId, streamToken: run.streamToken };
  } catch (error) {
    await treatments.release(pet.id);
    throw error;
  }
});

/**
 * `pets.vetClearance`: the vet's answer to a treatment waiting for it.
 * CONFLICT when the pet is not in treatment, or its treatment is not (or no
 * longer) waiting for the vet.
 */
export const vetClearanceProcedure = mutationProcedure
  .input(VetClearanceInputSchema)
  .mutation(async ({ input, ctx }) => {
    const { petId, cleared, note } = input;
    const pet = await ctx.services.pets.get(petId);
    if (!pet) throw petNotFound(petId);
    const traceId = await ctx.services.treatments.current(pet.id);
    if (!traceId) throw notInTreatment(pet);
    const wait = await answerWait(ctx, {
      traceId,
      name: VET_CLEARANCE.name,
      input: { cleared, note },
      by: VET_CLEARANCE.awaitedBy,
    });
    return { traceId, wait };
  });
