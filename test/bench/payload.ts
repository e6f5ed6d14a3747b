/**
 * The benchmark's message: the data of one stream item, 150 bytes as JSON.
 * Its text carries the sequence number and the write time, so that the load
 * client can check order and measure latency on any transport.
 */
export const PAYLOAD_BYTES = 150;

export type BenchData = {
  readonly message: string;
  readonly stage: 'feeding';
  readonly progress: number;
};

const HEAD = /^n=(\d+);t=(\d+\.\d+);/;

export function makePayload(seq: number, writtenAt: number): BenchData {
  const head = `n=${seq};t=${writtenAt.toFixed(3)};`;
  const empty = JSON.stringify({ message: head, stage: 'feeding', progress: 50 }).length;
  return { message: head + 'x'.repeat(Math.max(0, PAYLOAD_BYTES - empty)), stage: 'feeding', progress: 50 };
}

export type PayloadStamp = { readonly seq: number; readonly writtenAt: number };

/** The sequence number and write time of a payload, or null when it is not one. */
export function readPayload(data: unknown): PayloadStamp | null {
  if (typeof data !== 'object' || data === null || !('message' in data)) return null;
  const { message } = data;
  if (typeof message !== 'string') return null;
  const match = HEAD.exec(message);
  if (!match?.[1] || !match[2]) return null;
  return { seq: Number(match[1]), writtenAt: Number(match[2]) };
}
