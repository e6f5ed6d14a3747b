import { createContextFactory } from '../../server/context.js';
import { createCaller } from '../../server/router/app-router.js';
import { createServices, type RunningServices, type ServiceOverrides } from '../../server/services.js';
import { captureLogger, testConfig, type LogLine } from './test-config.js';

export type TestCaller = AsyncDisposable & {
  readonly caller: ReturnType<typeof createCaller>;
  readonly services: RunningServices;
  readonly logs: LogLine[];
};

/** The router in process, over the embedded (memory) backends, without any transport. */
export function createTestCaller(
  options: { readonly env?: Record<string, string>; readonly signal?: AbortSignal } & ServiceOverrides = {},
): TestCaller {
  const { log, lines } = captureLogger();
  const services = createServices(testConfig(options.env), log, options);
  const caller = createCaller(createContextFactory(services)(), { signal: options.signal });
  return {
    caller,
    services,
    logs: lines,
    [Symbol.asyncDispose]: () => services.close(),
  };
}
