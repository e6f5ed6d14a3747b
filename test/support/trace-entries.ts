import { createDeferred } from '../../shared/deferred.js';
import type { TraceEntry } from '../../shared/trace.js';
import type { TestApp } from './test-app.js';

/** Resolves once the trace holds an entry `match` accepts, as recorded by any instance. */
export async function traceEntry(ctx: TestApp, traceId: string, match: (entry: TraceEntry) => boolean) {
  const { traces } = ctx.app.engine.observability;
  const found = createDeferred<void>();
  // Listening before reading: an entry written meanwhile is not missed.
  const stop = traces.listen(traceId, {
    entry: (entry) => {
      if (match(entry)) found.resolve();
    },
    gone: () => found.reject(new Error(`trace ${traceId} is gone`)),
  });
  try {
    const kept = await traces.readAfter(traceId, null);
    if (kept?.entries.some(match)) found.resolve();
    await found.promise;
  } finally {
    stop();
  }
}
