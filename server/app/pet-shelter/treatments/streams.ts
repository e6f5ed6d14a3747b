import { defineStream } from '../../../engine/index.js';
import { TreatmentDataSchema } from './schemas.js';

/** One treatment: started, waiting for the vet, the vet's answer (or none), finished. */
export const treatmentStream = defineStream({ name: 'treatment', schema: TreatmentDataSchema });
