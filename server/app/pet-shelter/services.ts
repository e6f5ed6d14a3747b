/**
 * The shelter's own services: its pet, adoption and treatment stores and its profile model. Steps,
 * workflows and procedures get them as `services` (`ctx.services`).
 */
import type { ServiceEnvironment } from '../../engine/index.js';
import type { AdoptionStore } from './adoptions/store/adoption-store.js';
import { MemoryAdoptionStore } from './adoptions/store/memory-adoption-store.js';
import { RedisAdoptionStore } from './adoptions/store/redis-adoption-store.js';
import { OpenAIProfileGenerator } from './pets/ai/openai-profile.js';
import type { ProfileGenerator } from './pets/ai/profile-generator.js';
import { MemoryPetStore } from './pets/store/memory-pet-store.js';
import type { PetStore } from './pets/store/pet-store.js';
import { RedisPetStore } from './pets/store/redis-pet-store.js';
import { MemoryTreatmentStore } from './treatments/store/memory-treatment-store.js';
import { RedisTreatmentStore } from './treatments/store/redis-treatment-store.js';
import type { TreatmentStore } from './treatments/store/treatment-store.js';

export type ShelterServices = {
  readonly pets: PetStore;
  readonly adoptions: AdoptionStore;
  readonly treatments: TreatmentStore;
  /** The model that writes profiles; null without OPENAI_API_KEY (the fallback profile is used). */
  readonly profiles: ProfileGenerator | null;
  /** Pause between the feeding reminder's checks (FEEDING_CHECK_DELAY_MS). */
  readonly feedingCheckDelayMs: number;
  /** How long a treatment waits for the vet (VET_CLEARANCE_TIMEOUT_MS). */
  readonly vetClearanceTimeoutMs: number;
  /** How long an adoption waits for a staff decision (ADOPTION_DECISION_TIMEOUT_MS). */
  readonly adoptionDecisionTimeoutMs: number;
};

declare module '../../engine/index.js' {
  // The engine's services type is the shelter's (declaration merging).
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  interface ApplicationServices extends ShelterServices {}
}

export function createShelterServices({ config, redis }: ServiceEnvironment): ShelterServices {
  return {
    pets: redis
      ? new RedisPetStore({ client: redis.client, keyPrefix: redis.keyPrefix })
      : new MemoryPetStore(),
    adoptions: redis
      ? new RedisAdoptionStore({ client: redis.client, keyPrefix: redis.keyPrefix })
      : new MemoryAdoptionStore(),
    treatments: redis
      ? new RedisTreatmentStore({ client: redis.client, keyPrefix: redis.keyPrefix })
      : new MemoryTreatmentStore(),
    profiles: config.openai.apiKey
      ? new OpenAIProfileGenerator({ ...config.openai, apiKey: config.openai.apiKey })
      : null,
    feedingCheckDelayMs: config.feedingCheckDelayMs,
    vetClearanceTimeoutMs: config.vetClearanceTimeoutMs,
    adoptionDecisionTimeoutMs: config.adoptionDecisionTimeoutMs,
  };
}

/** The services as one step attempt sees them: pet and adoption writes fail once the attempt is aborted. */
export function fenceShelterServices(services: ShelterServices, signal: AbortSignal): ShelterServices {
  const { pets, adoptions } = services;
  return {
    ...services,
    pets: {
      create: async (input) => {
        signal.throwIfAborted();
        return pets.create(input);
      },
      update: async (id, patch) => {
        signal.throwIfAborted();
        return pets.update(id, patch);
      },
      get: (id) => pets.get(id),
      list: (page) => pets.list(page),
      close: () => pets.close(),
    },
    adoptions: {
      create: async (input) => {
        signal.throwIfAborted();
        return adoptions.create(input);
      },
      update: async (id, patch) => {
        signal.throwIfAborted();
        return adoptions.update(id, patch);
      },
      claimPet: async (petId, applicationId) => {
        signal.throwIfAborted();
        return adoptions.claimPet(petId, applicationId);
      },
      get: (id) => adoptions.get(id),
      findByTrace: (traceId) => adoptions.findByTrace(traceId),
      close: () => adoptions.close(),
    },
  };
}

export async function closeShelterServices(services: ShelterServices): Promise<void> {
  await services.pets.close();
  await services.adoptions.close();
  await services.treatments.close();
}
