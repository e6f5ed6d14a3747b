import type { RawData } from 'ws';

/** The text of a `ws` text frame (a Buffer with ws's default `binaryType`). */
export function rawText(raw: RawData): string {
  if (Buffer.isBuffer(raw)) return raw.toString('utf8');
  return Array.isArray(raw) ? Buffer.concat(raw).toString('utf8') : Buffer.from(raw).toString('utf8');
}
