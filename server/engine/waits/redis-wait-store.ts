import type { Redis } from 'ioredis';
import { z } from 'zod';

import type { RedisKeys } from '../backends/redis/keys.js';
import { whileReachable } from '../backends/redis/storage-unavailable.js';
import { finishWaitsScript, openWaitScript, settleWaitScript } from './redis-wait-scripts.js';
import {
  byOpening,
  OpenedWaitSchema,
  resumes,
  settledRecord,
  WaitStatusSchema,
  type OpenedWait,
  type WaitRecord,
  type WaitSettlement,
  type WaitStore,
} from './wait-store.js';

export type RedisWaitStoreOptions = {
  readonly client: Redis;
  readonly keys: RedisKeys;
  /** How long a finished workflow's waits are kept, in ms. */
  readonly retentionMs: number;
};

const ResultSchema = z.object({ input: z.unknown(), by: z.string().nullable(), settledAt: z.string() });

/**
 * Waits on Redis, shared by every instance: one hash per workflow and one
 * sorted set of deadlines. Opening and settling are Lua scripts, so a wait
 * opens once and ends once whichever instances race for it.
 */
export class RedisWaitStore implements WaitStore {
  readonly #client: Redis;
  readonly #keys: RedisKeys;
  readonly #retentionMs: number;

  constructor(options: RedisWaitStoreOptions) {
    this.#client = options.client;
    this.#keys = options.keys;
    this.#retentionMs = options.retentionMs;
  }

  async open(wait: OpenedWait): Promise<{ readonly record: WaitRecord; readonly opened: boolean }> {
    const opened = OpenedWaitSchema.parse(wait);
    const reply = await whileReachable(() =>
      openWaitScript.run(
        this.#client,
        [this.#keys.waits(wait.traceId), this.#keys.waitDeadlines()],
        [wait.name, JSON.stringify(opened), Date.parse(wait.deadline), member(wait.traceId, wait.name)],
      ),
    );
    const [isNew, json, status, result] = reply as [number, string, string, string | null];
    return { record: decode(json, status, result), opened: isNew === 1 };
  }

  async get(traceId: string, name: string): Promise<WaitRecord | null> {
    const [json, status, result] = await whileReachable(() =>
      this.#client.hmget(this.#keys.waits(traceId), `w:${name}`, `st:${name}`, `r:${name}`),
    );
    return json && status ? decode(json, status, result ?? null) : null;
  }

  async list(traceId: string): Promise<WaitRecord[]> {
    const fields = await whileReachable(() => this.#client.hgetall(this.#keys.waits(traceId)));
    const records: WaitRecord[] = [];
    for (const [field, json] of Object.entries(fields)) {
      if (!field.startsWith('w:')) continue;
      const name = field.slice(2);
      const status = fields[`st:${name}`];
      if (status) records.push(decode(json, status, fields[`r:${name}`] ?? null));
    }
    return records.sort(byOpening);
  }

  async settle(
    traceId: string,
    name: string,
    settlement: WaitSettlement,
    at: string,
  ): Promise<WaitRecord | null> {
    const result = {
      input: settlement.status === 'received' ? settlement.input : null,
      by: settlement.status === 'received' ? settlement.by : null,
      settledAt: at,
    };
    const reply = await whileReachable(() =>
      settleWaitScript.run(
        this.#client,
        [this.#keys.waits(traceId), this.#keys.waitDeadlines(), this.#keys.waitResumes()],
        [
          name,
          settlement.status,
          JSON.stringify(result),
          member(traceId, name),
          resumes(settlement) ? 1 : 0,
          Date.parse(at),
        ],
      ),
    );
    if (typeof reply !== 'string') return null;
    return settledRecord(decode(reply, 'waiting', null), settlement, at);
  }

  async resumed(traceId: string, name: string): Promise<void> {
    await whileReachable(() => this.#client.zrem(this.#keys.waitResumes(), member(traceId, name)));
  }

  async unresumed(
    before: number,
    limit: number,
  ): Promise<{ readonly traceId: string; readonly name: string }[]> {
    const members = await whileReachable(() =>
      this.#client.zrangebyscore(this.#keys.waitResumes(), '-inf', before, 'LIMIT', 0, limit),
    );
    return members.flatMap(parseMember);
  }

  async due(now: number, limit: number): Promise<{ readonly traceId: string; readonly name: string }[]> {
    const members = await whileReachable(() =>
      this.#client.zrangebyscore(this.#keys.waitDeadlines(), '-inf', now, 'LIMIT', 0, limit),
    );
    return members.flatMap(parseMember);
  }

  async nextDeadline(): Promise<number | null> {
    const [, score] = await whileReachable(() =>
      this.#client.zrange(this.#keys.waitDeadlines(), 0, 0, 'WITHSCORES'),
    );
    return score === undefined ? null : Number(score);
  }

  async finished(traceId: string): Promise<void> {
    await whileReachable(() =>
      finishWaitsScript.run(
        this.#client,
        [this.#keys.waits(traceId), this.#keys.waitDeadlines(), this.#keys.waitResumes()],
        [Math.max(1, this.#retentionMs), traceId],
      ),
    );
  }

  /** Nothing to release: the connection belongs to the caller. */
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** A wait in the deadlines set: trace ids are hex and names letters and digits, so a space separates them. */
const member = (traceId: string, name: string) => `${traceId} ${name}`;

function parseMember(entry: string): { readonly traceId: string; readonly name: string }[] {
  const [traceId, name] = entry.split(' ');
  return traceId && name ? [{ traceId, name }] : [];
}

function decode(json: string, status: string, result: string | null): WaitRecord {
  const opened = OpenedWaitSchema.parse(JSON.parse(json)) as OpenedWait;
  const ended = result ? ResultSchema.parse(JSON.parse(result)) : null;
  return {
    ...opened,
    status: WaitStatusSchema.parse(status),
    input: ended?.input ?? null,
    by: ended?.by ?? null,
    settledAt: ended?.settledAt ?? null,
  };
}
