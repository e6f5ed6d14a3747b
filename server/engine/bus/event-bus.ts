import type { BusMessage, PublishMeta } from './topics.js';

export type DeliveryInfo = {
  /** 1 for the first attempt. */
  readonly attempt: number;
  readonly maxAttempts: number;
  /**
   * Aborted when the bus stops at the end of its shutdown grace time: the
   * attempt should end at once. It is then interrupted, not failed.
   */
  readonly signal: AbortSignal;
};

export type ConsumerHandler = (message: BusMessage, info: DeliveryInfo) => Promise<void>;

export type DeadLetter = {
  readonly consumer: string;
  readonly message: BusMessage;
  readonly attempts: number;
  readonly error: string;
  readonly diedAt: string;
};

export type ConsumerHooks = {
  /** An attempt failed; `retryInMs` is null when no attempt is left. */
  readonly onAttemptFailed?: (
    message: BusMessage,
    info: Omit<DeliveryInfo, 'signal'> & { readonly error: unknown; readonly retryInMs: number | null },
  ) => void;
  /** Every attempt failed: the message is dead for this consumer. */
  readonly onDead?: (letter: DeadLetter) => Promise<void>;
  /**
   * The bus shut down before the message was handled (its attempt was
   * stopped, or its retry will not run here). Not a failure: no dead letter;
   * on Redis the message goes back to its queue for another instance.
   */
  readonly onInterrupted?: (message: BusMessage, info: { readonly attempt: number }) => void;
};

export type RetryPolicy = {
  readonly maxAttempts: number;
  /** First retry waits this long; each later one twice as long, with jitter. */
  readonly retryBaseMs: number;
};

/**
 * Topic-based work distribution. `publish` only enqueues (callers never wait
 * for handlers); each message reaches every consumer of its topic, each
 * consumer handles it once when it succeeds, and failures are retried with
 * backoff, then recorded as dead letters. Payloads are validated against
 * the topic's schema (TopicRegistry) when published and when consumed; the
 * types of topics and payloads are checked where steps emit and handle them.
 */
export interface EventBus {
  publish(topic: string, data: unknown, meta: PublishMeta): Promise<void>;
  consume(consumer: string, topic: string, handler: ConsumerHandler, hooks?: ConsumerHooks): void;
  deadLetters(): Promise<DeadLetter[]>;
  /** Resolves when nothing is queued or running. */
  onIdle(): Promise<void>;
  /**
   * Graceful stop: running handlers get up to `timeoutMs` to finish; then
   * the delivery signal aborts and what is left is interrupted.
   */
  close(timeoutMs?: number): Promise<void>;
}

/** Exponential backoff with full jitter: the wait before attempt `attempt + 1`. */
export function retryDelayMs(policy: RetryPolicy, attempt: number): number {
  const ceiling = policy.retryBaseMs * 2 ** (attempt - 1);
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}
