import { defineStream } from '../../../engine/index.js';
import { AdoptionAuditDataSchema, AdoptionProgressDataSchema } from './schemas.js';

/** What the applicant watches: each stage's progress and messages, then the decision. */
export const adoptionProgressStream = defineStream({
  name: 'adoptionProgress',
  schema: AdoptionProgressDataSchema,
});

/** One entry per decision point: who decided what, and why. */
export const adoptionAuditStream = defineStream({ name: 'adoptionAudit', schema: AdoptionAuditDataSchema });

/** The adoption workflow's streams, by name: clients type their events from this map. */
export const adoptionStreams = {
  adoptionProgress: adoptionProgressStream,
  adoptionAudit: adoptionAuditStream,
};
