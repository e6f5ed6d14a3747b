import type { Pet, PetInput } from '../../shared/pet.js';
import type { PetPatch, PetStore } from './pet-store.js';

export class MemoryPetStore implements PetStore {
  readonly #pets = new Map<string, Pet>();
  #lastId = 0;
  readonly #now: () => Date;

  constructor(now: () => Date = () => new Date()) {
    this.#now = now;
  }

  async create(input: PetInput): Promise<Pet> {
    this.#lastId += 1;
    const time = this.#now().toISOString();
    const pet: Pet = { ...input, id: String(this.#lastId), status: 'new', createdAt: time, updatedAt: time };
    this.#pets.set(pet.id, pet);
    return structuredClone(pet);
  }

  async get(id: string): Promise<Pet | null> {
    const pet = this.#pets.get(id);
    return pet ? structuredClone(pet) : null;
  }

  async update(id: string, patch: PetPatch): Promise<Pet | null> {
    const pet = this.#pets.get(id);
    if (!pet) return null;
    const updated: Pet = { ...pet, ...patch, updatedAt: this.#now().toISOString() };
    this.#pets.set(id, updated);
    return structuredClone(updated);
  }

  async list(limit: number): Promise<Pet[]> {
    return [...this.#pets.values()]
      .reverse()
      .slice(0, limit)
      .map((pet) => structuredClone(pet));
  }

  async close(): Promise<void> {
    this.#pets.clear();
  }
}
