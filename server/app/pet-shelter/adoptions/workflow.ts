import { defineWorkflow, type ApplicationServices, type WorkflowEnd } from '../../../engine/index.js';
import { AdoptionItem, type AdoptionApplication, type AdoptionStage } from './schemas.js';
import { APPROVAL_SCORE } from './score.js';
import { backgroundCheckStep } from './steps/background-check-step.js';
import { homeMatchStep } from './steps/home-match-step.js';
import { adoptionStreams } from './streams.js';
import { adoptionTopics } from './topics.js';

const steps = [backgroundCheckStep, homeMatchStep] as const;

/** The stage a failed step's message belongs to. */
const STAGE_OF: Readonly<Record<string, AdoptionStage>> = {
  [backgroundCheckStep.name]: 'background',
  [homeMatchStep.name]: 'homeMatch',
};

/**
 * Adoption: `adoptions.submit` stores the application and starts it; the
 * background check and the home match run concurrently; when both are
 * done, `finish` decides: approved when the home match score is at least
 * APPROVAL_SCORE and every step succeeded, and the pet is then adopted.
 */
export const adoptionWorkflow = defineWorkflow({
  kind: 'adoption',
  title: 'Adoption',
  streams: adoptionStreams,
  topics: adoptionTopics,
  starts: ['adoption.submitted'],
  steps,
  stepFailed: ({ subject, step }) => ({
    stream: 'adoptionProgress',
    itemId: AdoptionItem.stepFailed(step.name),
    data: {
      message: `❌ ${step.title} failed for the adoption of ${subject}; the application will be rejected`,
      stage: STAGE_OF[step.name] ?? 'decision',
      progress: 100,
    },
  }),
  async finish({ traceId, subject, end, services, streams, logger }) {
    const application = await services.adoptions.findByTrace(traceId);
    if (!application) {
      // Its store lost it too, or it was never stored: nothing is left to decide.
      return {
        stream: 'adoptionProgress',
        data: {
          message: `Adoption workflow for ${subject} ended without its application`,
          stage: 'decision' as const,
          progress: 100,
        },
      };
    }
    const decision = await decide(application, end, services);
    await services.adoptions.update(application.id, { status: decision.status, reason: decision.reason });
    await streams.adoptionAudit.set(traceId, AdoptionItem.decision, {
      actor: 'AdoptionDecision',
      action: `application.${decision.status}`,
      detail: decision.reason,
    });
    logger.info({ applicationId: application.id, ...decision }, '🏁 Adoption decided');
    const { id, petName, applicant, score } = application;
    return {
      stream: 'adoptionProgress',
      data: {
        message:
          decision.status === 'approved'
            ? `Adoption application ${id} approved: ${petName} goes home with ${applicant.name}`
            : `Adoption application ${id} rejected: ${decision.reason}`,
        stage: 'decision' as const,
        progress: 100,
        ...(score === null ? {} : { score }),
      },
    };
  },
});

/** Step titles inside a sentence: "the background check and the home match". */
const named = (titles: readonly string[]) =>
  titles.map((title) => `the ${title.toLowerCase()}`).join(' and ');

type Decision = { readonly status: 'approved' | 'rejected'; readonly reason: string };

/** Approves, adopting the pet, or says why not. */
async function decide(
  application: AdoptionApplication,
  end: WorkflowEnd,
  services: ApplicationServices,
): Promise<Decision> {
  const rejected = (reason: string): Decision => ({ status: 'rejected', reason });
  switch (end.reason) {
    case 'lost':
      return rejected('its workflow was lost by storage');
    case 'cancelled':
      return rejected('the application was cancelled');
    case 'stopped':
      return rejected(`${named(end.unfinished)} did not finish in time`);
    case 'completed': {
      const failed = steps.filter((step) => end.outcomes[step.name] === 'dead').map((step) => step.title);
      if (failed.length > 0) return rejected(`${named(failed)} failed`);
    }
  }
  const { score, petId, petName, id } = application;
  if (score === null) return rejected('the home was not scored');
  if (score < APPROVAL_SCORE) return rejected(`home match score ${score} is below ${APPROVAL_SCORE}`);
  // Another application for the same pet may have been approved since this one was submitted.
  if (!(await services.adoptions.claimPet(petId, id)))
    return rejected(`${petName} has been adopted meanwhile`);
  await services.pets.update(petId, { status: 'adopted' });
  return { status: 'approved', reason: `home match score ${score} is at least ${APPROVAL_SCORE}` };
}
