/**
 * What tRPC itself does with a reserved key: `router({ call: … })` throws
 * when the router is defined, so an application whose router has such a
 * procedure never starts. The engine's TRPC_RESERVED_NAMES (refused in
 * workflow kinds, stream, step and topic names, see
 * workflow-definitions.test.ts) are exactly the keys tRPC refuses.
 */
import { initTRPC } from '@trpc/server';
import { describe, expect, test } from 'vitest';

import { publicProcedure, router, TRPC_RESERVED_NAMES } from '../../server/engine/index.js';

describe('tRPC-reserved procedure names', () => {
  test.each(TRPC_RESERVED_NAMES)('tRPC refuses `%s` as a key when the router is defined', (name) => {
    const t = initTRPC.create();
    const message = `Reserved words used in \`router({})\` call: ${name}`;
    expect(() => t.router({ [name]: t.procedure.query(() => 1) })).toThrow(message);
    expect(() => t.router({ nested: t.router({ [name]: t.procedure.query(() => 1) }) })).toThrow(message);
  });

  test('keys near the reserved ones are accepted: the list is not wider than tRPC’s', () => {
    const t = initTRPC.create();
    for (const name of ['caller', 'applyNow', 'thenWhat', 'bind', 'toString']) {
      expect(() => t.router({ [name]: t.procedure.query(() => 1) }), name).not.toThrow();
    }
  });

  test('an application router with a procedure named `call` fails when it is defined', () => {
    expect(() => router({ pets: router({ call: publicProcedure.query(() => 'hello') }) })).toThrow(
      'Reserved words used in `router({})` call: call',
    );
  });
});
