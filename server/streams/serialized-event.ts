/**
 * Stream events serialised once for every subscriber. A fan-out to N
 * subscribers otherwise runs superjson and JSON.stringify on the same event
 * N times; with this, each event's JSON text is made on first delivery and
 * reused by every subscriber on every WebSocket.
 */
import type { StreamEvent } from '../../shared/stream-event.js';
import { transformer } from '../../shared/transformer.js';

/**
 * An event with its JSON text. Its own fields are the event's, so it reads,
 * compares (`toEqual`) and serialises like the event. It is not a plain
 * object, so superjson passes it through as it is, and the WebSocket encoder
 * (`ws-encoder.ts`) writes its cached text in place.
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
}

const cache = new WeakMap<object, SerializedEvent<unknown>>();

/**
 * The event as it should be delivered: one shared SerializedEvent per event
 * object. Events whose data needs superjson's type annotations (dates,
 * maps, undefined values) are returned as they are, for superjson to handle.
 */
export function serializedEvent<TData>(event: StreamEvent<TData>): StreamEvent<TData> {
  const cached = cache.get(event);
  if (cached) return cached as unknown as StreamEvent<TData>;
  const { json, meta } = transformer.serialize(event);
  if (meta !== undefined) return event;
  const serialized = new SerializedEvent(event, JSON.stringify(json));
  cache.set(event, serialized as SerializedEvent<unknown>);
  // Same fields as the event (see the constructor): typed as what it reads as.
  return serialized as unknown as StreamEvent<TData>;
}
