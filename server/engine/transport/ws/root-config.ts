import type {
  AnyTRPCRootTypes,
  TRPCCombinedDataTransformer,
  TRPCErrorFormatter,
  TRPCErrorShape,
  TRPCRootConfig,
} from '@trpc/server';

import type { WsTransformer } from './options.js';

const identity = { serialize: (value: unknown) => value, deserialize: (value: unknown) => value };

/**
 * The root config that `getErrorShape`, `transformTRPCResponse` and
 * `parseTRPCMessage` read, made from the same transformer and error
 * formatter the application gave `initTRPC.create()`: the router's own
 * config is not part of tRPC's public API.
 */
export function rootConfig<TContext>(options: {
  readonly transformer: WsTransformer | undefined;
  readonly errorFormatter: TRPCErrorFormatter<TContext, TRPCErrorShape> | undefined;
  readonly isDev: boolean;
}): TRPCRootConfig<AnyTRPCRootTypes> {
  return {
    // A type-only field: tRPC sets it to null too.
    $types: null as unknown as AnyTRPCRootTypes,
    transformer: combined(options.transformer),
    errorFormatter: options.errorFormatter ?? (({ shape }) => shape),
    allowOutsideOfServer: false,
    isServer: true,
    isDev: options.isDev,
    pathSeparator: '.',
  };
}

function combined(transformer: WsTransformer | undefined): TRPCCombinedDataTransformer {
  if (transformer === undefined) return { input: identity, output: identity };
  return 'input' in transformer ? transformer : { input: transformer, output: transformer };
}
