import { RedisScript } from '../../../../engine/index.js';

/**
 * Applies a patch to a stored pet in one step, so that two steps updating
 * different fields of the same pet on two instances never lose each other's
 * write. KEYS: the pet's hash. ARGV: field, JSON value, field, JSON value, …
 * Returns the whole hash after the patch, or false when there is no such pet.
 */
export const patchPetScript = new RedisScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
redis.call('HSET', KEYS[1], unpack(ARGV))
return redis.call('HGETALL', KEYS[1])
`);
