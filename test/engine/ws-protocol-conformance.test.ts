/**
 * Our WebSocket protocol server against tRPC's own adapter (applyWSSHandler),
 * frame by frame: the same router, the same raw frames from a bare `ws`
 * client, the same text received, in the same order, and the same errors
 * reported to `onError`.
 */
import { TRPCError } from '@trpc/server';
import { describe, expect, test } from 'vitest';

import { call, jsonRpc, RawClient, resumingAfter, stop } from './support/raw-client.js';
import { startOurServer, startTrpcServer, type ServedRouter } from './support/ws-servers.js';
import type { Probe } from './support/ws-test-router.js';

const MAX_BATCH_SIZE = 3;

type Env = { readonly client: RawClient; readonly probe: Probe; readonly path: string };

type Scenario = {
  readonly name: string;
  readonly connectionParams?: boolean;
  /** Runs several subscriptions whose frames may interleave differently pushed and pulled. */
  readonly interleaves?: boolean;
  /** `path`: the procedure a feed scenario subscribes to. */
  readonly run: (env: Env) => Promise<void>;
  /** What the frames must show, so that two servers agreeing on nothing cannot pass. */
  readonly check: (frames: readonly unknown[]) => void;
};

type Recording = { readonly texts: readonly string[]; readonly errors: readonly string[] };

async function record(server: ServedRouter, scenario: Scenario, path = 'pushed'): Promise<Recording> {
  const client = await RawClient.open(
    `${server.url}/${scenario.connectionParams ? '?connectionParams=1' : ''}`,
  );
  await scenario.run({ client, probe: server.probe, path });
  if (client.socket.readyState === client.socket.OPEN) await client.barrier();
  const texts = [...client.texts];
  client.terminate();
  await client.closed;
  return {
    texts,
    errors: server.errors.map(
      ({ error, type, path: at }) => `${error.code} ${type} ${at ?? '-'} ${error.message}`,
    ),
  };
}

async function ours(scenario: Scenario, path?: string): Promise<Recording> {
  await using server = await startOurServer({ maxBatchSize: MAX_BATCH_SIZE });
  return await record(server, scenario, path);
}

async function theirs(scenario: Scenario, path?: string): Promise<Recording> {
  await using server = await startTrpcServer({ maxBatchSize: MAX_BATCH_SIZE });
  return await record(server, scenario, path);
}

const parse = (text: string): unknown =>
  text.startsWith('{') || text.startsWith('[') ? JSON.parse(text) : text;
const started = (id: number | string) => `{"id":${JSON.stringify(id)},"result":{"type":"started"}}`;
const stopped = (id: number | string) => `{"id":${JSON.stringify(id)},"result":{"type":"stopped"}}`;
const waitStopped = (client: RawClient, id: number | string) =>
  client.waitFor((t) => t.includes(stopped(id)));
const waitStarted = (client: RawClient, id: number | string) =>
  client.waitFor((t) => t.includes(started(id)));
const waitFrames = (client: RawClient, count: number) => client.waitFor((t) => t.length >= count);

/** The `error.json` of every error frame, in order. */
function errorsOf(frames: readonly unknown[]) {
  return frames
    .filter(
      (f): f is { error: { json: { message: string; data: { code: string } } } } =>
        typeof f === 'object' && f !== null && 'error' in f,
    )
    .map((f) => [f.error.json.data.code, f.error.json.message] as const);
}

const scenarios: Scenario[] = [
  {
    name: 'a query, its input and result through the transformer',
    run: async ({ client }) => {
      client.send(call(1, 'query', 'echo', { text: 'hi', at: new Date(0) }));
      await waitFrames(client, 1);
    },
    check: (frames) =>
      expect(frames).toEqual([
        {
          id: 1,
          result: {
            type: 'data',
            data: {
              json: { text: 'HI', at: '1970-01-01T00:00:00.000Z', length: 2 },
              meta: { values: { at: ['Date'] }, v: 1 },
            },
          },
        },
        'PONG',
      ]),
  },
  {
    name: 'a mutation with jsonrpc echoed, and a string id',
    run: async ({ client }) => {
      client.send(jsonRpc(call(2, 'mutation', 'add', { a: 1, b: 2 })));
      client.send(call('abc', 'query', 'nested.ping'));
      await waitFrames(client, 2);
    },
    check: (frames) =>
      expect(frames.slice(0, 2)).toEqual(
        expect.arrayContaining([
          { id: 2, jsonrpc: '2.0', result: { type: 'data', data: { json: 3 } } },
          { id: 'abc', result: { type: 'data', data: { json: 'pong' } } },
        ]),
      ),
  },
  {
    name: 'errors: bad input, a TRPCError, an unexpected error, unknown and mistyped procedures',
    run: async ({ client }) => {
      client.send(call(1, 'query', 'echo', { text: '' }));
      client.send(call(2, 'query', 'forbidden'));
      client.send(call(3, 'query', 'crash'));
      client.send(call(4, 'query', 'nope'));
      client.send(call(5, 'mutation', 'echo', { text: 'x', at: new Date(0) }));
      client.send(call(6, 'subscription', 'add', { a: 1, b: 1 }));
      client.send(call(7, 'query', 'count', { to: 1 }));
      await waitFrames(client, 7);
    },
    check: (frames) => {
      const codes = frames
        .filter(
          (f): f is { id: unknown; error: { json: { data: { code: string } } } } => typeof f === 'object',
        )
        .map((f) => [f.id, f.error.json.data.code]);
      expect(Object.fromEntries(codes)).toEqual({
        1: 'BAD_REQUEST',
        2: 'FORBIDDEN',
        3: 'INTERNAL_SERVER_ERROR',
        4: 'NOT_FOUND',
        5: 'NOT_FOUND',
        6: 'NOT_FOUND',
        7: 'NOT_FOUND',
      });
      expect(frames.find((f) => (f as { id?: unknown }).id === 1)).toMatchObject({
        id: 1,
        error: {
          json: {
            data: { formatted: true, fieldErrors: { text: [expect.any(String)], at: [expect.any(String)] } },
          },
        },
      });
    },
  },
  {
    name: 'frames that are not calls',
    run: async ({ client }) => {
      client.send('{not json');
      client.send('42');
      client.send('{"id":1}');
      client.send('{"id":1,"method":"query"}');
      client.send('{"id":1,"method":"query","params":{"path":"nested.ping"}}');
      client.send('{"id":1.5,"jsonrpc":"1.0","method":"query","params":{"path":"nested.ping"}}');
      client.send('{"id":1,"method":"query","params":{"path":"echo","input":{"__proto__":{"x":1}}}}');
      client.send(`${'['.repeat(70)}${']'.repeat(70)}`);
      client.send(call(null, 'query', 'nested.ping'));
      await waitFrames(client, 9);
    },
    check: (frames) => {
      expect(errorsOf(frames).map(([code]) => code)).toEqual([...Array<string>(9).fill('PARSE_ERROR')]);
      expect(frames.slice(0, 9).every((f) => (f as { id: unknown }).id === null)).toBe(true);
    },
  },
  {
    name: 'binary frames',
    run: async ({ client }) => {
      client.socket.send(Buffer.from(JSON.stringify(call(1, 'query', 'nested.ping'))), { binary: true });
      await waitFrames(client, 1);
    },
    check: (frames) =>
      expect(errorsOf(frames)).toEqual([
        ['PARSE_ERROR', 'Binary frames are not accepted: send JSON in text frames'],
      ]),
  },
  {
    name: 'a batch: query, mutation and subscription answered each under its id',
    run: async ({ client }) => {
      client.send([
        call(1, 'query', 'nested.ping'),
        call(2, 'mutation', 'add', { a: 2, b: 2 }),
        call(3, 'subscription', 'count', { to: 2 }),
      ]);
      await waitStopped(client, 3);
    },
    check: (frames) => expect(frames).toHaveLength(7),
  },
  {
    name: 'batches over the limit, empty, or with a malformed call',
    run: async ({ client }) => {
      client.send([
        call(1, 'query', 'nested.ping'),
        stop(2),
        call(null, 'query', 'nested.ping'),
        jsonRpc(call('four', 'query', 'nested.ping')),
      ]);
      client.send([stop(1), stop(2), stop(3), stop(4)]);
      client.send([]);
      client.send([call(1, 'query', 'nested.ping'), { id: 2 }]);
      await waitFrames(client, 4);
    },
    check: (frames) =>
      expect(errorsOf(frames)).toEqual([
        ['BAD_REQUEST', 'Batch call exceeds maximum size'],
        ['BAD_REQUEST', 'Batch call exceeds maximum size'],
        ['BAD_REQUEST', 'Batch call exceeds maximum size'],
        ['PARSE_ERROR', 'Invalid procedure type'],
      ]),
  },
  {
    name: 'keep-alive text',
    run: async ({ client }) => {
      client.send('PING');
      client.send('PONG');
      await waitFrames(client, 1);
    },
    check: (frames) => expect(frames).toEqual(['PONG', 'PONG']),
  },
  {
    name: 'a subscription of tracked events to its end',
    run: async ({ client, probe }) => {
      client.send(call(1, 'subscription', 'count', { to: 3 }));
      await waitStopped(client, 1);
      expect(probe.finished).toEqual(['count']);
    },
    check: (frames) => expect(frames).toHaveLength(6),
  },
  {
    name: 'resume: lastEventId merged into the input',
    run: async ({ client, probe }) => {
      client.send(resumingAfter(call(1, 'subscription', 'count', { to: 4 }), '2'));
      await waitStopped(client, 1);
      expect(probe.inputs).toEqual([{ to: 4, lastEventId: '2' }]);
    },
    check: (frames) =>
      expect(frames.slice(1, 3)).toEqual([
        {
          id: 1,
          result: { type: 'data', data: { json: { id: '3', data: { n: 3, text: 'event 3' } } }, id: '3' },
        },
        {
          id: 1,
          result: { type: 'data', data: { json: { id: '4', data: { n: 4, text: 'event 4' } } }, id: '4' },
        },
      ]),
  },
  {
    name: 'a subscription that fails midway: error, then stopped',
    run: async ({ client }) => {
      client.send(call(1, 'subscription', 'failing'));
      await waitStopped(client, 1);
    },
    check: (frames) => {
      expect(frames).toHaveLength(6);
      expect(errorsOf(frames)).toEqual([['CONFLICT', 'Broke after 2']]);
    },
  },
  {
    name: 'subscription.stop ends a running subscription; unknown ids are ignored',
    run: async ({ client, probe }) => {
      client.send(call(1, 'subscription', 'forever'));
      await waitStarted(client, 1);
      probe.ticks.emit('tick', 1);
      probe.ticks.emit('tick', 2);
      await waitFrames(client, 3);
      client.send(stop(1));
      await waitStopped(client, 1);
      client.send(stop(1));
      client.send(stop(99));
      expect(probe.aborted).toEqual(['forever']);
      expect(probe.finished).toEqual(['forever']);
      expect(probe.ticks.listenerCount('tick')).toBe(0);
    },
    check: (frames) =>
      expect(frames.slice(0, 4)).toEqual([
        { id: 1, result: { type: 'started' } },
        { id: 1, result: { type: 'data', data: { json: { tick: 1 } } } },
        { id: 1, result: { type: 'data', data: { json: { tick: 2 } } } },
        { id: 1, result: { type: 'stopped' } },
      ]),
  },
  {
    name: 'a legacy observable: values, completion, failure, stop',
    run: async ({ client, probe }) => {
      client.send(call(1, 'subscription', 'legacy'));
      client.send(call(2, 'subscription', 'legacy'));
      await client.waitFor((t) => t.includes(started(1)) && t.includes(started(2)));
      probe.ticks.emit('tick', 1);
      await waitFrames(client, 4);
      client.send(stop(2));
      await waitStopped(client, 2);
      probe.ticks.emit('tick', 2);
      probe.ticks.emit('tick', 0);
      await waitStopped(client, 1);
      client.send(call(3, 'subscription', 'legacy'));
      await waitStarted(client, 3);
      probe.ticks.emit('tick', -1);
      await waitStopped(client, 3);
      expect(probe.ticks.listenerCount('tick')).toBe(0);
    },
    check: (frames) => {
      expect(frames.filter((f) => (f as { id?: unknown }).id === 1)).toEqual([
        { id: 1, result: { type: 'started' } },
        { id: 1, result: { type: 'data', data: { json: { tick: 1 } } } },
        { id: 1, result: { type: 'data', data: { json: { tick: 2 } } } },
        { id: 1, result: { type: 'stopped' } },
      ]);
      expect(errorsOf(frames)).toEqual([['CONFLICT', 'Negative tick']]);
    },
  },
  {
    name: 'a duplicate subscription id is refused while the first runs',
    run: async ({ client }) => {
      client.send(call(1, 'subscription', 'forever'));
      await waitStarted(client, 1);
      client.send(call(1, 'subscription', 'count', { to: 1 }));
      await waitFrames(client, 2);
      client.send(stop(1));
      await waitStopped(client, 1);
      client.send(call(1, 'subscription', 'count', { to: 1 }));
      await client.waitFor((t) => t.filter((x) => x === stopped(1)).length === 2);
    },
    check: (frames) => expect(errorsOf(frames)).toEqual([['BAD_REQUEST', 'Duplicate id 1']]),
  },
  {
    name: 'a subscription whose input is refused gets an error and no stopped',
    run: async ({ client }) => {
      client.send(call(1, 'subscription', 'count', { to: 'x' }));
      await waitFrames(client, 1);
    },
    check: (frames) => expect(errorsOf(frames).map(([code]) => code)).toEqual(['BAD_REQUEST']),
  },
  {
    name: 'connection params, then the context',
    connectionParams: true,
    run: async ({ client }) => {
      client.send('PING');
      client.send({ method: 'connectionParams', data: { token: 'abc' } });
      client.send(call(1, 'query', 'whoami'));
      await waitFrames(client, 2);
    },
    check: (frames) =>
      expect(frames[1]).toEqual({ id: 1, result: { type: 'data', data: { json: { token: 'abc' } } } }),
  },
  {
    name: 'connection params null',
    connectionParams: true,
    run: async ({ client }) => {
      client.send({ method: 'connectionParams', data: null });
      client.send(call(1, 'query', 'whoami'));
      await waitFrames(client, 1);
    },
    check: (frames) => expect(frames[0]).toEqual({ id: 1, result: { type: 'data', data: { json: null } } }),
  },
  {
    name: 'malformed connection params close the connection',
    connectionParams: true,
    run: async ({ client }) => {
      client.send({ method: 'connectionParams', data: { token: 1 } });
      await client.closed;
    },
    check: (frames) => {
      expect(errorsOf(frames)).toEqual([['PARSE_ERROR', 'Invalid connection params shape']]);
      expect(frames.at(-1)).toBe('#close 1005');
    },
  },
  {
    name: 'a call instead of the connection params',
    connectionParams: true,
    run: async ({ client }) => {
      client.send('not json');
      await client.closed;
    },
    check: (frames) =>
      expect(errorsOf(frames)).toEqual([['PARSE_ERROR', 'Malformed TRPCConnectionParamsMessage']]),
  },
  {
    name: 'createContext refusing: the connection error, then each waiting call’s, then the close',
    connectionParams: true,
    run: async ({ client }) => {
      client.send({ method: 'connectionParams', data: { reject: '1' } });
      client.send([call(1, 'query', 'nested.ping'), call(2, 'subscription', 'count', { to: 1 })]);
      await client.closed;
    },
    check: (frames) => {
      expect(errorsOf(frames)).toEqual([
        ['UNAUTHORIZED', 'Rejected by createContext'],
        ['UNAUTHORIZED', 'Rejected by createContext'],
        ['UNAUTHORIZED', 'Rejected by createContext'],
      ]);
      expect(frames.map((f) => (typeof f === 'string' ? f : (f as { id: unknown }).id))).toEqual([
        null,
        1,
        2,
        '#close 1005',
      ]);
    },
  },
];

/** The feed scenarios, run on a Pushable source or on an async generator over the same feed. */
const feedScenarios: Scenario[] = [
  {
    name: 'live events, one with superjson metadata, then the end',
    run: async ({ client, probe, path }) => {
      client.send(call(1, 'subscription', path));
      await waitStarted(client, 1);
      probe.feed.publish('1', { n: 1, text: 'a' });
      probe.feed.publish('2', { n: 2, text: 'b', at: new Date(5) });
      await waitFrames(client, 3);
      probe.feed.publish('3', { n: 3, text: 'c' });
      probe.feed.end();
      await waitStopped(client, 1);
      expect(probe.feed.consumers).toBe(0);
    },
    check: (frames) =>
      expect(frames.slice(0, 5)).toEqual([
        { id: 1, result: { type: 'started' } },
        { id: 1, result: { type: 'data', data: { json: { id: '1', data: { n: 1, text: 'a' } } }, id: '1' } },
        {
          id: 1,
          result: {
            type: 'data',
            data: {
              json: { id: '2', data: { n: 2, text: 'b', at: '1970-01-01T00:00:00.005Z' } },
              meta: { values: { 'data.at': ['Date'] }, v: 1 },
            },
            id: '2',
          },
        },
        { id: 1, result: { type: 'data', data: { json: { id: '3', data: { n: 3, text: 'c' } } }, id: '3' } },
        { id: 1, result: { type: 'stopped' } },
      ]),
  },
  {
    name: 'history after lastEventId first, then live, for two subscriptions',
    interleaves: true,
    run: async ({ client, probe, path }) => {
      for (const n of [1, 2, 3]) probe.feed.publish(String(n), { n, text: `e${n}` });
      client.send(resumingAfter(call(1, 'subscription', path), '1'));
      client.send(jsonRpc(call('b', 'subscription', path, { lastEventId: '2' })));
      await client.waitFor((t) => t.length === 5);
      probe.feed.publish('4', { n: 4, text: 'e4' });
      await client.waitFor((t) => t.length === 7);
      probe.feed.end();
      await waitStopped(client, 1);
      await client.waitFor((t) =>
        t.some((x) => x === '{"id":"b","jsonrpc":"2.0","result":{"type":"stopped"}}'),
      );
    },
    check: (frames) => {
      const ids = (id: number | string) =>
        frames
          .filter((f): f is { id: unknown; result: { id?: string } } => (f as { id?: unknown }).id === id)
          .map((f) => f.result.id ?? '-');
      expect(ids(1)).toEqual(['-', '2', '3', '4', '-']);
      expect(ids('b')).toEqual(['-', '3', '4', '-']);
    },
  },
  {
    name: 'a feed that fails: error, then stopped',
    run: async ({ client, probe, path }) => {
      client.send(call(1, 'subscription', path));
      await waitStarted(client, 1);
      probe.feed.publish('1', { n: 1, text: 'a' });
      await waitFrames(client, 2);
      probe.feed.end(new TRPCError({ code: 'CONFLICT', message: 'Feed broke' }));
      await waitStopped(client, 1);
    },
    check: (frames) => expect(errorsOf(frames)).toEqual([['CONFLICT', 'Feed broke']]),
  },
  {
    name: 'an event that cannot be written: error, then stopped, and the source is let go',
    run: async ({ client, probe, path }) => {
      client.send(call(1, 'subscription', path));
      await waitStarted(client, 1);
      const extra = {
        toJSON: () => {
          throw new Error('Not JSON');
        },
      };
      probe.feed.publish('1', { n: 1, text: 'a' });
      probe.feed.publish('2', { n: 2, text: 'b', extra });
      await waitStopped(client, 1);
      await probe.feed.whenConsumers(0);
    },
    check: (frames) => {
      expect(frames).toHaveLength(5);
      expect(errorsOf(frames)).toEqual([['INTERNAL_SERVER_ERROR', 'Not JSON']]);
    },
  },
  {
    name: 'stopped by the client: the source is let go',
    run: async ({ client, probe, path }) => {
      client.send(call(1, 'subscription', path));
      await waitStarted(client, 1);
      probe.feed.publish('1', { n: 1, text: 'a' });
      await waitFrames(client, 2);
      client.send(stop(1));
      await waitStopped(client, 1);
      expect(probe.feed.consumers).toBe(0);
      expect(probe.aborted).toEqual([path]);
    },
    check: (frames) => expect(frames).toHaveLength(4),
  },
];

describe('frame by frame against tRPC’s adapter', () => {
  test.each(scenarios.map((s) => [s.name, s] as const))('%s', async (_name, scenario) => {
    const [mine, reference] = [await ours(scenario), await theirs(scenario)];
    expect(mine.texts).toEqual(reference.texts);
    expect(mine.texts.map(parse)).toEqual(reference.texts.map(parse));
    expect(mine.errors).toEqual(reference.errors);
    scenario.check(mine.texts.map(parse));
  });
});

/**
 * The frames of each request id, in order. Several subscriptions of one
 * connection interleave differently when one is pushed (its history is
 * written at once) and one pulled (a value per turn); each one's own
 * sequence is the same.
 */
function byId(texts: readonly string[]): Record<string, string[]> {
  const groups: Record<string, string[]> = {};
  for (const text of texts) {
    const key = text.startsWith('{') ? JSON.stringify((JSON.parse(text) as { id: unknown }).id) : text;
    (groups[key] ??= []).push(text);
  }
  return groups;
}

/** The error shape names the procedure: the generator's is another one. */
const asPushed = (recording: Recording): Recording => ({
  texts: recording.texts.map((t) => t.replaceAll('"path":"pulled"', '"path":"pushed"')),
  errors: recording.errors.map((e) => e.replace(' pulled ', ' pushed ')),
});

describe('a Pushable source sends what tRPC sends for the same tracked events', () => {
  test.each(feedScenarios.map((s) => [s.name, s] as const))('%s', async (_name, scenario) => {
    // Ours pushing; tRPC pulling the same source; tRPC and ours running an async generator over it.
    const pushed = await ours(scenario, 'pushed');
    const references = [
      await theirs(scenario, 'pushed'),
      asPushed(await theirs(scenario, 'pulled')),
      asPushed(await ours(scenario, 'pulled')),
    ];
    for (const reference of references) {
      if (scenario.interleaves) expect(byId(pushed.texts)).toEqual(byId(reference.texts));
      else expect(pushed.texts).toEqual(reference.texts);
      expect(pushed.errors).toEqual(reference.errors);
    }
    // The generator on both servers: the same text, interleaving included.
    expect(references[2]).toEqual(references[1]);
    scenario.check(pushed.texts.map(parse));
  });
});
