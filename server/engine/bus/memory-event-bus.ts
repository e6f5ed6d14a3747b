import { EventEmitter } from 'eventemitter3';

import { createDeferred, type Deferred } from '../../../shared/deferred.js';
import {
  retryDelayMs,
  type ConsumerHandler,
  type ConsumerHooks,
  type DeadLetter,
  type EventBus,
  type RetryPolicy,
} from './event-bus.js';
import type { BusMessage, PublishMeta, TopicRegistry } from './topics.js';

/** Dead letters kept; the oldest are dropped beyond it. */
const MAX_DEAD_LETTERS = 1000;
/** How long stopped handlers get to return once the delivery signal aborts. */
const STOP_WAIT_MS = 1000;

type Delivery = (message: BusMessage) => void;

export type MemoryEventBusOptions = RetryPolicy & {
  /** The topics carried, with their payload schemas. */
  readonly topics: TopicRegistry;
};

/** The embedded bus: eventemitter3 fan-out, retries on timers, dead letters in memory. */
export class MemoryEventBus implements EventBus {
  readonly #emitter = new EventEmitter<Record<string, [BusMessage]>>();
  readonly #policy: RetryPolicy;
  readonly #topics: TopicRegistry;
  readonly #dead: DeadLetter[] = [];
  /** Pending retry waits: they end when the shutdown grace time does. */
  readonly #waits = new Map<NodeJS.Timeout, () => void>();
  /** Aborts when the shutdown grace time ends: running handlers stop, nothing new starts. */
  readonly #stop = new AbortController();
  #pending = 0;
  #idle: Deferred<void> | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: MemoryEventBusOptions) {
    this.#policy = { maxAttempts: options.maxAttempts, retryBaseMs: options.retryBaseMs };
    this.#topics = options.topics;
  }

  async publish(topic: string, data: unknown, meta: PublishMeta): Promise<void> {
    if (this.#stop.signal.aborted) throw new Error('event bus is closed');
    const message = this.#topics.createMessage(topic, data, meta);
    this.#emitter.emit(topic, message);
  }

  consume(consumer: string, topic: string, handler: ConsumerHandler, hooks: ConsumerHooks = {}): void {
    if (!this.#topics.has(topic)) throw new TypeError(`Unknown topic \`${topic}\``);
    const deliver: Delivery = (message) => {
      this.#track(this.#run(consumer, message, handler, hooks));
    };
    this.#emitter.on(topic, deliver);
  }

  async deadLetters(): Promise<DeadLetter[]> {
    return [...this.#dead];
  }

  onIdle(): Promise<void> {
    if (this.#pending === 0) return Promise.resolve();
    this.#idle ??= createDeferred<void>();
    return this.#idle.promise;
  }

  /**
   * Running handlers, their retries and what they publish meanwhile get up
   * to `timeoutMs`; then the delivery signal aborts, pending retries are
   * dropped and whatever has not finished is interrupted.
   */
  close(timeoutMs = 10_000): Promise<void> {
    this.#closing ??= (async () => {
      await this.#idleWithin(timeoutMs);
      this.#stop.abort();
      this.#emitter.removeAllListeners();
      for (const [timer, resolve] of this.#waits) {
        clearTimeout(timer);
        resolve();
      }
      this.#waits.clear();
      await this.#idleWithin(STOP_WAIT_MS);
    })();
    return this.#closing;
  }

  async #run(
    consumer: string,
    message: BusMessage,
    handler: ConsumerHandler,
    hooks: ConsumerHooks,
  ): Promise<void> {
    const { maxAttempts } = this.#policy;
    const { signal } = this.#stop;
    // Handlers run after publish() returns: the publisher never waits for them.
    await Promise.resolve();
    for (let attempt = 1; ; attempt += 1) {
      if (signal.aborted) {
        hooks.onInterrupted?.(message, { attempt });
        return;
      }
      try {
        await handler(message, { attempt, maxAttempts, signal });
        return;
      } catch (error) {
        // Stopped by the shutdown: not the attempt's fault, and nothing runs it again here.
        if (signal.aborted) {
          hooks.onInterrupted?.(message, { attempt });
          return;
        }
        const retryInMs = attempt < maxAttempts ? retryDelayMs(this.#policy, attempt) : null;
        hooks.onAttemptFailed?.(message, { attempt, maxAttempts, error, retryInMs });
        if (retryInMs === null) {
          const letter: DeadLetter = {
            consumer,
            message,
            attempts: attempt,
            error: error instanceof Error ? error.message : String(error),
            diedAt: new Date().toISOString(),
          };
          this.#dead.push(letter);
          if (this.#dead.length > MAX_DEAD_LETTERS) this.#dead.shift();
          await hooks.onDead?.(letter);
          return;
        }
        await this.#wait(retryInMs);
      }
    }
  }

  async #idleWithin(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.onIdle(),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, ms);
      }),
    ]);
    clearTimeout(timer);
  }

  #wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#waits.delete(timer);
        resolve();
      }, ms);
      this.#waits.set(timer, resolve);
    });
  }

  #track(run: Promise<void>): void {
    this.#pending += 1;
    void run.finally(() => {
      this.#pending -= 1;
      if (this.#pending === 0 && this.#idle) {
        this.#idle.resolve();
        this.#idle = undefined;
      }
    });
  }
}
