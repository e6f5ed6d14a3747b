import { z } from 'zod';

import { humanText } from '../../../../shared/human-text.js';
import { PetIdSchema } from '../../../../shared/pet.js';

/** The longest note a vet or staff member may leave with a decision (UTF-16 code units, after trimming). */
export const NOTE_MAX_LENGTH = 500;

/** What `pets.treat` takes. */
export const TreatInputSchema = z.strictObject({ petId: PetIdSchema });

/** What the vet gives a waiting treatment: whether the pet is cleared, and why. */
export const VetClearanceSchema = z.strictObject({
  cleared: z.boolean(),
  note: humanText(NOTE_MAX_LENGTH),
});
export type VetClearance = z.infer<typeof VetClearanceSchema>;

/** What `pets.vetClearance` takes. */
export const VetClearanceInputSchema = VetClearanceSchema.extend({ petId: PetIdSchema });

/** The name of the treatment's wait, and who answers it. */
export const VET_CLEARANCE = { name: 'vetClearance', awaitedBy: 'vet' } as const;

export const TreatmentStageSchema = z.enum([
  'started',
  'waiting',
  'cleared',
  'notCleared',
  'timedOut',
  'finished',
]);
export type TreatmentStage = z.infer<typeof TreatmentStageSchema>;

/** Data of one `treatment` stream item. */
export const TreatmentDataSchema = z.strictObject({
  message: z.string().min(1).max(4000),
  stage: TreatmentStageSchema,
  /** On the wait's announcement: what is awaited, and from whom. */
  awaiting: z.string().max(64).optional(),
  awaitedBy: z.string().max(64).optional(),
  /** The vet's note, once given. */
  note: z.string().max(NOTE_MAX_LENGTH).optional(),
});
export type TreatmentData = z.infer<typeof TreatmentDataSchema>;

/** Item ids of the `treatment` stream. */
export const TreatmentItem = {
  started: 'started',
  clearance: 'vetClearance',
  outcome: 'outcome',
  stepFailed: (step: string) => `failed_${step}`,
} as const;
