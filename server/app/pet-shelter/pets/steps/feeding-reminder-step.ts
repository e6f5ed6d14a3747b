import { setTimeout as delay } from 'node:timers/promises';

import { PetCreationItem } from '../../../../../shared/pet-creation.js';
import { defineStep } from '../../../../engine/index.js';
import { petCreationStream } from '../streams.js';
import { petTopics } from '../topics.js';

export const WELCOME_NOTES = "Welcome to our pet store! We'll take great care of this pet.";
const FEEDING_INTERVAL_MS = 24 * 60 * 60 * 1000;

/** Quarantine, a health check from the reported symptoms, and the next feeding time. */
export const feedingReminderStep = defineStep({
  name: 'FeedingReminder',
  title: 'Feeding reminder',
  topics: petTopics,
  subscribes: 'feeding.reminder.enqueued',
  emits: ['feeding.reminder.completed'],
  streams: { petCreation: petCreationStream },
  async handler({ pet }, { logger, streams, emit, services, traceId, signal }) {
    const { pets } = services;
    const say = (message: string, progress: number) =>
      streams.petCreation.set(traceId, PetCreationItem.message, { message, stage: 'feeding', progress });
    const pause = () => delay(services.feedingCheckDelayMs, undefined, { signal });

    logger.info({ petId: pet.id }, '🔄 Setting next feeding reminder');
    const nextFeedingAt = new Date(Date.now() + FEEDING_INTERVAL_MS).toISOString();
    await pets.update(pet.id, { notes: WELCOME_NOTES, nextFeedingAt, status: 'in_quarantine' });
    await say(`Pet ${pet.name} entered quarantine period`, 25);

    await pause();
    const symptoms = pet.symptoms ?? [];
    const ill = symptoms.length > 0;
    await say(
      ill
        ? `Health check failed for ${pet.name} - symptoms detected: ${symptoms.join(', ')}`
        : `Health check passed for ${pet.name} - no symptoms found`,
      60,
    );
    const status = ill ? 'ill' : 'healthy';
    await pets.update(pet.id, { status });

    await pause();
    await say(
      ill ? `${pet.name} needs medical treatment ❌` : `${pet.name} is healthy and ready for adoption! ✅`,
      100,
    );
    await emit('feeding.reminder.completed', { petId: pet.id, status, nextFeedingAt });
    logger.info({ petId: pet.id, status, nextFeedingAt }, '✅ Next feeding reminder set');
  },
});
