/**
 * Names the engine turns into tRPC router keys, Redis keys, queue names and
 * metric labels: workflow kinds, stream names and step names are one word
 * of letters and digits; topic names are such words joined by dots. tRPC
 * refuses these as router or procedure keys (`router({})` throws), so they
 * are refused here, at definition time, and in types where a literal is known.
 */
export const TRPC_RESERVED_NAMES = ['then', 'call', 'apply'] as const;
export type ReservedName = (typeof TRPC_RESERVED_NAMES)[number];

/** A literal name that is not tRPC-reserved; a reserved literal becomes `never`, which fails to compile. */
export type AllowedName<TName extends string> = TName extends ReservedName ? never : TName;

const WORD = /^[A-Za-z][A-Za-z0-9]*$/;
const TOPIC = /^[A-Za-z][A-Za-z0-9]*(?:\.[A-Za-z][A-Za-z0-9]*)*$/;

export type NameKind = 'workflow kind' | 'stream name' | 'step name' | 'topic name' | 'wait name';

/** Throws a TypeError naming the bad name and why. */
export function assertName(kind: NameKind, name: unknown): asserts name is string {
  const pattern = kind === 'topic name' ? TOPIC : WORD;
  if (typeof name !== 'string' || !pattern.test(name)) {
    const rule =
      kind === 'topic name'
        ? 'words of letters and digits, each starting with a letter, joined by dots (such as `pet.created`)'
        : 'letters and digits only, starting with a letter (such as `petCreation`)';
    throw new TypeError(`Invalid ${kind} \`${String(name)}\`: expected ${rule}`);
  }
  if ((TRPC_RESERVED_NAMES as readonly string[]).includes(name)) {
    throw new TypeError(
      `Invalid ${kind} \`${name}\`: tRPC reserves it as a router key (${TRPC_RESERVED_NAMES.join(', ')})`,
    );
  }
}
