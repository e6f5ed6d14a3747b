/**
 * The service's configuration: parsed once from the environment at start-up,
 * then passed down as a value. No other module reads `process.env`.
 */
import { z } from 'zod';

const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max);

/** An http(s) URL, as an OTLP/HTTP endpoint must be. */
const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' });

const list = z.string().transform((s) =>
  s
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean),
);

export const EnvSchema = z
  .object({
    PORT: int(0, 65_535).default(3000),
    HOST: z.string().min(1).default('127.0.0.1'),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    LOG_MAX_BUFFERED_BYTES: int(0).default(4_194_304),

    OPENAI_API_KEY: z.string().min(1).optional(),
    OPENAI_BASE_URL: z.url().optional(),
    OPENAI_MODEL: z.string().min(1).default('gpt-4o-mini'),
    OPENAI_TIMEOUT_MS: int(1).default(30_000),
    OPENAI_MAX_RETRIES: int(0, 10).default(2),
    OPENAI_TOTAL_TIMEOUT_MS: int(1).optional(),
    OPENAI_RESPONSE_FORMAT: z.enum(['json_schema', 'json_object']).default('json_schema'),

    FEEDING_CHECK_DELAY_MS: int(0).default(1000),

    STREAM_TOKEN_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
    STREAM_TOKEN_PREVIOUS_SECRETS: list.optional(),
    STREAM_TOKEN_TTL_SECONDS: int(1).default(86_400),
    STREAM_HISTORY_LIMIT: int(1).default(1000),
    STREAM_RETENTION_MS: int(0).default(3_600_000),
    MEMORY_MAX_WORKFLOWS: int(1).default(10_000),
    MEMORY_MAX_BYTES: int(1024).default(134_217_728),
    WORKFLOW_MAX_RUNTIME_MS: int(1).default(900_000),
    WORKFLOW_CHECK_INTERVAL_MS: int(10).default(10_000),
    TRACE_MAX_TRACES: int(1).default(10_000),
    TRACE_MAX_ENTRIES: int(10).default(1000),

    STEP_MAX_ATTEMPTS: int(1, 100).default(3),
    STEP_RETRY_BASE_MS: int(0).default(200),
    STEP_TIMEOUT_MS: int(1).default(120_000),
    STEP_LEASE_MS: int(100).default(30_000),

    WS_MAX_PAYLOAD_BYTES: int(1024).default(1_048_576),
    HTTP_MAX_BODY_BYTES: int(1024).default(1_048_576),
    MAX_CONNECTIONS: int(1).default(10_000),
    MAX_CONNECTIONS_PER_CLIENT: int(1).default(256),
    HTTP_HEADERS_TIMEOUT_MS: int(1).default(10_000),
    HTTP_REQUEST_TIMEOUT_MS: int(1).default(30_000),
    HTTP_KEEP_ALIVE_TIMEOUT_MS: int(1).default(5000),
    MAX_RESPONSE_BYTES: int(1024).default(4_194_304),
    WS_PING_MS: int(0).default(30_000),
    SSE_HEARTBEAT_MS: int(0).default(15_000),
    WS_MAX_BUFFERED_BYTES: int(1024).default(1_048_576),
    WS_SLOW_CONSUMER_MS: int(0).default(2000),
    MAX_SUBSCRIPTIONS_PER_CONNECTION: int(1).default(100),
    RATE_LIMIT_CREATE_PER_MINUTE: int(0).default(60),
    RATE_LIMIT_CREATE_BURST: int(1).default(20),
    SHUTDOWN_TIMEOUT_MS: int(0).default(10_000),

    API_KEYS: list
      .refine((keys) => keys.every((key) => key.length >= 16), 'each key must be at least 16 characters')
      .optional(),
    ALLOWED_ORIGINS: list
      .refine(
        (origins) => origins.every(isOrigin),
        'each entry must be an origin such as https://shelter.example',
      )
      .optional(),

    REDIS_URL: z.url().optional(),
    REDIS_KEY_PREFIX: z
      .string()
      .max(100)
      .regex(/^[\w:.-]+$/, 'must be letters, digits and `_ : . -` only')
      .default('petstream:'),
    REDIS_COMMAND_TIMEOUT_MS: int(50).default(2000),

    OTEL_EXPORTER_OTLP_ENDPOINT: httpUrl.optional(),
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: httpUrl.optional(),
    OTEL_EXPORTER_OTLP_HEADERS: list.transform(headerPairs).optional(),
    OTEL_SERVICE_NAME: z.string().min(1).max(255).default('pet-stream'),
    OTEL_BSP_SCHEDULE_DELAY: int(0).default(5000),
  })
  .superRefine((env, ctx) => {
    // A workflow must outlive one step attempt before it may be stopped for running too long.
    if (env.WORKFLOW_MAX_RUNTIME_MS <= env.STEP_TIMEOUT_MS) {
      ctx.addIssue({
        code: 'custom',
        path: ['WORKFLOW_MAX_RUNTIME_MS'],
        message: `must be above STEP_TIMEOUT_MS (${env.STEP_TIMEOUT_MS})`,
      });
    }
    // Node's HTTP server refuses a headers timeout longer than the whole-request timeout.
    if (env.HTTP_HEADERS_TIMEOUT_MS > env.HTTP_REQUEST_TIMEOUT_MS) {
      ctx.addIssue({
        code: 'custom',
        path: ['HTTP_HEADERS_TIMEOUT_MS'],
        message: `must be at most HTTP_REQUEST_TIMEOUT_MS (${env.HTTP_REQUEST_TIMEOUT_MS})`,
      });
    }
    // The model's bound must leave the step attempt time to write the fallback profile.
    if (env.OPENAI_TOTAL_TIMEOUT_MS !== undefined && env.OPENAI_TOTAL_TIMEOUT_MS >= env.STEP_TIMEOUT_MS) {
      ctx.addIssue({
        code: 'custom',
        path: ['OPENAI_TOTAL_TIMEOUT_MS'],
        message: `must be below STEP_TIMEOUT_MS (${env.STEP_TIMEOUT_MS})`,
      });
    }
  });

export type Env = z.infer<typeof EnvSchema>;

/** `key=value` pairs, percent-encoded as the OpenTelemetry specification has them. */
function headerPairs(pairs: readonly string[], ctx: z.RefinementCtx): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    try {
      const key = decodeURIComponent(pair.slice(0, at).trim());
      const value = decodeURIComponent(pair.slice(at + 1).trim());
      if (at < 1 || !/^[!#$%&'*+.^`|~\w-]+$/.test(key) || value === '') throw new URIError(pair);
      headers[key] = value;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be comma-separated key=value pairs' });
      return headers;
    }
  }
  return headers;
}

function isOrigin(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.pathname === '/' && !url.search;
  } catch {
    return false;
  }
}

export type Config = {
  readonly port: number;
  readonly host: string;
  readonly logLevel: Env['LOG_LEVEL'];
  /** Log output waiting for a slow reader (standard output); lines beyond are dropped and counted. */
  readonly logMaxBufferedBytes: number;
  readonly openai: {
    readonly apiKey: string | undefined;
    readonly baseURL: string | undefined;
    readonly model: string;
    readonly timeoutMs: number;
    readonly maxRetries: number;
    /** Bound on one whole enrichment call, retries included; below the step timeout. */
    readonly totalTimeoutMs: number;
    readonly responseFormat: Env['OPENAI_RESPONSE_FORMAT'];
  };
  readonly feedingCheckDelayMs: number;
  readonly streams: {
    /** Undefined when unset: a random secret is made per process, with a warning. */
    readonly tokenSecret: string | undefined;
    readonly previousTokenSecrets: readonly string[];
    readonly tokenTtlSeconds: number;
    readonly historyLimit: number;
    readonly retentionMs: number;
    /** Memory backend: finished workflows kept at most; the oldest finished go first beyond it. */
    readonly memoryMaxWorkflows: number;
    /** Memory backend: estimated bytes (as JSON) of stream events and trace entries kept; the oldest finished go first beyond it. */
    readonly memoryMaxBytes: number;
  };
  readonly workflows: {
    /** A workflow still running this long after it started is stopped, its unfinished steps failed. */
    readonly maxRuntimeMs: number;
    /** How often an instance checks the workflows it started (lost by storage, or running too long). */
    readonly checkIntervalMs: number;
  };
  readonly traces: {
    /** Workflow traces kept in memory; the oldest is dropped beyond it. */
    readonly maxTraces: number;
    /** Entries kept per trace; the oldest are dropped beyond it. */
    readonly maxEntries: number;
  };
  readonly steps: {
    readonly maxAttempts: number;
    readonly retryBaseMs: number;
    readonly timeoutMs: number;
    /** On Redis: a step attempt whose instance stops renewing its lease this long is retried elsewhere. */
    readonly leaseMs: number;
  };
  readonly limits: {
    readonly wsMaxPayloadBytes: number;
    readonly httpMaxBodyBytes: number;
    /** Open TCP connections (HTTP, SSE and WebSocket alike); more are refused with 503. */
    readonly maxConnections: number;
    /** Open TCP connections from one remote address; at most `maxConnections`. */
    readonly maxConnectionsPerClient: number;
    /** Time a client has to send a request's headers before its connection is closed. */
    readonly httpHeadersTimeoutMs: number;
    /** Time a client has to send a whole request (headers and body); 408, then closed. */
    readonly httpRequestTimeoutMs: number;
    /** Idle time a keep-alive connection is held open between requests. */
    readonly httpKeepAliveTimeoutMs: number;
    /** Largest answer of one HTTP request (a whole batch) or one WebSocket call. */
    readonly maxResponseBytes: number;
    readonly wsPingMs: number;
    /** Quiet time after which a plain SSE stream gets a heartbeat comment; 0 disables. */
    readonly sseHeartbeatMs: number;
    /** A WebSocket whose unsent output stays above this is a slow consumer. */
    readonly wsMaxBufferedBytes: number;
    /** How long a WebSocket may stay above `wsMaxBufferedBytes` before it is closed. */
    readonly wsSlowConsumerMs: number;
    readonly maxSubscriptionsPerConnection: number;
    /** Sustained `pets.create` calls per client per minute; 0 turns the limit off. */
    readonly createRatePerMinute: number;
    readonly createRateBurst: number;
    readonly shutdownTimeoutMs: number;
  };
  readonly security: {
    /** Empty: no key is required. Otherwise mutations and WebSocket connections need one of them. */
    readonly apiKeys: readonly string[];
    /** Empty: any Origin may open a WebSocket. */
    readonly allowedOrigins: readonly string[];
  };
  /** OpenTelemetry trace export; null (nothing exported, no SDK started) without an endpoint. */
  readonly otel: OtelConfig | null;
  readonly redisUrl: string | undefined;
  readonly redis: {
    /** Starts every key this service writes, so several services (or tests) can share one Redis. */
    readonly keyPrefix: string;
    /** A Redis command unanswered this long fails, so callers get an error instead of a hang. */
    readonly commandTimeoutMs: number;
  };
};

export type OtelConfig = {
  /** Where spans are posted (OTLP/HTTP, JSON). */
  readonly tracesUrl: string;
  /** Sent with every export (a collector's or vendor's credentials). */
  readonly headers: Readonly<Record<string, string>>;
  readonly serviceName: string;
  /** Ended spans wait at most this long before they are sent in a batch. */
  readonly exportDelayMs: number;
};

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/** Parses the environment; throws one ConfigError naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // An empty variable means "unset", as in most deployment tools.
  const present = Object.fromEntries(
    Object.keys(EnvSchema.shape)
      .map((key) => [key, env[key]] as const)
      .filter(([, value]) => value !== undefined && value !== ''),
  );
  const parsed = EnvSchema.safeParse(present);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => {
        const key = issue.path.join('.');
        return `${key}: ${issue.message} (got ${JSON.stringify(env[key])})`;
      }),
    );
  }
  const e = parsed.data;
  return {
    port: e.PORT,
    host: e.HOST,
    logLevel: e.LOG_LEVEL,
    logMaxBufferedBytes: e.LOG_MAX_BUFFERED_BYTES,
    openai: {
      apiKey: e.OPENAI_API_KEY,
      baseURL: e.OPENAI_BASE_URL,
      model: e.OPENAI_MODEL,
      timeoutMs: e.OPENAI_TIMEOUT_MS,
      maxRetries: e.OPENAI_MAX_RETRIES,
      totalTimeoutMs: e.OPENAI_TOTAL_TIMEOUT_MS ?? Math.floor((e.STEP_TIMEOUT_MS * 3) / 4),
      responseFormat: e.OPENAI_RESPONSE_FORMAT,
    },
    feedingCheckDelayMs: e.FEEDING_CHECK_DELAY_MS,
    streams: {
      tokenSecret: e.STREAM_TOKEN_SECRET,
      previousTokenSecrets: e.STREAM_TOKEN_PREVIOUS_SECRETS ?? [],
      tokenTtlSeconds: e.STREAM_TOKEN_TTL_SECONDS,
      historyLimit: e.STREAM_HISTORY_LIMIT,
      retentionMs: e.STREAM_RETENTION_MS,
      memoryMaxWorkflows: e.MEMORY_MAX_WORKFLOWS,
      memoryMaxBytes: e.MEMORY_MAX_BYTES,
    },
    workflows: { maxRuntimeMs: e.WORKFLOW_MAX_RUNTIME_MS, checkIntervalMs: e.WORKFLOW_CHECK_INTERVAL_MS },
    traces: { maxTraces: e.TRACE_MAX_TRACES, maxEntries: e.TRACE_MAX_ENTRIES },
    steps: {
      maxAttempts: e.STEP_MAX_ATTEMPTS,
      retryBaseMs: e.STEP_RETRY_BASE_MS,
      timeoutMs: e.STEP_TIMEOUT_MS,
      leaseMs: e.STEP_LEASE_MS,
    },
    limits: {
      wsMaxPayloadBytes: e.WS_MAX_PAYLOAD_BYTES,
      httpMaxBodyBytes: e.HTTP_MAX_BODY_BYTES,
      maxConnections: e.MAX_CONNECTIONS,
      maxConnectionsPerClient: Math.min(e.MAX_CONNECTIONS_PER_CLIENT, e.MAX_CONNECTIONS),
      httpHeadersTimeoutMs: e.HTTP_HEADERS_TIMEOUT_MS,
      httpRequestTimeoutMs: e.HTTP_REQUEST_TIMEOUT_MS,
      httpKeepAliveTimeoutMs: e.HTTP_KEEP_ALIVE_TIMEOUT_MS,
      maxResponseBytes: e.MAX_RESPONSE_BYTES,
      wsPingMs: e.WS_PING_MS,
      sseHeartbeatMs: e.SSE_HEARTBEAT_MS,
      wsMaxBufferedBytes: e.WS_MAX_BUFFERED_BYTES,
      wsSlowConsumerMs: e.WS_SLOW_CONSUMER_MS,
      maxSubscriptionsPerConnection: e.MAX_SUBSCRIPTIONS_PER_CONNECTION,
      createRatePerMinute: e.RATE_LIMIT_CREATE_PER_MINUTE,
      createRateBurst: e.RATE_LIMIT_CREATE_BURST,
      shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    },
    security: {
      apiKeys: e.API_KEYS ?? [],
      allowedOrigins: (e.ALLOWED_ORIGINS ?? []).map((origin) => new URL(origin).origin),
    },
    otel: otelConfig(e),
    redisUrl: e.REDIS_URL,
    redis: { keyPrefix: e.REDIS_KEY_PREFIX, commandTimeoutMs: e.REDIS_COMMAND_TIMEOUT_MS },
  };
}

/**
 * As OpenTelemetry's SDKs read these variables: a traces endpoint is used
 * as it is; the general endpoint gets the signal's path, `/v1/traces`.
 */
function otelConfig(e: Env): OtelConfig | null {
  const base = e.OTEL_EXPORTER_OTLP_ENDPOINT;
  const tracesUrl =
    e.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ??
    (base === undefined ? undefined : `${base.replace(/\/+$/, '')}/v1/traces`);
  if (tracesUrl === undefined) return null;
  const headers = e.OTEL_EXPORTER_OTLP_HEADERS ?? {};
  return { tracesUrl, headers, serviceName: e.OTEL_SERVICE_NAME, exportDelayMs: e.OTEL_BSP_SCHEDULE_DELAY };
}
