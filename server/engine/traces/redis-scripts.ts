import { RedisScript } from '../backends/redis/script.js';

/** ARGV slots per entry in `recordTraceEntriesScript`. */
const RECORD_FIELDS_PER_ENTRY = 7;

/**
 * Records a batch of trace entries, in order, possibly of several traces
 * (keys: see TraceKeys).
 *
 * - A trace that does not exist yet is created: it gets the next creation
 *   ordinal (its place in the index) and its start time; beyond `maxTraces`
 *   the oldest finished trace is deleted first, the oldest trace when none
 *   is finished. Finished traces past their retention leave the index too.
 * - Each entry gets the trace's next seq and is added to the trace's Redis
 *   Stream as id `<ordinal>-<seq>`, trimmed exactly to `maxEntries`; `p` is
 *   the id of the entry before it, so the live reader can tell a replaced
 *   log from a trimmed one, and a trace created again under the same id
 *   (a larger ordinal) from the old one.
 * - `workflow_started` sets flow and subject; the first `workflow_finished`
 *   sets finishedAt and failedSteps, and from then on the trace's keys expire
 *   after the retention time.
 *
 * KEYS: index, finished, ordinal.
 * ARGV: trace key base, max entries, max traces, retention ms, then per
 *       entry: trace id, flag ('s' started, 'f' finished, '' other), flow,
 *       subject, failed steps, at, entry JSON without seq.
 * Returns the number of traces kept (expired ones not counted).
 */
export const recordTraceEntriesScript = new RedisScript(`
local index, finished, ordinals = KEYS[1], KEYS[2], KEYS[3]
local base, maxEntries, maxTraces, retention = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local function drop(id)
  redis.call('DEL', base .. id .. ':meta', base .. id .. ':log')
  redis.call('ZREM', index, id)
  redis.call('ZREM', finished, id)
end
for _, id in ipairs(redis.call('ZRANGEBYSCORE', finished, '-inf', now, 'LIMIT', 0, 100)) do drop(id) end
for i = 5, #ARGV, ${RECORD_FIELDS_PER_ENTRY} do
  local id, flag, at, body = ARGV[i], ARGV[i + 1], ARGV[i + 5], ARGV[i + 6]
  local meta, log = base .. id .. ':meta', base .. id .. ':log'
  local ordinal = redis.call('HGET', meta, 'ordinal')
  if not ordinal then
    drop(id)
    while redis.call('ZCARD', index) >= maxTraces do
      drop(redis.call('ZRANGE', finished, 0, 0)[1] or redis.call('ZRANGE', index, 0, 0)[1])
    end
    ordinal = tostring(redis.call('INCR', ordinals))
    redis.call('HSET', meta, 'ordinal', ordinal, 'startedAt', at)
    redis.call('ZADD', index, ordinal, id)
  end
  local seq = redis.call('HINCRBY', meta, 'seq', 1)
  local previous = ''
  if seq > 1 then previous = ordinal .. '-' .. (seq - 1) end
  redis.call('XADD', log, 'MAXLEN', maxEntries, ordinal .. '-' .. seq,
    'p', previous, 'e', '{"seq":' .. seq .. ',' .. string.sub(body, 2))
  redis.call('HSET', meta, 'dropped', seq - redis.call('XLEN', log))
  if flag == 's' then
    redis.call('HSET', meta, 'flow', ARGV[i + 2], 'subject', ARGV[i + 3])
  elseif flag == 'f' and redis.call('HEXISTS', meta, 'finishedAt') == 0 then
    redis.call('HSET', meta, 'finishedAt', at, 'failedSteps', ARGV[i + 4])
    redis.call('PEXPIRE', meta, retention)
    redis.call('PEXPIRE', log, retention)
    redis.call('ZADD', finished, now + retention, id)
  end
end
return redis.call('ZCARD', index) - redis.call('ZCOUNT', finished, '-inf', now)
`);

/**
 * One trace's summary fields and its kept entries after a seq, in one
 * consistent read.
 *
 * KEYS: meta, log. ARGV: the seq to read after ('0' for every entry).
 * Returns false for an unknown trace, else { meta fields, entries }.
 */
export const readTraceScript = new RedisScript(`
local fields = redis.call('HGETALL', KEYS[1])
if #fields == 0 then return false end
local ordinal = redis.call('HGET', KEYS[1], 'ordinal')
local from = '-'
if ARGV[1] ~= '0' then from = '(' .. ordinal .. '-' .. ARGV[1] end
return {fields, redis.call('XRANGE', KEYS[2], from, '+')}
`);

/**
 * A page of trace summaries, newest first, skipping traces whose keys
 * expired but are still indexed.
 *
 * KEYS: index, finished. ARGV: trace key base, the highest ordinal
 * ('+inf', or '(<n>' for below n), page size.
 * Returns { { id, meta fields }…, more (1|0), traces kept }.
 */
export const listTracesScript = new RedisScript(`
local index, base, before, limit = KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3])
local items, more, offset, chunk = {}, 0, 0, limit + 1
while more == 0 do
  local ids = redis.call('ZREVRANGEBYSCORE', index, before, '-inf', 'LIMIT', offset, chunk)
  for _, id in ipairs(ids) do
    local fields = redis.call('HGETALL', base .. id .. ':meta')
    if #fields > 0 then
      if #items == limit then
        more = 1
        break
      end
      table.insert(items, {id, fields})
    end
  end
  if #ids < chunk then break end
  offset = offset + chunk
end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
return {items, more, redis.call('ZCARD', index) - redis.call('ZCOUNT', KEYS[2], '-inf', now)}
`);
