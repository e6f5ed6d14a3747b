import { PetCreationItem } from '../../../shared/pet-creation.js';
import { PROFILE_FIELDS, type Profile } from '../../../shared/pet.js';
import { fallbackProfile } from '../../ai/fallback-profile.js';
import { defineStep } from '../define-step.js';

/** Writes an adopter-facing profile with the model, or a fallback profile when it cannot. */
export const aiEnrichmentStep = defineStep({
  name: 'AiProfileEnrichment',
  title: 'AI enrichment',
  subscribes: 'pet.created',
  emits: [],
  flows: ['petCreation'],
  async handler({ pet }, { logger, streams, pets, profiles, traceId, signal }) {
    const stream = streams.petCreation;
    logger.info({ petId: pet.id }, '🤖 AI Profile Enrichment started');
    await stream.set(traceId, PetCreationItem.enrichmentStarted, {
      message: `AI enrichment started for ${pet.name}`,
      stage: 'enrichment',
      progress: 0,
    });

    let profile: Profile;
    let fallback = false;
    if (profiles) {
      try {
        profile = await profiles.generate(pet, { signal, logger });
      } catch (error) {
        logger.warn({ err: error, petId: pet.id }, '❌ AI Profile Enrichment failed, using fallback profile');
        profile = fallbackProfile(pet);
        fallback = true;
      }
    } else {
      logger.info({ petId: pet.id }, 'No model configured, using fallback profile');
      profile = fallbackProfile(pet);
      fallback = true;
    }

    for (const [index, field] of PROFILE_FIELDS.entries()) {
      await stream.set(traceId, PetCreationItem.progress(field), {
        message: `Generated ${field} for ${pet.name}`,
        stage: 'enrichment',
        progress: Math.round(((index + 1) / (PROFILE_FIELDS.length + 1)) * 100),
      });
    }
    await pets.update(pet.id, { profile });
    await stream.set(traceId, PetCreationItem.completed, {
      message: fallback
        ? `AI enrichment completed with fallback profile for ${pet.name}`
        : `AI enrichment completed for ${pet.name}`,
      stage: 'enrichment',
      progress: 100,
    });
    logger.info({ petId: pet.id, fallback }, '✅ AI Profile Enrichment completed');
  },
});
