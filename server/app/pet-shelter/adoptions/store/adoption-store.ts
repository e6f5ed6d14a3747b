import type { AdoptionApplication, AdoptionStatus, Applicant, Home, Review } from '../schemas.js';

/** A new application, as `adoptions.submit` stores it. */
export type NewAdoption = {
  readonly petId: string;
  readonly petName: string;
  readonly applicant: Applicant;
  readonly home: Home;
  readonly traceId: string;
};

export type AdoptionPatch = {
  readonly status?: AdoptionStatus;
  readonly score?: number;
  readonly reason?: string;
  readonly review?: Review;
};

/** Where adoption applications live: in memory by default, on Redis when configured. */
export interface AdoptionStore {
  /** Stores a new application with status `submitted` and a server-assigned id. */
  create(input: NewAdoption): Promise<AdoptionApplication>;
  get(id: string): Promise<AdoptionApplication | null>;
  /** The application its workflow decides: how `finish`, which knows only the trace id, finds it. */
  findByTrace(traceId: string): Promise<AdoptionApplication | null>;
  /** Applies the patch and bumps `updatedAt`; null when there is no such application. */
  update(id: string, patch: AdoptionPatch): Promise<AdoptionApplication | null>;
  /**
   * Reserves the pet for one application, atomically: true for the first
   * application to ask (and again for it), false for any other. Two approved
   * applications for one pet, decided at once, cannot both adopt it.
   */
  claimPet(petId: string, applicationId: string): Promise<boolean>;
  close(): Promise<void>;
}
