import { z } from 'zod';

/**
 * What happened to an item of a stream group:
 * - `set`: the item has a new current value (`data`);
 * - `delete`: the item was removed (`data` is null);
 * - `finished`: the group's workflow is finished; no event follows it;
 * - `cancelled`: the group's workflow was cancelled; no event follows it;
 * - `reset`: the history a resuming subscriber asked for is gone (trimmed or
 *   expired); the events that follow are all that is still kept;
 * - `ephemeral`: pushed to the subscribers live at that moment, never
 *   stored nor replayed; its `eventId` is the position the subscriber had
 *   already reached, so resuming after it loses nothing.
 */
export const StreamEventKindSchema = z.enum(['set', 'delete', 'finished', 'cancelled', 'reset', 'ephemeral']);
export type StreamEventKind = z.infer<typeof StreamEventKindSchema>;

/** The kinds that end a workflow's log: nothing follows them, and every subscription ends after one. */
export type EndKind = 'finished' | 'cancelled';

/** True for the workflow's last event (`finished` or `cancelled`). */
export function isEndKind(kind: StreamEventKind): kind is EndKind {
  return kind === 'finished' || kind === 'cancelled';
}

/**
 * The envelope of every event of every stream, as stored and as delivered.
 * A workflow's streams share one ordered log: event ids are monotonic per
 * workflow (the group), whichever stream an event belongs to.
 */
export type StreamEvent<TData, TStream extends string = string> = {
  /** Ordered within the workflow's log; pass it back as `lastEventId` to resume. */
  readonly eventId: string;
  /** The stream it belongs to: a union of these is discriminated by it. */
  readonly stream: TStream;
  readonly groupId: string;
  readonly itemId: string;
  readonly kind: StreamEventKind;
  readonly data: TData | null;
  /** ISO-8601 time of the write. */
  readonly time: string;
};

export const streamEventSchema = <TData extends z.ZodType>(data: TData) =>
  z.object({
    eventId: z.string(),
    stream: z.string(),
    groupId: z.string(),
    itemId: z.string(),
    kind: StreamEventKindSchema,
    data: data.nullable(),
    time: z.string(),
  });

/** Event ids are `<major>` or `<major>-<minor>` (Redis Streams ids), compared numerically. */
export const EventIdSchema = z
  .string()
  .regex(/^\d{1,20}(-\d{1,20})?$/, 'must be an event id such as "12" or "1700000000000-0"');

export function compareEventIds(a: string, b: string): number {
  const [aMajor = '0', aMinor = '0'] = a.split('-');
  const [bMajor = '0', bMinor = '0'] = b.split('-');
  const major = BigInt(aMajor) - BigInt(bMajor);
  if (major !== 0n) return major < 0n ? -1 : 1;
  const minor = BigInt(aMinor) - BigInt(bMinor);
  return minor === 0n ? 0 : minor < 0n ? -1 : 1;
}
