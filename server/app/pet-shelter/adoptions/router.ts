import { z } from 'zod';

import {
  answerWait,
  limitStarts,
  mutationProcedure,
  readProcedure,
  router,
  workflowSubscription,
  type DataView,
} from '../../../engine/index.js';
import { petNotFound } from '../errors.js';
import { applicationNotFound, noApplicationForTrace, petNotAdoptable } from './errors.js';
import {
  AdoptionIdSchema,
  AdoptionInputSchema,
  AdoptionItem,
  DecideInputSchema,
  STAFF_DECISION,
  type AdoptionApplication,
  type AdoptionView,
} from './schemas.js';
import { adoptionWorkflow } from './workflow.js';

/** Anonymous callers of a service that requires API keys do not see who applied. */
function shown(application: AdoptionApplication, view: DataView): AdoptionView {
  if (view === 'full') return application;
  const { id, petId, petName, home, status, score, reason, traceId, createdAt, updatedAt } = application;
  return { id, petId, petName, home, status, score, reason, traceId, createdAt, updatedAt };
}

const describeHome = ({ type, hasGarden, otherPets }: AdoptionApplication['home']) =>
  `${type} ${hasGarden ? 'with' : 'without'} garden, ${otherPets ? 'other pets' : 'no other pets'}`;

export const adoptionsRouter = router({
  /**
   * Stores the application and starts its workflow, for a healthy pet
   * only; answers at once, never waiting for the steps.
   */
  submit: mutationProcedure
    .use(limitStarts('adoption applications submitted'))
    .input(AdoptionInputSchema)
    .mutation(async ({ input, ctx }) => {
      const pet = await ctx.services.pets.get(input.petId);
      if (!pet) throw petNotFound(input.petId);
      if (pet.status !== 'healthy') throw petNotAdoptable(pet);
      const run = await ctx.workflows.start(adoptionWorkflow, {
        subject: pet.name,
        starter: 'SubmitAdoptionApi',
      });
      const application = await ctx.services.adoptions.create({
        petId: pet.id,
        petName: pet.name,
        applicant: input.applicant,
        home: input.home,
        traceId: run.traceId,
      });
      run.logger.info({ applicationId: application.id, petId: pet.id }, '📝 Adoption application submitted');
      await run.streams.adoptionProgress.set(run.traceId, AdoptionItem.submitted, {
        message: `Adoption application ${application.id} for ${pet.name} submitted by ${input.applicant.name}`,
        stage: 'submitted',
        progress: 100,
      });
      await run.streams.adoptionAudit.set(run.traceId, AdoptionItem.submitted, {
        actor: 'SubmitAdoptionApi',
        action: 'application.received',
        detail: `${input.applicant.name} applied for ${pet.name} (ID: ${pet.id}, ${pet.species}): ${describeHome(input.home)}`,
      });
      await run.emit('adoption.submitted', { application, pet });
      return { application, traceId: run.traceId, streamToken: run.streamToken };
    }),

  get: readProcedure.input(z.strictObject({ id: AdoptionIdSchema })).query(async ({ input, ctx }) => {
    const application = await ctx.services.adoptions.get(input.id);
    if (!application) throw applicationNotFound(input.id);
    return shown(application, ctx.view);
  }),

  /**
   * Staff's decision on an application whose home match score needs one:
   * its workflow waits for it. CONFLICT when it does not (not such an
   * application, not yet scored, or already decided).
   */
  decide: mutationProcedure.input(DecideInputSchema).mutation(async ({ input, ctx }) => {
    const { traceId, decision, note } = input;
    const application = await ctx.services.adoptions.findByTrace(traceId);
    if (!application) throw noApplicationForTrace(traceId);
    const wait = await answerWait(ctx, {
      traceId,
      name: STAFF_DECISION.name,
      input: { decision, note },
      by: STAFF_DECISION.awaitedBy,
    });
    return { applicationId: application.id, wait };
  }),

  /** Both streams of one adoption, in log order with one cursor; only an adoption token opens it. */
  onUpdate: workflowSubscription(adoptionWorkflow),
});
