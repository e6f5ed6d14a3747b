import { defineStep } from '../../../../engine/index.js';
import { AdoptionItem, STAFF_DECISION, StaffDecisionSchema, type Review } from '../schemas.js';
import { APPROVAL_SCORE, homeMatch, needsReview, REVIEW_SCORE } from '../score.js';
import { adoptionAuditStream, adoptionProgressStream } from '../streams.js';
import { adoptionTopics } from '../topics.js';

/**
 * Scores the home for the pet (score.ts) and stores the score on the
 * application. A score from REVIEW_SCORE up to APPROVAL_SCORE is for staff
 * to decide: the step waits for their decision (`adoptions.decide`), or
 * for ADOPTION_DECISION_TIMEOUT_MS, and stores it as the application's review.
 */
export const homeMatchStep = defineStep({
  name: 'HomeMatch',
  title: 'Home match',
  topics: adoptionTopics,
  subscribes: 'adoption.submitted',
  streams: { adoptionProgress: adoptionProgressStream, adoptionAudit: adoptionAuditStream },
  async handler({ application, pet }, { streams, traceId, services, logger, waitFor }) {
    const { home } = application;
    await streams.adoptionProgress.set(traceId, AdoptionItem.homeMatch, {
      message: `Matching ${pet.name} with ${application.applicant.name}'s ${home.type}`,
      stage: 'homeMatch',
      progress: 0,
    });
    const { score, parts } = homeMatch(pet.species, home);
    await services.adoptions.update(application.id, { score });
    await streams.adoptionAudit.set(traceId, AdoptionItem.homeMatch, {
      actor: 'HomeMatch',
      action: 'homeMatch.scored',
      detail: `${score}/100 for a ${pet.species} (${parts.join(', ')})`,
    });
    await streams.adoptionProgress.set(traceId, AdoptionItem.homeMatch, {
      message: `Home match for ${pet.name}: ${score}/100`,
      stage: 'homeMatch',
      progress: 100,
      score,
    });
    logger.info({ applicationId: application.id, score }, '✅ Home match scored');
    if (!needsReview(score)) return;

    const answer = await waitFor(STAFF_DECISION.name, StaffDecisionSchema, {
      timeoutMs: services.adoptionDecisionTimeoutMs,
      awaitedBy: STAFF_DECISION.awaitedBy,
      announce: {
        stream: 'adoptionProgress',
        itemId: AdoptionItem.review,
        data: {
          message: `Home match score ${score} is from ${REVIEW_SCORE} to ${APPROVAL_SCORE - 1}: waiting for staff to decide on ${application.applicant.name}'s application for ${pet.name}`,
          stage: 'review',
          progress: 0,
          score,
        },
      },
    });
    const review: Review =
      answer.status === 'received'
        ? { decision: answer.input.decision, note: answer.input.note, by: answer.by, at: answer.at }
        : { decision: 'timedOut', note: null, by: null, at: answer.at };
    await services.adoptions.update(application.id, { review });
    const said = {
      approve: `Staff approved the application: ${review.note ?? ''}`,
      reject: `Staff rejected the application: ${review.note ?? ''}`,
      timedOut: 'No staff decision in time',
    }[review.decision];
    await streams.adoptionAudit.set(traceId, AdoptionItem.review, {
      actor: review.by ?? 'AdoptionReview',
      action: `review.${review.decision}`,
      detail: review.note ?? 'No staff decision in time',
    });
    await streams.adoptionProgress.set(traceId, AdoptionItem.review, {
      message: said,
      stage: 'review',
      progress: 100,
      score,
    });
    logger.info({ applicationId: application.id, decision: review.decision }, '🧑‍⚖️ Staff review ended');
  },
});
