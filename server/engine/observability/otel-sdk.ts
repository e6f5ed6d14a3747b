/**
 * The OpenTelemetry SDK as the service starts it: a tracer provider with
 * its own ids, a batch processor and the OTLP/HTTP (JSON) exporter, and
 * the W3C trace context propagator. Loaded only when an endpoint is set.
 */
import { randomUUID } from 'node:crypto';

import type { TextMapPropagator, Tracer } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, TracerProvider, type IdGenerator } from '@opentelemetry/sdk-trace';

import type { OtelConfig } from '../config.js';
import type { Logger } from '../log.js';
import { LoggedSpanExporter } from './logged-span-exporter.js';

export type OtelSdk = {
  readonly tracer: Tracer;
  readonly propagator: TextMapPropagator;
  /** Sends what has ended, then stops; never rejects. */
  readonly close: () => Promise<void>;
};

export function startOtelSdk(config: OtelConfig, log: Logger, ids: IdGenerator): OtelSdk {
  const exporter = new OTLPTraceExporter({ url: config.tracesUrl, headers: { ...config.headers } });
  const provider = new TracerProvider({
    resource: resourceFromAttributes({
      'service.name': config.serviceName,
      'service.instance.id': randomUUID(),
    }),
    idGenerator: ids,
    spanProcessors: [
      new BatchSpanProcessor({
        exporter: new LoggedSpanExporter(exporter, log),
        scheduledDelayMillis: config.exportDelayMs,
      }),
    ],
  });
  return {
    tracer: provider.getTracer('pet-stream-engine'),
    propagator: new W3CTraceContextPropagator(),
    // A collector that refuses the last batch does not fail the shutdown: the exporter has logged it.
    close: () => provider.shutdown().catch(() => undefined),
  };
}
