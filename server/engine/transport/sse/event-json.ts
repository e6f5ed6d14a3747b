/**
 * Stream events serialised once for every subscriber. A fan-out to N
 * subscribers otherwise runs superjson and JSON.stringify on the same event
 * N times; with this, each event's JSON text is made on its first delivery
 * and reused for the other subscribers.
 */
import type { StreamEvent } from '../../../../shared/stream-event.js';
import { transformer } from '../../../../shared/transformer.js';
import { JSON_TEXT } from '../json-text.js';

/**
 * An event with its JSON text. Its own fields are the event's, so it reads,
 * compares (`toEqual`) and serialises like the event. It is not a plain
 * object, so superjson passes it through as it is, and the WebSocket frames
 * (`transport/ws/frames.ts`) splice its cached text in (JSON_TEXT).
 */
export class SerializedEvent<TData> {
  declare readonly eventId: string;
  readonly #json: string;

  constructor(event: StreamEvent<TData>, json: string) {
    // Copied field by field in the event's own order, so that plain
    // JSON.stringify of this object gives the same text as `json`.
    Object.assign(this, event);
    this.#json = json;
  }

  /** The event's JSON text: what superjson would put in its `json` part. */
  get json(): string {
    return this.#json;
  }

  /** The same text, for transports that splice it in (see json-text.ts). */
  get [JSON_TEXT](): string {
    return this.#json;
  }
}

/**
 * Recently delivered events. Every subscriber of a group gets an event
 * within the same turn of the event loop, so a short list finds it for all
 * but the first; unlike a WeakMap, it costs the garbage collector nothing.
 */
const RECENT = 64;
const recentEvents: unknown[] = new Array<unknown>(RECENT).fill(null);
const recentSerialized: unknown[] = new Array<unknown>(RECENT).fill(null);
let nextSlot = 0;

/**
 * The event as it should be delivered: one SerializedEvent shared by the
 * subscribers that get it together. Events whose data needs superjson's
 * type annotations (dates, maps, undefined values) are returned as they
 * are, for superjson to handle.
 */
export function serializedEvent<TData>(event: StreamEvent<TData>): StreamEvent<TData> {
  // A fan-out asks for the same event many times in a row: the newest slot first.
  const newest = (nextSlot + RECENT - 1) % RECENT;
  const slot = recentEvents[newest] === event ? newest : recentEvents.indexOf(event);
  // The slot's twin holds what was made from this very event.
  if (slot !== -1) return recentSerialized[slot] as StreamEvent<TData>;
  const json = jsonText(event);
  // Same fields as the event (see the constructor): typed as what it reads as.
  const delivered =
    json === undefined ? event : (new SerializedEvent(event, json) as unknown as StreamEvent<TData>);
  recentEvents[nextSlot] = event;
  recentSerialized[nextSlot] = delivered;
  nextSlot = (nextSlot + 1) % RECENT;
  return delivered;
}

/**
 * The event's JSON text when superjson would add nothing to it (no `meta`),
 * else undefined. Stream data is almost always plain JSON, which a direct
 * check tells much faster than superjson's walk; anything the check is not
 * sure of goes through superjson.
 */
function jsonText(event: StreamEvent<unknown>): string | undefined {
  if (isPlainJson(event, 0)) return JSON.stringify(event);
  const { json, meta } = transformer.serialize(event);
  return meta === undefined ? JSON.stringify(json) : undefined;
}

/** Past this depth the check gives up and superjson decides. */
const MAX_PLAIN_DEPTH = 32;

/**
 * Whether `value` is JSON that superjson serialises as it is: null,
 * booleans, strings, finite numbers other than -0, dense arrays and plain
 * objects of such values. Undefined values, dates, maps, sets, bigints,
 * class instances, functions and symbols are not.
 */
export function isPlainJson(value: unknown, depth = 0): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value) && !Object.is(value, -0);
    case 'object': {
      if (value === null) return true;
      if (depth >= MAX_PLAIN_DEPTH) return false;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i += 1) {
          if (!(i in value) || !isPlainJson(value[i], depth + 1)) return false;
        }
        return true;
      }
      const prototype: unknown = Object.getPrototypeOf(value);
      if (prototype !== Object.prototype && prototype !== null) return false;
      for (const key in value) {
        if (!isPlainJson((value as Record<string, unknown>)[key], depth + 1)) return false;
      }
      return true;
    }
    case 'undefined':
    case 'bigint':
    case 'function':
    case 'symbol':
      return false;
  }
}
