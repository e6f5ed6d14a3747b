/**
 * The log's standard-output sink against real sockets whose reader never
 * reads, or goes away: logging never blocks, the excess is dropped and
 * counted, and the count reaches the Prometheus metrics.
 */
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';

import { afterEach, describe, expect, test } from 'vitest';

import { createLogger, logSinkOf } from '../../server/engine/log.js';
import { LogSink } from '../../server/engine/log-sink.js';
import { createEngine } from '../../server/engine/create-engine.js';
import { createDeferred } from '../../shared/deferred.js';
import { parseSamples, valueOf } from '../observability/prometheus-text.js';
import { testApplication } from '../support/test-application.js';
import { testConfig } from '../support/test-config.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/**
 * A Unix socket connection (as standard output often is) whose far end
 * accepts and never reads: the kernel's buffers fill after a few hundred KB.
 */
async function unreadSocket(): Promise<{ readonly out: net.Socket; readonly peer: Promise<net.Socket> }> {
  const peer = createDeferred<net.Socket>();
  const server = net.createServer((socket) => {
    socket.pause();
    peer.resolve(socket);
  });
  const socketPath = path.join(tmpdir(), `log-sink-${randomUUID()}.sock`);
  server.listen(socketPath);
  await once(server, 'listening');
  const out = net.connect(socketPath);
  await once(out, 'connect');
  cleanups.push(async () => {
    out.destroy();
    (await peer.promise).destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  return { out, peer: peer.promise };
}

const LINE_FIELDS = { traceId: 'a'.repeat(32), step: 'FeedingReminder', detail: 'x'.repeat(100) };

/**
 * Logs in batches smaller than the sink's bound, one turn of the event loop
 * between batches (the socket hands what it can to the kernel), until the
 * sink drops a line: the reader's buffers and the sink's bound are full.
 * Returns the lines logged; fails if nothing is ever dropped.
 */
async function logUntilDropped(sink: LogSink, maxLines: number): Promise<number> {
  const log = createLogger({ level: 'info', destination: sink });
  let logged = 0;
  while (sink.dropped === 0) {
    if (logged >= maxLines) throw new Error(`nothing dropped after ${logged} lines`);
    for (let i = 0; i < 20; i += 1) log.info(LINE_FIELDS, '🔄 Setting next feeding reminder');
    logged += 20;
    // Reached only if logging returned: the event loop keeps turning.
    await nextTurn();
  }
  return logged;
}

describe('log sink', () => {
  test('a reader that never reads: logging never blocks, lines beyond the bound are dropped and counted', async () => {
    const { out } = await unreadSocket();
    const maxBufferedBytes = 64 * 1024;
    const sink = new LogSink(out, { maxBufferedBytes });

    const logged = await logUntilDropped(sink, 100_000);
    // What waits in the process stays near the bound (one line over at most).
    expect(out.writableLength).toBeLessThan(maxBufferedBytes + 1024);

    const log = createLogger({ level: 'info', destination: sink });
    const before = sink.dropped;
    for (let i = 0; i < 100; i += 1) log.info(LINE_FIELDS, 'more');
    expect(sink.dropped).toBe(before + 100);
    expect(logged).toBeGreaterThan(sink.dropped);

    // Draining gives up after its bound instead of waiting for the reader.
    expect(await sink.drain(20)).toBe(false);
  });

  test('a reader that goes away: no crash, every later line is dropped and counted', async () => {
    const { out, peer } = await unreadSocket();
    const sink = new LogSink(out);
    const log = createLogger({ level: 'info', destination: sink });
    log.info('before the reader left');
    expect(await sink.drain(1000)).toBe(true);

    (await peer).destroy();
    // Writing to a reset connection fails: the sink notices (the socket's error is its to handle).
    for (let i = 0; !out.destroyed; i += 1) {
      if (i === 10_000) throw new Error('the write never failed');
      log.info(LINE_FIELDS, 'after the reader left');
      await nextTurn();
    }
    const before = sink.dropped;
    log.info('one more');
    expect(sink.dropped).toBe(before + 1);
    expect(await sink.drain(1000)).toBe(false);
  });

  test('a healthy reader: drain resolves once every line is handed over, nothing dropped', async () => {
    const { out, peer } = await unreadSocket();
    const reader = await peer;
    let received = '';
    reader.setEncoding('utf8');
    reader.on('data', (chunk: string) => (received += chunk));
    reader.resume();
    const sink = new LogSink(out);
    const log = createLogger({ level: 'info', destination: sink });
    for (let i = 0; i < 1000; i += 1) log.info({ i }, 'line');
    expect(await sink.drain(5000)).toBe(true);
    await expect.poll(() => received.split('\n').length - 1).toBe(1000);
    expect(sink.dropped).toBe(0);
  });

  test('dropped lines are counted in pet_stream_log_lines_dropped_total', async () => {
    const { out } = await unreadSocket();
    const sink = new LogSink(out, { maxBufferedBytes: 16 * 1024 });
    const log = createLogger({ level: 'info', destination: sink });
    expect(logSinkOf(log)).toBe(sink);
    const engine = createEngine(testConfig(), log, testApplication());
    cleanups.push(() => engine.close());
    const dropped = async () => {
      const samples = parseSamples(await engine.observability.metrics.text());
      expect(samples.some((s) => s.name === 'pet_stream_log_lines_dropped_total')).toBe(true);
      return valueOf(samples, 'pet_stream_log_lines_dropped_total');
    };
    expect(await dropped()).toBe(0);

    await logUntilDropped(sink, 100_000);
    expect(await dropped()).toBe(sink.dropped);
  });

  test('the bound is validated', () => {
    const out = new net.Socket();
    expect(() => new LogSink(out, { maxBufferedBytes: -1 })).toThrow(
      'Expected `maxBufferedBytes` to be an integer >= 0, got `-1`',
    );
  });
});
