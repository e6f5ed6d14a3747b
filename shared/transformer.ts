/** The single superjson import point: server and client must agree on it. */
import superjson from 'superjson';

export const transformer = superjson;
