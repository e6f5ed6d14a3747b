/**
 * The WebSocket and EventSource classes for the real client, each keeping
 * what the server sent on every connection before the client reads it: a
 * test that uses the client can assert the server's own delivery, which
 * the client's dedupe would otherwise hide.
 */
import { EventSource } from 'eventsource';
import WebSocket from 'ws';

import type { PetCreationEvent } from '../../shared/pet-creation.js';
import { transformer } from '../../shared/transformer.js';

type Serialized = Parameters<typeof transformer.deserialize>[0];

/** One WebSocket the client opened: the text of every frame the server sent on it, and how it closed. */
export type TappedSocket = {
  readonly socket: WebSocket;
  readonly frames: string[];
  readonly closeCodes: number[];
};

export type TappedTransports = {
  /** For `createPetClient`'s `WebSocket` option. */
  readonly WebSocket: typeof globalThis.WebSocket;
  /** For `createPetClient`'s `EventSource` option. */
  readonly EventSource: typeof globalThis.EventSource;
  /** Every WebSocket opened so far, in order. */
  readonly sockets: TappedSocket[];
  /**
   * The `petCreation` events the server sent, in order, over every
   * connection: for a client with one watch, that watch's whole delivery.
   */
  readonly events: () => PetCreationEvent[];
  /** Over WebSocket, the events the server sent for each subscription (request id), across reconnects. */
  readonly bySubscription: () => Map<string, PetCreationEvent[]>;
};

type Frame = {
  readonly id?: unknown;
  readonly result?: { readonly type?: string; readonly data?: Serialized };
};

/** `headers` go with every WebSocket upgrade request (to tell a test's connections apart on the server). */
export function tapTransports(options: { readonly headers?: Record<string, string> } = {}): TappedTransports {
  const sockets: TappedSocket[] = [];
  /** Each entry: one connection's events, WebSocket ones with their request id. */
  const deliveries: { readonly subscription: string | null; readonly event: PetCreationEvent }[][] = [];

  class TappedWebSocket extends WebSocket {
    constructor(address: string, protocols?: string | string[]) {
      super(address, protocols, { headers: options.headers ?? {} });
      const tapped: TappedSocket = { socket: this, frames: [], closeCodes: [] };
      const delivered: (typeof deliveries)[number] = [];
      sockets.push(tapped);
      deliveries.push(delivered);
      this.on('message', (raw: Buffer) => {
        const text = raw.toString();
        tapped.frames.push(text);
        const frame = JSON.parse(text) as Frame;
        if (frame.result?.type !== 'data' || frame.result.data === undefined) return;
        const { data } = transformer.deserialize<{ data: PetCreationEvent }>(frame.result.data);
        delivered.push({ subscription: String(frame.id), event: data });
      });
      this.on('close', (code: number) => tapped.closeCodes.push(code));
    }
  }

  class TappedEventSource extends EventSource {
    constructor(url: string | URL, init?: ConstructorParameters<typeof EventSource>[1]) {
      super(url, init);
      const delivered: (typeof deliveries)[number] = [];
      deliveries.push(delivered);
      this.addEventListener('message', (message: MessageEvent<string>) => {
        const event = transformer.deserialize<PetCreationEvent>(JSON.parse(message.data) as Serialized);
        delivered.push({ subscription: null, event });
      });
    }
  }

  return {
    WebSocket: TappedWebSocket as unknown as typeof globalThis.WebSocket,
    EventSource: TappedEventSource,
    sockets,
    events: () => deliveries.flatMap((connection) => connection.map(({ event }) => event)),
    bySubscription: () => {
      const subscriptions = new Map<string, PetCreationEvent[]>();
      for (const { subscription, event } of deliveries.flat()) {
        if (subscription === null) continue;
        const events = subscriptions.get(subscription) ?? [];
        events.push(event);
        subscriptions.set(subscription, events);
      }
      return subscriptions;
    },
  };
}
