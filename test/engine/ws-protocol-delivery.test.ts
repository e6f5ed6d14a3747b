/**
 * Delivery by our WebSocket protocol server, asserted on the raw frames it
 * sends: fan-out of a pushed source, the slow-consumer cut-off, the
 * per-connection subscription cap, and what a closed connection leaves.
 */
import { describe, expect, test } from 'vitest';

import { transformer } from '../../shared/transformer.js';
import { call, RawClient, stop } from './support/raw-client.js';
import { startOurServer } from './support/ws-servers.js';

const SUBSCRIBERS = 200;
const EVENTS = 50;

const started = (id: number) => `{"id":${id},"result":{"type":"started"}}`;
const stopped = (id: number) => `{"id":${id},"result":{"type":"stopped"}}`;

describe('delivery', () => {
  test(`${SUBSCRIBERS} subscribers of one pushed source each get every event once, in order, serialized once per event`, async () => {
    let serialized = 0;
    await using server = await startOurServer({
      transformer: {
        serialize: (value: unknown) => {
          serialized += 1;
          return transformer.serialize(value);
        },
        deserialize: (value: unknown) =>
          transformer.deserialize(value as Parameters<typeof transformer.deserialize>[0]),
      },
    });
    const clients = await Promise.all(Array.from({ length: SUBSCRIBERS }, () => RawClient.open(server.url)));
    for (const client of clients) client.send(call(1, 'subscription', 'pushed'));
    await server.probe.feed.whenConsumers(SUBSCRIBERS);
    serialized = 0;

    const expected = [started(1)];
    for (let n = 1; n <= EVENTS; n += 1) {
      // Every fifth event needs superjson's metadata (a Date), the others are plain JSON.
      const at = n % 5 === 0 ? new Date(n) : undefined;
      server.probe.feed.publish(String(n), at ? { n, text: `event ${n}`, at } : { n, text: `event ${n}` });
      const data = at
        ? `{"json":{"id":"${n}","data":{"n":${n},"text":"event ${n}","at":"${at.toISOString()}"}},"meta":{"values":{"data.at":["Date"]},"v":1}}`
        : `{"json":{"id":"${n}","data":{"n":${n},"text":"event ${n}"}}}`;
      expected.push(`{"id":1,"result":{"type":"data","data":${data},"id":"${n}"}}`);
    }
    server.probe.feed.end();
    expected.push(stopped(1));

    await Promise.all(clients.map((client) => client.waitFor((texts) => texts.includes(stopped(1)))));
    for (const client of clients) expect(client.texts).toEqual(expected);
    expect(serialized).toBe(EVENTS);
    for (const client of clients) client.terminate();
    await Promise.all(clients.map((client) => client.closed));
  });

  test('a connection that does not read is closed with 4008; one that reads is not', async () => {
    const slow: number[] = [];
    await using server = await startOurServer({
      maxBufferedBytes: 64 * 1024,
      slowConsumerMs: 0,
      onSlowConsumer: ({ bufferedAmount }) => slow.push(bufferedAmount),
    });
    const reader = await RawClient.open(server.url);
    const sleeper = await RawClient.open(server.url);
    reader.send(call(1, 'subscription', 'pushed'));
    sleeper.send(call(1, 'subscription', 'pushed'));
    await server.probe.feed.whenConsumers(2);
    sleeper.socket.pause();
    const text = 'x'.repeat(32 * 1024);
    // One event at a time, each read by the reader, until the sleeper's kernel buffers are full.
    for (let n = 1; slow.length === 0; n += 1) {
      if (n > 2000) throw new Error('never cut off');
      server.probe.feed.publish(String(n), { n, text });
      await reader.waitFor((texts) => texts.length === n + 1);
    }
    expect(slow).toHaveLength(1);
    expect(slow[0]).toBeGreaterThan(64 * 1024);
    sleeper.socket.resume();
    await expect(sleeper.closed).resolves.toEqual({ code: 4008, reason: 'slow consumer' });
    await server.probe.feed.whenConsumers(1);
    server.probe.feed.end();
    await reader.waitFor((texts) => texts.includes(stopped(1)));
    reader.terminate();
  });

  test('a connection runs at most maxSubscriptionsPerConnection subscriptions', async () => {
    await using server = await startOurServer({ maxSubscriptionsPerConnection: 2 });
    const client = await RawClient.open(server.url);
    const other = await RawClient.open(server.url);
    client.send(call(1, 'subscription', 'forever'));
    client.send(call(2, 'subscription', 'forever'));
    client.send(call(3, 'subscription', 'forever'));
    await client.waitFor((texts) => texts.length === 3);
    expect(client.texts.slice().sort()).toEqual(
      [
        started(1),
        started(2),
        '{"id":3,"error":{"json":{"message":"At most 2 subscriptions per connection; stop one or open another connection","code":-32029,"data":{"code":"TOO_MANY_REQUESTS","httpStatus":429,"path":"forever","formatted":true,"fieldErrors":null}}}}',
      ].sort(),
    );
    // Another connection has its own budget; a stopped subscription frees its slot.
    other.send(call(1, 'subscription', 'forever'));
    await other.waitFor((texts) => texts.includes(started(1)));
    client.send(stop(1));
    await client.waitFor((texts) => texts.includes(stopped(1)));
    client.send(call(4, 'subscription', 'forever'));
    await client.waitFor((texts) => texts.includes(started(4)));
    client.terminate();
    other.terminate();
  });

  test('closing a connection aborts every call and subscription and leaves no listener', async () => {
    await using server = await startOurServer();
    const client = await RawClient.open(server.url);
    const { probe } = server;
    client.send(call(1, 'subscription', 'forever'));
    client.send(call(2, 'subscription', 'pushed'));
    client.send(call(3, 'subscription', 'pulled'));
    client.send(call(4, 'query', 'hang'));
    await client.waitFor((texts) => [1, 2, 3].every((id) => texts.includes(started(id))));
    expect(probe.ticks.listenerCount('tick')).toBe(1);
    expect(probe.feed.consumers).toBe(2);

    client.terminate();
    await probe.until((p) => p.aborted.length === 4);
    expect([...probe.aborted].sort()).toEqual(['forever', 'hang', 'pulled', 'pushed']);
    await probe.until((p) => p.finished.includes('forever'));
    await probe.feed.whenConsumers(0);
    expect(probe.ticks.listenerCount('tick')).toBe(0);
    expect(server.ws.connections).toBe(0);
    // Nothing of the closed connection is reported as an error.
    expect(server.errors).toEqual([]);
  });
});
