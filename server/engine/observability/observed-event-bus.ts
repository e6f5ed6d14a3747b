import type { BusMessage } from '../bus/topics.js';
import type { ConsumerHandler, ConsumerHooks, DeadLetter, EventBus } from '../bus/event-bus.js';
import type { TraceStore } from '../traces/trace-store.js';

/** An event bus that records each published event as an `emit` entry of its trace. */
export class ObservedEventBus implements EventBus {
  readonly #inner: EventBus;
  readonly #traces: TraceStore;

  constructor(inner: EventBus, traces: TraceStore) {
    this.#inner = inner;
    this.#traces = traces;
  }

  async publish(topic: string, data: unknown, meta: { readonly traceId: string }): Promise<void> {
    // Recorded first: consumers may start (and trace their runs) before publish resolves.
    this.#traces.record(meta.traceId, { kind: 'emit', topic });
    await this.#inner.publish(topic, data, meta);
  }

  consume(consumer: string, topic: string, handler: ConsumerHandler, hooks?: ConsumerHooks): void {
    this.#inner.consume(consumer, topic, handler, hooks);
  }

  resume(consumer: string, message: BusMessage, key: string): Promise<void> {
    return this.#inner.resume(consumer, message, key);
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
