/**
 * A value that carries its own JSON text, made once: a transport that
 * writes JSON splices the text in where the value stands instead of
 * serialising it again for every subscriber (see SerializedEvent).
 */
export const JSON_TEXT: unique symbol = Symbol.for('pet-stream.engine.json-text');

export type WithJsonText = { readonly [JSON_TEXT]: string };

/** tRPC's envelope is a few levels deep; deeper values go to JSON.stringify whole. */
const MAX_DEPTH = 6;

/**
 * JSON.stringify's output, walking plain objects itself so that it can
 * splice in the text of values that carry it. Everything else (arrays,
 * objects with `toJSON`, other class instances, primitives) is left to
 * JSON.stringify.
 */
export function stringifyWithJsonText(value: unknown, depth = 0): string | undefined {
  if (hasJsonText(value)) return value[JSON_TEXT];
  if (depth >= MAX_DEPTH || !isPlainObject(value) || typeof value['toJSON'] === 'function') {
    return JSON.stringify(value);
  }
  let text = '{';
  for (const key of Object.keys(value)) {
    const item = stringifyWithJsonText(value[key], depth + 1);
    // As JSON.stringify does: undefined, functions and symbols leave the key out.
    if (item === undefined) continue;
    text += `${text.length > 1 ? ',' : ''}${JSON.stringify(key)}:${item}`;
  }
  return `${text}}`;
}

export function hasJsonText(value: unknown): value is WithJsonText {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Partial<WithJsonText>)[JSON_TEXT] === 'string'
  );
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}
