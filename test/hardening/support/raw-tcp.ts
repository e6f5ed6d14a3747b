import { randomBytes } from 'node:crypto';
import net from 'node:net';

import { createDeferred } from '../../../shared/deferred.js';

/**
 * A WebSocket at the byte level: the upgrade handshake by hand, then any
 * bytes at all, so that frames no library would build can be sent.
 */
export class RawTcpSocket {
  readonly socket: net.Socket;
  readonly ended: Promise<Buffer>;
  #received: Buffer[] = [];

  private constructor(socket: net.Socket) {
    this.socket = socket;
    const ended = createDeferred<Buffer>();
    socket.on('data', (chunk: Buffer) => this.#received.push(chunk));
    socket.on('error', () => {});
    socket.once('close', () => ended.resolve(Buffer.concat(this.#received)));
    this.ended = ended.promise;
  }

  /** Connects and upgrades; resolves once the server answered 101. */
  static async open(port: number, path = '/trpc'): Promise<RawTcpSocket> {
    const socket = net.connect(port, '127.0.0.1');
    const raw = new RawTcpSocket(socket);
    const upgraded = createDeferred<void>();
    const onData = () => {
      const text = Buffer.concat(raw.#received).toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end === -1) return;
      socket.off('data', onData);
      if (!text.startsWith('HTTP/1.1 101')) upgraded.reject(new Error(text.split('\r\n')[0]));
      raw.#received = [Buffer.from(text.slice(end + 4), 'latin1')];
      upgraded.resolve();
    };
    socket.on('data', onData);
    socket.once('close', () => upgraded.reject(new Error('closed during the handshake')));
    socket.write(
      [
        `GET ${path} HTTP/1.1`,
        `Host: 127.0.0.1:${port}`,
        'Upgrade: websocket',
        'Connection: Upgrade',
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
        'Sec-WebSocket-Version: 13',
        '',
        '',
      ].join('\r\n'),
    );
    await upgraded.promise;
    return raw;
  }

  write(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** The close code of the first close frame the server sent, if any. */
  static closeCode(received: Buffer): number | null {
    // Server frames are unmasked: opcode 0x8 is close, its payload starts with the code.
    for (let i = 0; i + 1 < received.length;) {
      const opcode = (received[i] ?? 0) & 0x0f;
      let length = (received[i + 1] ?? 0) & 0x7f;
      let header = 2;
      if (length === 126) {
        length = received.readUInt16BE(i + 2);
        header = 4;
      } else if (length === 127) {
        length = Number(received.readBigUInt64BE(i + 2));
        header = 10;
      }
      if (opcode === 0x8 && length >= 2) return received.readUInt16BE(i + header);
      i += header + length;
    }
    return null;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** A client frame: masked as the protocol demands unless `mask` is false. */
export function clientFrame(options: {
  readonly opcode: number;
  readonly payload: Buffer;
  readonly fin?: boolean;
  readonly rsv?: number;
  readonly mask?: boolean;
  /** Claimed payload length, when it should lie. */
  readonly claimedLength?: number;
}): Buffer {
  const { opcode, payload, fin = true, rsv = 0, mask = true } = options;
  const length = options.claimedLength ?? payload.length;
  const first = (fin ? 0x80 : 0) | ((rsv & 0x7) << 4) | (opcode & 0x0f);
  let header: Buffer;
  if (length < 126) {
    header = Buffer.from([first, (mask ? 0x80 : 0) | length]);
  } else if (length < 65_536) {
    header = Buffer.alloc(4);
    header[0] = first;
    header[1] = (mask ? 0x80 : 0) | 126;
    header.writeUInt16BE(length, 2);
  } else {
    header = Buffer.alloc(10);
    header[0] = first;
    header[1] = (mask ? 0x80 : 0) | 127;
    header.writeBigUInt64BE(BigInt(length), 2);
  }
  if (!mask) return Buffer.concat([header, payload]);
  const key = randomBytes(4);
  const masked = Buffer.from(payload.map((byte, i) => byte ^ (key[i % 4] ?? 0)));
  return Buffer.concat([header, key, masked]);
}
