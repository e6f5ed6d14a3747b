import type { Pet, PetInput, PetStatus, Profile } from '../../shared/pet.js';

export type PetPatch = {
  readonly status?: PetStatus;
  readonly notes?: string;
  readonly nextFeedingAt?: string;
  readonly profile?: Profile;
};

/** Where pets live: in memory by default, on Redis when configured. */
export interface PetStore {
  /** Stores a new pet with status `new` and a server-assigned id. */
  create(input: PetInput): Promise<Pet>;
  get(id: string): Promise<Pet | null>;
  /** Applies the patch and bumps `updatedAt`; null when there is no such pet. */
  update(id: string, patch: PetPatch): Promise<Pet | null>;
  /** Newest first, at most `limit`. */
  list(limit: number): Promise<Pet[]>;
  close(): Promise<void>;
}
