/** What the benchmark needs from each server it compares. */

/** Servers of the delivery scenarios (fan-out, independent streams, idle memory). */
export const SERVER_KINDS = ['ours', 'ws', 'socketio', 'trpc'] as const;
/** Servers of the whole-workflow scenario: the bare tRPC app first, as the baseline. */
export const WORKFLOW_SERVER_KINDS = ['trpc-app', 'ours', 'ours-redis'] as const;
export type DeliveryServerKind = (typeof SERVER_KINDS)[number];
export type ServerKind = DeliveryServerKind | (typeof WORKFLOW_SERVER_KINDS)[number];

export const SERVER_LABELS: Record<ServerKind, string> = {
  ours: 'pet-stream',
  ws: 'raw ws',
  socketio: 'Socket.IO 4',
  trpc: 'bare tRPC',
  'trpc-app': 'bare tRPC',
  'ours-redis': 'pet-stream on Redis',
};

/** A stream (group) subscribers can join; our server also hands out a read token. */
export type BenchGroup = { readonly id: string; readonly token?: string };

/** A server that serves the pet creation contract over HTTP and WebSocket. */
export interface WorkflowServer {
  /** Listens on an ephemeral loopback port. */
  listen(): Promise<number>;
  /** Resolves when no background work is left. */
  idle(): Promise<void>;
  close(): Promise<void>;
}

export interface BenchServer extends WorkflowServer {
  /** Makes `count` new groups. */
  openGroups(count: number): Promise<BenchGroup[]>;
  /**
   * Writes the payload with sequence number `seq` to each group, stamped
   * with its write time; `last` marks the group's final event.
   */
  writeSweep(groups: readonly string[], seq: number, last: boolean): void | Promise<void>;
}
