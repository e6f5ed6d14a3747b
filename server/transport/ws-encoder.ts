/**
 * Encodes outgoing WebSocket messages: the same JSON text as JSON.stringify,
 * except that a SerializedEvent inside a message is written as its cached
 * JSON text instead of being serialised again for each subscriber.
 */
import { SerializedEvent } from '../streams/serialized-event.js';

/** tRPC's envelope is a few levels deep; deeper values go to JSON.stringify whole. */
const MAX_DEPTH = 6;

/** The message as JSON text (what tRPC's `Encoder.encode` returns). */
export function encodeMessage(message: unknown): string {
  return eventMessage(message) ?? stringify(message, 0) ?? 'null';
}

/**
 * The common message, one tracked event of a subscription, as tRPC's
 * adapter builds it: `{ id, jsonrpc?, result: { type: 'data', data: { json:
 * { id, data: event } }, id } }`. Only `id` and `jsonrpc` differ between
 * subscribers, so the rest is made once per event. Anything else, even a
 * key more or in another order, is left to the general path.
 */
function eventMessage(message: unknown): string | undefined {
  if (!isPlainObject(message)) return undefined;
  const { id, jsonrpc, result } = message;
  if (!isPlainObject(result) || !isPlainObject(result['data'])) return undefined;
  const json = result['data']['json'];
  if (!isPlainObject(json)) return undefined;
  const event = json['data'];
  if (!(event instanceof SerializedEvent)) return undefined;
  if (
    result['type'] !== 'data' ||
    result['id'] !== event.eventId ||
    json['id'] !== event.eventId ||
    (typeof id !== 'number' && typeof id !== 'string') ||
    (jsonrpc !== undefined && typeof jsonrpc !== 'string') ||
    !hasKeys(
      message,
      jsonrpc === undefined && !('jsonrpc' in message) ? ['id', 'result'] : ['id', 'jsonrpc', 'result'],
    ) ||
    !hasKeys(result, ['type', 'data', 'id']) ||
    !hasKeys(result['data'], ['json']) ||
    !hasKeys(json, ['id', 'data'])
  ) {
    return undefined;
  }
  return messageHead(id, jsonrpc) + trackedEventTail(event);
}

/** The start of a reply to request `id`: `{"id":…` and its `jsonrpc` when the request had one. */
export function messageHead(id: number | string, jsonrpc: string | undefined): string {
  return `{"id":${JSON.stringify(id)}${jsonrpc === undefined ? '' : `,"jsonrpc":${JSON.stringify(jsonrpc)}`}`;
}

/** Everything after the request id of a tracked event's message: the same for every subscriber. */
export function trackedEventTail(event: SerializedEvent<unknown>): string {
  return event.messageTail(() => {
    const eventId = JSON.stringify(event.eventId);
    return `,"result":{"type":"data","data":{"json":{"id":${eventId},"data":${event.json}}},"id":${eventId}}}`;
  });
}

/**
 * JSON.stringify's output, walking plain objects itself so that it can
 * splice in cached event text. Everything else (arrays, objects with
 * `toJSON`, class instances, primitives) is left to JSON.stringify.
 */
export function stringify(value: unknown, depth: number): string | undefined {
  if (value instanceof SerializedEvent) return value.json;
  if (depth >= MAX_DEPTH || !isPlainObject(value) || typeof value['toJSON'] === 'function') {
    return JSON.stringify(value);
  }
  let text = '{';
  for (const key of Object.keys(value)) {
    const item = stringify(value[key], depth + 1);
    // As JSON.stringify does: undefined, functions and symbols leave the key out.
    if (item === undefined) continue;
    text += `${text.length > 1 ? ',' : ''}${JSON.stringify(key)}:${item}`;
  }
  return `${text}}`;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

function hasKeys(value: object, keys: readonly string[]): boolean {
  const own = Object.keys(value);
  return own.length === keys.length && own.every((key, i) => key === keys[i]);
}
