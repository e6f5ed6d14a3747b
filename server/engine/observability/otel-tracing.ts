/**
 * Workflow traces through the OpenTelemetry SDK, exported over OTLP/HTTP.
 * One trace per workflow, whose id is the workflow's trace id: the API call
 * that started it is the root span; each step attempt is a child of the
 * span that published its message, on whichever instance (the W3C context
 * travels in the bus message); stream writes and bus emits are events of
 * the span current where they happen. Built only when an endpoint is set.
 *
 * The current span is kept in this object's own AsyncLocalStorage, not in
 * OpenTelemetry's global context: nothing global is registered, so several
 * engines can share a process. The SDK itself is loaded here, when this is
 * built: a service without an endpoint never loads it.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';

import {
  defaultTextMapGetter,
  defaultTextMapSetter,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Span,
  type SpanOptions,
} from '@opentelemetry/api';

import type { DeadLetter } from '../bus/event-bus.js';
import type { BusMessage, TraceCarrier } from '../bus/topics.js';
import type { OtelConfig } from '../config.js';
import type { Logger } from '../log.js';
import type { StoredEvent } from '../streams/storage.js';
import { describeError } from '../traces/step-tracer.js';
import type { TracedAttempt, WorkflowTracing } from './hooks.js';
import type { OtelSdk } from './otel-sdk.js';

/** Where work runs: an API call (whose span exists once it starts a workflow) or a step attempt. */
type Scope = {
  span: Span | undefined;
  readonly call?: { readonly name: string; readonly startTime: number };
};

/** Span attributes, under the names the docs list. */
const ATTR = {
  traceId: 'workflow.trace_id',
  kind: 'workflow.kind',
  step: 'workflow.step',
  attempt: 'workflow.attempt',
  attempts: 'workflow.attempts',
  outcome: 'workflow.outcome',
  messageId: 'messaging.message.id',
  topic: 'messaging.destination.name',
} as const;

/** Milliseconds since the epoch, with the SDK's own clock's precision. */
const now = () => performance.timeOrigin + performance.now();

/**
 * Ids from the system's CSPRNG (a trace id is a workflow's, which must be
 * unguessable); the next root span may be given a workflow's trace id.
 */
class WorkflowIds {
  #next: string | undefined;

  generateTraceId(): string {
    const id = this.#next ?? randomBytes(16).toString('hex');
    this.#next = undefined;
    return id;
  }

  generateSpanId(): string {
    return randomBytes(8).toString('hex');
  }

  /** Starts a root span in the trace `traceId`: span starts are synchronous, so the id goes to this one. */
  rootIn(traceId: string, start: () => Span): Span {
    this.#next = traceId;
    try {
      return start();
    } finally {
      this.#next = undefined;
    }
  }
}

export class OtelTracing implements WorkflowTracing {
  readonly #ids = new WorkflowIds();
  readonly #scope = new AsyncLocalStorage<Scope>();
  /** Null when the SDK failed to load: then nothing is traced. */
  readonly #sdk: Promise<OtelSdk | null>;
  /** Set once loaded: spans exist only after it is (calls and attempts wait for it). */
  #loaded: OtelSdk | undefined;

  constructor(config: OtelConfig, log: Logger) {
    this.#sdk = import('./otel-sdk.js').then(
      ({ startOtelSdk }) => (this.#loaded = startOtelSdk(config, log, this.#ids)),
      (error: unknown) => {
        log.error({ err: error }, '❌ OpenTelemetry SDK failed to load; no traces are exported');
        return null;
      },
    );
  }

  readonly call = async <T extends { readonly ok: boolean }>(
    name: string,
    run: () => Promise<T>,
  ): Promise<T> => {
    const startTime = now();
    if (!(await this.#sdk)) return run();
    const scope: Scope = { span: undefined, call: { name, startTime } };
    let ok = false;
    try {
      const result = await this.#scope.run(scope, run);
      ok = result.ok;
      return result;
    } finally {
      if (!ok) scope.span?.setStatus({ code: SpanStatusCode.ERROR });
      scope.span?.end(now());
    }
  };

  readonly workflowStarted = (traceId: string, kind: string): void => {
    const scope = this.#scope.getStore();
    const call = scope?.call;
    const tracer = this.#loaded?.tracer;
    // Outside a call, or a call's second workflow: its steps' spans are the roots of its trace.
    if (!scope || !call || scope.span || !tracer) return;
    scope.span = this.#ids.rootIn(traceId, () =>
      tracer.startSpan(
        call.name,
        {
          kind: SpanKind.SERVER,
          startTime: call.startTime,
          attributes: { [ATTR.traceId]: traceId, [ATTR.kind]: kind },
        },
        ROOT_CONTEXT,
      ),
    );
  };

  readonly attempt = async <T>(
    message: BusMessage,
    { step, attempt, interrupted }: TracedAttempt,
    run: () => Promise<T>,
  ): Promise<T> => {
    const sdk = await this.#sdk;
    if (!sdk) return run();
    const span = this.#startStepSpan(sdk, step, message, {
      kind: SpanKind.CONSUMER,
      attributes: { [ATTR.step]: step, [ATTR.attempt]: attempt },
    });
    try {
      const value = await this.#scope.run({ span }, run);
      span.setAttribute(ATTR.outcome, 'succeeded');
      return value;
    } catch (error) {
      if (interrupted()) span.setAttribute(ATTR.outcome, 'interrupted');
      else {
        span.setAttribute(ATTR.outcome, 'failed');
        span.setStatus({ code: SpanStatusCode.ERROR, message: describeError(error) });
      }
      throw error;
    } finally {
      span.end(now());
    }
  };

  readonly givenUp = async <T>(letter: DeadLetter, run: () => Promise<T>): Promise<T> => {
    const sdk = await this.#sdk;
    if (!sdk) return run();
    const span = this.#startStepSpan(sdk, `${letter.consumer} dead`, letter.message, {
      kind: SpanKind.INTERNAL,
      attributes: { [ATTR.step]: letter.consumer, [ATTR.attempts]: letter.attempts, [ATTR.outcome]: 'dead' },
    });
    span.setStatus({ code: SpanStatusCode.ERROR, message: letter.error });
    try {
      return await this.#scope.run({ span }, run);
    } finally {
      span.end(now());
    }
  };

  readonly published = (traceId: string, topic: string): TraceCarrier | undefined => {
    const span = this.#current(traceId);
    // A span exists only once the SDK is loaded.
    if (!span || !this.#loaded) return undefined;
    span.addEvent('bus.emit', { [ATTR.topic]: topic });
    const carrier: Record<string, string> = {};
    this.#loaded.propagator.inject(trace.setSpan(ROOT_CONTEXT, span), carrier, defaultTextMapSetter);
    return carrier;
  };

  readonly written = (event: StoredEvent): void => {
    this.#current(event.groupId)?.addEvent('stream.write', {
      'stream.name': event.stream,
      'stream.event_id': event.eventId,
      'stream.item_id': event.itemId,
      'stream.event_kind': event.kind,
    });
  };

  readonly close = async (): Promise<void> => {
    await (await this.#sdk)?.close();
  };

  /** The current span, when it belongs to this workflow's trace. */
  #current(traceId: string): Span | undefined {
    const span = this.#scope.getStore()?.span;
    return span?.spanContext().traceId === traceId ? span : undefined;
  }

  /**
   * A span of a step's work on one message: the child of the span that
   * published it when the message carries its context, else a root of the
   * workflow's trace.
   */
  #startStepSpan(
    { tracer, propagator }: OtelSdk,
    name: string,
    message: BusMessage,
    { kind, attributes }: Required<Pick<SpanOptions, 'kind' | 'attributes'>>,
  ): Span {
    const options: SpanOptions = {
      kind,
      attributes: {
        [ATTR.traceId]: message.traceId,
        ...attributes,
        [ATTR.messageId]: message.id,
        [ATTR.topic]: message.topic,
      },
    };
    const parent = propagator.extract(ROOT_CONTEXT, message.context ?? {}, defaultTextMapGetter);
    if (trace.getSpanContext(parent)?.traceId === message.traceId) {
      return tracer.startSpan(name, options, parent);
    }
    return this.#ids.rootIn(message.traceId, () => tracer.startSpan(name, options, ROOT_CONTEXT));
  }
}
