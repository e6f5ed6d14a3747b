import { createCaller } from '../../server/app/pet-shelter/app-router.js';
import { createEngine, type Engine } from '../../server/engine/create-engine.js';
import { createContextFactory } from '../../server/engine/transport/context.js';
import { testApplication, type TestOverrides } from './test-application.js';
import { captureLogger, testConfig, type LogLine } from './test-config.js';

export type TestCaller = AsyncDisposable & {
  readonly caller: ReturnType<typeof createCaller>;
  readonly engine: Engine;
  readonly logs: LogLine[];
};

/** The router in process, over the embedded (memory) backends, without any transport. */
export function createTestCaller(
  options: { readonly env?: Record<string, string>; readonly signal?: AbortSignal } & TestOverrides = {},
): TestCaller {
  const { log, lines } = captureLogger();
  const engine = createEngine(testConfig(options.env), log, testApplication(options));
  const caller = createCaller(createContextFactory(engine)(), { signal: options.signal });
  return {
    caller,
    engine,
    logs: lines,
    [Symbol.asyncDispose]: () => engine.close(),
  };
}
