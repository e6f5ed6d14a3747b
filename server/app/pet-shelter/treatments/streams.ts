import { defineStream } from '../../../engine/index.js';
import { TreatmentDataSchema } from './schemas.js';

/** One treatment: started, waiting for the vet, the vet's answer (or none), finished. */
export const treatmentStream = defineStream({ name: 'treatment', schema: TreatmentDataSchema });

/** The treatment workflow's streams, by name: clients type their events from this map. */
export const treatmentStreams = { treatment: treatmentStream };
