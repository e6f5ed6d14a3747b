import { z } from 'zod';

import { PetSchema, type Pet } from './pet.js';

/**
 * What anyone may read about a pet when the service requires API keys: what
 * an adoption listing shows (name, species, age, weight, status, profile).
 * Health details (symptoms), staff notes and feeding times need a key.
 */
export const PublicPetSchema = z.strictObject(
  PetSchema.pick({
    id: true,
    name: true,
    species: true,
    ageMonths: true,
    weightKg: true,
    status: true,
    profile: true,
    createdAt: true,
    updatedAt: true,
  }).shape,
);
export type PublicPet = z.infer<typeof PublicPetSchema>;

/** The public view of a pet: the same object without its private fields. */
export function toPublicPet(pet: Pet): PublicPet {
  const { id, name, species, ageMonths, weightKg, status, profile, createdAt, updatedAt } = pet;
  return {
    id,
    name,
    species,
    ageMonths,
    ...(weightKg === undefined ? {} : { weightKg }),
    status,
    ...(profile === undefined ? {} : { profile }),
    createdAt,
    updatedAt,
  };
}
