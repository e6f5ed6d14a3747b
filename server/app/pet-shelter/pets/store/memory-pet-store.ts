import type { Pet, PetInput } from '../../../../../shared/pet.js';
import type { PetPage, PetPageRequest, PetPatch, PetStore } from './pet-store.js';

/**
 * Pets in process memory. Stored pets are frozen, deeply, and handed out as
 * they are: no caller can change a stored pet, and reads copy nothing.
 */
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
    const pet = deepFreeze<Pet>({
      ...structuredClone(input),
      id: String(this.#lastId),
      status: 'new',
      createdAt: time,
      updatedAt: time,
    });
    this.#pets.set(pet.id, pet);
    return pet;
  }

  async get(id: string): Promise<Pet | null> {
    return this.#pets.get(id) ?? null;
  }

  async update(id: string, patch: PetPatch): Promise<Pet | null> {
    const pet = this.#pets.get(id);
    if (!pet) return null;
    const updated = deepFreeze<Pet>({
      ...pet,
      ...structuredClone(patch),
      updatedAt: this.#now().toISOString(),
    });
    this.#pets.set(id, updated);
    return updated;
  }

  async list({ limit, cursor }: PetPageRequest): Promise<PetPage> {
    // Ids are 1, 2, 3… and pets are never removed: a page is a walk down from the cursor.
    const items: Pet[] = [];
    let id = cursor === null ? this.#lastId : Math.min(Number(cursor) - 1, this.#lastId);
    for (; id >= 1 && items.length < limit; id -= 1) {
      const pet = this.#pets.get(String(id));
      if (pet) items.push(pet);
    }
    const last = items.at(-1);
    return { items, nextCursor: last && id >= 1 ? last.id : null };
  }

  async close(): Promise<void> {
    this.#pets.clear();
  }
}

/** Freezes `value` and every object and array in it; parts already frozen are shared, not walked. */
function deepFreeze<T>(value: T): T {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return value;
  for (const item of Object.values(value)) deepFreeze(item);
  return Object.freeze(value);
}
