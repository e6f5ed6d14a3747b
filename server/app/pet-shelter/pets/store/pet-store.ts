import type { Pet, PetInput, PetStatus, Profile } from '../../../../../shared/pet.js';

export type PetPatch = {
  readonly status?: PetStatus;
  readonly notes?: string;
  readonly nextFeedingAt?: string;
  readonly profile?: Profile;
};

/** A page request: at most `limit` pets older than the one `cursor` names (from the newest when null). */
export type PetPageRequest = {
  readonly limit: number;
  readonly cursor: string | null;
};

/**
 * One page, newest first. `nextCursor` names the page's last pet; pets
 * created meanwhile are newer, so walking the pages visits every pet that
 * existed at the start exactly once. Null when no older pet remains.
 */
export type PetPage = {
  readonly items: Pet[];
  readonly nextCursor: string | null;
};

/** Where pets live: in memory by default, on Redis when configured. */
export interface PetStore {
  /** Stores a new pet with status `new` and a server-assigned id. */
  create(input: PetInput): Promise<Pet>;
  get(id: string): Promise<Pet | null>;
  /** Applies the patch and bumps `updatedAt`; null when there is no such pet. */
  update(id: string, patch: PetPatch): Promise<Pet | null>;
  /** Newest first (ids grow with creation), at most `limit`, older than `cursor`. */
  list(page: PetPageRequest): Promise<PetPage>;
  close(): Promise<void>;
}
