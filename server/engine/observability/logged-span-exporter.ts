import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';

import type { Logger } from '../log.js';

/** A collector that is away fails every batch: log one failure per this interval. */
const ERROR_LOG_INTERVAL_MS = 10_000;

/**
 * An exporter whose failed batches are logged (a few at most): the SDK
 * would report them only to OpenTelemetry's global diagnostics. Spans of a
 * failed batch are dropped; the service goes on.
 */
export class LoggedSpanExporter implements SpanExporter {
  readonly #inner: SpanExporter;
  readonly #log: Logger;
  #lastErrorLog = Number.NEGATIVE_INFINITY;

  constructor(inner: SpanExporter, log: Logger) {
    this.#inner = inner;
    this.#log = log;
  }

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.#inner.export(spans, (result) => {
      if (result.code !== ExportResultCode.SUCCESS) this.#report(spans.length, result.error);
      done(result);
    });
  }

  shutdown(): Promise<void> {
    return this.#inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.#inner.forceFlush?.() ?? Promise.resolve();
  }

  #report(spans: number, error: Error | undefined): void {
    const at = Date.now();
    if (at - this.#lastErrorLog < ERROR_LOG_INTERVAL_MS) return;
    this.#lastErrorLog = at;
    this.#log.warn({ err: error, spans }, '⚠️ Trace export failed; these spans are dropped');
  }
}
