/**
 * The way to the shared Redis as a test controls it: a loopback proxy that
 * reads the commands each connection sends and can hold one back, as a slow
 * network would, until the test lets it go. The held connection sends
 * nothing more meanwhile (Redis answers a connection in order anyway);
 * replies and every other connection flow as usual.
 */
import { connect, createServer, type Socket } from 'node:net';

import { createDeferred, type Deferred } from '../../shared/deferred.js';
import { TEST_REDIS_URL } from './redis.js';

export type HeldCommand = {
  /** The command and its arguments (each cut to its first 256 bytes). */
  readonly args: readonly string[];
  /** Sends it on, and whatever its connection sent after it. */
  readonly release: () => void;
};

export type RedisLink = AsyncDisposable & {
  /** `redis://127.0.0.1:<port>`, reaching the shared Redis. */
  readonly url: string;
  /**
   * Holds the next command, on any connection, that `match` accepts;
   * resolves once one is held.
   */
  readonly holdNext: (match: (args: readonly string[]) => boolean) => Promise<HeldCommand>;
};

type Hold = { readonly match: (args: readonly string[]) => boolean; readonly held: Deferred<HeldCommand> };

const ARG_PREVIEW_BYTES = 256;

export async function startRedisLink(): Promise<RedisLink> {
  const redis = new URL(TEST_REDIS_URL);
  const holds: Hold[] = [];
  const open = new Set<Socket>();

  const server = createServer((client) => {
    const upstream = connect(Number(redis.port), redis.hostname);
    const close = () => {
      for (const socket of [client, upstream]) {
        socket.destroy();
        open.delete(socket);
      }
    };
    for (const socket of [client, upstream]) {
      open.add(socket);
      socket.once('close', close);
      socket.on('error', close);
    }
    upstream.pipe(client);

    let pending = Buffer.alloc(0);
    let held = false;
    const pump = () => {
      while (!held && pending.length > 0) {
        const command = nextCommand(pending);
        if (command === 'incomplete') return;
        const bytes = command === 'unparsed' ? pending : pending.subarray(0, command.length);
        pending = pending.subarray(bytes.length);
        const args = command === 'unparsed' ? [] : command.args;
        const hold = holds.find((h) => h.match(args));
        if (!hold) {
          upstream.write(bytes);
          continue;
        }
        holds.splice(holds.indexOf(hold), 1);
        held = true;
        hold.held.resolve({
          args,
          release: () => {
            held = false;
            upstream.write(bytes);
            pump();
          },
        });
      }
    };
    client.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      pump();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the link has no TCP port');

  return {
    url: `redis://127.0.0.1:${address.port}`,
    holdNext: (match) => {
      const hold: Hold = { match, held: createDeferred<HeldCommand>() };
      holds.push(hold);
      return hold.held.promise;
    },
    async [Symbol.asyncDispose]() {
      for (const socket of open) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * The first command in `buffer`, as clients send them (an array of bulk
 * strings): its arguments and its length in bytes; `incomplete` when more
 * bytes must come first, `unparsed` for anything else (passed on as is).
 */
function nextCommand(
  buffer: Buffer,
): { readonly args: string[]; readonly length: number } | 'incomplete' | 'unparsed' {
  if (buffer[0] !== 0x2a) return 'unparsed';
  const header = readLine(buffer, 1);
  if (header === null) return 'incomplete';
  const count = Number(header.text);
  if (!Number.isInteger(count) || count < 0) return 'unparsed';
  const args: string[] = [];
  let offset = header.next;
  for (let i = 0; i < count; i += 1) {
    if (offset >= buffer.length) return 'incomplete';
    if (buffer[offset] !== 0x24) return 'unparsed';
    const size = readLine(buffer, offset + 1);
    if (size === null) return 'incomplete';
    const length = Number(size.text);
    if (!Number.isInteger(length) || length < 0) return 'unparsed';
    const end = size.next + length;
    if (end + 2 > buffer.length) return 'incomplete';
    args.push(buffer.toString('utf8', size.next, Math.min(end, size.next + ARG_PREVIEW_BYTES)));
    offset = end + 2;
  }
  return { args, length: offset };
}

/** The text from `start` to the next CRLF, and where the line after it starts. */
function readLine(buffer: Buffer, start: number): { readonly text: string; readonly next: number } | null {
  const end = buffer.indexOf('\r\n', start);
  return end < 0 ? null : { text: buffer.toString('latin1', start, end), next: end + 2 };
}
