/**
 * The demo's `--treat`: the treatment of the pet it created, watched live,
 * with the vet's answer given when the treatment waits for it (from
 * `--vet`, or asked on the terminal), or the treatment cancelled.
 */
import type { Pet } from '../shared/pet.js';
import type { PetClient, WorkflowEvent } from './create-client.js';
import type { VetChoice } from './demo-options.js';
import type { DemoView } from './demo-view.js';

export type TreatmentEvent = WorkflowEvent<'treatment'>;

export type TreatOptions = {
  /** The vet's answer; null: ask on the terminal when there is one, else wait for an answer from elsewhere. */
  readonly vet: VetChoice | null;
  readonly note: string;
  /** Asks the vet on the terminal; null without one. */
  readonly ask: ((name: string, signal: AbortSignal) => Promise<VetChoice>) | null;
  readonly maxRetries: number;
};

/** What the demo runs with. */
export type DemoContext = {
  readonly client: PetClient;
  readonly view: DemoView;
  readonly signal: AbortSignal;
};

/** Treats the pet; true when the treatment ended (finished or cancelled), false when interrupted. */
export async function treat(context: DemoContext, pet: Pet, options: TreatOptions): Promise<boolean> {
  const { client, view, signal } = context;
  if (pet.status !== 'ill') {
    view.note(`${pet.name} is ${pet.status}: there is nothing to treat`);
    return true;
  }
  const { traceId, streamToken } = await client.trpc.pets.treat.mutate({ petId: pet.id });
  view.note(`Treatment of ${pet.name} started · trace ${traceId}`);
  const watch = client.watch('treatment', traceId, streamToken, {
    signal,
    onStateChange: view.state,
    maxRetries: options.maxRetries,
  });
  let ended = false;
  for await (const event of watch) {
    view.treatment(event);
    ended = event.kind === 'finished' || event.kind === 'cancelled';
    if (event.data?.stage !== 'waiting' || event.kind !== 'set') continue;
    const choice = options.vet ?? (options.ask ? await options.ask(pet.name, signal) : null);
    if (choice === null) {
      view.note(`Waiting for the vet: answer in the workbench, or run the demo with --vet clear|keep|cancel`);
    } else if (choice === 'cancel') {
      await client.trpc.workflows.cancel.mutate({ traceId, token: streamToken });
      view.note(`Treatment of ${pet.name} cancelled`);
    } else {
      await client.trpc.pets.vetClearance.mutate({
        petId: pet.id,
        cleared: choice === 'clear',
        note: options.note,
      });
      view.note(
        `Vet's answer given: ${choice === 'clear' ? 'cleared' : 'stays in treatment'} (${options.note})`,
      );
    }
  }
  if (ended) view.pet(await client.pets.get.query({ id: pet.id }));
  return ended;
}
