import type { StreamEvent } from '../shared/stream-event.js';
import type { WatchStateChange } from './workflow-watch.js';

/**
 * Where a watched workflow stands:
 * - `connecting`: the first connection is being made (attempts may have failed);
 * - `live`: the server confirmed the subscription, events flow;
 * - `reconnecting`: the connection was lost and is being made again;
 * - `finished`: the workflow's finished event arrived; nothing follows it;
 * - `cancelled`: the workflow was cancelled (its `cancelled` event arrived); nothing follows it;
 * - `error`: the watch ended without either (`error` says why).
 */
export type WorkflowStatus = 'connecting' | 'live' | 'reconnecting' | 'finished' | 'cancelled' | 'error';

/** What a watched workflow has shown so far, folded from its events. */
export type WorkflowView<TEvent extends StreamEvent<unknown>> = {
  /** Every event since the start (or the last `reset`), in the workflow's log order, each once. */
  readonly events: readonly TEvent[];
  /** Each item's current value, by stream then item id; a deleted item is absent. */
  readonly items: ItemsOf<TEvent>;
  /**
   * The newest ephemeral value of each item (a stream's `send`: live only,
   * never stored), until a stored event of the same item replaces it.
   */
  readonly ephemeral: ItemsOf<TEvent>;
  /** The last `progress` (0-100) reported by each stage (`data.stage`, or the stream's name without one). */
  readonly progress: Readonly<Record<string, number>>;
  readonly status: WorkflowStatus;
  /** Why the status is `error` (a `WatchError` for what the server refused), or the last connection failure. */
  readonly error: Error | null;
  /** Failed connection attempts in a row; 0 while live. */
  readonly failures: number;
  /** The id of the last event: where a new watch would resume. */
  readonly lastEventId: string | null;
};

/** `{ [stream]: { [itemId]: data } }` for a union of events discriminated by `stream`. */
export type ItemsOf<TEvent extends StreamEvent<unknown>> = {
  readonly [S in TEvent['stream']]?: Readonly<
    Record<string, NonNullable<Extract<TEvent, { stream: S }>['data']>>
  >;
};

export type WorkflowViewAction<TEvent extends StreamEvent<unknown>> =
  | { readonly type: 'event'; readonly event: TEvent }
  | { readonly type: 'state'; readonly change: WatchStateChange }
  | { readonly type: 'failed'; readonly error: Error };

export function initialWorkflowView<TEvent extends StreamEvent<unknown>>(): WorkflowView<TEvent> {
  return {
    events: [],
    items: {},
    ephemeral: {},
    progress: {},
    status: 'connecting',
    error: null,
    failures: 0,
    lastEventId: null,
  };
}

/** Folds one thing that happened to a watch into the view; an ended or failed view stays as it is. */
export function nextWorkflowView<TEvent extends StreamEvent<unknown>>(
  view: WorkflowView<TEvent>,
  action: WorkflowViewAction<TEvent>,
): WorkflowView<TEvent> {
  if (view.status === 'finished' || view.status === 'cancelled' || view.status === 'error') return view;
  switch (action.type) {
    case 'event':
      return withEvent(view, action.event);
    case 'state':
      return withState(view, action.change);
    case 'failed':
      return { ...view, status: 'error', error: action.error };
  }
}

function withEvent<TEvent extends StreamEvent<unknown>>(
  view: WorkflowView<TEvent>,
  event: TEvent,
): WorkflowView<TEvent> {
  // What follows a reset is all the server keeps: the view is rebuilt from it.
  if (event.kind === 'reset')
    return { ...initialWorkflowView<TEvent>(), status: 'live', lastEventId: event.eventId };
  if (event.kind === 'ephemeral') {
    // Not a position of the log, nor a value: it moves neither `lastEventId` nor `items`.
    return { ...view, ephemeral: withItem(view.ephemeral, event, event.data), status: 'live' };
  }
  const streamItems: Record<string, unknown> = {
    ...(view.items as Record<string, object | undefined>)[event.stream],
  };
  if (event.kind === 'delete') delete streamItems[event.itemId];
  else if (event.data !== null) streamItems[event.itemId] = event.data;
  const reported = progressOf(event);
  return {
    ...view,
    events: [...view.events, event],
    items: { ...view.items, [event.stream]: streamItems },
    ephemeral: withItem(view.ephemeral, event, null),
    progress: reported ? { ...view.progress, [reported.stage]: reported.progress } : view.progress,
    status: event.kind === 'finished' || event.kind === 'cancelled' ? event.kind : 'live',
    error: null,
    failures: 0,
    lastEventId: event.eventId,
  };
}

function withState<TEvent extends StreamEvent<unknown>>(
  view: WorkflowView<TEvent>,
  change: WatchStateChange,
): WorkflowView<TEvent> {
  switch (change.state) {
    case 'connecting':
    case 'reconnecting':
      return { ...view, status: change.state, failures: change.failures, error: change.error };
    case 'open':
      return { ...view, status: 'live', failures: 0, error: null };
    case 'closed':
      // The iteration's end decides: a finished event, a failure, or an unmount.
      return view;
  }
}

/** `items` with the event's item set to `data`, or removed when `data` is null. */
function withItem<TEvent extends StreamEvent<unknown>>(
  items: ItemsOf<TEvent>,
  event: TEvent,
  data: unknown,
): ItemsOf<TEvent> {
  const current = (items as Record<string, Record<string, unknown> | undefined>)[event.stream];
  if (data === null && !(current && event.itemId in current)) return items;
  const next: Record<string, unknown> = { ...current };
  if (data === null) delete next[event.itemId];
  else next[event.itemId] = data;
  return { ...items, [event.stream]: next };
}

function progressOf(event: StreamEvent<unknown>): { stage: string; progress: number } | null {
  const data = event.data;
  if (typeof data !== 'object' || data === null) return null;
  const { stage, progress } = data as { readonly stage?: unknown; readonly progress?: unknown };
  if (typeof progress !== 'number') return null;
  return { stage: typeof stage === 'string' ? stage : event.stream, progress };
}
