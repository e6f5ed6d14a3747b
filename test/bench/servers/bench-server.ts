/** What the benchmark needs from each server it compares. */

export const SERVER_KINDS = ['ours', 'ws', 'socketio', 'trpc'] as const;
export type ServerKind = (typeof SERVER_KINDS)[number];

export const SERVER_LABELS: Record<ServerKind, string> = {
  ours: 'pet-stream',
  ws: 'raw ws',
  socketio: 'Socket.IO 4',
  trpc: 'bare tRPC',
};

/** A stream (group) subscribers can join; our server also hands out a read token. */
export type BenchGroup = { readonly id: string; readonly token?: string };

export interface BenchServer {
  /** Listens on an ephemeral loopback port. */
  listen(): Promise<number>;
  /** Makes `count` new groups. */
  openGroups(count: number): Promise<BenchGroup[]>;
  /**
   * Writes the payload with sequence number `seq` to each group, stamped
   * with its write time; `last` marks the group's final event.
   */
  writeSweep(groups: readonly string[], seq: number, last: boolean): void | Promise<void>;
  /** Resolves when no background work is left. */
  idle(): Promise<void>;
  close(): Promise<void>;
}
