/**
 * React bindings (`@pet-stream/client/react`): a provider for the client and
 * `useWorkflow`, one workflow's live view with its connection status. React
 * is a peer dependency; nothing here needs JSX. It imports the package's
 * entry only, so the built declarations share its types.
 */
import {
  createContext,
  createElement,
  useContext,
  useEffect,
  useReducer,
  type ReactElement,
  type ReactNode,
} from 'react';

import {
  initialWorkflowView,
  isEndKind,
  nextWorkflowView,
  type PetClient,
  type StreamEvent,
  type StreamName,
  type WorkflowEvent,
  type WorkflowKind,
  type WorkflowView,
  type WorkflowViewAction,
} from './index.js';

const ClientContext = createContext<PetClient | null>(null);

/** Makes `client` the one the hooks below it use. */
export function PetClientProvider(props: {
  readonly client: PetClient;
  readonly children?: ReactNode;
}): ReactElement {
  return createElement(ClientContext.Provider, { value: props.client }, props.children);
}

/** The client of the nearest `PetClientProvider`. */
export function usePetClient(): PetClient {
  const client = useContext(ClientContext);
  if (!client)
    throw new Error('usePetClient and useWorkflow need a <PetClientProvider client={…}> above them');
  return client;
}

export type UseWorkflowOptions<S extends string> = {
  /** The streams to watch; all of the kind's when absent. */
  readonly streams?: readonly S[];
};

type ViewState<TEvent extends StreamEvent<unknown>> = {
  /** The workflow the view belongs to: a view of another is never shown. */
  readonly source: string;
  readonly view: WorkflowView<TEvent>;
};

type ViewAction<TEvent extends StreamEvent<unknown>> =
  | { readonly type: 'start'; readonly source: string }
  | (WorkflowViewAction<TEvent> & { readonly source: string });

function reduce<TEvent extends StreamEvent<unknown>>(
  state: ViewState<TEvent>,
  action: ViewAction<TEvent>,
): ViewState<TEvent> {
  if (action.type === 'start') return { source: action.source, view: initialWorkflowView() };
  if (action.source !== state.source) return state;
  const view = nextWorkflowView(state.view, action);
  return view === state.view ? state : { source: state.source, view };
}

/**
 * One workflow, live: its events, each item's current value, each stage's
 * progress, and the connection's `status`. It watches through the client's
 * `watch`, so it reconnects by itself and resumes after the last event it
 * has, with nothing lost or repeated; it stops watching on unmount or when
 * its arguments change.
 *
 * @example
 * const { events, items, progress, status, error } = useWorkflow('petCreation', traceId, token, {
 *   streams: ['petCreation', 'petProfile'],
 * });
 */
export function useWorkflow<K extends WorkflowKind, S extends StreamName<K> = StreamName<K>>(
  kind: K,
  traceId: string,
  token: string,
  options: UseWorkflowOptions<S> = {},
): WorkflowView<WorkflowEvent<K, S>> {
  type TEvent = WorkflowEvent<K, S>;
  const client = usePetClient();
  const streams = options.streams;
  // An array literal is new on every render: the streams' names are what count.
  const streamsKey = streams ? streams.join(',') : '*';
  const source = `${kind}/${traceId}/${token}/${streamsKey}`;
  const [state, dispatch] = useReducer<ViewState<TEvent>, [ViewAction<TEvent>]>(reduce, {
    source,
    view: initialWorkflowView<TEvent>(),
  });

  useEffect(() => {
    const stop = new AbortController();
    const send = (action: WorkflowViewAction<TEvent>) => {
      if (!stop.signal.aborted) dispatch({ ...action, source });
    };
    dispatch({ type: 'start', source });
    const names = streamsKey === '*' ? undefined : (streamsKey.split(',') as S[]);
    const watch = client.watch(kind, traceId, token, {
      ...(names ? { streams: names } : {}),
      signal: stop.signal,
      onStateChange: (change) => send({ type: 'state', change }),
    });
    void (async () => {
      let finished = false;
      try {
        for await (const event of watch) {
          finished = isEndKind(event.kind);
          send({ type: 'event', event });
        }
        if (!finished) send({ type: 'failed', error: new Error('The client was closed') });
      } catch (error) {
        send({ type: 'failed', error: error instanceof Error ? error : new Error(String(error)) });
      }
    })();
    return () => stop.abort();
  }, [client, kind, traceId, token, streamsKey, source]);

  return state.source === source ? state.view : initialWorkflowView<TEvent>();
}

export type { ItemsOf, WorkflowStatus, WorkflowView } from './index.js';
