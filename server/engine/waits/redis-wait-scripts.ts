import { RedisScript } from '../backends/redis/script.js';

/**
 * Opens a wait unless it exists, and ranks it by deadline.
 * KEYS: the workflow's waits hash, the deadlines set. ARGV: name, the wait (JSON), deadline ms, member.
 * Returns { opened (1|0), wait JSON, status, result JSON or false }.
 */
export const openWaitScript = new RedisScript(`
local name = ARGV[1]
if redis.call('HEXISTS', KEYS[1], 'w:' .. name) == 1 then
  return {0, redis.call('HGET', KEYS[1], 'w:' .. name), redis.call('HGET', KEYS[1], 'st:' .. name),
    redis.call('HGET', KEYS[1], 'r:' .. name)}
end
redis.call('HSET', KEYS[1], 'w:' .. name, ARGV[2], 'st:' .. name, 'waiting')
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
return {1, ARGV[2], 'waiting', false}
`);

/**
 * Ends a wait that is still waiting: exactly one settlement wins across
 * instances; with it, the wait's step is marked as to be run again.
 * KEYS: the workflow's waits hash, the deadlines set, the resumes set.
 * ARGV: name, status, result JSON, member, 1 to run the step again (else 0), now (ms).
 * Returns false when the wait is unknown or no longer waiting, else the wait JSON.
 */
export const settleWaitScript = new RedisScript(`
local name = ARGV[1]
if redis.call('HGET', KEYS[1], 'st:' .. name) ~= 'waiting' then return false end
redis.call('HSET', KEYS[1], 'st:' .. name, ARGV[2], 'r:' .. name, ARGV[3])
redis.call('ZREM', KEYS[2], ARGV[4])
if ARGV[5] == '1' then redis.call('ZADD', KEYS[3], ARGV[6], ARGV[4]) end
return redis.call('HGET', KEYS[1], 'w:' .. name)
`);

/**
 * The workflow finished: its waits leave the deadlines and resumes sets and expire after the retention.
 * KEYS: the workflow's waits hash, the deadlines set, the resumes set. ARGV: retention ms, trace id.
 */
export const finishWaitsScript = new RedisScript(`
local fields = redis.call('HKEYS', KEYS[1])
for _, field in ipairs(fields) do
  if string.sub(field, 1, 2) == 'w:' then
    redis.call('ZREM', KEYS[2], ARGV[2] .. ' ' .. string.sub(field, 3))
    redis.call('ZREM', KEYS[3], ARGV[2] .. ' ' .. string.sub(field, 3))
  end
end
if #fields > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return #fields
`);
