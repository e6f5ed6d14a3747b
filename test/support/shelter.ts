/** The shelter through a real server, as its clients see it. */
import { TRPCClientError } from '@trpc/client';

import type { Pet, PetInput } from '../../shared/pet.js';
import type { TestApp } from './test-app.js';

/** A pet whose creation workflow has finished: healthy without symptoms, ill with some. */
export async function finishedPet(ctx: Pick<TestApp, 'app' | 'client'>, input: PetInput): Promise<Pet> {
  const created = await ctx.client.pets.create.mutate(input);
  await ctx.app.engine.workflows.onFinished(created.traceId);
  return ctx.client.pets.get.query({ id: created.pet.id });
}

/** The error a client call was refused with: its code and message; fails when the call succeeds. */
export async function refusal(
  call: Promise<unknown>,
): Promise<{ readonly code: string; readonly message: string }> {
  const error: unknown = await call.then(
    () => null,
    (e: unknown) => e,
  );
  if (!(error instanceof TRPCClientError)) throw new Error(`expected a refusal, got ${String(error)}`);
  return { code: (error.data as { code: string } | undefined)?.code ?? 'NONE', message: error.message };
}
