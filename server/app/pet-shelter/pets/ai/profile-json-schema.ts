/**
 * The `response_format` of the enrichment request, derived from the shared
 * zod `ProfileSchema` so the two cannot drift apart.
 */
import { z } from 'zod';

import { ProfileSchema } from '../../../../../shared/pet.js';

export type ResponseFormatKind = 'json_schema' | 'json_object';

export type ProfileResponseFormat =
  | { readonly type: 'json_object' }
  | {
      readonly type: 'json_schema';
      readonly json_schema: {
        readonly name: string;
        readonly strict: true;
        readonly schema: Record<string, unknown>;
      };
    };

/**
 * Keywords strict structured output does not accept everywhere (OpenAI
 * rejects length limits; local servers vary). The zod schema still checks
 * them on the final answer.
 */
const UNPORTABLE_KEYWORDS = new Set(['$schema', 'minLength', 'maxLength', 'minItems', 'maxItems']);

function portable(schema: object): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(schema)
      .filter(([key]) => !UNPORTABLE_KEYWORDS.has(key))
      .map(([key, value]) => [key, portableValue(value)]),
  );
}

function portableValue(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(portableValue);
  return typeof value === 'object' && value !== null ? portable(value) : value;
}

/** The profile's JSON schema as sent to the model: every key required, in `PROFILE_FIELDS` order, nothing else. */
export const PROFILE_JSON_SCHEMA = portable(z.toJSONSchema(ProfileSchema));

export function profileResponseFormat(kind: ResponseFormatKind): ProfileResponseFormat {
  return kind === 'json_object'
    ? { type: 'json_object' }
    : {
        type: 'json_schema',
        json_schema: { name: 'pet_profile', strict: true, schema: PROFILE_JSON_SCHEMA },
      };
}
