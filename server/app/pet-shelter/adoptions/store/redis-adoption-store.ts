import type { Redis } from 'ioredis';

import { pairsToRecord, RedisScript, throwFirstError, whileReachable } from '../../../../engine/index.js';
import { AdoptionApplicationSchema, type AdoptionApplication } from '../schemas.js';
import type { AdoptionPatch, AdoptionStore, NewAdoption } from './adoption-store.js';
import { decodeFields, encodeFields } from '../../redis-json-hash.js';

export type RedisAdoptionStoreOptions = {
  readonly client: Redis;
  /** The application's key prefix, as the engine gives it (`ServiceEnvironment.redis.keyPrefix`). */
  readonly keyPrefix: string;
  readonly now?: () => Date;
};

/**
 * Applies a patch to a stored application in one step. KEYS: its hash.
 * ARGV: field, JSON value, … Returns the whole hash, or false when there is none.
 */
const patchScript = new RedisScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
redis.call('HSET', KEYS[1], unpack(ARGV))
return redis.call('HGETALL', KEYS[1])
`);

/** KEYS: the pet's claim. ARGV: the application id. 1 when it holds the claim (now or already), else 0. */
const claimScript = new RedisScript(`
local holder = redis.call('GET', KEYS[1])
if not holder then
  redis.call('SET', KEYS[1], ARGV[1])
  return 1
end
if holder == ARGV[1] then return 1 end
return 0
`);

/**
 * Applications on Redis: ids from INCR, one hash per application (each
 * field JSON-encoded, like pets), a key per trace id naming its
 * application, and a key per adopted pet naming the application that has it.
 */
export class RedisAdoptionStore implements AdoptionStore {
  readonly #client: Redis;
  readonly #keys: AdoptionKeys;
  readonly #now: () => Date;

  constructor(options: RedisAdoptionStoreOptions) {
    this.#client = options.client;
    this.#keys = adoptionKeys(options.keyPrefix);
    this.#now = options.now ?? (() => new Date());
  }

  async create(input: NewAdoption): Promise<AdoptionApplication> {
    return whileReachable(async () => {
      const id = String(await this.#client.incr(this.#keys.sequence()));
      const time = this.#now().toISOString();
      const application: AdoptionApplication = {
        ...structuredClone(input),
        id,
        status: 'submitted',
        score: null,
        reason: null,
        createdAt: time,
        updatedAt: time,
      };
      const results = await this.#client
        .multi()
        .hset(this.#keys.application(id), encodeFields(application))
        .set(this.#keys.byTrace(input.traceId), id)
        .exec();
      throwFirstError(results);
      return application;
    });
  }

  async get(id: string): Promise<AdoptionApplication | null> {
    return decodeFields(
      AdoptionApplicationSchema,
      await whileReachable(() => this.#client.hgetall(this.#keys.application(id))),
    );
  }

  async findByTrace(traceId: string): Promise<AdoptionApplication | null> {
    const id = await whileReachable(() => this.#client.get(this.#keys.byTrace(traceId)));
    return id === null ? null : this.get(id);
  }

  async update(id: string, patch: AdoptionPatch): Promise<AdoptionApplication | null> {
    const fields = encodeFields({ ...patch, updatedAt: this.#now().toISOString() });
    const reply = await whileReachable(() =>
      patchScript.run(this.#client, [this.#keys.application(id)], Object.entries(fields).flat()),
    );
    return Array.isArray(reply) ? decodeFields(AdoptionApplicationSchema, pairsToRecord(reply)) : null;
  }

  async claimPet(petId: string, applicationId: string): Promise<boolean> {
    const reply = await whileReachable(() =>
      claimScript.run(this.#client, [this.#keys.petClaim(petId)], [applicationId]),
    );
    return reply === 1;
  }

  /** Nothing to release: the connection belongs to the engine. */
  close(): Promise<void> {
    return Promise.resolve();
  }
}

type AdoptionKeys = {
  readonly sequence: () => string;
  readonly application: (id: string) => string;
  readonly byTrace: (traceId: string) => string;
  readonly petClaim: (petId: string) => string;
};

function adoptionKeys(prefix: string): AdoptionKeys {
  return {
    sequence: () => `${prefix}adoptions:seq`,
    application: (id) => `${prefix}adoption:${id}`,
    byTrace: (traceId) => `${prefix}adoptions:trace:${traceId}`,
    petClaim: (petId) => `${prefix}adoptions:pet:${petId}`,
  };
}
