import { petCreationStream } from '../../server/app/pet-shelter/pets/streams.js';
import type { Engine } from '../../server/engine/create-engine.js';
import type { PetCreationEvent } from '../../shared/pet-creation.js';

/** The engine's `petCreation` stream: what `petCreation.onUpdate` and `/pets/streams/<id>` deliver. */
export function petCreationOf(engine: Engine) {
  return engine.workflowLog.stream(petCreationStream);
}

/**
 * The `petCreation` events of a workflow as stored now (running or not),
 * read from the storage itself rather than through a subscription.
 */
export async function storedNow(engine: Engine, traceId: string): Promise<PetCreationEvent[]> {
  const { events } = await engine.backends.streamStorage.readAfter(traceId, null);
  // The stream's schema checked their data when they were written.
  return events.filter((event) => event.stream === petCreationStream.name) as PetCreationEvent[];
}

/** A workflow's whole log as stored now (every stream), read from the storage itself. */
export async function storedLog(engine: Engine, traceId: string) {
  return (await engine.backends.streamStorage.readAfter(traceId, null)).events;
}
