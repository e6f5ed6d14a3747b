import { z } from 'zod';

import { PROFILE_FIELDS } from './pet.js';
import type { StreamEvent } from './stream-event.js';

/** The workflow steps that report progress into the `petCreation` stream. */
export const PetCreationStageSchema = z.enum(['created', 'feeding', 'enrichment', 'finished']);
export type PetCreationStage = z.infer<typeof PetCreationStageSchema>;

/** Data of one `petCreation` stream item. */
export const PetCreationDataSchema = z.object({
  message: z.string().min(1).max(4000),
  /** Which step wrote it. */
  stage: PetCreationStageSchema.optional(),
  /** Progress of that step, 0-100. */
  progress: z.number().min(0).max(100).optional(),
  /** For `progress_bio` while the model streams: the bio written so far. */
  partial: z.string().max(4000).optional(),
  /** Set on events that report a failure. */
  error: z.boolean().optional(),
});
export type PetCreationData = z.infer<typeof PetCreationDataSchema>;
export type PetCreationEvent = StreamEvent<PetCreationData>;

/** Item ids of the `petCreation` stream. */
export const PetCreationItem = {
  message: 'message',
  enrichmentStarted: 'enrichment_started',
  progress: (field: string) => `progress_${field}`,
  completed: 'completed',
  finished: 'workflow',
  stepFailed: (step: string) => `failed_${step}`,
} as const;

/**
 * Data of one `petProfile` stream item (one item per profile field): the
 * profile as it is written. While the model writes the bio, `draft` is true
 * and `value` is the text so far; each field ends with `draft: false` and
 * its whole value, from the model or, when it failed, from the fallback.
 */
export const PetProfileDataSchema = z.strictObject({
  field: z.enum(PROFILE_FIELDS),
  value: z.union([z.string().max(4000), z.array(z.string().max(50)).max(10)]),
  draft: z.boolean(),
  source: z.enum(['model', 'fallback']),
});
export type PetProfileData = z.infer<typeof PetProfileDataSchema>;
