import { z } from 'zod';

import { HUMAN_TEXT_RULES, humanText } from '../../../../shared/human-text.js';
import { PetIdSchema } from '../../../../shared/pet.js';

/** Input bounds of `adoptions.submit` (UTF-16 code units, after trimming for the name). */
export const ADOPTION_LIMITS = {
  applicantNameMaxLength: 100,
  /** The longest address SMTP can carry (RFC 5321). */
  emailMaxLength: 254,
} as const;

/** The longest note staff may leave with a decision (UTF-16 code units, after trimming). */
export const DECISION_NOTE_MAX_LENGTH = 500;

export const HOME_TYPES = ['house', 'apartment', 'farm'] as const;
export const HomeTypeSchema = z.enum(HOME_TYPES);
export type HomeType = z.infer<typeof HomeTypeSchema>;

/**
 * Bad input is answered with the field errors of the top-level keys only
 * (`applicant`, `home`), so each nested field's message starts with its name.
 */
const required = (field: string, expected: string) => (issue: { readonly input?: unknown }) =>
  issue.input === undefined ? `${field}: is required` : `${field}: ${expected}`;

/** The pet names' rules (shared/human-text.ts), its messages naming `field`. */
function namedHumanText(field: string, max: number) {
  return z
    .string({ error: required(field, 'must be a string') })
    .trim()
    .normalize('NFC')
    .min(1, `${field}: must not be empty`)
    .max(max, `${field}: must be at most ${max} characters`)
    .check((ctx) => {
      for (const [pattern, message] of HUMAN_TEXT_RULES) {
        if (pattern.test(ctx.value))
          ctx.issues.push({ code: 'custom', message: `${field}: ${message}`, input: ctx.value });
      }
    });
}

export const ApplicantSchema = z.strictObject({
  name: namedHumanText('name', ADOPTION_LIMITS.applicantNameMaxLength),
  email: z
    .email({ error: required('email', 'must be an email address') })
    .max(
      ADOPTION_LIMITS.emailMaxLength,
      `email: must be at most ${ADOPTION_LIMITS.emailMaxLength} characters`,
    ),
});
export type Applicant = z.infer<typeof ApplicantSchema>;

export const HomeSchema = z.strictObject({
  type: z.enum(HOME_TYPES, { error: required('type', `must be one of ${HOME_TYPES.join(', ')}`) }),
  hasGarden: z.boolean({ error: required('hasGarden', 'must be true or false') }),
  otherPets: z.boolean({ error: required('otherPets', 'must be true or false') }),
});
export type Home = z.infer<typeof HomeSchema>;

/** What `adoptions.submit` takes. */
export const AdoptionInputSchema = z.strictObject({
  petId: PetIdSchema,
  applicant: ApplicantSchema,
  home: HomeSchema,
});
export type AdoptionInput = z.infer<typeof AdoptionInputSchema>;

export const AdoptionIdSchema = z.string().min(1).max(64);

/** `submitted` until the workflow decides. */
export const AdoptionStatusSchema = z.enum(['submitted', 'approved', 'rejected']);
export type AdoptionStatus = z.infer<typeof AdoptionStatusSchema>;

/** A 0-100 home match score (see score.ts). */
export const ScoreSchema = z.number().int().min(0).max(100);

/** What staff decide for an application whose home needs a decision (see REVIEW_SCORE). */
export const DECISIONS = ['approve', 'reject'] as const;
export const StaffDecisionSchema = z.strictObject({
  decision: z.enum(DECISIONS),
  note: humanText(DECISION_NOTE_MAX_LENGTH),
});
export type StaffDecision = z.infer<typeof StaffDecisionSchema>;

/** What `adoptions.decide` takes. */
export const DecideInputSchema = StaffDecisionSchema.extend({
  traceId: z.string().regex(/^[0-9a-f]{32}$/, 'must be a trace id'),
});

/** The name of the adoption's wait for staff, and who answers it. */
export const STAFF_DECISION = { name: 'staffDecision', awaitedBy: 'staff' } as const;

/** How staff review ended: their decision, or none in time (`timedOut`). */
export const ReviewSchema = z.object({
  decision: z.enum([...DECISIONS, 'timedOut']),
  note: z.string().nullable(),
  by: z.string().nullable(),
  at: z.string(),
});
export type Review = z.infer<typeof ReviewSchema>;

export const AdoptionApplicationSchema = z.object({
  id: AdoptionIdSchema,
  petId: PetIdSchema,
  petName: z.string(),
  applicant: z.object({ name: z.string(), email: z.string() }),
  home: z.object({ type: HomeTypeSchema, hasGarden: z.boolean(), otherPets: z.boolean() }),
  status: AdoptionStatusSchema,
  /** Set by the home match step; null before it (or when it failed). */
  score: ScoreSchema.nullable(),
  /** Why it was approved or rejected; null while submitted. */
  reason: z.string().nullable(),
  /** Staff's review, for a home whose score needs one; absent otherwise. */
  review: ReviewSchema.optional(),
  /** The workflow that decides it. */
  traceId: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type AdoptionApplication = z.infer<typeof AdoptionApplicationSchema>;

/** What anonymous callers see when the service requires API keys: the applicant left out. */
export type AdoptionView = Omit<AdoptionApplication, 'applicant'> & { readonly applicant?: Applicant };

export const AdoptionStageSchema = z.enum(['submitted', 'background', 'homeMatch', 'review', 'decision']);
export type AdoptionStage = z.infer<typeof AdoptionStageSchema>;

/** Data of one `adoptionProgress` item: what the applicant watches. */
export const AdoptionProgressDataSchema = z.strictObject({
  message: z.string().min(1).max(4000),
  /** Which part of the workflow wrote it. */
  stage: AdoptionStageSchema,
  /** Progress of that part, 0-100. */
  progress: z.number().min(0).max(100),
  /** The home match score, once known. */
  score: ScoreSchema.optional(),
});
export type AdoptionProgressData = z.infer<typeof AdoptionProgressDataSchema>;

/** Data of one `adoptionAudit` item: one entry per decision, who took it and why. */
export const AdoptionAuditDataSchema = z.strictObject({
  actor: z.string().min(1).max(100),
  action: z.string().min(1).max(100),
  detail: z.string().min(1).max(4000),
});
export type AdoptionAuditData = z.infer<typeof AdoptionAuditDataSchema>;

/**
 * Item ids of both streams. Each audit entry is its own item (one per
 * decision point); progress items are updated as their stage advances.
 */
export const AdoptionItem = {
  submitted: 'submitted',
  background: 'background',
  homeMatch: 'homeMatch',
  review: 'review',
  decision: 'decision',
  stepFailed: (step: string) => `failed_${step}`,
} as const;
