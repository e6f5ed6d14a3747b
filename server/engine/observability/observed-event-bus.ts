import type { ConsumerHandler, ConsumerHooks, DeadLetter, EventBus } from '../bus/event-bus.js';
import type { PublishMeta } from '../bus/topics.js';
import type { WorkflowTracing } from './hooks.js';
import type { TraceStore } from '../traces/trace-store.js';

/**
 * An event bus that records each published event as an `emit` entry of its
 * trace and, when spans are exported, as an event of the current span,
 * whose context the message then carries to its consumers.
 */
export class ObservedEventBus implements EventBus {
  readonly #inner: EventBus;
  readonly #traces: TraceStore;
  readonly #tracing: WorkflowTracing | null;

  constructor(inner: EventBus, traces: TraceStore, tracing: WorkflowTracing | null = null) {
    this.#inner = inner;
    this.#traces = traces;
    this.#tracing = tracing;
  }

  async publish(topic: string, data: unknown, meta: PublishMeta): Promise<void> {
    // Recorded first: consumers may start (and trace their runs) before publish resolves.
    this.#traces.record(meta.traceId, { kind: 'emit', topic });
    const context = this.#tracing?.published(meta.traceId, topic);
    await this.#inner.publish(topic, data, context ? { ...meta, context } : meta);
  }

  consume(consumer: string, topic: string, handler: ConsumerHandler, hooks?: ConsumerHooks): void {
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
