import type { Redis } from 'ioredis';

import type { Logger } from '../../log.js';

export type RedisChannelsOptions = {
  /** Publishes (the command connection). */
  readonly publisher: Redis;
  /** Used only by this: a connection in subscriber mode can run nothing else. */
  readonly subscriber: Redis;
  readonly log: Logger;
};

/**
 * Redis pub/sub for messages that are never stored: one subscriber
 * connection per process, one Redis subscription per channel however many
 * local listeners it has. A message reaches the listeners subscribed when
 * it is published, on every instance; one published while a subscription
 * is being made, or while the connection is down, is missed.
 */
export class RedisChannels {
  readonly #options: RedisChannelsOptions;
  readonly #listeners = new Map<string, Set<(message: string) => void>>();

  constructor(options: RedisChannelsOptions) {
    this.#options = options;
    options.subscriber.on('message', (channel: string, message: string) => {
      for (const listener of this.#listeners.get(channel) ?? []) listener(message);
    });
  }

  /** Calls `listener` with each message of `channel` from now on. Returns the function that stops it. */
  listen(channel: string, listener: (message: string) => void): () => void {
    let listeners = this.#listeners.get(channel);
    if (!listeners) {
      listeners = new Set();
      this.#listeners.set(channel, listeners);
      this.#options.subscriber.subscribe(channel).catch((error: unknown) => {
        this.#options.log.warn(
          { err: error, channel },
          'Cannot subscribe to a channel; its messages are missed',
        );
      });
    }
    const current = listeners;
    current.add(listener);
    return () => {
      if (!current.delete(listener) || current.size > 0 || this.#listeners.get(channel) !== current) return;
      this.#listeners.delete(channel);
      this.#options.subscriber.unsubscribe(channel).catch(() => undefined);
    };
  }

  /** Publishes `message` to `channel`'s listeners on every instance. */
  async publish(channel: string, message: string): Promise<void> {
    await this.#options.publisher.publish(channel, message);
  }

  /** Channels with local listeners (for leak checks). */
  get channelCount(): number {
    return this.#listeners.size;
  }
}
