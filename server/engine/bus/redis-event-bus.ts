/**
 * The bus on Redis, with BullMQ: one queue per consumer (step), one job per
 * consumer of a topic, added atomically by `publish`. Each job is held by one
 * worker at a time under a lease that its instance keeps renewing; when an
 * instance dies, BullMQ's stalled-job check hands the job to another one
 * after the lease runs out. Failed attempts are retried with backoff; jobs
 * that run out of attempts stay in the queue's failed set as dead letters.
 */
import { setTimeout as delay } from 'node:timers/promises';

import { DelayedError, FlowProducer, Queue, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';

import type { Logger } from '../log.js';
import type { RedisKeys } from '../backends/redis/keys.js';
import { throwFirstError } from '../backends/redis/replies.js';
import { whileReachable } from '../backends/redis/storage-unavailable.js';
import {
  retryDelayMs,
  type ConsumerHandler,
  type ConsumerHooks,
  type DeadLetter,
  type EventBus,
  type RetryPolicy,
} from './event-bus.js';
import type { BusMessage, PublishMeta, TopicRegistry } from './topics.js';

export type RedisEventBusOptions = RetryPolicy & {
  /** Publishing, the consumer registry and inspection. Should fail fast when Redis is away. */
  readonly client: Redis;
  /** Shared by the workers; BullMQ requires `maxRetriesPerRequest: null`. Each worker adds one blocking duplicate. */
  readonly workerClient: Redis;
  readonly keys: RedisKeys;
  /** The topics carried, with their payload schemas. */
  readonly topics: TopicRegistry;
  /** An attempt whose instance has not renewed its lease for this long is handed to another instance. */
  readonly leaseMs: number;
  /** Attempts one instance runs at once per consumer. @default 100 */
  readonly concurrency?: number;
  readonly log: Logger;
};

/** Dead letters kept per consumer; the oldest are dropped beyond it. */
const MAX_DEAD_LETTERS = 1000;
const RETRY_BACKOFF = 'bus-retry';
/** How often `onIdle` looks at the queues. */
const IDLE_POLL_MS = 25;
/** How long stopped attempts get to end (and go back to their queue) once the delivery signal aborts. */
const STOP_WAIT_MS = 1000;
/** Worker errors repeat while Redis is away: log one per this interval. */
const ERROR_LOG_INTERVAL_MS = 10_000;
const QUEUED_STATES = ['wait', 'active', 'delayed', 'prioritized', 'paused', 'waiting-children'] as const;

/** A failed attempt, carrying the backoff chosen for it to BullMQ. */
class AttemptFailed extends Error {
  override readonly name = 'AttemptFailed';
  constructor(
    cause: unknown,
    readonly retryInMs: number,
  ) {
    super(errorText(cause), { cause });
  }
}

type Registration = { readonly consumer: string; readonly topic: string };

export class RedisEventBus implements EventBus {
  readonly #options: RedisEventBusOptions & { readonly concurrency: number };
  readonly #flows: FlowProducer;
  readonly #queues = new Map<string, Queue<BusMessage>>();
  readonly #workers: Worker<BusMessage>[] = [];
  readonly #registrations: Registration[] = [];
  #running = 0;
  #runningChanged: (() => void) | undefined;
  #closing: Promise<void> | undefined;
  /** Aborts when the shutdown grace time ends: running attempts stop and go back to their queue. */
  readonly #stop = new AbortController();
  #lastErrorLog = 0;

  constructor(options: RedisEventBusOptions) {
    const concurrency = options.concurrency ?? 100;
    for (const [name, value, min] of [
      ['maxAttempts', options.maxAttempts, 1],
      ['retryBaseMs', options.retryBaseMs, 0],
      ['leaseMs', options.leaseMs, 1],
      ['concurrency', concurrency, 1],
    ] as const) {
      if (!Number.isInteger(value) || value < min) {
        throw new TypeError(`Expected \`${name}\` to be an integer >= ${min}, got \`${value}\``);
      }
    }
    this.#options = { ...options, concurrency };
    this.#flows = new FlowProducer({ connection: options.client, prefix: options.keys.queuePrefix() });
    this.#flows.on('error', this.#logError);
    // After a Redis restart (or a flush) the registry is gone: write it again.
    options.client.on('ready', this.#registerAll);
  }

  async publish(topic: string, data: unknown, meta: PublishMeta): Promise<void> {
    // Attempts finishing during the shutdown grace time may still publish.
    if (this.#stop.signal.aborted) throw new Error('event bus is closed');
    const message = this.#options.topics.createMessage(topic, data, meta);
    await whileReachable(async () => {
      const registered = await this.#options.client.smembers(this.#options.keys.topicConsumers(topic));
      const consumers = new Set([...registered, ...this.#localConsumers(topic)]);
      if (consumers.size === 0) return;
      // One MULTI: every consumer gets its job, or none does.
      await this.#flows.addBulk(
        [...consumers].map((consumer) => ({
          name: topic,
          queueName: queueName(consumer),
          data: message,
          opts: {
            // The message id is the job id: stable across redeliveries, so steps' idempotent writes hold.
            jobId: message.id,
            attempts: this.#options.maxAttempts,
            backoff: { type: RETRY_BACKOFF },
            removeOnComplete: true,
            removeOnFail: { count: MAX_DEAD_LETTERS },
          },
        })),
      );
    });
  }

  consume(consumer: string, topic: string, handler: ConsumerHandler, hooks: ConsumerHooks = {}): void {
    if (this.#closing) throw new Error('event bus is closed');
    if (!this.#options.topics.has(topic)) throw new TypeError(`Unknown topic \`${topic}\``);
    const { workerClient, keys, leaseMs, maxAttempts, concurrency } = this.#options;
    const worker = new Worker<BusMessage>(
      queueName(consumer),
      (job, token) => this.#process({ consumer, topic, job, token, handler, hooks }),
      {
        connection: workerClient,
        prefix: keys.queuePrefix(),
        concurrency,
        lockDuration: leaseMs,
        stalledInterval: leaseMs,
        // A message whose instances keep dying is given up after as many stalls as attempts.
        maxStalledCount: maxAttempts,
        settings: {
          backoffStrategy: (_attemptsMade, _type, error) =>
            error instanceof AttemptFailed ? error.retryInMs : 0,
        },
      },
    );
    worker.on('error', this.#logError);
    worker.on('failed', (job, error) => {
      // BullMQ fails a job without running it when it stalled too often.
      if (job && error.name === 'UnrecoverableError')
        this.#track(this.#diedUnrun(consumer, job, error, hooks));
    });
    this.#workers.push(worker);
    const registration = { consumer, topic };
    this.#registrations.push(registration);
    void this.#register(registration);
  }

  async deadLetters(): Promise<DeadLetter[]> {
    const letters = await whileReachable(async () => {
      const consumers = await this.#allConsumers();
      const perConsumer = await Promise.all(
        consumers.map(async (consumer) => {
          const jobs = await this.#queue(consumer).getFailed(0, MAX_DEAD_LETTERS - 1);
          return jobs.map((job): DeadLetter => ({
            consumer,
            message: job.data,
            attempts: job.attemptsMade,
            error: job.failedReason,
            diedAt: new Date(job.finishedOn ?? job.timestamp).toISOString(),
          }));
        }),
      );
      return perConsumer.flat();
    });
    return letters.sort((a, b) => a.diedAt.localeCompare(b.diedAt));
  }

  /** Resolves when no queue of any known consumer holds work, on any instance, and nothing runs here. */
  async onIdle(): Promise<void> {
    for (;;) {
      if (this.#running === 0 && (await this.#queuedJobs()) === 0 && this.#running === 0) return;
      await delay(IDLE_POLL_MS);
    }
  }

  /**
   * Stops taking work; running attempts get up to `timeoutMs` to finish.
   * Then they are told to stop: attempts interrupted by the shutdown go back
   * to their queue (not counted as failed) for another instance; attempts
   * that ignore it are abandoned and their lease expires.
   */
  close(timeoutMs = 10_000): Promise<void> {
    this.#closing ??= (async () => {
      this.#options.client.off('ready', this.#registerAll);
      const deadline = Date.now() + timeoutMs;
      // Take no new job; one already fetched goes straight back (see #process).
      for (const worker of this.#workers) void worker.pause(true).catch(this.#logError);
      await this.#whenNothingRuns(timeoutMs);
      this.#stop.abort();
      await this.#whenNothingRuns(STOP_WAIT_MS);
      const force = this.#running > 0;
      await withTimeout(
        Promise.all(this.#workers.map((worker) => worker.close(force).catch(this.#logError))),
        Math.max(STOP_WAIT_MS, deadline - Date.now()),
      );
      if (force)
        this.#options.log.warn(
          { running: this.#running },
          'Bus closed with attempts still running; their lease will expire',
        );
      await Promise.all([
        this.#flows.close(),
        ...[...this.#queues.values()].map((queue) => queue.close()),
      ]).catch(this.#logError);
    })();
    return this.#closing;
  }

  async #process(run: {
    readonly consumer: string;
    readonly topic: string;
    readonly job: Job<BusMessage>;
    readonly token: string | undefined;
    readonly handler: ConsumerHandler;
    readonly hooks: ConsumerHooks;
  }): Promise<void> {
    const { consumer, topic, job, token, handler, hooks } = run;
    if (this.#closing) {
      // Counted as running, so the connections stay open until the job is back in its queue.
      this.#running += 1;
      try {
        await putBack(job, token);
      } finally {
        this.#running -= 1;
        this.#runningChanged?.();
      }
    }
    const message = job.data;
    const attempt = job.attemptsMade + 1;
    const maxAttempts = job.opts.attempts ?? this.#options.maxAttempts;
    this.#running += 1;
    try {
      // A payload that no longer parses fails like any attempt, and ends as a dead letter.
      await handler(
        { ...message, topic, data: this.#options.topics.parse(topic, message.data) },
        { attempt, maxAttempts, signal: this.#stop.signal },
      );
    } catch (error) {
      // Interrupted by this instance's shutdown: not the attempt's fault.
      if (this.#closing) {
        hooks.onInterrupted?.(message, { attempt });
        await putBack(job, token);
      }
      const retryInMs = attempt < maxAttempts ? retryDelayMs(this.#options, attempt) : null;
      hooks.onAttemptFailed?.(message, { attempt, maxAttempts, error, retryInMs });
      if (retryInMs === null) {
        await hooks.onDead?.({
          consumer,
          message,
          attempts: attempt,
          error: errorText(error),
          diedAt: new Date().toISOString(),
        });
      }
      throw new AttemptFailed(error, retryInMs ?? 0);
    } finally {
      this.#running -= 1;
      this.#runningChanged?.();
    }
  }

  async #diedUnrun(
    consumer: string,
    job: Job<BusMessage>,
    error: Error,
    hooks: ConsumerHooks,
  ): Promise<void> {
    const message = job.data;
    const maxAttempts = job.opts.attempts ?? this.#options.maxAttempts;
    hooks.onAttemptFailed?.(message, { attempt: job.attemptsMade, maxAttempts, error, retryInMs: null });
    await hooks.onDead?.({
      consumer,
      message,
      attempts: job.attemptsMade,
      error: error.message,
      diedAt: new Date().toISOString(),
    });
  }

  #track(run: Promise<void>): void {
    this.#running += 1;
    void run.catch(this.#logError).finally(() => {
      this.#running -= 1;
      this.#runningChanged?.();
    });
  }

  async #whenNothingRuns(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.#running > 0 && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, deadline - Date.now());
        this.#runningChanged = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#runningChanged = undefined;
    }
  }

  #localConsumers(topic: string): string[] {
    return this.#registrations.filter((r) => r.topic === topic).map((r) => r.consumer);
  }

  async #allConsumers(): Promise<string[]> {
    const registered = await this.#options.client.smembers(this.#options.keys.consumers());
    return [...new Set([...registered, ...this.#registrations.map((r) => r.consumer)])];
  }

  async #queuedJobs(): Promise<number> {
    const consumers = await whileReachable(() => this.#allConsumers());
    const counts = await whileReachable(() =>
      Promise.all(consumers.map((consumer) => this.#queue(consumer).getJobCountByTypes(...QUEUED_STATES))),
    );
    return counts.reduce((sum, count) => sum + count, 0);
  }

  #queue(consumer: string): Queue<BusMessage> {
    let queue = this.#queues.get(consumer);
    if (!queue) {
      queue = new Queue<BusMessage>(queueName(consumer), {
        connection: this.#options.client,
        prefix: this.#options.keys.queuePrefix(),
      });
      queue.on('error', this.#logError);
      this.#queues.set(consumer, queue);
    }
    return queue;
  }

  async #register({ consumer, topic }: Registration): Promise<void> {
    const { client, keys } = this.#options;
    try {
      throwFirstError(
        await client
          .multi()
          .sadd(keys.topicConsumers(topic), consumer)
          .sadd(keys.consumers(), consumer)
          .exec(),
      );
    } catch (error) {
      // Written again on the next (re)connect.
      this.#logError(error);
    }
  }

  readonly #registerAll = (): void => {
    for (const registration of this.#registrations) void this.#register(registration);
  };

  readonly #logError = (error: unknown): void => {
    const now = Date.now();
    if (now - this.#lastErrorLog < ERROR_LOG_INTERVAL_MS) return;
    this.#lastErrorLog = now;
    this.#options.log.error({ err: error }, '❌ Event bus cannot reach Redis; retrying in the background');
  };
}

/** BullMQ queue names cannot contain `:`; consumer names may. */
function queueName(consumer: string): string {
  return encodeURIComponent(consumer);
}

/** Sends the job back to its queue without counting an attempt, and tells BullMQ so. */
async function putBack(job: Job<BusMessage>, token: string | undefined): Promise<never> {
  await job.moveToDelayed(Date.now(), token);
  throw new DelayedError();
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function withTimeout(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([work, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
