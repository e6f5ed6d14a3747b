/**
 * An OpenTelemetry collector's OTLP/HTTP trace endpoint on loopback: a real
 * HTTP server on port 0 that takes `POST /v1/traces` with the OTLP JSON
 * payload (gzip or not), decodes every span and answers as a collector does.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

import { z } from 'zod';

import { createDeferred, type Deferred } from '../../shared/deferred.js';

/** OTLP's `AnyValue`, as the JSON encoding writes the scalar kinds (64-bit integers may be strings). */
const AnyValue = z.union([
  z.object({ stringValue: z.string() }),
  z.object({ intValue: z.union([z.number(), z.string()]).transform(Number) }),
  z.object({ doubleValue: z.number() }),
  z.object({ boolValue: z.boolean() }),
]);
const KeyValues = z
  .array(z.object({ key: z.string(), value: AnyValue }))
  .optional()
  .transform((pairs) =>
    Object.fromEntries((pairs ?? []).map(({ key, value }) => [key, Object.values(value)[0]])),
  );
const Hex = (bytes: number) => z.string().regex(new RegExp(`^[0-9a-f]{${bytes * 2}}$`));
const Nanos = z.union([z.string(), z.number()]).transform((value) => BigInt(value));

const ExportTraceServiceRequest = z.object({
  resourceSpans: z.array(
    z.object({
      resource: z.object({ attributes: KeyValues }),
      scopeSpans: z.array(
        z.object({
          scope: z.object({ name: z.string() }),
          spans: z.array(
            z.object({
              traceId: Hex(16),
              spanId: Hex(8),
              // Absent, or empty, for a root span.
              parentSpanId: z
                .union([Hex(8), z.literal('')])
                .optional()
                .transform((id) => (id === undefined || id === '' ? null : id)),
              name: z.string(),
              kind: z.number().int(),
              startTimeUnixNano: Nanos,
              endTimeUnixNano: Nanos,
              attributes: KeyValues,
              events: z
                .array(z.object({ timeUnixNano: Nanos, name: z.string(), attributes: KeyValues }))
                .optional()
                .transform((events) => events ?? []),
              status: z
                .object({ code: z.number().int().optional(), message: z.string().optional() })
                .optional()
                .transform((status) => ({ code: status?.code ?? 0, message: status?.message })),
            }),
          ),
        }),
      ),
    }),
  ),
});

type Attributes = Readonly<Record<string, string | number | boolean>>;

/** OTLP span kinds. */
export const SPAN_KIND = { internal: 1, server: 2, client: 3, producer: 4, consumer: 5 } as const;
/** OTLP status codes. */
export const STATUS = { unset: 0, ok: 1, error: 2 } as const;

export type ReceivedSpan = {
  readonly traceId: string;
  readonly spanId: string;
  /** Null for a root span. */
  readonly parentSpanId: string | null;
  readonly name: string;
  readonly kind: number;
  readonly startNs: bigint;
  readonly endNs: bigint;
  readonly attributes: Attributes;
  readonly events: readonly {
    readonly name: string;
    readonly timeNs: bigint;
    readonly attributes: Attributes;
  }[];
  readonly status: { readonly code: number; readonly message: string | undefined };
  /** The exporting service's resource: `service.name`, `service.instance.id`. */
  readonly resource: Attributes;
  readonly scope: string;
};

export type OtlpReceiver = AsyncDisposable & {
  /** The base endpoint, as OTEL_EXPORTER_OTLP_ENDPOINT takes it. */
  readonly endpoint: string;
  /** Every span received, in arrival order. */
  readonly spans: ReceivedSpan[];
  /** Export requests received, and the headers of the last one. */
  readonly requests: () => number;
  readonly lastHeaders: () => http.IncomingHttpHeaders | undefined;
  /** Resolves once the spans received so far satisfy `done` (checked now and on every export). */
  readonly waitFor: (done: (spans: readonly ReceivedSpan[]) => boolean) => Promise<void>;
  /** The spans of one trace. */
  readonly trace: (traceId: string) => ReceivedSpan[];
};

/** `refuseWith`: answer every export with this HTTP status (a collector that rejects), keeping nothing. */
export async function startOtlpReceiver(
  options: { readonly refuseWith?: number } = {},
): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const waiters = new Set<{
    readonly done: (spans: readonly ReceivedSpan[]) => boolean;
    readonly met: Deferred<void>;
  }>();
  let requests = 0;
  let lastHeaders: http.IncomingHttpHeaders | undefined;

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/traces') {
        res.writeHead(404).end();
        return;
      }
      if (!req.headers['content-type']?.startsWith('application/json')) {
        res.writeHead(415).end();
        return;
      }
      const body = Buffer.concat(chunks);
      const text = (req.headers['content-encoding'] === 'gzip' ? gunzipSync(body) : body).toString('utf8');
      const parsed = ExportTraceServiceRequest.safeParse(JSON.parse(text));
      if (!parsed.success) {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ code: 3, message: z.prettifyError(parsed.error) }));
        return;
      }
      requests += 1;
      lastHeaders = req.headers;
      if (options.refuseWith !== undefined) {
        res.writeHead(options.refuseWith, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ code: 3, message: 'refused' }));
        return;
      }
      for (const { resource, scopeSpans } of parsed.data.resourceSpans) {
        for (const { scope, spans: received } of scopeSpans) {
          for (const span of received) {
            spans.push({
              traceId: span.traceId,
              spanId: span.spanId,
              parentSpanId: span.parentSpanId,
              name: span.name,
              kind: span.kind,
              startNs: span.startTimeUnixNano,
              endNs: span.endTimeUnixNano,
              attributes: span.attributes,
              events: span.events.map((event) => ({
                name: event.name,
                timeNs: event.timeUnixNano,
                attributes: event.attributes,
              })),
              status: span.status,
              resource: resource.attributes,
              scope: scope.name,
            });
          }
        }
      }
      // A collector's answer: an ExportTraceServiceResponse, all accepted.
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      for (const waiter of waiters) {
        if (!waiter.done(spans)) continue;
        waiters.delete(waiter);
        waiter.met.resolve();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    spans,
    requests: () => requests,
    lastHeaders: () => lastHeaders,
    waitFor: (done) => {
      if (done(spans)) return Promise.resolve();
      const met = createDeferred<void>();
      waiters.add({ done, met });
      return met.promise;
    },
    trace: (traceId) => spans.filter((span) => span.traceId === traceId),
    async [Symbol.asyncDispose]() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
