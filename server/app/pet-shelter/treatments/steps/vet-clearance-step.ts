import { defineStep } from '../../../../engine/index.js';
import { TreatmentItem, VET_CLEARANCE, VetClearanceSchema } from '../schemas.js';
import { treatmentStream } from '../streams.js';
import { treatmentTopics } from '../topics.js';

/**
 * Waits for a vet's clearance (`pets.vetClearance`): cleared, the pet
 * becomes healthy; not cleared, it stays ill; unanswered for
 * VET_CLEARANCE_TIMEOUT_MS, the treatment ends without it.
 */
export const vetClearanceStep = defineStep({
  name: 'VetClearance',
  title: 'Vet clearance',
  topics: treatmentTopics,
  subscribes: 'treatment.started',
  streams: { treatment: treatmentStream },
  async handler({ pet }, { streams, traceId, services, logger, waitFor }) {
    const answer = await waitFor(VET_CLEARANCE.name, VetClearanceSchema, {
      timeoutMs: services.vetClearanceTimeoutMs,
      awaitedBy: VET_CLEARANCE.awaitedBy,
      announce: {
        stream: 'treatment',
        itemId: TreatmentItem.clearance,
        data: {
          message: `Waiting for a vet to clear ${pet.name}`,
          stage: 'waiting',
          awaiting: VET_CLEARANCE.name,
          awaitedBy: VET_CLEARANCE.awaitedBy,
        },
      },
    });
    const say = (data: Parameters<typeof streams.treatment.set>[2]) =>
      streams.treatment.set(traceId, TreatmentItem.outcome, data);
    if (answer.status === 'timedOut') {
      await say({
        message: `No vet clearance for ${pet.name} in time: the treatment ends without it, and ${pet.name} stays in treatment`,
        stage: 'timedOut',
      });
      logger.warn({ petId: pet.id }, '⌛ No vet clearance in time');
      return;
    }
    const { cleared, note } = answer.input;
    if (cleared) await services.pets.update(pet.id, { status: 'healthy' });
    await say(
      cleared
        ? { message: `Vet cleared ${pet.name}`, stage: 'cleared', note }
        : { message: `${pet.name} stays in treatment`, stage: 'notCleared', note },
    );
    logger.info(
      { petId: pet.id, cleared },
      cleared ? '✅ Vet cleared the pet' : '🩺 The pet stays in treatment',
    );
  },
});
