import { RedisScript } from '../backends/redis/script.js';

/**
 * Appends one event to a workflow's log (keys: see WorkflowLogKeys).
 *
 * - Idempotent: with a key (ARGV[1] = '1', ARGV[2] = key) a second append
 *   stores nothing and returns the event the first one stored.
 * - An item's value is kept under `<stream>:<item id>` (ARGV[3]): stream
 *   names have no colon, so each pair has one field.
 * - The log is a Redis Stream trimmed with `MAXLEN ~ limit`: Redis keeps at
 *   least `limit` entries and drops whole internal nodes of older ones.
 * - Each entry carries `p`, the id of the entry before it: after trimming,
 *   the oldest kept entry's `p` names the newest trimmed one, which is what
 *   tells a resuming reader whether it missed anything.
 * - The id of the workflow's last event (`finished` or `cancelled`) is kept
 *   in meta (`finished`); once the workflow has ended, every key of its log
 *   gets the retention time as its TTL (again on any later write).
 *
 * - Conditional: with ARGV[8] = '1', it stores only while the item's
 *   current value is the event with id ARGV[9] ('' for none), read from
 *   the stored event's leading `"eventId"`; else it stores nothing.
 *
 * KEYS: log, items, order, idempotency, meta.
 * ARGV: has key ('1'|'0'), key, item field, kind, event JSON without its id,
 *       history limit, retention ms, conditional ('1'|'0'), current event id.
 * Returns { the stored event as JSON, id included; 1 when it was stored
 * before (a replay), 2 when the condition failed (nothing stored), else 0 }.
 */
export const appendEventScript = new RedisScript(`
local log, items, order, idem, meta = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
if ARGV[1] == '1' then
  local earlier = redis.call('HGET', idem, ARGV[2])
  if earlier then return {earlier, 1} end
end
if ARGV[8] == '1' then
  local current = redis.call('HGET', items, ARGV[3])
  local currentId = current and string.match(current, '^{"eventId":"([^"]*)"') or ''
  if currentId ~= ARGV[9] then return {'', 2} end
end
local previous = redis.call('HGET', meta, 'last') or ''
local id = redis.call('XADD', log, 'MAXLEN', '~', ARGV[6], '*', 'p', previous, 'e', ARGV[5])
redis.call('HSET', meta, 'last', id)
local event = '{"eventId":"' .. id .. '",' .. string.sub(ARGV[5], 2)
local itemId, kind = ARGV[3], ARGV[4]
if kind == 'set' then
  redis.call('HSET', items, itemId, event)
  if not redis.call('ZSCORE', order, itemId) then
    redis.call('ZADD', order, redis.call('HINCRBY', meta, 'items', 1), itemId)
  end
elseif kind == 'delete' then
  redis.call('HDEL', items, itemId)
  redis.call('ZREM', order, itemId)
elseif (kind == 'finished' or kind == 'cancelled') and redis.call('HEXISTS', meta, 'finished') == 0 then
  redis.call('HSET', meta, 'finished', id)
end
if ARGV[1] == '1' then redis.call('HSET', idem, ARGV[2], event) end
if redis.call('HEXISTS', meta, 'finished') == 1 then
  for _, key in ipairs(KEYS) do redis.call('PEXPIRE', key, ARGV[7]) end
end
return {event, 0}
`);

/**
 * The workflow's log after a position, with its oldest kept entry (whose `p`
 * says what was trimmed) and the id of its finished event, in one
 * consistent read.
 *
 * A position that is no id of the log, yet not older than its oldest kept
 * entry (past the newest one, or another workflow's id in between), is
 * unknown: the whole kept log is returned instead, flagged.
 *
 * KEYS: log, meta. ARGV: the position (an id, or '' for the start).
 * Returns false when the log does not exist, else
 * { oldest entry, entries, unknown (1|0), finished event id or '' }.
 */
export const readAfterScript = new RedisScript(`
local log, after = KEYS[1], ARGV[1]
if redis.call('EXISTS', log) == 0 then return false end
local oldest = redis.call('XRANGE', log, '-', '+', 'COUNT', 1)
local finished = redis.call('HGET', KEYS[2], 'finished') or ''
if after == '' then return {oldest, redis.call('XRANGE', log, '-', '+'), 0, finished} end
local entries = redis.call('XRANGE', log, '(' .. after, '+')
if #redis.call('XRANGE', log, after, after) == 0
  and (#entries == 0 or #redis.call('XREVRANGE', log, after, '-', 'COUNT', 1) > 0) then
  return {oldest, redis.call('XRANGE', log, '-', '+'), 1, finished}
end
return {oldest, entries, 0, finished}
`);

/**
 * Current values of every item of one stream of a workflow, in the order
 * they were first set. KEYS: items, order. ARGV: `<stream>:`, the prefix of
 * that stream's fields. Returns the events as JSON.
 */
export const readGroupScript = new RedisScript(`
local prefix = ARGV[1]
local ids = {}
for _, field in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  if string.sub(field, 1, #prefix) == prefix then table.insert(ids, field) end
end
local events = {}
for from = 1, #ids, 1000 do
  local values = redis.call('HMGET', KEYS[1], unpack(ids, from, math.min(from + 999, #ids)))
  for _, value in ipairs(values) do
    if value then table.insert(events, value) end
  end
end
return events
`);

/**
 * A workflow's current state in one consistent read: every item's current
 * value (all streams), the id of the log's newest event, and its last
 * event (`finished` or `cancelled`) once it has ended.
 *
 * KEYS: items, meta, log. Returns { values as JSON, last id or '', the
 * end entry as XRANGE gives it (empty when none) }.
 */
export const readLatestScript = new RedisScript(`
local finished = redis.call('HGET', KEYS[2], 'finished') or ''
local ending = {}
if string.find(finished, '-', 1, true) then ending = redis.call('XRANGE', KEYS[3], finished, finished) end
return {redis.call('HVALS', KEYS[1]), redis.call('HGET', KEYS[2], 'last') or '', ending}
`);
