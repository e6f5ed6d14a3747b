/**
 * Partial updates of an item's value: operations applied, in order, to a
 * copy of its current value. The result is then validated against the
 * stream's schema by the caller; nothing here knows the schema.
 */

/** A dot-separated field path (`progress`, `stats.count`); empty for the value itself. */
export type UpdatePath = string;

export type UpdateOp =
  /** Sets the field at `path` (the whole value when empty), creating the objects on its way. */
  | { readonly op: 'set'; readonly path: UpdatePath; readonly value: unknown }
  /** Copies the fields of `value` into the object at `path` (the value itself when absent). */
  | { readonly op: 'merge'; readonly path?: UpdatePath; readonly value: Readonly<Record<string, unknown>> }
  /** Adds `by` (1 when absent) to the number at `path` (0 when there is none). */
  | { readonly op: 'increment'; readonly path: UpdatePath; readonly by?: number }
  /** Adds `value` at the end of the array at `path` (an empty one when there is none), or of the text there when both are text. */
  | { readonly op: 'append'; readonly path: UpdatePath; readonly value: unknown };

/** Operations at most in one update. */
export const MAX_UPDATE_OPS = 100;

/** An update that cannot apply to the value it met; names the operation and its path. */
export class InvalidUpdate extends TypeError {
  override readonly name = 'InvalidUpdate';
}

type Fields = Record<string, unknown>;

/** Path parts that would reach an object's prototype rather than its own fields. */
const FORBIDDEN = new Set(['__proto__', 'prototype', 'constructor']);

/** The value after `ops`, applied in order to a copy of `current` (undefined when the item has none). */
export function applyUpdate(current: unknown, ops: readonly UpdateOp[]): unknown {
  if (ops.length === 0 || ops.length > MAX_UPDATE_OPS) {
    throw new InvalidUpdate(`An update takes 1-${MAX_UPDATE_OPS} operations, got ${ops.length}`);
  }
  const root: Fields = { value: current === undefined ? undefined : structuredClone(current) };
  for (const [index, op] of ops.entries()) {
    const where = `operation ${index + 1} (${op.op} ${op.path ?? ''})`.replace(/ \)$/, ')');
    const parts = ['value', ...splitPath(op.path ?? '', where)];
    const field = parts.pop() ?? 'value';
    const parent = objectAt(root, parts, where);
    const existing = Object.hasOwn(parent, field) ? parent[field] : undefined;
    parent[field] = applied(op, existing, where);
  }
  return root['value'];
}

function applied(op: UpdateOp, existing: unknown, where: string): unknown {
  switch (op.op) {
    case 'set':
      return structuredClone(op.value);
    case 'merge':
      if (!isFields(op.value)) throw new InvalidUpdate(`${where}: the value to merge must be an object`);
      if (existing !== undefined && !isFields(existing))
        throw new InvalidUpdate(`${where}: there is no object to merge into`);
      for (const key of Object.keys(op.value)) splitPath(key, where);
      return { ...existing, ...structuredClone(op.value) };
    case 'increment': {
      const by = op.by ?? 1;
      if (!Number.isFinite(by)) throw new InvalidUpdate(`${where}: \`by\` must be a finite number`);
      if (existing !== undefined && typeof existing !== 'number')
        throw new InvalidUpdate(`${where}: the field is not a number`);
      return (existing ?? 0) + by;
    }
    case 'append':
      if (typeof existing === 'string' && typeof op.value === 'string') return existing + op.value;
      if (existing !== undefined && !Array.isArray(existing))
        throw new InvalidUpdate(`${where}: the field is not an array`);
      return [...((existing as unknown[] | undefined) ?? []), structuredClone(op.value)];
  }
}

/** The object at `parts` under `root`, made where there is none; throws where something else is. */
function objectAt(root: Fields, parts: readonly string[], where: string): Fields {
  let node = root;
  for (const [depth, part] of parts.entries()) {
    const next = Object.hasOwn(node, part) ? node[part] : undefined;
    if (next === undefined) node[part] = {};
    else if (!isFields(next))
      throw new InvalidUpdate(`${where}: ${depth === 0 ? 'the value' : `\`${part}\``} is not an object`);
    node = node[part] as Fields;
  }
  return node;
}

function splitPath(path: string, where: string): string[] {
  if (path === '') return [];
  const parts = path.split('.');
  if (parts.some((part) => part === '' || FORBIDDEN.has(part)))
    throw new InvalidUpdate(`${where}: \`${path}\` is not a field path`);
  return parts;
}

function isFields(value: unknown): value is Fields {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
