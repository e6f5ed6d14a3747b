import { z } from 'zod';

import { humanText } from './human-text.js';

export const SpeciesSchema = z.enum(['dog', 'cat', 'bird', 'other']);
export type Species = z.infer<typeof SpeciesSchema>;

/** `adopted` once an adoption application for it is approved (server/app/pet-shelter/adoptions). */
export const PetStatusSchema = z.enum(['new', 'in_quarantine', 'healthy', 'ill', 'adopted']);
export type PetStatus = z.infer<typeof PetStatusSchema>;

export const PET_LIMITS = {
  nameMaxLength: 100,
  maxSymptoms: 20,
  symptomMaxLength: 100,
  maxAgeMonths: 600,
  maxWeightKg: 1000,
} as const;

export const PetInputSchema = z.strictObject({
  name: humanText(PET_LIMITS.nameMaxLength),
  species: SpeciesSchema,
  ageMonths: z.number().int().min(0).max(PET_LIMITS.maxAgeMonths),
  weightKg: z.number().positive().max(PET_LIMITS.maxWeightKg).optional(),
  symptoms: z.array(humanText(PET_LIMITS.symptomMaxLength)).max(PET_LIMITS.maxSymptoms).optional(),
});
export type PetInput = z.infer<typeof PetInputSchema>;

export const TEMPERAMENT_TAGS = { min: 3, max: 5 } as const;

export const ProfileSchema = z.strictObject({
  bio: z.string().min(1).max(2000),
  breedGuess: z.string().min(1).max(200),
  temperamentTags: z.array(z.string().min(1).max(50)).min(TEMPERAMENT_TAGS.min).max(TEMPERAMENT_TAGS.max),
  adopterHints: z.string().min(1).max(2000),
});
export type Profile = z.infer<typeof ProfileSchema>;
export const PROFILE_FIELDS = [
  'bio',
  'breedGuess',
  'temperamentTags',
  'adopterHints',
] as const satisfies readonly (keyof Profile)[];
export type ProfileField = (typeof PROFILE_FIELDS)[number];

export const PetIdSchema = z.string().min(1).max(64);

export const PetSchema = z.object({
  id: PetIdSchema,
  name: z.string(),
  species: SpeciesSchema,
  ageMonths: z.number().int(),
  weightKg: z.number().optional(),
  symptoms: z.array(z.string()).optional(),
  status: PetStatusSchema,
  notes: z.string().optional(),
  nextFeedingAt: z.string().optional(),
  profile: ProfileSchema.optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type Pet = z.infer<typeof PetSchema>;
