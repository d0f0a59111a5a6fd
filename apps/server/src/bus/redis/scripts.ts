/**
 * Lua scripts of the Redis Streams bus. Scripts make each step atomic: the
 * fence check and the writes it guards, a stream's position and the entries
 * it covers. They build key names from the prefix (ARGV), which ties the bus
 * to one Redis node (or a primary with replicas), not Redis Cluster.
 *
 * Stream positions ("head") are "seq|kind|epoch", latest states
 * "seq|epoch|data" (see keys.ts).
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

export interface LuaScript {
  readonly name: string;
  readonly lua: string;
  readonly sha: string;
}

const script = (name: string, lua: string): LuaScript => ({ name, lua, sha: createHash('sha1').update(lua).digest('hex') });

/** EVALSHA, falling back to EVAL when the server does not know the script (first use, or after a restart). */
export async function runScript(redis: Redis, s: LuaScript, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
  try {
    return await redis.evalsha(s.sha, keys.length, ...keys, ...args);
  } catch (err) {
    if (!String((err as Error)?.message).includes('NOSCRIPT')) throw err;
    return redis.eval(s.lua, keys.length, ...keys, ...args);
  }
}

// Shared Lua: the head parser and the fence (ARGV token '' = no fencing).
const PARSE_HEAD = `
local function parseHead(h)
  if not h then return 0, nil, nil end
  local a = string.find(h, '|', 1, true)
  if not a then return 0, nil, nil end
  local b = string.find(h, '|', a + 1, true)
  if not b then return 0, nil, nil end
  return tonumber(string.sub(h, 1, a - 1)) or 0, string.sub(h, a + 1, b - 1), string.sub(h, b + 1)
end
`;
const FENCE = `${PARSE_HEAD}
local function fenced(lockKey, token)
  if token == '' then return nil end
  local holder = redis.call('GET', lockKey)
  if holder ~= token then return {'FENCED', holder or ''} end
  return nil
end
`;

/**
 * Appends a batch of messages in order.
 * KEYS: epoch, lock.  ARGV: prefix, epoch, token, liveMaxLen, historyState,
 * historyEvents, trim op ('~' | '='), n, then n x (channel, key, kindCode, seq, data).
 * Replies {'OK', processed} | {'FENCED', holder} | {'EPOCH', current or ''} |
 * {'GAP', processed, channel, key, headSeq}.
 * A seq at or below the head is a duplicate (a retried batch whose reply was
 * lost) and is skipped, which makes retries safe. A seq beyond head+1 means
 * Redis lost part of the stream: the publisher starts a new epoch.
 */
export const PUBLISH = script(
  'publish',
  `${FENCE}
local f = fenced(KEYS[2], ARGV[3])
if f then return f end
local epoch = ARGV[2]
local cur = redis.call('GET', KEYS[1])
if cur ~= epoch then return {'EPOCH', cur or ''} end
local p, token, liveMax, capS, capE, op = ARGV[1], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local n = tonumber(ARGV[8])
-- Heads seen in this batch, and the hash writes, issued once per hash at the end.
local heads, sets = {}, {}
local function set(hash, field, value)
  local x = sets[hash]
  if not x then x = {}; sets[hash] = x end
  x[#x + 1] = field
  x[#x + 1] = value
end
local function flushSets()
  for hash, x in pairs(sets) do
    -- chunks keep unpack() below Lua's stack limit
    for i = 1, #x, 400 do redis.call('HSET', hash, unpack(x, i, math.min(i + 399, #x))) end
  end
end
local done = 0
for i = 0, n - 1 do
  local b = 9 + i * 5
  local ch, key, t, seqStr, data = ARGV[b], ARGV[b + 1], ARGV[b + 2], ARGV[b + 3], ARGV[b + 4]
  local seq = tonumber(seqStr)
  local hk = p .. 'head:' .. ch
  local sk = p .. 's:' .. ch .. ':' .. key
  local id = hk .. '|' .. key
  local hseq = heads[id]
  if hseq == nil then
    local h = redis.call('HGET', hk, key)
    local s, _, hep = parseHead(h)
    hseq = s
    if hep ~= epoch then
      -- new in this epoch: whatever history exists is from an older one (or orphaned) and cannot serve resumes
      redis.call('DEL', sk)
      hseq = 0
    end
  end
  if seq > hseq then
    if seq ~= hseq + 1 then
      flushSets()
      return {'GAP', done, ch, key, tostring(hseq)}
    end
    local cap = capE
    if t == 's' then cap = capS end
    redis.call('XADD', sk, 'MAXLEN', op, cap, '*', 's', seqStr, 'e', epoch, 't', t, 'd', data, 'f', token)
    redis.call('XADD', p .. 'live:' .. ch, 'MAXLEN', op, liveMax, '*', 'k', key, 's', seqStr, 'e', epoch, 't', t, 'd', data, 'f', token)
    set(hk, key, seqStr .. '|' .. t .. '|' .. epoch)
    if t == 's' then set(p .. 'latest:' .. ch, key, seqStr .. '|' .. epoch .. '|' .. data) end
    hseq = seq
  end
  heads[id] = hseq
  done = i + 1
end
flushSets()
return {'OK', done}
`,
);

/**
 * Starts a new epoch. Every state stream restarts at seq 1 with its latest
 * state (also appended to the live stream, so gateways pass the new epoch on
 * at once); every event stream restarts empty at seq 0.
 * KEYS: epoch, lock.  ARGV: prefix, token, newEpoch, liveMaxLen, historyState,
 * trim op, channels...  Replies {'OK', restartedStates} | {'FENCED', holder}.
 */
export const ROLLOVER = script(
  'rollover',
  `${FENCE}
local f = fenced(KEYS[2], ARGV[2])
if f then return f end
local p, token, ne, liveMax, capS, op = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
if redis.call('GET', KEYS[1]) == ne then return {'OK', 0} end
redis.call('SET', KEYS[1], ne)
local restarted = 0
for i = 7, #ARGV do
  local ch = ARGV[i]
  local hk, lk = p .. 'head:' .. ch, p .. 'latest:' .. ch
  local heads = redis.call('HGETALL', hk)
  for j = 1, #heads, 2 do
    local key = heads[j]
    local _, t = parseHead(heads[j + 1])
    local sk = p .. 's:' .. ch .. ':' .. key
    redis.call('DEL', sk)
    local data = nil
    if t == 's' then
      local l = redis.call('HGET', lk, key)
      if l then
        local a = string.find(l, '|', 1, true)
        local b = a and string.find(l, '|', a + 1, true)
        if b then data = string.sub(l, b + 1) end
      end
    end
    if data then
      redis.call('XADD', sk, 'MAXLEN', op, capS, '*', 's', '1', 'e', ne, 't', 's', 'd', data, 'f', token)
      redis.call('XADD', p .. 'live:' .. ch, 'MAXLEN', op, liveMax, '*', 'k', key, 's', '1', 'e', ne, 't', 's', 'd', data, 'f', token)
      redis.call('HSET', hk, key, '1|s|' .. ne)
      redis.call('HSET', lk, key, '1|' .. ne .. '|' .. data)
      restarted = restarted + 1
    elseif t == 's' then
      redis.call('HDEL', hk, key)
      redis.call('HDEL', lk, key)
    else
      redis.call('HSET', hk, key, '0|e|' .. ne)
    end
  end
end
return {'OK', restarted}
`,
);

/**
 * Messages after `afterSeq` of one stream, read atomically with its head so
 * a concurrent append cannot shift the window.
 * KEYS: head hash, history stream.  ARGV: key, afterSeq, epoch.
 * Replies {'NONE'} (unknown stream, other epoch, position ahead, or history
 * too short) | {'OK', entries newest first}.
 */
export const HISTORY = script(
  'history',
  `${PARSE_HEAD}
local hseq, _, hep = parseHead(redis.call('HGET', KEYS[1], ARGV[1]))
local after = tonumber(ARGV[2])
if hep == nil or hep ~= ARGV[3] or after == nil or after < 0 or after > hseq then return {'NONE'} end
if after == hseq then return {'OK', {}} end
local n = hseq - after
local es = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', n)
if #es < n then return {'NONE'} end
return {'OK', es}
`,
);

/**
 * Age trimming: drops entries older than maxAgeMs (Redis server time) from
 * every history stream and the live streams. Latest states stay.
 * ARGV: prefix, maxAgeMs, trim op, channels...  Replies the entries removed.
 */
export const TRIM_AGE = script(
  'trim_age',
  `
local p, age, op = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local t = redis.call('TIME')
local cutoff = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - age
if cutoff <= 0 then return 0 end
local id = string.format('%.0f', cutoff) .. '-0'
local removed = 0
for i = 4, #ARGV do
  local ch = ARGV[i]
  removed = removed + redis.call('XTRIM', p .. 'live:' .. ch, 'MINID', op, id)
  local keys = redis.call('HKEYS', p .. 'head:' .. ch)
  for j = 1, #keys do
    removed = removed + redis.call('XTRIM', p .. 's:' .. ch .. ':' .. keys[j], 'MINID', op, id)
  end
end
return removed
`,
);
