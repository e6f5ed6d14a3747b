/**
 * tRPC over WebSocket, served by a server of ours.
 *
 * Protocol: tRPC v11's WebSocket protocol (what `wsLink`/`createWSClient`
 * speak), for every procedure of any tRPC v11 router, built only on
 * @trpc/server's public exports. Checked frame by frame against
 * @trpc/server 11.25.2's own adapter (`applyWSSHandler`) and @trpc/client
 * 11.25.2 (test/engine/):
 * - JSON text frames `{ id, jsonrpc?, method, params: { path, input, lastEventId? } }`
 *   for `query`, `mutation` and `subscription`, `{ id, method: 'subscription.stop' }`,
 *   or an array of them (a batch, each answered on its own);
 * - replies `{ id, jsonrpc?, result: { type: 'data', data } }` or
 *   `{ id, jsonrpc?, error }`, through the router's transformer; a
 *   subscription answers `started`, then `data` (with `id` for tracked
 *   events), then `stopped` (after an `error` when it fails);
 * - `lastEventId` merged into the input; a subscription id already running
 *   gets BAD_REQUEST; a frame that is not JSON gets PARSE_ERROR (`id: null`);
 * - `?connectionParams=1` in the URL: the first frame is
 *   `{ method: 'connectionParams', data }`, and the context is made after it;
 * - `PING` text is answered with `PONG`; `{ id: null, method: 'reconnect' }`
 *   asks every client to reconnect.
 *
 * Guarantees:
 * - each subscription's frames go out in the order its source produced
 *   them, with no event written twice; closing the socket, or
 *   `subscription.stop`, aborts the call's signal and ends its source
 *   (a generator's `finally` runs, a Pushable's stop function is called);
 *   queries and mutations running on a closed socket are aborted as well;
 * - sends never wait: a connection whose unsent bytes stay above
 *   `maxBufferedBytes` for `slowConsumerMs` (or exceed 4× it) is closed
 *   with 4008 "slow consumer", and may resume with its last event id;
 * - at most `maxSubscriptionsPerConnection` subscriptions per connection
 *   (one more gets TOO_MANY_REQUESTS); frames above `maxPayloadBytes` close
 *   the connection (1009), malformed WebSocket frames too (1002);
 * - a subscription whose procedure returns a Pushable
 *   (engine/subscriptions/push.ts) is written from its source directly:
 *   an event's frame text after the request id is made once per event and
 *   shared by every subscriber that gets it (the whole text by those with
 *   the same request id); events pulled from an iterable share it too.
 *
 * @example
 * const ws = createWsProtocolServer({ router: appRouter, transformer, errorFormatter, createContext });
 * httpServer.on('upgrade', (req, socket, head) => ws.handleUpgrade(req, socket, head));
 */
export { createWsProtocolServer, type WsProtocolServer } from './server.js';
export type { WsConnectionParams, WsErrorInfo, WsProtocolServerOptions, WsTransformer } from './options.js';
export type { WsAdmissionState, WsAdmit, WsRefusal } from './upgrade.js';
export { SLOW_CONSUMER_CLOSE } from './outgoing-buffer.js';
