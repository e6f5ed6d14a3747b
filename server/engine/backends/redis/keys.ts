/**
 * Every Redis key the engine writes, in one place. All start with the
 * configured prefix, so several deployments (or test runs) share one Redis
 * and can remove exactly their own keys. An application's own stores take
 * the same prefix and keep their keys under `<prefix>app:`.
 */
export type WorkflowLogKeys = {
  /** The Redis Stream holding the workflow's ordered event log, every stream of it. */
  readonly log: string;
  /** Hash: `<stream>:<item id>` → the event that set the item's current value. */
  readonly items: string;
  /** Sorted set: `<stream>:<item id>` ranked by when it was (last) first set, for `getGroup` order. */
  readonly order: string;
  /** Hash: idempotency key → the event the first write with that key stored. */
  readonly idempotency: string;
  /** Hash: counters and flags of the log (`last` event id, `items` counter, `finished`). */
  readonly meta: string;
  /** Pub/sub channel (no key) of the workflow's ephemeral events. */
  readonly ephemeral: string;
};

export class RedisKeys {
  readonly prefix: string;

  constructor(prefix: string) {
    if (/[{}\s]/.test(prefix))
      throw new TypeError(`Expected \`prefix\` without braces or spaces, got \`${prefix}\``);
    this.prefix = prefix;
  }

  readonly workflow = (traceId: string): string => `${this.prefix}workflow:${traceId}`;

  /** Keys of one workflow's log; the hash tag keeps them in one cluster slot for the Lua scripts. */
  workflowLog(groupId: string): WorkflowLogKeys {
    const base = `${this.prefix}log:{${groupId}}`;
    return {
      log: `${base}:events`,
      items: `${base}:items`,
      order: `${base}:order`,
      idempotency: `${base}:idem`,
      meta: `${base}:meta`,
      ephemeral: `${base}:ephemeral`,
    };
  }

  /** Hash of one workflow's waits: `w:<name>` what it waits for, `st:<name>` its status, `r:<name>` how it ended. */
  readonly waits = (traceId: string): string => `${this.prefix}waits:${traceId}`;
  /** Sorted set of every wait still waiting (`<trace id> <name>`), ranked by deadline (ms). */
  readonly waitDeadlines = (): string => `${this.prefix}waits-due`;
  /** Sorted set of ended waits whose step is still to be queued again (`<trace id> <name>`), ranked by when they ended (ms). */
  readonly waitResumes = (): string => `${this.prefix}waits-resume`;

  /** Where an application's own stores keep their keys. */
  readonly appPrefix = (): string => `${this.prefix}app:`;

  /** A stream only one process reads: writing to it wakes that process's blocked reader. */
  readonly readerWake = (readerId: string): string => `${this.prefix}reader:${readerId}`;

  /** BullMQ's own prefix: its queues live under `<prefix>queue:<name>:…`. */
  readonly queuePrefix = (): string => `${this.prefix}queue`;
  /** Set of the consumers subscribed to a topic, shared by every instance. */
  readonly topicConsumers = (topic: string): string => `${this.prefix}bus:topic:${topic}`;
  /** Set of every consumer known to the bus (for dead letters and idleness). */
  readonly consumers = (): string => `${this.prefix}bus:consumers`;
}
