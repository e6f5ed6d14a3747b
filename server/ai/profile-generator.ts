import type { Pet, Profile } from '../../shared/pet.js';
import type { Logger } from '../log.js';

export type GenerateOptions = {
  readonly signal: AbortSignal;
  readonly logger: Logger;
};

/** Writes an adopter-facing profile for a pet; throws on any failure. */
export interface ProfileGenerator {
  generate(pet: Pet, options: GenerateOptions): Promise<Profile>;
}

/** The model's answer could not be used. */
export class EnrichmentFailed extends Error {
  override readonly name = 'EnrichmentFailed';
}
