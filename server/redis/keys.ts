/**
 * Every Redis key the service writes, in one place. All start with the
 * configured prefix, so several deployments (or test runs) share one Redis
 * and can remove exactly their own keys.
 */
export type StreamGroupKeys = {
  /** The Redis Stream holding the group's ordered event log. */
  readonly log: string;
  /** Hash: item id → the event that set its current value. */
  readonly items: string;
  /** Sorted set: item id ranked by when it was (last) first set, for `getGroup` order. */
  readonly order: string;
  /** Hash: idempotency key → the event the first write with that key stored. */
  readonly idempotency: string;
  /** Hash: counters and flags of the group (`last` event id, `items` counter, `finished`). */
  readonly meta: string;
};

export class RedisKeys {
  readonly prefix: string;

  constructor(prefix: string) {
    if (/[{}\s]/.test(prefix))
      throw new TypeError(`Expected \`prefix\` without braces or spaces, got \`${prefix}\``);
    this.prefix = prefix;
  }

  readonly petSequence = (): string => `${this.prefix}pets:seq`;
  readonly pet = (id: string): string => `${this.prefix}pet:${id}`;
  /** Sorted set of pet ids scored by id: newest first with ZREVRANGE. */
  readonly petIndex = (): string => `${this.prefix}pets:index`;

  readonly workflow = (traceId: string): string => `${this.prefix}workflow:${traceId}`;

  /** Keys of one stream group; the hash tag keeps them in one cluster slot for the Lua scripts. */
  streamGroup(stream: string, groupId: string): StreamGroupKeys {
    const base = `${this.prefix}stream:{${stream}:${groupId}}`;
    return {
      log: `${base}:log`,
      items: `${base}:items`,
      order: `${base}:order`,
      idempotency: `${base}:idem`,
      meta: `${base}:meta`,
    };
  }

  /** A stream only one process reads: writing to it wakes that process's blocked reader. */
  readonly readerWake = (readerId: string): string => `${this.prefix}reader:${readerId}`;

  /** BullMQ's own prefix: its queues live under `<prefix>queue:<name>:…`. */
  readonly queuePrefix = (): string => `${this.prefix}queue`;
  /** Set of the consumers subscribed to a topic, shared by every instance. */
  readonly topicConsumers = (topic: string): string => `${this.prefix}bus:topic:${topic}`;
  /** Set of every consumer known to the bus (for dead letters and idleness). */
  readonly consumers = (): string => `${this.prefix}bus:consumers`;
}
