import type { Pet, Profile, ProfileField } from '../../../../../shared/pet.js';
import type { Logger } from '../../../../engine/index.js';

export type GenerateOptions = {
  /** Aborts the generation (shutdown or the step attempt's own timeout). */
  readonly signal: AbortSignal;
  /** The step's logger: lines carry the trace id and step name. */
  readonly logger: Logger;
};

/**
 * What a generator reports while the profile is being written:
 * - `bio`: the bio written so far (before the field is complete);
 * - `field`: a field is complete and valid; fields come in `PROFILE_FIELDS` order, each once;
 * - `done`: the whole profile, valid; always the last update, after all four `field` updates.
 */
export type ProfileUpdate =
  | { readonly type: 'bio'; readonly text: string }
  | { readonly type: 'field'; readonly field: ProfileField; readonly value: Profile[ProfileField] }
  | { readonly type: 'done'; readonly profile: Profile };

/** Writes an adopter-facing profile for a pet, reporting progress as it goes; throws on any failure. */
export interface ProfileGenerator {
  generate(pet: Pet, options: GenerateOptions): AsyncIterable<ProfileUpdate>;
}

export type EnrichmentFailureReason =
  'http' | 'connection' | 'timeout' | 'aborted' | 'refused' | 'malformed' | 'invalid' | 'incomplete';

/** The model's answer could not be used. */
export class EnrichmentFailed extends Error {
  override readonly name = 'EnrichmentFailed';
  readonly reason: EnrichmentFailureReason;
  /** The HTTP status, when the server answered with an error. */
  readonly status: number | undefined;

  constructor(
    reason: EnrichmentFailureReason,
    message: string,
    options: { readonly cause?: unknown; readonly status?: number } = {},
  ) {
    super(message, { cause: options.cause });
    this.reason = reason;
    this.status = options.status;
  }
}
