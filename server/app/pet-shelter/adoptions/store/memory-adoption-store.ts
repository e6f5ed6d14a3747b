import type { AdoptionApplication } from '../schemas.js';
import type { AdoptionPatch, AdoptionStore, NewAdoption } from './adoption-store.js';

export class MemoryAdoptionStore implements AdoptionStore {
  readonly #applications = new Map<string, AdoptionApplication>();
  readonly #byTrace = new Map<string, string>();
  /** Pet id → the application that adopts it. */
  readonly #claims = new Map<string, string>();
  #lastId = 0;
  readonly #now: () => Date;

  constructor(now: () => Date = () => new Date()) {
    this.#now = now;
  }

  async create(input: NewAdoption): Promise<AdoptionApplication> {
    this.#lastId += 1;
    const time = this.#now().toISOString();
    const application: AdoptionApplication = {
      ...structuredClone(input),
      id: String(this.#lastId),
      status: 'submitted',
      score: null,
      reason: null,
      createdAt: time,
      updatedAt: time,
    };
    this.#applications.set(application.id, application);
    this.#byTrace.set(application.traceId, application.id);
    return structuredClone(application);
  }

  async get(id: string): Promise<AdoptionApplication | null> {
    const application = this.#applications.get(id);
    return application ? structuredClone(application) : null;
  }

  async findByTrace(traceId: string): Promise<AdoptionApplication | null> {
    const id = this.#byTrace.get(traceId);
    return id === undefined ? null : this.get(id);
  }

  async update(id: string, patch: AdoptionPatch): Promise<AdoptionApplication | null> {
    const application = this.#applications.get(id);
    if (!application) return null;
    const updated: AdoptionApplication = { ...application, ...patch, updatedAt: this.#now().toISOString() };
    this.#applications.set(id, updated);
    return structuredClone(updated);
  }

  async claimPet(petId: string, applicationId: string): Promise<boolean> {
    const holder = this.#claims.get(petId);
    if (holder === undefined) this.#claims.set(petId, applicationId);
    return (holder ?? applicationId) === applicationId;
  }

  async close(): Promise<void> {
    this.#applications.clear();
    this.#byTrace.clear();
    this.#claims.clear();
  }
}
