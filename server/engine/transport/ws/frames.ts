/**
 * The text of outgoing frames, exactly as tRPC's adapter writes them
 * (`JSON.stringify(transformTRPCResponse(config, message))`), with the part
 * that does not depend on the request made once per event.
 */
import { transformTRPCResponse, type AnyTRPCRootTypes, type TRPCRootConfig } from '@trpc/server';
import type { TRPCResponseMessage } from '@trpc/server/rpc';

import { hasJsonText, JSON_TEXT, stringifyWithJsonText } from '../json-text.js';

export type RequestId = number | string;

/** Events remembered; every consumer of an event gets it within a few events of the first. */
const RECENT = 16;
/**
 * Whole frames kept per event, one per distinct request head. tRPC clients
 * number their requests from 1 on each connection, so the subscribers of
 * one source mostly share a few heads, and then a single text.
 */
const HEADS_PER_EVENT = 8;
const EMPTY = Symbol('empty');
const UNTRACKED = Symbol('untracked');

type Slot = {
  value: unknown;
  id: string | typeof UNTRACKED;
  tail: string;
  readonly frames: Map<string, string>;
};

export class FrameEncoder {
  readonly #config: TRPCRootConfig<AnyTRPCRootTypes>;
  readonly #slots: Slot[] = Array.from({ length: RECENT }, () => ({
    value: EMPTY,
    id: UNTRACKED,
    tail: '',
    frames: new Map<string, string>(),
  }));
  #next = 0;

  /** Whether values that carry their JSON text skip the transformer (see `passesJsonTextThrough`). */
  readonly #bypass: boolean;

  constructor(config: TRPCRootConfig<AnyTRPCRootTypes>) {
    this.#config = config;
    this.#bypass = passesJsonTextThrough(config);
  }

  /** A whole reply, through the transformer. */
  reply(message: TRPCResponseMessage): string {
    return JSON.stringify(transformTRPCResponse(this.#config, message));
  }

  /**
   * A subscription's data reply: `head` (`replyHead`), then
   * `,"result":{"type":"data","data":<serialized>[,"id":<event id>]}}`,
   * where `<serialized>` is `{ id, data: value }` for a tracked event (an
   * id given) and `value` otherwise. The part after the head is made once
   * per value and id, and the whole text once per head: the consumers that
   * get the same object share them.
   */
  dataFrame(head: string, value: unknown, eventId: string | undefined): string {
    const slot = this.#slot(value, eventId ?? UNTRACKED);
    const cached = slot.frames.get(head);
    if (cached !== undefined) return cached;
    if (slot.tail === '') slot.tail = this.#makeTail(value, eventId);
    const frame = head + slot.tail;
    if (slot.frames.size < HEADS_PER_EVENT) slot.frames.set(head, frame);
    return frame;
  }

  #slot(value: unknown, id: string | typeof UNTRACKED): Slot {
    const newest = this.#slots[(this.#next + RECENT - 1) % RECENT];
    if (newest && newest.value === value && newest.id === id) return newest;
    for (const slot of this.#slots) if (slot.value === value && slot.id === id) return slot;
    const slot = this.#slots[this.#next] ?? { value, id, tail: '', frames: new Map<string, string>() };
    this.#next = (this.#next + 1) % RECENT;
    slot.value = value;
    slot.id = id;
    // Filled on first use, so that a serialization that throws leaves nothing behind.
    slot.tail = '';
    slot.frames.clear();
    return slot;
  }

  #makeTail(value: unknown, eventId: string | undefined): string {
    const envelope = eventId === undefined ? value : { id: eventId, data: value };
    // What the transformer would give, without its walk, when it is known to give exactly this.
    const data =
      this.#bypass && hasJsonText(value)
        ? { json: envelope }
        : (this.#config.transformer.output.serialize(envelope) as unknown);
    // JSON.stringify's text, with the cached text of values that carry it (an event serialised
    // once for every subscriber); like JSON.stringify, a value with no JSON form leaves its key out.
    const json = stringifyWithJsonText(data);
    const dataPart = json === undefined ? '' : `,"data":${json}`;
    const idPart = eventId === undefined ? '' : `,"id":${JSON.stringify(eventId)}`;
    return `,"result":{"type":"data"${dataPart}${idPart}}}`;
  }
}

/** A value that carries its JSON text, as SerializedEvent does, and nothing else. */
class JsonTextProbe {
  readonly [JSON_TEXT] = '{}';
}

/**
 * Whether the transformer's output for a value that carries its JSON text
 * is `{ json: <the value as it is> }`, alone or inside a tracked `{ id, data }`
 * envelope (superjson's is). Asked once per encoder; when it is not, every
 * frame goes through the transformer.
 */
function passesJsonTextThrough(config: TRPCRootConfig<AnyTRPCRootTypes>): boolean {
  const probe = new JsonTextProbe();
  const wrapped = (output: unknown, json: (value: unknown) => boolean) =>
    isRecord(output) && Object.keys(output).join() === 'json' && json(output['json']);
  const serialize = (value: unknown) => config.transformer.output.serialize(value) as unknown;
  return (
    wrapped(serialize(probe), (json) => json === probe) &&
    wrapped(
      serialize({ id: '1', data: probe }),
      (json) =>
        isRecord(json) &&
        Object.keys(json).join() === 'id,data' &&
        json['id'] === '1' &&
        json['data'] === probe,
    )
  );
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** `{"id":<id>` and `,"jsonrpc":"2.0"` when the request had it: the start of every reply to it. */
export function replyHead(id: RequestId, jsonrpc: '2.0' | undefined): string {
  return `{"id":${JSON.stringify(id)}${jsonrpc === undefined ? '' : ',"jsonrpc":"2.0"'}`;
}
