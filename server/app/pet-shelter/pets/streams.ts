import { PetCreationDataSchema, PetProfileDataSchema } from '../../../../shared/pet-creation.js';
import { defineStream } from '../../../engine/index.js';

/** Live progress of one pet creation workflow: the messages of every step. */
export const petCreationStream = defineStream({ name: 'petCreation', schema: PetCreationDataSchema });

/** The profile as it is written, field by field, the bio's drafts included. */
export const petProfileStream = defineStream({ name: 'petProfile', schema: PetProfileDataSchema });

/** The pet creation workflow's streams, by name: clients type their events from this map. */
export const petCreationStreams = { petCreation: petCreationStream, petProfile: petProfileStream };
