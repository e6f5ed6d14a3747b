import { defineStep } from '../../../../engine/index.js';
import { AdoptionItem } from '../schemas.js';
import { adoptionAuditStream, adoptionProgressStream } from '../streams.js';
import { adoptionTopics } from '../topics.js';

/**
 * Checks the applicant. The shelter has no registry to ask, so every
 * applicant is cleared: the step stands where a real check would, and
 * the application is rejected only when the step itself fails.
 */
export const backgroundCheckStep = defineStep({
  name: 'BackgroundCheck',
  title: 'Background check',
  topics: adoptionTopics,
  subscribes: 'adoption.submitted',
  streams: { adoptionProgress: adoptionProgressStream, adoptionAudit: adoptionAuditStream },
  async handler({ application }, { streams, traceId, logger }) {
    const { name, email } = application.applicant;
    const say = (message: string, progress: number) =>
      streams.adoptionProgress.set(traceId, AdoptionItem.background, {
        message,
        stage: 'background',
        progress,
      });
    await say(`Background check started for ${name}`, 0);
    await streams.adoptionAudit.set(traceId, AdoptionItem.background, {
      actor: 'BackgroundCheck',
      action: 'background.cleared',
      detail: `No concerns on record for ${name} <${email}>`,
    });
    await say(`Background check passed for ${name}`, 100);
    logger.info({ applicationId: application.id }, '✅ Background check passed');
  },
});
