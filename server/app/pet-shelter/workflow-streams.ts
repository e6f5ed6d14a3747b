/**
 * The streams of each workflow kind of the shelter, for typed clients:
 * `watch(kind, …)` types its events from these (a type-only import). The
 * stream maps, not the workflows, so a client's types reach no step code.
 */
import type { adoptionStreams } from './adoptions/streams.js';
import type { petCreationStreams } from './pets/streams.js';

export type ShelterWorkflowStreams = {
  readonly petCreation: typeof petCreationStreams;
  readonly adoption: typeof adoptionStreams;
};
