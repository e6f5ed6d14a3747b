/**
 * One blocking reader per process for every locally watched Redis Stream:
 * a single `XREAD BLOCK` over all watched keys, each with its own cursor,
 * re-issued whenever the set of keys changes. However many subscribers a
 * process has, it holds one blocked connection.
 *
 * It also notices a watched log that is gone: Redis restarted without its
 * data (or the key was deleted or evicted), so a read from the old cursor
 * would wait for ever. After the connection was lost, and every `verifyMs`,
 * it checks that each watched key still reaches its cursor; and each entry
 * must follow the one before it (its `p` field). A log that fails either
 * check is reported `lost` to its watchers, which are then dropped.
 */
import { setTimeout as delay } from 'node:timers/promises';

import type { Redis } from 'ioredis';

import { createDeferred, type Deferred } from '../../../../shared/deferred.js';
import { compareEventIds } from '../../../../shared/stream-event.js';
import type { Logger } from '../../log.js';
import { throwFirstError } from './replies.js';

/** One stream entry: its id and its fields. */
export type StreamEntry = { readonly id: string; readonly fields: Readonly<Record<string, string>> };

export type EntryListener = {
  /** The next entry of the key. */
  readonly entry: (entry: StreamEntry) => void;
  /** The key's log is gone or was replaced: nothing more comes. */
  readonly lost: () => void;
};

export type StreamReaderOptions = {
  /** Used only by this reader: it spends most of its time blocked. */
  readonly reader: Redis;
  /** For the short commands (start positions, wake-ups). */
  readonly commands: Redis;
  /** A stream key of this process alone: writing to it wakes the blocked read. */
  readonly wakeKey: string;
  readonly log: Logger;
  /** Longest single block, in ms. @default 5000 */
  readonly blockMs?: number;
  /** Most entries taken per key per read. @default 500 */
  readonly batchSize?: number;
  /** How often every watched key is checked to still be there, in ms. @default 30000 */
  readonly verifyMs?: number;
};

type Watcher = {
  readonly listener: EntryListener;
  /** Entries after this id are this watcher's; null until its start position is known. */
  from: string | null;
  /** Entries read before the start position was known, filtered once it is. */
  early: StreamEntry[];
  active: boolean;
};

type Watched = {
  /** The reader's position in this key; null until the first watcher's start is known. */
  cursor: string | null;
  readonly watchers: Set<Watcher>;
};

const WAKE_TTL_MS = 60_000;
const ERROR_PAUSE_MS = 250;
/** Keys checked per pipeline. */
const VERIFY_BATCH = 500;
/** The cursor of a key that had no entry yet: nothing to check. */
const EMPTY = '0-0';

export class StreamReader {
  readonly #options: Required<StreamReaderOptions>;
  readonly #keys = new Map<string, Watched>();
  readonly #onClose = () => {
    this.#suspect = true;
  };
  // A read re-sent after a reconnect waits on the old cursors: wake it, so the check runs at once.
  readonly #onReady = () => {
    if (this.#suspect) this.#wake();
  };
  #wakeCursor = '0-0';
  #idle: Deferred<void> | undefined;
  #reading = false;
  #closed = false;
  /** The connection was lost since the last check: watched keys may be gone. */
  #suspect = false;
  #verifiedAt = Date.now();
  #verifyFailed = false;

  constructor(options: StreamReaderOptions) {
    this.#options = { blockMs: 5000, batchSize: 500, verifyMs: 30_000, ...options };
    for (const name of ['blockMs', 'batchSize', 'verifyMs'] as const) {
      const value = this.#options[name];
      if (!Number.isInteger(value) || value < 1) {
        throw new TypeError(`Expected \`${name}\` to be an integer >= 1, got \`${value}\``);
      }
    }
    options.reader.on('close', this.#onClose);
    options.reader.on('ready', this.#onReady);
    void this.#run();
  }

  /**
   * Calls `listener` with every entry of `key` added after this call, in
   * order, each once, or tells it once that the log is lost. The start
   * position is asked for right away on the command connection, so a read
   * issued after this call on that connection overlaps the live entries
   * rather than leaving a gap.
   */
  listen(key: string, listener: EntryListener): () => void {
    const watcher: Watcher = { listener, from: null, early: [], active: true };
    let watched = this.#keys.get(key);
    if (!watched) {
      watched = { cursor: null, watchers: new Set() };
      this.#keys.set(key, watched);
    }
    const current = watched;
    current.watchers.add(watcher);
    void this.#start(key, current, watcher);
    return () => {
      watcher.active = false;
      current.watchers.delete(watcher);
      if (current.watchers.size === 0 && this.#keys.get(key) === current) this.#keys.delete(key);
    };
  }

  listenerCount(): number {
    let count = 0;
    for (const watched of this.#keys.values()) count += watched.watchers.size;
    return count;
  }

  /** Stops reading; the owner of the connections closes them. */
  close(): void {
    this.#closed = true;
    this.#options.reader.off('close', this.#onClose);
    this.#options.reader.off('ready', this.#onReady);
    this.#keys.clear();
    this.#idle?.resolve();
  }

  async #start(key: string, watched: Watched, watcher: Watcher): Promise<void> {
    for (let failures = 0; watcher.active && !this.#closed; failures += 1) {
      try {
        const from = await lastEntryId(this.#options.commands, key);
        if (!watcher.active) return;
        watcher.from = from;
        const early = watcher.early;
        watcher.early = [];
        for (const entry of early) if (compareEventIds(entry.id, from) > 0) this.#notify(watcher, entry);
        if (watched.cursor === null) {
          watched.cursor = from;
          this.#wake();
        }
        return;
      } catch (error) {
        if (failures === 0)
          this.#options.log.warn({ err: error, key }, 'Cannot find where a live stream starts; retrying');
        await delay(Math.min(ERROR_PAUSE_MS * 2 ** failures, 2000));
      }
    }
  }

  #wake(): void {
    if (this.#idle) {
      this.#idle.resolve();
      return;
    }
    if (!this.#reading) return;
    const { commands, wakeKey } = this.#options;
    commands
      .multi()
      .xadd(wakeKey, 'MAXLEN', '1', '*', 'w', '1')
      .pexpire(wakeKey, WAKE_TTL_MS)
      .exec()
      // Unreachable Redis: the blocked read ends by itself within blockMs.
      .catch(() => undefined);
  }

  async #run(): Promise<void> {
    const { reader, wakeKey, blockMs, batchSize, log } = this.#options;
    while (!this.#closed) {
      const ready = [...this.#keys].filter(
        (entry): entry is [string, Watched & { cursor: string }] => entry[1].cursor !== null,
      );
      if (ready.length === 0) {
        this.#idle = createDeferred<void>();
        await this.#idle.promise;
        this.#idle = undefined;
        continue;
      }
      if (this.#suspect || Date.now() - this.#verifiedAt >= this.#options.verifyMs) {
        // Unreachable: reading is no use either; try again shortly.
        if (!(await this.#verify())) await delay(ERROR_PAUSE_MS);
        continue;
      }
      let reply: unknown;
      this.#reading = true;
      try {
        reply = await reader.call(
          'XREAD',
          'COUNT',
          batchSize,
          'BLOCK',
          blockMs,
          'STREAMS',
          wakeKey,
          ...ready.map(([key]) => key),
          this.#wakeCursor,
          ...ready.map(([, watched]) => watched.cursor),
        );
      } catch (error) {
        // Closed connection: its owner is shutting down.
        if (this.#closed || reader.status === 'end') return;
        log.warn({ err: error }, 'Live stream read failed; retrying');
        this.#suspect = true;
        await delay(ERROR_PAUSE_MS);
        continue;
      } finally {
        this.#reading = false;
      }
      for (const [key, entries] of parseXRead(reply)) {
        if (key === wakeKey) {
          this.#wakeCursor = entries.at(-1)?.id ?? this.#wakeCursor;
          continue;
        }
        this.#deliver(key, entries);
      }
    }
  }

  #deliver(key: string, entries: readonly StreamEntry[]): void {
    const watched = this.#keys.get(key);
    if (watched?.cursor == null) return;
    for (const entry of entries) {
      if (compareEventIds(entry.id, watched.cursor) <= 0) continue;
      if (!follows(entry, watched.cursor)) {
        this.#options.log.warn({ key }, 'A watched live stream was replaced in Redis');
        this.#lose(key, watched);
        return;
      }
      watched.cursor = entry.id;
      for (const watcher of [...watched.watchers]) {
        if (watcher.from === null) watcher.early.push(entry);
        else if (compareEventIds(entry.id, watcher.from) > 0) this.#notify(watcher, entry);
      }
    }
  }

  #notify(watcher: Watcher, entry: StreamEntry): void {
    try {
      watcher.listener.entry(entry);
    } catch (error) {
      // One failing listener must not stop delivery to the others.
      this.#options.log.error({ err: error }, 'A live stream listener failed');
    }
  }

  /**
   * Checks that every watched key that had entries still reaches its
   * cursor; false when Redis could not be asked. Runs between reads, so no
   * cursor moves meanwhile.
   */
  async #verify(): Promise<boolean> {
    const lost: [string, Watched][] = [];
    const checked = [...this.#keys].flatMap(([key, watched]) =>
      watched.cursor === null || watched.cursor === EMPTY ? [] : [{ key, watched, cursor: watched.cursor }],
    );
    try {
      for (let start = 0; start < checked.length; start += VERIFY_BATCH) {
        const batch = checked.slice(start, start + VERIFY_BATCH);
        const pipeline = this.#options.commands.pipeline();
        for (const { key } of batch) pipeline.xrevrange(key, '+', '-', 'COUNT', 1);
        const results = throwFirstError(await pipeline.exec());
        batch.forEach(({ key, watched, cursor }, index) => {
          const [newest] = parseEntries(results[index]?.[1]);
          if (newest === undefined || compareEventIds(newest.id, cursor) < 0) lost.push([key, watched]);
        });
      }
    } catch (error) {
      if (!this.#verifyFailed)
        this.#options.log.warn({ err: error }, 'Cannot check the watched live streams; retrying');
      this.#verifyFailed = true;
      return false;
    }
    this.#verifyFailed = false;
    this.#suspect = false;
    this.#verifiedAt = Date.now();
    if (lost.length > 0)
      this.#options.log.warn({ keys: lost.length }, 'Watched live streams are gone from Redis');
    for (const [key, watched] of lost) this.#lose(key, watched);
    return true;
  }

  /** The key's log is gone: its watchers are told and dropped. */
  #lose(key: string, watched: Watched): void {
    if (this.#keys.get(key) === watched) this.#keys.delete(key);
    const watchers = [...watched.watchers];
    watched.watchers.clear();
    for (const watcher of watchers) {
      watcher.active = false;
      try {
        watcher.listener.lost();
      } catch (error) {
        this.#options.log.error({ err: error }, 'A live stream listener failed');
      }
    }
  }
}

/**
 * Whether `entry` continues a log read up to `cursor`: its `p` names the
 * entry before it. Trimming may have taken entries in between (`p` is newer),
 * but an empty or older `p` means a new log under the same key.
 */
function follows(entry: StreamEntry, cursor: string): boolean {
  if (cursor === EMPTY) return true;
  const previous = entry.fields['p'];
  return previous !== undefined && previous !== '' && compareEventIds(previous, cursor) >= 0;
}

/** The id of the newest entry of a stream, or `0-0` when it has none (yet). */
async function lastEntryId(client: Redis, key: string): Promise<string> {
  const [newest] = parseEntries(await client.call('XREVRANGE', key, '+', '-', 'COUNT', 1));
  return newest?.id ?? '0-0';
}

/** `[[key, entries], …]` or null (timeout) → [key, entries][]. */
function parseXRead(reply: unknown): [string, StreamEntry[]][] {
  if (!Array.isArray(reply)) return [];
  return reply.flatMap((item: unknown) =>
    Array.isArray(item) && typeof item[0] === 'string'
      ? [[item[0], parseEntries(item[1])] as [string, StreamEntry[]]]
      : [],
  );
}

/** `[[id, [field, value, …]], …]` → StreamEntry[]. */
export function parseEntries(reply: unknown): StreamEntry[] {
  if (!Array.isArray(reply)) return [];
  return reply.flatMap((item: unknown) => {
    if (!Array.isArray(item) || typeof item[0] !== 'string' || !Array.isArray(item[1])) return [];
    const flat: unknown[] = item[1];
    const fields: Record<string, string> = {};
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const field = flat[i];
      const value = flat[i + 1];
      if (typeof field === 'string' && typeof value === 'string') fields[field] = value;
    }
    return [{ id: item[0], fields }];
  });
}
