/**
 * The service's configuration: parsed once from the environment at start-up,
 * then passed down as a value. No other module reads `process.env`.
 */
import { z } from 'zod';

const int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce.number().int().min(min).max(max);

const list = z
  .string()
  .transform((s) => s.split(',').map((part) => part.trim()).filter(Boolean));

export const EnvSchema = z.object({
  PORT: int(0, 65_535).default(3000),
  HOST: z.string().min(1).default('127.0.0.1'),
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
    .default('info'),

  OPENAI_API_KEY: z.string().min(1).optional(),
  OPENAI_BASE_URL: z.url().optional(),
  OPENAI_MODEL: z.string().min(1).default('gpt-4o-mini'),
  OPENAI_TIMEOUT_MS: int(1).default(30_000),
  OPENAI_MAX_RETRIES: int(0, 10).default(2),

  FEEDING_CHECK_DELAY_MS: int(0).default(1000),

  STREAM_TOKEN_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  STREAM_TOKEN_PREVIOUS_SECRETS: list.optional(),
  STREAM_TOKEN_TTL_SECONDS: int(1).default(86_400),
  STREAM_HISTORY_LIMIT: int(1).default(1000),
  STREAM_RETENTION_MS: int(0).default(3_600_000),

  STEP_MAX_ATTEMPTS: int(1, 100).default(3),
  STEP_RETRY_BASE_MS: int(0).default(200),
  STEP_TIMEOUT_MS: int(1).default(120_000),

  WS_MAX_PAYLOAD_BYTES: int(1024).default(1_048_576),
  HTTP_MAX_BODY_BYTES: int(1024).default(1_048_576),
  MAX_CONNECTIONS: int(1).default(10_000),
  WS_PING_MS: int(0).default(30_000),
  SHUTDOWN_TIMEOUT_MS: int(0).default(10_000),

  REDIS_URL: z.url().optional(),
});

export type Env = z.infer<typeof EnvSchema>;

export type Config = {
  readonly port: number;
  readonly host: string;
  readonly logLevel: Env['LOG_LEVEL'];
  readonly openai: {
    readonly apiKey: string | undefined;
    readonly baseURL: string | undefined;
    readonly model: string;
    readonly timeoutMs: number;
    readonly maxRetries: number;
  };
  readonly feedingCheckDelayMs: number;
  readonly streams: {
    /** Undefined when unset: a random secret is made per process, with a warning. */
    readonly tokenSecret: string | undefined;
    readonly previousTokenSecrets: readonly string[];
    readonly tokenTtlSeconds: number;
    readonly historyLimit: number;
    readonly retentionMs: number;
  };
  readonly steps: {
    readonly maxAttempts: number;
    readonly retryBaseMs: number;
    readonly timeoutMs: number;
  };
  readonly limits: {
    readonly wsMaxPayloadBytes: number;
    readonly httpMaxBodyBytes: number;
    readonly maxConnections: number;
    readonly wsPingMs: number;
    readonly shutdownTimeoutMs: number;
  };
  readonly redisUrl: string | undefined;
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
    openai: {
      apiKey: e.OPENAI_API_KEY,
      baseURL: e.OPENAI_BASE_URL,
      model: e.OPENAI_MODEL,
      timeoutMs: e.OPENAI_TIMEOUT_MS,
      maxRetries: e.OPENAI_MAX_RETRIES,
    },
    feedingCheckDelayMs: e.FEEDING_CHECK_DELAY_MS,
    streams: {
      tokenSecret: e.STREAM_TOKEN_SECRET,
      previousTokenSecrets: e.STREAM_TOKEN_PREVIOUS_SECRETS ?? [],
      tokenTtlSeconds: e.STREAM_TOKEN_TTL_SECONDS,
      historyLimit: e.STREAM_HISTORY_LIMIT,
      retentionMs: e.STREAM_RETENTION_MS,
    },
    steps: {
      maxAttempts: e.STEP_MAX_ATTEMPTS,
      retryBaseMs: e.STEP_RETRY_BASE_MS,
      timeoutMs: e.STEP_TIMEOUT_MS,
    },
    limits: {
      wsMaxPayloadBytes: e.WS_MAX_PAYLOAD_BYTES,
      httpMaxBodyBytes: e.HTTP_MAX_BODY_BYTES,
      maxConnections: e.MAX_CONNECTIONS,
      wsPingMs: e.WS_PING_MS,
      shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    },
    redisUrl: e.REDIS_URL,
  };
}
