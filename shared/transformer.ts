/** The single superjson import point: server and client must agree on it. */
import superjson, { type SuperJSONResult } from 'superjson';

export const transformer = superjson;

/** An input that `transformer.serialize` could not have produced. Its message is safe to show. */
export class MalformedInput extends Error {
  override readonly name = 'MalformedInput';
  constructor() {
    super('The input is not in the transformer format: send it as `{ "json": <value>, "meta"?: {…} }`');
  }
}

/**
 * The server's side of `transformer`. A call that carries no input at all
 * gets `undefined`, as if it had sent `transformer.serialize(undefined)`;
 * anything else that superjson would choke on is a `MalformedInput`, never
 * superjson's own message.
 */
export const serverTransformer = {
  input: {
    serialize: (value: unknown) => superjson.serialize(value),
    deserialize: decodeInput,
  },
  output: {
    serialize: (value: unknown) => superjson.serialize(value),
    deserialize: (value: unknown) => superjson.deserialize(value as SuperJSONResult),
  },
};

function decodeInput(raw: unknown): unknown {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new MalformedInput();
  try {
    return superjson.deserialize(raw as SuperJSONResult);
  } catch {
    throw new MalformedInput();
  }
}
