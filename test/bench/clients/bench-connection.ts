/** One client connection of the load client, whatever the server. */
import type { BenchGroup } from '../servers/bench-server.js';

export type Receiver = (data: unknown) => void;

export interface BenchConnection {
  /** Subscribes to a group; resolves once the server has acknowledged it. */
  subscribe(group: BenchGroup, receive: Receiver, fail: (message: string) => void): Promise<void>;
  close(): void;
}
