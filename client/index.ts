/**
 * The client package's entry (`@pet-stream/client`): the typed client, its
 * watches and errors, and the shelter's data types. Browser-safe: nothing
 * here imports a Node module or server code (the router is a type only).
 */
import type { TRPCClientError } from '@trpc/client';

import type { AppRouter } from './create-client.js';

export {
  backoffWithJitter,
  createPetClient,
  createPetClient as createClient,
  PetCreationWatch,
  TRANSPORTS,
  WatchError,
  WorkflowWatch,
} from './create-client.js';
export type {
  AppRouter,
  PetClient,
  PetClientOptions,
  StreamName,
  Transport,
  WatchErrorCode,
  WatchOptions,
  WatchState,
  WatchStateChange,
  WorkflowEvent,
  WorkflowKind,
} from './create-client.js';
export {
  initialWorkflowView,
  nextWorkflowView,
  type ItemsOf,
  type WorkflowStatus,
  type WorkflowView,
  type WorkflowViewAction,
} from './workflow-view.js';
export { TRPCClientError } from '@trpc/client';
/** What a query or mutation throws: `error.data` has the server's `code`, `httpStatus` and `fieldErrors`. */
export type PetClientError = TRPCClientError<AppRouter>;
export {
  compareEventIds,
  isEndKind,
  type EndKind,
  type StreamEvent,
  type StreamEventKind,
} from '../shared/stream-event.js';
export { streamTokenExpiry } from '../shared/stream-token.js';
export type { Pet, PetInput, PetStatus, Profile, ProfileField, Species } from '../shared/pet.js';
export type {
  PetCreationData,
  PetCreationEvent,
  PetCreationStage,
  PetProfileData,
} from '../shared/pet-creation.js';
