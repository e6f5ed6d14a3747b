import type { ConsumerHandler, ConsumerHooks, DeadLetter, EventBus } from '../bus/event-bus.js';
import type { Topic, TopicPayload } from '../bus/topics.js';
import type { TraceStore } from './trace-store.js';

/** An event bus that records each published event as an `emit` entry of its trace. */
export class ObservedEventBus implements EventBus {
  readonly #inner: EventBus;
  readonly #traces: TraceStore;

  constructor(inner: EventBus, traces: TraceStore) {
    this.#inner = inner;
    this.#traces = traces;
  }

  async publish<TTopic extends Topic>(
    topic: TTopic,
    data: TopicPayload<TTopic>,
    meta: { readonly traceId: string },
  ): Promise<void> {
    // Recorded first: consumers may start (and trace their runs) before publish resolves.
    this.#traces.record(meta.traceId, { kind: 'emit', topic });
    await this.#inner.publish(topic, data, meta);
  }

  consume<TTopic extends Topic>(
    consumer: string,
    topic: TTopic,
    handler: ConsumerHandler<TTopic>,
    hooks?: ConsumerHooks,
  ): void {
    this.#inner.consume(consumer, topic, handler, hooks);
  }

  deadLetters(): Promise<DeadLetter[]> {
    return this.#inner.deadLetters();
  }

  onIdle(): Promise<void> {
    return this.#inner.onIdle();
  }

  close(timeoutMs?: number): Promise<void> {
    return this.#inner.close(timeoutMs);
  }
}
