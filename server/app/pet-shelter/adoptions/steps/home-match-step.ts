import { defineStep } from '../../../../engine/index.js';
import { AdoptionItem } from '../schemas.js';
import { homeMatch } from '../score.js';
import { adoptionAuditStream, adoptionProgressStream } from '../streams.js';
import { adoptionTopics } from '../topics.js';

/** Scores the home for the pet (score.ts) and stores the score on the application. */
export const homeMatchStep = defineStep({
  name: 'HomeMatch',
  title: 'Home match',
  topics: adoptionTopics,
  subscribes: 'adoption.submitted',
  streams: { adoptionProgress: adoptionProgressStream, adoptionAudit: adoptionAuditStream },
  async handler({ application, pet }, { streams, traceId, services, logger }) {
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
  },
});
