import type { Redis } from 'ioredis';

import { RedisScript, throwFirstError, whileReachable } from '../../../../engine/index.js';
import { STARTING, type TreatmentStore } from './treatment-store.js';

export type RedisTreatmentStoreOptions = {
  readonly client: Redis;
  /** The application's key prefix, as the engine gives it (`ServiceEnvironment.redis.keyPrefix`). */
  readonly keyPrefix: string;
};

/** KEYS: a pet's treatment key. ARGV: the value it must hold to be deleted. */
const deleteIfScript = new RedisScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`);

/** Treatments on Redis: a key per pet naming its treatment's workflow, and one per workflow naming its pet. */
export class RedisTreatmentStore implements TreatmentStore {
  readonly #client: Redis;
  readonly #prefix: string;

  constructor(options: RedisTreatmentStoreOptions) {
    this.#client = options.client;
    this.#prefix = options.keyPrefix;
  }

  async claim(petId: string): Promise<boolean> {
    const reply = await whileReachable(() => this.#client.set(this.#pet(petId), STARTING, 'NX'));
    return reply === 'OK';
  }

  async started(petId: string, traceId: string): Promise<void> {
    await whileReachable(async () => {
      throwFirstError(
        await this.#client.multi().set(this.#pet(petId), traceId).set(this.#trace(traceId), petId).exec(),
      );
    });
  }

  async release(petId: string): Promise<void> {
    await whileReachable(() => deleteIfScript.run(this.#client, [this.#pet(petId)], [STARTING]));
  }

  async current(petId: string): Promise<string | null> {
    const traceId = await whileReachable(() => this.#client.get(this.#pet(petId)));
    return traceId === null || traceId === STARTING ? null : traceId;
  }

  async end(traceId: string): Promise<void> {
    const petId = await whileReachable(() => this.#client.get(this.#trace(traceId)));
    if (petId === null) return;
    await whileReachable(() => deleteIfScript.run(this.#client, [this.#pet(petId)], [traceId]));
    await whileReachable(() => this.#client.del(this.#trace(traceId)));
  }

  /** Nothing to release: the connection belongs to the engine. */
  close(): Promise<void> {
    return Promise.resolve();
  }

  #pet(petId: string): string {
    return `${this.#prefix}treatments:pet:${petId}`;
  }

  #trace(traceId: string): string {
    return `${this.#prefix}treatments:trace:${traceId}`;
  }
}
