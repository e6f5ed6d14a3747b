import { z } from 'zod';

/**
 * A workflow's trace id: 128 random bits as 32 lowercase hex characters
 * (the W3C trace-context format), so it is unguessable and fits tracing tools.
 */
export const TraceIdSchema = z
  .string()
  .regex(/^[0-9a-f]{32}$/, 'must be 32 lowercase hex characters')
  .brand<'TraceId'>();
export type TraceId = z.infer<typeof TraceIdSchema>;
