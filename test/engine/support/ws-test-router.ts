/**
 * A router with one procedure of every kind the WebSocket protocol has to
 * carry, served the same way by our server and by tRPC's own adapter.
 */
import { EventEmitter, on, once } from 'node:events';

import {
  initTRPC,
  tracked,
  TRPCError,
  type TRPCDefaultErrorShape,
  type TRPCError as TRPCErrorType,
} from '@trpc/server';
import { observable } from '@trpc/server/observable';
import { z } from 'zod';

import { transformer } from '../../../shared/transformer.js';
import { Feed } from './feed.js';

export type FeedEvent = {
  readonly n: number;
  readonly text: string;
  readonly at?: Date;
  readonly extra?: unknown;
};

/** What the tests watch and drive on one server: one per server, through the context. */
export class Probe {
  readonly ticks = new EventEmitter();
  readonly feed = new Feed<FeedEvent>();
  /** Aborts the server gave each procedure, by procedure name. */
  readonly aborted: string[] = [];
  /** Inputs seen by subscriptions, in order (to check `lastEventId` merging). */
  readonly inputs: unknown[] = [];
  /** Subscriptions whose generator ran its `finally`. */
  readonly finished: string[] = [];
  readonly #changes = new EventEmitter();

  record(list: 'aborted' | 'inputs' | 'finished', entry: unknown): void {
    (this[list] as unknown[]).push(entry);
    this.#changes.emit('change');
  }

  /** Resolves once `predicate` holds. */
  async until(predicate: (probe: Probe) => boolean): Promise<void> {
    while (!predicate(this)) await once(this.#changes, 'change');
  }
}

export type TestContext = {
  readonly probe: Probe;
  readonly connectionParams: Record<string, string | undefined> | null;
};

/** The formatter adds a field, so that the tests see it was applied. */
export function errorFormatter({ shape, error }: { shape: TRPCDefaultErrorShape; error: TRPCErrorType }) {
  return {
    ...shape,
    data: {
      ...shape.data,
      formatted: true,
      fieldErrors: error.cause instanceof z.ZodError ? z.flattenError(error.cause).fieldErrors : null,
    },
  };
}

const t = initTRPC.context<TestContext>().create({ transformer, errorFormatter, isDev: false });

function onAbort(signal: AbortSignal | undefined, record: () => void): void {
  signal?.addEventListener('abort', record, { once: true });
}

export const testRouter = t.router({
  echo: t.procedure
    .input(z.object({ text: z.string().min(1), at: z.date() }))
    .query(({ input }) => ({ text: input.text.toUpperCase(), at: input.at, length: input.text.length })),
  add: t.procedure
    .input(z.object({ a: z.number(), b: z.number() }))
    .mutation(({ input }) => input.a + input.b),
  forbidden: t.procedure.query(() => {
    throw new TRPCError({ code: 'FORBIDDEN', message: 'Not yours' });
  }),
  crash: t.procedure.query(() => {
    throw new Error('boom');
  }),
  whoami: t.procedure.query(({ ctx }) => ctx.connectionParams),
  /** Answers only once aborted (the connection closed). */
  hang: t.procedure.query(async ({ ctx, signal }) => {
    await new Promise((resolve) => onAbort(signal, () => resolve(undefined)));
    ctx.probe.record('aborted', 'hang');
    return 'aborted';
  }),
  nested: {
    ping: t.procedure.query(() => 'pong'),
  },
  /** Tracked events 1..to (after `lastEventId`), then the end. */
  count: t.procedure
    .input(z.object({ to: z.number().int().min(0), lastEventId: z.string().optional() }))
    .subscription(async function* ({ input, ctx }) {
      ctx.probe.record('inputs', input);
      try {
        for (let n = Number(input.lastEventId ?? 0) + 1; n <= input.to; n += 1) {
          yield tracked(String(n), { n, text: `event ${n}` });
        }
      } finally {
        ctx.probe.record('finished', 'count');
      }
    }),
  /** Two events, then a failure. */
  failing: t.procedure.subscription(async function* () {
    yield tracked('1', { n: 1 });
    yield tracked('2', { n: 2 });
    throw new TRPCError({ code: 'CONFLICT', message: 'Broke after 2' });
  }),
  /** Untracked values, one per tick, until stopped. */
  forever: t.procedure.subscription(async function* ({ ctx, signal }) {
    onAbort(signal, () => ctx.probe.record('aborted', 'forever'));
    try {
      for await (const [n] of on(ctx.probe.ticks, 'tick', { signal })) yield { tick: n as number };
    } finally {
      ctx.probe.record('finished', 'forever');
    }
  }),
  /** A legacy observable (deprecated in v11, still served): values per tick, until stopped or told to end. */
  legacy: t.procedure.subscription(({ ctx }) =>
    observable<{ tick: number }>((emit) => {
      const onTick = (n: number) => {
        if (n < 0) emit.error(new TRPCError({ code: 'CONFLICT', message: 'Negative tick' }));
        else if (n === 0) emit.complete();
        else emit.next({ tick: n });
      };
      ctx.probe.ticks.on('tick', onTick);
      return () => ctx.probe.ticks.off('tick', onTick);
    }),
  ),
  /** The probe's feed: a Pushable (and an AsyncIterable for everything that pulls). */
  pushed: t.procedure
    .input(z.object({ lastEventId: z.string().optional() }).optional())
    .subscription(({ input, ctx, signal }) => {
      ctx.probe.record('inputs', input);
      onAbort(signal, () => ctx.probe.record('aborted', 'pushed'));
      return ctx.probe.feed.subscribe(input?.lastEventId);
    }),
  /** The same feed through an async generator, as tRPC documents subscriptions. */
  pulled: t.procedure
    .input(z.object({ lastEventId: z.string().optional() }).optional())
    .subscription(async function* ({ input, ctx, signal }) {
      onAbort(signal, () => ctx.probe.record('aborted', 'pulled'));
      yield* ctx.probe.feed.subscribe(input?.lastEventId, signal);
    }),
});

export type TestRouter = typeof testRouter;

export function createTestContext(probe: Probe, connectionParams: Record<string, string | undefined> | null) {
  if (connectionParams?.['reject'] === '1')
    throw new TRPCError({ code: 'UNAUTHORIZED', message: 'Rejected by createContext' });
  return { probe, connectionParams };
}
