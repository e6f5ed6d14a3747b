/**
 * Which pet is in treatment, under which workflow: one treatment per pet at
 * a time. `claim` is atomic, so two `pets.treat` calls for one pet, on two
 * instances, cannot both start one.
 */
export interface TreatmentStore {
  /** Reserves the pet for a treatment about to start; false when one already has it. */
  claim(petId: string): Promise<boolean>;
  /** Names the treatment's workflow, once started (after `claim`). */
  started(petId: string, traceId: string): Promise<void>;
  /** Frees a claim whose workflow did not start. */
  release(petId: string): Promise<void>;
  /** The workflow treating the pet, or null (none, or still starting). */
  current(petId: string): Promise<string | null>;
  /** The treatment ended: its pet is free again. */
  end(traceId: string): Promise<void>;
  close(): Promise<void>;
}

/** What a claimed pet holds until its workflow is started. */
export const STARTING = 'starting';
