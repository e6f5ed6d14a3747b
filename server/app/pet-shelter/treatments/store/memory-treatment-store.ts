import { STARTING, type TreatmentStore } from './treatment-store.js';

export class MemoryTreatmentStore implements TreatmentStore {
  /** Pet id → its treatment's trace id (or STARTING). */
  readonly #byPet = new Map<string, string>();
  readonly #petOf = new Map<string, string>();

  async claim(petId: string): Promise<boolean> {
    if (this.#byPet.has(petId)) return false;
    this.#byPet.set(petId, STARTING);
    return true;
  }

  async started(petId: string, traceId: string): Promise<void> {
    this.#byPet.set(petId, traceId);
    this.#petOf.set(traceId, petId);
  }

  async release(petId: string): Promise<void> {
    if (this.#byPet.get(petId) === STARTING) this.#byPet.delete(petId);
  }

  async current(petId: string): Promise<string | null> {
    const traceId = this.#byPet.get(petId);
    return traceId === undefined || traceId === STARTING ? null : traceId;
  }

  async end(traceId: string): Promise<void> {
    const petId = this.#petOf.get(traceId);
    this.#petOf.delete(traceId);
    if (petId !== undefined && this.#byPet.get(petId) === traceId) this.#byPet.delete(petId);
  }

  async close(): Promise<void> {
    this.#byPet.clear();
    this.#petOf.clear();
  }
}
