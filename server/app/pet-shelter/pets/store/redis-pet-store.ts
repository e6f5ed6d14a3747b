import type { Redis } from 'ioredis';

import { PetSchema, type Pet, type PetInput } from '../../../../../shared/pet.js';
import { patchPetScript } from './redis-scripts.js';
import { pairsToRecord, throwFirstError } from '../../../../engine/index.js';
import { whileReachable } from '../../../../engine/index.js';
import type { PetPage, PetPageRequest, PetPatch, PetStore } from './pet-store.js';
import { decodeFields, encodeFields } from '../../redis-json-hash.js';

export type RedisPetStoreOptions = {
  readonly client: Redis;
  /** The application's key prefix (the engine's, then `app:`). */
  readonly keyPrefix: string;
  readonly now?: () => Date;
};

/**
 * Pets on Redis: ids from INCR, one hash per pet (each field JSON-encoded, so
 * a patch touches only its fields), and a sorted set by id for "newest first".
 */
export class RedisPetStore implements PetStore {
  readonly #client: Redis;
  readonly #keys: PetKeys;
  readonly #now: () => Date;

  constructor(options: RedisPetStoreOptions) {
    this.#client = options.client;
    this.#keys = petKeys(options.keyPrefix);
    this.#now = options.now ?? (() => new Date());
  }

  async create(input: PetInput): Promise<Pet> {
    const pet = await whileReachable(async () => {
      const id = String(await this.#client.incr(this.#keys.petSequence()));
      const time = this.#now().toISOString();
      const pet: Pet = { ...input, id, status: 'new', createdAt: time, updatedAt: time };
      const results = await this.#client
        .multi()
        .hset(this.#keys.pet(id), encodeFields(pet))
        .zadd(this.#keys.petIndex(), Number(id), id)
        .exec();
      throwFirstError(results);
      return pet;
    });
    return structuredClone(pet);
  }

  async get(id: string): Promise<Pet | null> {
    const fields = await whileReachable(() => this.#client.hgetall(this.#keys.pet(id)));
    return decodeFields(PetSchema, fields);
  }

  async update(id: string, patch: PetPatch): Promise<Pet | null> {
    const fields = encodeFields({ ...patch, updatedAt: this.#now().toISOString() });
    const reply = await whileReachable(() =>
      patchPetScript.run(this.#client, [this.#keys.pet(id)], Object.entries(fields).flat()),
    );
    return Array.isArray(reply) ? decodeFields(PetSchema, pairsToRecord(reply)) : null;
  }

  async list({ limit, cursor }: PetPageRequest): Promise<PetPage> {
    const replies = await whileReachable(async () => {
      // One more than the page: whether it exists says if there is a next page.
      const ids = await this.#client.zrevrangebyscore(
        this.#keys.petIndex(),
        cursor === null ? '+inf' : `(${cursor}`,
        '-inf',
        'LIMIT',
        0,
        limit + 1,
      );
      const pipeline = this.#client.pipeline();
      for (const id of ids.slice(0, limit)) pipeline.hgetall(this.#keys.pet(id));
      const results = ids.length > 0 ? await pipeline.exec() : [];
      throwFirstError(results);
      return { results: results ?? [], more: ids.length > limit, lastId: ids[limit - 1] };
    });
    const items = replies.results.flatMap(([, fields]) => {
      const pet = isStringRecord(fields) ? decodeFields(PetSchema, fields) : null;
      return pet ? [pet] : [];
    });
    return { items, nextCursor: replies.more ? (replies.lastId ?? null) : null };
  }

  /** Nothing to release: the connection belongs to the caller. */
  close(): Promise<void> {
    return Promise.resolve();
  }
}

function isStringRecord(value: unknown): value is Record<string, string> {
  return (
    typeof value === 'object' && value !== null && Object.values(value).every((v) => typeof v === 'string')
  );
}

type PetKeys = {
  readonly petSequence: () => string;
  readonly pet: (id: string) => string;
  /** Sorted set of pet ids scored by id: newest first with ZREVRANGE. */
  readonly petIndex: () => string;
};

function petKeys(prefix: string): PetKeys {
  return {
    petSequence: () => `${prefix}pets:seq`,
    pet: (id) => `${prefix}pet:${id}`,
    petIndex: () => `${prefix}pets:index`,
  };
}
