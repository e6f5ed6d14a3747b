/**
 * The process's Redis connections. Their number is fixed whatever the load:
 * one for commands, one for the stream storage's shared live reader, one
 * in subscriber mode for ephemeral events, one shared by the bus's workers (BullMQ adds one blocking connection per
 * step). Every connection reconnects by itself; errors are logged once per
 * outage, never thrown at the process.
 */
import { Redis, type RedisOptions } from 'ioredis';

import type { Logger } from '../../log.js';

export type RedisConnectionOptions = {
  /** `redis://[user:password@]host:port[/db]` (or `rediss://` for TLS). */
  readonly url: string;
  /** A command unanswered this long fails with an error. */
  readonly commandTimeoutMs: number;
  readonly log: Logger;
  /** Names the connections in `CLIENT LIST`. @default 'pet-stream' */
  readonly name?: string;
};

/** Reconnect quickly at first, then every 2 s, forever: Redis coming back is noticed within 2 s. */
const retryStrategy = (times: number): number => Math.min(50 * 2 ** times, 2000);

export class RedisConnections {
  /** Stores, stream writes and reads, job publishing. Fails fast while Redis is unreachable. */
  readonly commands: Redis;
  /** The stream storage's one blocking reader (XREAD BLOCK over every locally watched group). */
  readonly streamReader: Redis;
  /** Shared by the bus's workers; BullMQ wants it to retry forever (`maxRetriesPerRequest: null`). */
  readonly bus: Redis;
  /** Pub/sub subscriptions (ephemeral events); it resubscribes by itself after a reconnect. */
  readonly subscriber: Redis;
  readonly #commandTimeoutMs: number;
  #closed = false;

  constructor(options: RedisConnectionOptions) {
    if (!Number.isInteger(options.commandTimeoutMs) || options.commandTimeoutMs < 1) {
      throw new TypeError(
        `Expected \`commandTimeoutMs\` to be an integer >= 1, got \`${options.commandTimeoutMs}\``,
      );
    }
    const name = options.name ?? 'pet-stream';
    this.#commandTimeoutMs = options.commandTimeoutMs;
    const common: RedisOptions = {
      retryStrategy,
      connectTimeout: Math.max(2000, options.commandTimeoutMs),
      // Checked by ready(); commands issued before the first connect wait in the offline queue.
      enableOfflineQueue: true,
    };
    this.commands = this.#connect(options, 'commands', {
      ...common,
      connectionName: `${name}:commands`,
      commandTimeout: options.commandTimeoutMs,
      // Commands queued while Redis is away fail after one reconnect attempt, not after 20.
      maxRetriesPerRequest: 1,
    });
    this.streamReader = this.#connect(options, 'stream reader', {
      ...common,
      connectionName: `${name}:stream-reader`,
      maxRetriesPerRequest: null,
      // A blocked read on a connection that died silently is abandoned and re-issued.
      blockingTimeout: 30_000,
    });
    this.bus = this.#connect(options, 'bus', {
      ...common,
      connectionName: `${name}:bus`,
      maxRetriesPerRequest: null,
    });
    this.subscriber = this.#connect(options, 'subscriber', {
      ...common,
      connectionName: `${name}:subscriber`,
      maxRetriesPerRequest: null,
    });
  }

  /** True when Redis answers a PING on the command connection and the other connections are up. */
  async ready(): Promise<boolean> {
    if (this.#closed) return false;
    const clients = [this.commands, this.streamReader, this.bus, this.subscriber];
    if (clients.some((client) => client.status !== 'ready')) return false;
    try {
      return (await this.commands.ping()) === 'PONG';
    } catch {
      return false;
    }
  }

  /** Closes every connection: politely when Redis is reachable, at once when not. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // A blocked read cannot be answered politely: cut it.
    this.streamReader.disconnect();
    this.subscriber.disconnect();
    await Promise.all([this.#quit(this.commands), this.#quit(this.bus)]);
  }

  async #quit(client: Redis): Promise<void> {
    if (client.status !== 'ready') {
      client.disconnect();
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      client.quit().catch(() => undefined),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.#commandTimeoutMs);
      }),
    ]);
    clearTimeout(timer);
    client.disconnect();
  }

  #connect(options: RedisConnectionOptions, role: string, redisOptions: RedisOptions): Redis {
    const client = new Redis(options.url, redisOptions);
    let down = false;
    client.on('error', (error: Error) => {
      if (down || this.#closed) return;
      down = true;
      options.log.error({ err: error, connection: role }, '❌ Redis unreachable; retrying in the background');
    });
    client.on('ready', () => {
      if (!down) return;
      down = false;
      options.log.info({ connection: role }, 'Redis reachable again');
    });
    return client;
  }
}
