import type { Pet, PetInput } from '../../../../../shared/pet.js';
import type { PetPage, PetPageRequest, PetPatch, PetStore } from './pet-store.js';

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

  async list({ limit, cursor }: PetPageRequest): Promise<PetPage> {
    // Ids are 1, 2, 3… and pets are never removed: a page is a walk down from the cursor.
    const items: Pet[] = [];
    let id = cursor === null ? this.#lastId : Math.min(Number(cursor) - 1, this.#lastId);
    for (; id >= 1 && items.length < limit; id -= 1) {
      const pet = this.#pets.get(String(id));
      if (pet) items.push(structuredClone(pet));
    }
    const last = items.at(-1);
    return { items, nextCursor: last && id >= 1 ? last.id : null };
  }

  async close(): Promise<void> {
    this.#pets.clear();
  }
}
