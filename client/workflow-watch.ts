import { createDeferred, type Deferred } from '../shared/deferred.js';
import { compareEventIds, isEndKind, type StreamEvent } from '../shared/stream-event.js';
import { streamTokenExpiry } from '../shared/stream-token.js';
import { errorData, terminalCode, WatchError } from './watch-error.js';

/**
 * - `connecting`: the first connection is being made (attempts may have failed);
 * - `open`: the server confirmed the subscription, events flow;
 * - `reconnecting`: the connection was lost and is being made again;
 * - `closed`: the watch has ended (workflow finished, error, abort or client closed).
 */
export type WatchState = 'connecting' | 'open' | 'reconnecting' | 'closed';

export type WatchStateChange = {
  readonly state: WatchState;
  /** Failed attempts in a row so far; 0 once open. */
  readonly failures: number;
  /** Why the last attempt failed or the connection was lost, if it was. */
  readonly error: Error | null;
};

export type WatchOptions = {
  /** Ends the watch: the iteration stops quietly. */
  readonly signal?: AbortSignal;
  /** Resume after this event id (the last one you saw); from the start when absent. */
  readonly lastEventId?: string | null;
  /** Called on every state change, and on every failed attempt while not open. */
  readonly onStateChange?: (change: WatchStateChange) => void;
  /**
   * Failed attempts in a row after which the watch gives up with a
   * `WatchError` of code `UNREACHABLE`. @default Infinity
   */
  readonly maxRetries?: number;
  /**
   * `latest`: start from each item's current value instead of the whole
   * history (without `lastEventId`; a resume always continues after the
   * last event). @default 'start'
   */
  readonly from?: 'start' | 'latest';
  /** Called with each new token the watch got by refreshing its own (keep it to watch again later). */
  readonly onTokenRefresh?: (token: string) => void;
};

/** What the watch hands a subscription's callbacks (a subset of tRPC's subscription observer). */
export type WatchCallbacks<TEvent> = {
  readonly onStarted: () => void;
  readonly onData: (tracked: { readonly data: TEvent }) => void;
  readonly onConnectionStateChange: (change: {
    readonly state: string;
    readonly error: Error | null;
  }) => void;
  readonly onError: (error: Error) => void;
  readonly onComplete: () => void;
};

/** Starts one subscription of the workflow's events (a tRPC `subscribe` with the watch's input). */
export type WatchSubscribe<TEvent> = (
  input: {
    readonly traceId: string;
    readonly token: string;
    readonly lastEventId: string | null;
    readonly from?: 'start' | 'latest';
  },
  callbacks: WatchCallbacks<TEvent>,
) => Unsubscribable;

/** Exchanges a valid token for a new one of the same workflow (`workflows.refreshToken`). */
export type RefreshToken = (input: {
  readonly traceId: string;
  readonly token: string;
}) => Promise<{ readonly token: string }>;

/** How the watch reaches the server; made by `createPetClient`. */
export type WatchTransport<TEvent> = {
  readonly subscribe: WatchSubscribe<TEvent>;
  /**
   * True when the link does not reconnect by itself after a drop (SSE: the
   * EventSource would retry at a fixed interval, so the watch closes it and
   * resubscribes with its own backoff). The WebSocket client reconnects and
   * resubscribes by itself, with the same backoff.
   */
  readonly restartOnDrop: boolean;
  /** Delay before the n-th retry (0-based). */
  readonly retryDelayMs: (attempt: number) => number;
  /** Aborted when the client is closed: every watch ends. */
  readonly closed: AbortSignal;
  /** When given, the watch refreshes its token before it expires (see WorkflowWatch). */
  readonly refreshToken?: RefreshToken;
};

/** Share of a token's remaining life after which it is refreshed. */
const REFRESH_AT = 0.75;
/** Refreshes are this far apart at least, whatever the clocks say. */
const MIN_REFRESH_DELAY_MS = 250;

export type Unsubscribable = { unsubscribe(): void };

/**
 * The live events of one workflow as an async iterable that survives
 * connection loss: it resubscribes with the id of the last event it
 * delivered, and drops anything at or before that id, so the sequence has no
 * gap and no duplicate whatever the link does. It ends after the workflow's
 * last event (`finished` or `cancelled`), and throws a `WatchError` for
 * answers a retry cannot change.
 *
 * With a `refreshToken` transport it keeps its token valid: when three
 * quarters of the token's remaining life have passed, it asks for a new
 * one, and resubscribes with it from its last event (over WebSocket, whose
 * client would otherwise reconnect with the token it started with), so a
 * reconnect after the first token expired still opens the workflow.
 */
export class WorkflowWatch<TEvent extends StreamEvent<unknown>> implements AsyncIterable<TEvent> {
  readonly #transport: WatchTransport<TEvent>;
  readonly #traceId: string;
  #token: string;
  #refreshTimer: ReturnType<typeof setTimeout> | undefined;
  #refreshFailures = 0;
  readonly #options: WatchOptions;
  readonly #maxRetries: number;

  readonly #queue: TEvent[] = [];
  #wake: Deferred<void> = createDeferred<void>();
  #lastEventId: string | null;
  #state: WatchState = 'connecting';
  #wasOpen = false;
  #failures = 0;
  /** Numbers connection attempts: callbacks of an abandoned one are ignored. */
  #attempt = 0;
  #subscription: Unsubscribable | null = null;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #iterated = false;
  #ended = false;
  #failure: Error | null = null;

  constructor(transport: WatchTransport<TEvent>, traceId: string, token: string, options: WatchOptions = {}) {
    const maxRetries = options.maxRetries ?? Number.POSITIVE_INFINITY;
    if (!(maxRetries === Number.POSITIVE_INFINITY || (Number.isInteger(maxRetries) && maxRetries >= 0))) {
      throw new TypeError(`Expected \`maxRetries\` to be an integer >= 0 or Infinity, got \`${maxRetries}\``);
    }
    this.#transport = transport;
    this.#traceId = traceId;
    this.#token = token;
    this.#options = options;
    this.#maxRetries = maxRetries;
    this.#lastEventId = options.lastEventId ?? null;
  }

  get state(): WatchState {
    return this.#state;
  }

  /** The token the watch uses now: the one it was given, or the newest it refreshed it to. */
  get token(): string {
    return this.#token;
  }

  /** The id of the last event delivered: pass it as `lastEventId` to resume later. */
  get lastEventId(): string | null {
    return this.#lastEventId;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<TEvent, void, undefined> {
    if (this.#iterated) throw new Error('A watch can be iterated once; watch again');
    this.#iterated = true;
    const signals = [this.#options.signal, this.#transport.closed].filter((s) => s !== undefined);
    const abort = () => this.#abort();
    for (const signal of signals) signal.addEventListener('abort', abort, { once: true });
    try {
      if (signals.some((signal) => signal.aborted)) return;
      this.#setState('connecting', null);
      this.#connect();
      this.#scheduleRefresh();
      for (;;) {
        const next = this.#queue.shift();
        if (next) {
          yield next;
          if (isEndKind(next.kind)) return;
          continue;
        }
        if (this.#failure) throw this.#failure;
        if (this.#ended) return;
        await this.#wake.promise;
        this.#wake = createDeferred<void>();
      }
    } finally {
      for (const signal of signals) signal.removeEventListener('abort', abort);
      this.#end();
      this.#setState('closed', null);
    }
  }

  #connect(): void {
    const attempt = ++this.#attempt;
    const current = () => attempt === this.#attempt && !this.#ended;
    const subscription = this.#transport.subscribe(
      {
        traceId: this.#traceId,
        token: this.#token,
        lastEventId: this.#lastEventId,
        ...(this.#options.from === undefined ? {} : { from: this.#options.from }),
      },
      {
        onStarted: () => {
          if (current()) this.#opened();
        },
        onData: (tracked) => {
          if (current()) this.#receive(tracked.data);
        },
        onConnectionStateChange: (change) => {
          if (current() && change.state === 'connecting' && change.error) this.#lost(change.error);
        },
        onError: (error) => {
          if (current()) this.#failed(error);
        },
        onComplete: () => {
          // Completing before the finished event means the server stopped
          // the subscription (e.g. while shutting down): resume elsewhere.
          if (current()) this.#lost(new Error('The server ended the subscription early'));
        },
      },
    );
    // A synchronous callback may already have abandoned this attempt.
    if (current()) this.#subscription = subscription;
    else subscription.unsubscribe();
  }

  #receive(event: TEvent): void {
    // A `reset` carries the id it resumed from, an `ephemeral` event the
    // position already reached; anything else at or before the last
    // delivered id was delivered already.
    const positioned = event.kind !== 'reset' && event.kind !== 'ephemeral';
    const seen =
      positioned && this.#lastEventId !== null && compareEventIds(event.eventId, this.#lastEventId) <= 0;
    if (seen) return;
    if (this.#state !== 'open') this.#opened();
    if (positioned || event.kind === 'reset') this.#lastEventId = event.eventId;
    this.#queue.push(event);
    if (isEndKind(event.kind)) this.#end();
    this.#wake.resolve();
  }

  #opened(): void {
    this.#wasOpen = true;
    this.#failures = 0;
    this.#setState('open', null);
  }

  /** The connection was lost, or an attempt to make it failed. */
  #lost(error: Error): void {
    if (!this.#countFailure(error)) return;
    if (this.#transport.restartOnDrop) this.#retryLater();
  }

  #failed(error: Error): void {
    const code = terminalCode(error);
    if (code) {
      this.#fail(new WatchError(code, error.message, { cause: error, data: errorData(error) }));
      return;
    }
    // The link gave up (e.g. its own retry failed while the server was down):
    // start a new subscription from the last delivered event.
    if (this.#countFailure(error)) this.#retryLater();
  }

  /** Records a failed attempt; false when that was one too many. */
  #countFailure(error: Error): boolean {
    this.#failures += 1;
    if (this.#failures > this.#maxRetries) {
      this.#fail(
        new WatchError('UNREACHABLE', `Gave up after ${this.#failures} failed attempts: ${error.message}`, {
          cause: error,
        }),
      );
      return false;
    }
    this.#setState(this.#wasOpen ? 'reconnecting' : 'connecting', error);
    return true;
  }

  #retryLater(): void {
    this.#stopSubscription();
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(
      () => {
        this.#retryTimer = undefined;
        if (!this.#ended) this.#connect();
      },
      this.#transport.retryDelayMs(this.#failures - 1),
    );
  }

  #fail(error: Error): void {
    this.#failure = error;
    this.#end();
    this.#wake.resolve();
  }

  #abort(): void {
    this.#queue.length = 0;
    this.#end();
    this.#wake.resolve();
  }

  #end(): void {
    this.#ended = true;
    this.#stopSubscription();
    clearTimeout(this.#retryTimer);
    clearTimeout(this.#refreshTimer);
  }

  /** Plans the next refresh of the current token, if the transport can refresh and the token tells its expiry. */
  #scheduleRefresh(): void {
    const expiresAt = streamTokenExpiry(this.#token);
    if (!this.#transport.refreshToken || expiresAt === null || this.#ended) return;
    const delay = Math.max(MIN_REFRESH_DELAY_MS, (expiresAt - Date.now()) * REFRESH_AT);
    clearTimeout(this.#refreshTimer);
    this.#refreshTimer = setTimeout(() => void this.#refresh(expiresAt), delay);
  }

  async #refresh(expiresAt: number): Promise<void> {
    const refresh = this.#transport.refreshToken;
    if (!refresh || this.#ended) return;
    let token: string;
    try {
      ({ token } = await refresh({ traceId: this.#traceId, token: this.#token }));
    } catch (error) {
      // Tried again while the token lasts; a refusal (the workflow is gone) ends the refreshing.
      this.#refreshFailures += 1;
      const retryAt = Date.now() + this.#transport.retryDelayMs(this.#refreshFailures - 1);
      if (terminalCode(error) === null && retryAt < expiresAt && !this.#ended) {
        this.#refreshTimer = setTimeout(() => void this.#refresh(expiresAt), retryAt - Date.now());
      }
      return;
    }
    if (this.#ended) return;
    this.#refreshFailures = 0;
    this.#token = token;
    this.#options.onTokenRefresh?.(token);
    // The WebSocket client resubscribes with the input it was given: give it the new token now.
    if (!this.#transport.restartOnDrop && this.#subscription) {
      this.#stopSubscription();
      this.#connect();
    }
    this.#scheduleRefresh();
  }

  #stopSubscription(): void {
    this.#attempt += 1;
    const subscription = this.#subscription;
    this.#subscription = null;
    subscription?.unsubscribe();
  }

  #setState(state: WatchState, error: Error | null): void {
    const unchanged = state === this.#state && (state === 'open' || state === 'closed');
    if (unchanged) return;
    this.#state = state;
    this.#options.onStateChange?.({ state, failures: this.#failures, error });
  }
}
