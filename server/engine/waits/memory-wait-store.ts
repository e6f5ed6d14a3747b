import type { MemoryRetention } from '../backends/memory-retention.js';
import {
  byOpening,
  resumes,
  settledRecord,
  type OpenedWait,
  type WaitRecord,
  type WaitSettlement,
  type WaitStore,
} from './wait-store.js';

/** Waits in process memory; a finished workflow's waits go when its retention drops it. */
export class MemoryWaitStore implements WaitStore {
  /** Trace id → wait name → record, in the order they opened. */
  readonly #waits = new Map<string, Map<string, WaitRecord>>();
  /** `<trace id> <name>` → when it was settled (ms), for waits whose step is still to be queued again. */
  readonly #toResume = new Map<string, number>();
  readonly #stopDropping: () => void;

  constructor(retention: MemoryRetention) {
    this.#stopDropping = retention.onDrop((traceId) => {
      this.#waits.delete(traceId);
      for (const key of this.#toResume.keys()) if (key.startsWith(`${traceId} `)) this.#toResume.delete(key);
    });
  }

  async open(wait: OpenedWait): Promise<{ readonly record: WaitRecord; readonly opened: boolean }> {
    let waits = this.#waits.get(wait.traceId);
    if (!waits) {
      waits = new Map();
      this.#waits.set(wait.traceId, waits);
    }
    const known = waits.get(wait.name);
    if (known) return { record: known, opened: false };
    const record: WaitRecord = { ...wait, status: 'waiting', input: null, by: null, settledAt: null };
    waits.set(wait.name, record);
    return { record, opened: true };
  }

  async get(traceId: string, name: string): Promise<WaitRecord | null> {
    return this.#waits.get(traceId)?.get(name) ?? null;
  }

  async list(traceId: string): Promise<WaitRecord[]> {
    return [...(this.#waits.get(traceId)?.values() ?? [])].sort(byOpening);
  }

  async settle(
    traceId: string,
    name: string,
    settlement: WaitSettlement,
    at: string,
  ): Promise<WaitRecord | null> {
    const waits = this.#waits.get(traceId);
    const record = waits?.get(name);
    if (!waits || record?.status !== 'waiting') return null;
    const settled = settledRecord(record, settlement, at);
    waits.set(name, settled);
    if (resumes(settlement)) this.#toResume.set(`${traceId} ${name}`, Date.parse(at));
    return settled;
  }

  async resumed(traceId: string, name: string): Promise<void> {
    this.#toResume.delete(`${traceId} ${name}`);
  }

  async unresumed(
    before: number,
    limit: number,
  ): Promise<{ readonly traceId: string; readonly name: string }[]> {
    return [...this.#toResume]
      .filter(([, settledAt]) => settledAt <= before)
      .slice(0, limit)
      .map(([key]) => {
        const [traceId = '', name = ''] = key.split(' ');
        return { traceId, name };
      });
  }

  async due(now: number, limit: number): Promise<{ readonly traceId: string; readonly name: string }[]> {
    return [...this.#waiting()]
      .filter((record) => Date.parse(record.deadline) <= now)
      .sort((a, b) => Date.parse(a.deadline) - Date.parse(b.deadline))
      .slice(0, limit)
      .map(({ traceId, name }) => ({ traceId, name }));
  }

  async nextDeadline(): Promise<number | null> {
    let next: number | null = null;
    for (const record of this.#waiting()) {
      const deadline = Date.parse(record.deadline);
      if (next === null || deadline < next) next = deadline;
    }
    return next;
  }

  /** Nothing to do: the shared retention drops the workflow's waits with the rest of it. */
  finished(): Promise<void> {
    return Promise.resolve();
  }

  async close(): Promise<void> {
    this.#stopDropping();
    this.#waits.clear();
    this.#toResume.clear();
  }

  *#waiting(): Generator<WaitRecord> {
    for (const waits of this.#waits.values())
      for (const record of waits.values()) if (record.status === 'waiting') yield record;
  }
}
