import { RedisScript } from '../backends/redis/script.js';

/**
 * Records one step's outcome and, atomically, whether that made the workflow
 * finished for the first time, so exactly one caller across every instance
 * writes the final event. The finished workflow then expires after the
 * retention time.
 *
 * KEYS: the workflow hash. ARGV: step, outcome, finish time, retention ms.
 * Returns false for an unknown workflow, else { allDone, firstToFinish, hash }.
 */
export const completeStepScript = new RedisScript(`
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return false end
redis.call('HSET', KEYS[1], 'o:' .. ARGV[1], ARGV[2])
local allDone = 1
for _, name in ipairs(cjson.decode(state)['steps']) do
  if redis.call('HEXISTS', KEYS[1], 'o:' .. name) == 0 then
    allDone = 0
    break
  end
end
local first = 0
if allDone == 1 and redis.call('HEXISTS', KEYS[1], 'finishedAt') == 0 then
  redis.call('HSET', KEYS[1], 'finishedAt', ARGV[3])
  first = 1
end
local fields = redis.call('HGETALL', KEYS[1])
if first == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[4]) end
return {allDone, first, fields}
`);

/**
 * Ends a running workflow as cancelled (sets `finishedAt` and
 * `cancelledAt`), unless it has already ended: the same field
 * `completeStepScript` checks, so exactly one of them ends it.
 *
 * KEYS: the workflow hash. ARGV: cancel time, retention ms.
 * Returns false for an unknown workflow, else { cancelled (1|0), hash }.
 */
export const cancelWorkflowScript = new RedisScript(`
if redis.call('HEXISTS', KEYS[1], 'state') == 0 then return false end
local cancelled = 0
if redis.call('HEXISTS', KEYS[1], 'finishedAt') == 0 then
  redis.call('HSET', KEYS[1], 'finishedAt', ARGV[1], 'cancelledAt', ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  cancelled = 1
end
return {cancelled, redis.call('HGETALL', KEYS[1])}
`);
