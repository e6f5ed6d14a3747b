/**
 * How the shelter's Redis stores keep a record: one hash per record, each
 * field JSON-encoded, so a patch touches only its fields.
 */
import type { z } from 'zod';

/** The fields of `values` as hash values; undefined ones are left out. */
export function encodeFields(values: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(values)
      .filter(([, value]) => value !== undefined)
      .map(([field, value]) => [field, JSON.stringify(value)]),
  );
}

/** The record a hash holds, checked by `schema`; null for an empty hash (no such record). */
export function decodeFields<TSchema extends z.ZodType>(
  schema: TSchema,
  fields: Record<string, string>,
): z.output<TSchema> | null {
  const entries = Object.entries(fields);
  if (entries.length === 0) return null;
  return schema.parse(
    Object.fromEntries(entries.map(([field, json]) => [field, JSON.parse(json) as unknown])),
  );
}
