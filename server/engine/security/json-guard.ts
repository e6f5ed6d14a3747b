/** Nesting deeper than this is refused before parsing. No request of this API comes close. */
export const JSON_MAX_DEPTH = 64;

/** Keys that reach an object's prototype when copied carelessly. No input of this API has them. */
const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

export class UntrustedJsonError extends Error {
  override readonly name = 'UntrustedJsonError';
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

/**
 * Refuses JSON text that nests deeper than `maxDepth` or has a
 * prototype-pollution key, in one pass over the text and before anything
 * parses it: the transformer drops such keys silently, so they could not
 * be told apart afterwards. It does not otherwise validate the JSON.
 *
 * @throws UntrustedJsonError
 */
export function inspectJson(text: string, maxDepth = JSON_MAX_DEPTH): void {
  let depth = 0;
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const start = i;
      let escaped = false;
      for (i += 1; i < text.length; i += 1) {
        const d = text.charCodeAt(i);
        if (d === BACKSLASH) {
          escaped = true;
          i += 1;
        } else if (d === QUOTE) {
          break;
        }
      }
      if (followedByColon(text, i + 1)) {
        const raw = text.slice(start, i + 1);
        const key = escaped ? decodeString(raw) : raw.slice(1, -1);
        if (FORBIDDEN_KEYS.has(key)) throw new UntrustedJsonError(`The key "${key}" is not allowed`);
      }
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      depth += 1;
      if (depth > maxDepth) throw new UntrustedJsonError(`JSON nested deeper than ${maxDepth} levels`);
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth -= 1;
    }
  }
}

/** `inspectJson`, then `JSON.parse`. */
export function parseUntrustedJson(text: string, maxDepth = JSON_MAX_DEPTH): unknown {
  inspectJson(text, maxDepth);
  return JSON.parse(text);
}

function followedByColon(text: string, from: number): boolean {
  for (let i = from; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    if (c === COLON) return true;
    // JSON whitespace: space, tab, line feed, carriage return.
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return false;
  }
  return false;
}

function decodeString(raw: string): string {
  try {
    const value: unknown = JSON.parse(raw);
    return typeof value === 'string' ? value : raw;
  } catch {
    // Malformed escapes: JSON.parse refuses the whole text later.
    return raw;
  }
}
