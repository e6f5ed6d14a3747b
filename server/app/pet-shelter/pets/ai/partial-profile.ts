import { parse as parsePartialJson } from 'partial-json';
import { z } from 'zod';

import { PROFILE_FIELDS, ProfileSchema, type Profile, type ProfileField } from '../../../../../shared/pet.js';
import { EnrichmentFailed, type ProfileUpdate } from './profile-generator.js';

/** Longest answer accepted: the profile's own limits, plus room for JSON syntax and escapes. */
export const MAX_ANSWER_CHARS = 16_000;

const BIO_MAX_LENGTH = ProfileSchema.shape.bio.maxLength ?? MAX_ANSWER_CHARS;

export type FieldUpdate = Exclude<ProfileUpdate, { readonly type: 'done' }>;

function isProfileField(key: string): key is ProfileField {
  return (PROFILE_FIELDS as readonly string[]).includes(key);
}

/**
 * Follows the model's JSON answer as it streams in. A field is complete when
 * a later key has started or the object has closed; it is then checked
 * against its schema and reported, in `PROFILE_FIELDS` order: a field the
 * model finished early waits until every field before it has been reported.
 * Any sign of a bad answer (not JSON, a wrong type, an unknown key) throws
 * `EnrichmentFailed` at once, so nothing wrong is ever reported as done.
 */
export class PartialProfile {
  #text = '';
  readonly #complete = new Map<ProfileField, Profile[ProfileField]>();
  #reported = 0;
  #bio = '';

  /** Adds the next piece of the answer; returns what it revealed, in order. */
  push(delta: string): FieldUpdate[] {
    this.#text += delta;
    if (this.#text.length > MAX_ANSWER_CHARS) {
      throw new EnrichmentFailed('invalid', `the answer is longer than ${MAX_ANSWER_CHARS} characters`);
    }
    if (this.#text.trim() === '') return [];
    const partial = this.#parsePartial();
    const keys = [...partial.keys()];
    // The last key's value may still grow, unless the whole object has arrived.
    const settled = this.#isWhole() ? keys : keys.slice(0, -1);
    for (const key of settled) {
      if (!isProfileField(key))
        throw new EnrichmentFailed('invalid', `the answer has an unexpected key "${key}"`);
      if (!this.#complete.has(key)) this.#complete.set(key, checkField(key, partial.get(key)));
    }

    const updates: FieldUpdate[] = [];
    const bio = partial.get('bio');
    if (!this.#complete.has('bio') && typeof bio === 'string' && bio.length > this.#bio.length) {
      if (bio.length > BIO_MAX_LENGTH) {
        throw new EnrichmentFailed('invalid', `the bio is longer than ${BIO_MAX_LENGTH} characters`);
      }
      this.#bio = bio;
      updates.push({ type: 'bio', text: bio });
    }
    return [...updates, ...this.#reportReady()];
  }

  /** Call when the answer has ended: the whole profile, valid, and the fields not yet reported. */
  finish(): { readonly profile: Profile; readonly updates: FieldUpdate[] } {
    let json: unknown;
    try {
      json = JSON.parse(this.#text);
    } catch (error) {
      throw new EnrichmentFailed('malformed', 'the answer is not complete JSON', { cause: error });
    }
    const parsed = ProfileSchema.safeParse(json);
    if (!parsed.success) {
      throw new EnrichmentFailed(
        'invalid',
        `the answer is not a valid profile: ${z.prettifyError(parsed.error)}`,
        {
          cause: parsed.error,
        },
      );
    }
    const profile = parsed.data;
    for (const [field, value] of this.#complete) {
      // A repeated key would make the reported value differ from the parsed one.
      if (JSON.stringify(value) !== JSON.stringify(profile[field])) {
        throw new EnrichmentFailed('invalid', `the answer changed "${field}" after it was complete`);
      }
    }
    for (const field of PROFILE_FIELDS) this.#complete.set(field, profile[field]);
    return { profile, updates: this.#reportReady() };
  }

  #parsePartial(): Map<string, unknown> {
    let value: unknown;
    try {
      value = parsePartialJson(this.#text);
    } catch (error) {
      throw new EnrichmentFailed('malformed', 'the answer is not JSON', { cause: error });
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new EnrichmentFailed('malformed', 'the answer is not a JSON object');
    }
    return new Map(Object.entries(value));
  }

  #isWhole(): boolean {
    if (!this.#text.trimEnd().endsWith('}')) return false;
    try {
      JSON.parse(this.#text);
      return true;
    } catch {
      return false;
    }
  }

  #reportReady(): FieldUpdate[] {
    const updates: FieldUpdate[] = [];
    for (const field of PROFILE_FIELDS.slice(this.#reported)) {
      const value = this.#complete.get(field);
      if (value === undefined) break;
      updates.push({ type: 'field', field, value });
      this.#reported += 1;
    }
    return updates;
  }
}

function checkField(field: ProfileField, value: unknown): Profile[ProfileField] {
  const result = ProfileSchema.shape[field].safeParse(value);
  if (!result.success) {
    throw new EnrichmentFailed('invalid', `"${field}" is not valid: ${z.prettifyError(result.error)}`, {
      cause: result.error,
    });
  }
  return result.data;
}
