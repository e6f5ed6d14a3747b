import { PetCreationItem, type PetCreationData } from '../../../../../shared/pet-creation.js';
import { PROFILE_FIELDS, type Pet, type Profile, type ProfileField } from '../../../../../shared/pet.js';
import { fallbackProfile } from '../ai/fallback-profile.js';
import type { ProfileGenerator, ProfileUpdate } from '../ai/profile-generator.js';
import { TextProgressThrottle } from '../ai/text-progress-throttle.js';
import { defineStep, type Logger, type StreamsOf } from '../../../../engine/index.js';
import { petCreationStream, petProfileStream } from '../streams.js';
import { petTopics } from '../topics.js';

type Say = (itemId: string, data: Omit<PetCreationData, 'stage'>) => Promise<unknown>;

/** Each field's share of the progress bar: four fields, then `completed` at 100. */
function fieldProgress(field: ProfileField): number {
  return Math.round(((PROFILE_FIELDS.indexOf(field) + 1) / (PROFILE_FIELDS.length + 1)) * 100);
}

/** A bio is a few sentences; while it is written, progress creeps towards the bio's own share. */
const TYPICAL_BIO_CHARS = 400;
function draftProgress(text: string): number {
  const estimate = Math.floor((text.length / TYPICAL_BIO_CHARS) * fieldProgress('bio'));
  return Math.max(1, Math.min(fieldProgress('bio') - 1, estimate));
}

/**
 * Writes an adopter-facing profile with the model, streaming its progress:
 * the bio as it is written, then each field the moment it is complete. When
 * there is no model or it fails in any way, the fallback profile is used:
 * fields already reported stay, the others are reported from the fallback,
 * and the stored profile is wholly the model's or wholly the fallback.
 */
export const aiEnrichmentStep = defineStep({
  name: 'AiProfileEnrichment',
  title: 'AI enrichment',
  topics: petTopics,
  subscribes: 'pet.created',
  streams: { petCreation: petCreationStream, petProfile: petProfileStream },
  async handler({ pet }, { logger, streams, services, traceId, signal }) {
    const { pets, profiles } = services;
    const say: Say = (itemId, data) =>
      streams.petCreation.set(traceId, itemId, { ...data, stage: 'enrichment' });
    logger.info({ petId: pet.id }, '🤖 AI Profile Enrichment started');
    await say(PetCreationItem.enrichmentStarted, {
      message: `AI enrichment started for ${pet.name}`,
      progress: 0,
    });

    const reported = new Set<ProfileField>();
    let fromModel: Profile | null = null;
    if (profiles) {
      fromModel = await modelProfile(profiles, { pet, logger, signal, say, reported, streams, traceId });
    } else {
      logger.info({ petId: pet.id }, 'No model configured, using fallback profile');
    }
    const profile = fromModel ?? fallbackProfile(pet);
    for (const field of PROFILE_FIELDS) {
      if (reported.has(field)) continue;
      await streams.petProfile.set(traceId, field, {
        field,
        value: profile[field],
        draft: false,
        source: 'fallback',
      });
      await say(PetCreationItem.progress(field), {
        message: `Generated ${field} for ${pet.name}`,
        progress: fieldProgress(field),
      });
    }
    await pets.update(pet.id, { profile });
    const fallback = fromModel === null;
    await say(PetCreationItem.completed, {
      message: fallback
        ? `AI enrichment completed with fallback profile for ${pet.name}`
        : `AI enrichment completed for ${pet.name}`,
      progress: 100,
    });
    logger.info({ petId: pet.id, fallback }, '✅ AI Profile Enrichment completed');
  },
});

type ModelRun = {
  readonly pet: Pet;
  readonly logger: Logger;
  readonly signal: AbortSignal;
  readonly say: Say;
  /** Fields whose progress event has been written. */
  readonly reported: Set<ProfileField>;
  readonly streams: StreamsOf<{ petProfile: typeof petProfileStream }>;
  readonly traceId: string;
};

/**
 * The model's profile, its progress written as it streams in; null when the
 * model failed (logged). A failed write is not the model's failure: it ends
 * the model's stream and propagates, so the step attempt fails.
 */
async function modelProfile(profiles: ProfileGenerator, run: ModelRun): Promise<Profile | null> {
  const { pet, say, reported, logger, streams, traceId } = run;
  const bioDrafts = new TextProgressThrottle();
  const updates = profiles.generate(pet, { signal: run.signal, logger })[Symbol.asyncIterator]();
  try {
    for (;;) {
      let next: IteratorResult<ProfileUpdate>;
      try {
        next = await updates.next();
      } catch (error) {
        logger.warn({ err: error, petId: pet.id }, '❌ AI Profile Enrichment failed, using fallback profile');
        return null;
      }
      if (next.done) {
        logger.warn(
          { petId: pet.id },
          '❌ AI Profile Enrichment ended without a profile, using fallback profile',
        );
        return null;
      }
      const update = next.value;
      switch (update.type) {
        case 'bio':
          if (bioDrafts.shouldWrite(update.text)) {
            await streams.petProfile.set(traceId, 'bio', {
              field: 'bio',
              value: update.text,
              draft: true,
              source: 'model',
            });
            await say(PetCreationItem.progress('bio'), {
              message: `Writing bio for ${pet.name}`,
              progress: draftProgress(update.text),
              partial: update.text,
            });
          }
          break;
        case 'field':
          await streams.petProfile.set(traceId, update.field, {
            field: update.field,
            value: update.value,
            draft: false,
            source: 'model',
          });
          await say(PetCreationItem.progress(update.field), {
            message: `Generated ${update.field} for ${pet.name}`,
            progress: fieldProgress(update.field),
            // The bio's last event carries all of it, so a client showing the drafts ends on the whole text.
            ...(update.field === 'bio' && typeof update.value === 'string' ? { partial: update.value } : {}),
          });
          reported.add(update.field);
          break;
        case 'done':
          return update.profile;
      }
    }
  } finally {
    await updates.return?.();
  }
}
