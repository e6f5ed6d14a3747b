import type { TRPCError } from '@trpc/server';
import { expect } from 'vitest';
import { z } from 'zod';

import type { Pet, PetInput } from '../../shared/pet.js';
import { createTestCaller } from './caller.js';
import { rejection } from './errors.js';

/** The field errors the server sends for a BAD_REQUEST (`data.fieldErrors`). */
export function fieldErrorsOf(error: TRPCError): Record<string, string[] | undefined> {
  if (!(error.cause instanceof z.ZodError))
    throw new Error(`expected a ZodError cause, got ${String(error.cause)}`);
  return z.flattenError(error.cause).fieldErrors;
}

/** Creates the pet in process, lets its workflow finish with every step succeeded, and returns what was stored. */
export async function createAndRead(input: PetInput): Promise<Pet> {
  await using t = createTestCaller();
  const created = await t.caller.pets.create(input);
  const finished = await t.engine.workflows.onFinished(created.traceId);
  expect(Object.values(finished.outcomes)).toEqual(['succeeded', 'succeeded']);
  const stored = await t.caller.pets.get({ id: created.pet.id });
  expect(stored).toMatchObject({ id: created.pet.id, createdAt: created.pet.createdAt });
  return stored;
}

/**
 * Creates the pet in process, expects BAD_REQUEST with exactly `messages` on
 * `field` and no other field, and checks that nothing was stored.
 */
export async function expectRefused(
  input: unknown,
  field: string,
  messages?: readonly string[],
): Promise<void> {
  await using t = createTestCaller();
  // @ts-expect-error deliberately invalid input
  const error = await rejection(t.caller.pets.create(input));
  expect(error.code).toBe('BAD_REQUEST');
  const fieldErrors = fieldErrorsOf(error);
  expect(Object.keys(fieldErrors)).toEqual([field]);
  if (messages) expect(fieldErrors[field]).toEqual(messages);
  // Ids start at 1: nothing was created.
  expect((await rejection(t.caller.pets.get({ id: '1' }))).code).toBe('NOT_FOUND');
}
