import { z } from 'zod';

const byName = z.record(z.string(), z.number());

/** Stream analytics and workflow figures of one server process, as `system.stats` returns them. */
export const SystemStatsSchema = z.object({
  /** When these figures were taken (ISO-8601). */
  at: z.string(),
  uptimeSeconds: z.number(),
  /** Open WebSocket connections. */
  connectedClients: z.number().int(),
  activeSubscriptions: z.object({ total: z.number().int(), byStream: byName }),
  eventsWritten: z.object({ total: z.number().int(), byStream: byName }),
  eventsDelivered: z.object({ total: z.number().int(), byStream: byName }),
  /** Events handed to subscribers per second, over the last 10 seconds. */
  deliveryRatePerSecond: z.number(),
  /** Events written per second, over the last 10 seconds. */
  writeRatePerSecond: z.number(),
  /** Write → delivery time of live events. Null figures until one was delivered. */
  deliveryLag: z.object({
    count: z.number().int(),
    meanMs: z.number().nullable(),
    /** Upper bound of the histogram bucket holding the 95th percentile. */
    p95Ms: z.number().nullable(),
  }),
  workflows: z.object({
    started: z.number().int(),
    finished: z.number().int(),
    /** Started here and not yet seen finishing. */
    running: z.number().int(),
    /**
     * Finished workflows dropped from memory before their retention passed,
     * to stay within MEMORY_MAX_WORKFLOWS and MEMORY_MAX_BYTES.
     */
    evicted: z.number().int(),
  }),
  steps: z.object({
    /** Attempts that ended (succeeded, failed, or interrupted by shutdown). */
    runs: z.number().int(),
    failures: z.number().int(),
    byStep: z.record(
      z.string(),
      z.object({ runs: z.number().int(), failures: z.number().int(), meanMs: z.number().nullable() }),
    ),
  }),
  requests: z.object({ http: z.number().int(), ws: z.number().int() }),
  /** Traces kept in memory. */
  traces: z.number().int(),
  /** Log lines dropped because standard output's reader was too slow or gone. */
  logLinesDropped: z.number().int(),
});
export type SystemStats = z.infer<typeof SystemStatsSchema>;
