/**
 * `petCreation.onUpdate` over WebSocket without tRPC's per-subscriber loop.
 * Admission still goes through the router (API key, subscription slot,
 * input validation) and the same access check as the procedure; only the
 * delivery is taken over: every subscriber of a workflow is written to from
 * one storage listener, each frame being the subscriber's request id around
 * the event's JSON, made once per event. The frames are the ones tRPC's
 * adapter sends, byte for byte: started, tracked data, error, stopped.
 */
import { getTRPCErrorFromUnknown, TRPCError } from '@trpc/server';
import {
  callProcedure,
  getErrorShape,
  isAbortError,
  isObject,
  parseTRPCMessage,
  transformTRPCResponse,
} from '@trpc/server/unstable-core-do-not-import';
import type { RawData, WebSocket } from 'ws';

import type { Context } from '../context.js';
import type { AppRouter } from '../router/app-router.js';
import {
  petCreationAccess,
  petCreationFailure,
  PetCreationSubscriptionInput,
} from '../router/pet-creation.js';
import { parseUntrustedJson } from '../security/json-guard.js';
import { SerializedEvent, serializedEvent } from '../streams/serialized-event.js';
import type { StoredEvent } from '../streams/stream-storage.js';
import { encodeMessage, messageHead, trackedEventTail } from './ws-encoder.js';

/** The one procedure served here; every other frame goes to tRPC's handler. */
export const FAST_PATH_PROCEDURE = 'petCreation.onUpdate';

const WEBSOCKET_OPEN = 1;

export type FastPathOptions = {
  readonly router: AppRouter;
  /** Told of every error sent to the client, as tRPC's adapter `onError`. */
  readonly onError: (info: { readonly error: TRPCError; readonly path: string | undefined }) => void;
};

type RequestId = number | string;

type Subscription = {
  readonly id: RequestId;
  readonly jsonrpc: '2.0' | undefined;
  stopped: boolean;
  readonly abort: AbortController;
  /** Stops delivery, once it started. */
  cancel: (() => void) | null;
};

type Reply = {
  readonly id: RequestId;
  readonly jsonrpc: '2.0' | undefined;
  readonly result?: unknown;
  readonly error?: unknown;
};

/** The fast path of one connection, whose context tRPC's handler made. */
export class FastPathConnection {
  readonly #client: WebSocket;
  readonly #ctx: Context;
  readonly #options: FastPathOptions;
  readonly #subscriptions = new Map<RequestId, Subscription>();

  constructor(client: WebSocket, ctx: Context, options: FastPathOptions) {
    this.#client = client;
    this.#ctx = ctx;
    this.#options = options;
    client.once('close', () => {
      for (const subscription of this.#subscriptions.values()) this.#cancel(subscription);
      this.#subscriptions.clear();
    });
  }

  /** Serves the frame when it is for this path; false leaves it to tRPC's handler. */
  handle(data: RawData, isBinary: boolean): boolean {
    if (isBinary || !Buffer.isBuffer(data)) return false;
    const text = data.toString('utf8');
    // Cheap look first: most frames are for other procedures.
    const isStop = text.includes('subscription.stop');
    if (!isStop && !text.includes(FAST_PATH_PROCEDURE)) return false;
    let message;
    try {
      const raw = parseUntrustedJson(text);
      // Batches and anything malformed get tRPC's own answer.
      if (!isObject(raw)) return false;
      message = parseTRPCMessage(raw, this.#options.router._def._config.transformer);
    } catch {
      return false;
    }
    const { id } = message;
    if (id === null) return false;
    const jsonrpc = message.jsonrpc;
    if (message.method === 'subscription.stop') {
      const subscription = this.#subscriptions.get(id);
      if (!subscription) return false;
      this.#stop(subscription);
      return true;
    }
    if (message.method !== 'subscription' || message.params.path !== FAST_PATH_PROCEDURE) return false;
    const { lastEventId } = message.params;
    let input: unknown = message.params.input;
    // As tRPC's adapter does: the client's resume point becomes part of the input.
    if (lastEventId !== undefined) {
      if (isObject(input)) input = { ...input, lastEventId };
      else input ??= { lastEventId };
    }
    if (this.#subscriptions.has(id)) {
      this.#respondWithError(
        id,
        jsonrpc,
        input,
        new TRPCError({ message: `Duplicate id ${id}`, code: 'BAD_REQUEST' }),
      );
      return true;
    }
    void this.#subscribe(id, jsonrpc, input);
    return true;
  }

  async #subscribe(id: RequestId, jsonrpc: '2.0' | undefined, input: unknown): Promise<void> {
    const subscription: Subscription = {
      id,
      jsonrpc,
      stopped: false,
      abort: new AbortController(),
      cancel: null,
    };
    this.#subscriptions.set(id, subscription);
    if (this.#client.readyState !== WEBSOCKET_OPEN) {
      this.#forget(subscription);
      return;
    }
    const ctx = this.#ctx;
    let admitted: unknown;
    try {
      // Through the router: the API key, the connection's slot and input validation, as for any call.
      admitted = await callProcedure({
        router: this.#options.router,
        path: FAST_PATH_PROCEDURE,
        getRawInput: async () => input,
        ctx,
        type: 'subscription',
        signal: subscription.abort.signal,
        batchIndex: 0,
      });
    } catch (cause) {
      this.#forget(subscription);
      const error = getTRPCErrorFromUnknown(cause);
      if (subscription.stopped && isAbortError(error.cause))
        this.#respond({ id, jsonrpc, result: { type: 'stopped' } });
      else this.#respondWithError(id, jsonrpc, input, error);
      return;
    }
    // The procedure's own generator is never run: returning it frees the connection's slot.
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      releaseIterable(admitted);
    };
    if (subscription.stopped || this.#client.readyState !== WEBSOCKET_OPEN) {
      release();
      this.#end(id, jsonrpc, subscription);
      return;
    }
    this.#respond({ id, jsonrpc, result: { type: 'started' } });
    let parsed: PetCreationSubscriptionInput;
    let access;
    try {
      parsed = PetCreationSubscriptionInput.parse(input);
      access = await petCreationAccess(ctx, parsed);
    } catch (cause) {
      release();
      this.#forget(subscription);
      // After a stop the client is told `stopped`, not of an error it no longer waits for.
      if (!subscription.stopped) this.#respondWithError(id, jsonrpc, input, cause);
      this.#end(id, jsonrpc, subscription);
      return;
    }
    if (subscription.stopped) {
      release();
      this.#end(id, jsonrpc, subscription);
      return;
    }
    if (!access.ok) {
      release();
      this.#forget(subscription);
      if (access.reset) this.#sendData(id, jsonrpc, access.reset);
      this.#respondWithError(id, jsonrpc, input, access.error);
      this.#end(id, jsonrpc, subscription);
      return;
    }
    const head = messageHead(id, jsonrpc);
    subscription.cancel = ctx.streams.petCreation.push(parsed.traceId, parsed.lastEventId ?? null, {
      event: (event) => this.#sendEvent(head, id, jsonrpc, event),
      end: (error) => {
        release();
        this.#forget(subscription);
        if (error !== undefined) this.#respondWithError(id, jsonrpc, input, petCreationFailure(error));
        this.#end(id, jsonrpc, subscription);
      },
    });
    const cancel = subscription.cancel;
    subscription.cancel = () => {
      cancel();
      release();
    };
  }

  /** The client's `subscription.stop`: tRPC answers it with `stopped`. */
  #stop(subscription: Subscription): void {
    this.#forget(subscription);
    const started = subscription.cancel !== null;
    this.#cancel(subscription);
    // A subscription still being admitted says `stopped` itself when its setup returns.
    if (started) this.#end(subscription.id, subscription.jsonrpc, subscription);
  }

  /** Frees the request id, unless a stopped subscription's id was already taken again. */
  #forget(subscription: Subscription): void {
    if (this.#subscriptions.get(subscription.id) === subscription)
      this.#subscriptions.delete(subscription.id);
  }

  #cancel(subscription: Subscription): void {
    subscription.stopped = true;
    subscription.abort.abort();
    subscription.cancel?.();
  }

  #end(id: RequestId, jsonrpc: '2.0' | undefined, subscription: Subscription): void {
    subscription.stopped = true;
    this.#respond({ id, jsonrpc, result: { type: 'stopped' } });
  }

  #sendEvent(head: string, id: RequestId, jsonrpc: '2.0' | undefined, event: StoredEvent): void {
    if (this.#client.readyState !== WEBSOCKET_OPEN) return;
    const delivered = serializedEvent(event);
    if (delivered instanceof SerializedEvent) this.#client.send(head + trackedEventTail(delivered));
    else this.#sendData(id, jsonrpc, delivered);
  }

  /** A tracked event, built as tRPC's adapter builds it. */
  #sendData(id: RequestId, jsonrpc: '2.0' | undefined, event: StoredEvent): void {
    // Keys in the adapter's order: `id` is added to the result after `data`.
    this.#respond({
      id,
      jsonrpc,
      result: { type: 'data', data: { id: event.eventId, data: event }, id: event.eventId },
    });
  }

  #respondWithError(id: RequestId, jsonrpc: '2.0' | undefined, input: unknown, cause: unknown): void {
    const error = getTRPCErrorFromUnknown(cause);
    this.#options.onError({ error, path: FAST_PATH_PROCEDURE });
    const config = this.#options.router._def._config;
    const shape = getErrorShape({
      config,
      error,
      type: 'subscription',
      path: FAST_PATH_PROCEDURE,
      input,
      ctx: this.#ctx,
    });
    this.#respond({ id, jsonrpc, error: shape });
  }

  /** Drops replies once closing starts, as tRPC's adapter does. */
  #respond(reply: Reply): void {
    if (this.#client.readyState !== WEBSOCKET_OPEN) return;
    const config = this.#options.router._def._config;
    this.#client.send(
      encodeMessage(transformTRPCResponse(config, reply as Parameters<typeof transformTRPCResponse>[1])),
    );
  }
}

/** Ends an admitted subscription's iterable without running it (frees what its middlewares hold). */
function releaseIterable(value: unknown): void {
  if (typeof value !== 'object' || value === null || !(Symbol.asyncIterator in value)) return;
  const iterable = value as AsyncIterable<unknown>;
  void iterable[Symbol.asyncIterator]()
    .return?.()
    ?.catch(() => undefined);
}
