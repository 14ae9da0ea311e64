package redisqueue

import (
	"github.com/redis/go-redis/v9"

	"github.com/stellaops/stellaops/internal/queue"
)

// Key names, in the order of KEYS in every script. Job attributes live in one hash per
// attribute (field: job ID) rather than one hash per job, so that every key a script touches
// is declared in KEYS, as Redis Cluster requires.
var keyNames = []string{
	"ready",    // LIST of IDs, FIFO
	"delayed",  // ZSET ID -> due time (ms)
	"leased",   // ZSET ID -> lease deadline (ms)
	"dead",     // ZSET ID -> time of death (ms)
	"state",    // HASH ID -> ready|delayed|leased|dead; absent: unknown or acked
	"kind",     // HASH ID -> Job.Kind
	"payload",  // HASH ID -> Job.Payload
	"enqueued", // HASH ID -> Job.EnqueuedAt (Unix ns)
	"attempts", // HASH ID -> deliveries so far
	"token",    // HASH ID -> token of the current delivery, only while leased
	"reason",   // HASH ID -> last failure reason
	"seq",      // counter issuing tokens
}

// prelude is shared by every script. ARGV[1] is the time in ms, or -1 for Redis' clock;
// ARGV[2] is MaxAttempts; ARGV[3] the wake-up channel; script arguments start at ARGV[4].
//
// Timers are applied lazily: every script first moves the jobs whose lease or delay has run
// out (advance), so no background process is needed and every transition is one atomic
// script. Redis 5+ replicates script effects, so calling TIME before writing is allowed.
const prelude = `
local K_READY, K_DELAYED, K_LEASED, K_DEAD, K_STATE, K_KIND, K_PAYLOAD, K_ENQ, K_ATTEMPTS, K_TOKEN, K_REASON, K_SEQ = unpack(KEYS)
local now = tonumber(ARGV[1])
if now < 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local maxAttempts = tonumber(ARGV[2])
local channel = ARGV[3]
local EXPIRED = '` + queue.ReasonLeaseExpired + `'

local function makeReady(id)
  redis.call('HSET', K_STATE, id, 'ready')
  redis.call('RPUSH', K_READY, id)
end

-- fail ends a delivery of id (already removed from K_LEASED) that failed at time at: dead
-- after maxAttempts, else ready again after delay ms. It returns whether the job is ready now.
local function fail(id, why, delay, at)
  redis.call('HDEL', K_TOKEN, id)
  redis.call('HSET', K_REASON, id, why)
  if tonumber(redis.call('HGET', K_ATTEMPTS, id) or '0') >= maxAttempts then
    redis.call('HSET', K_STATE, id, 'dead')
    redis.call('ZADD', K_DEAD, at, id)
    return false
  end
  if delay > 0 then
    redis.call('HSET', K_STATE, id, 'delayed')
    redis.call('ZADD', K_DELAYED, at + delay, id)
    return false
  end
  makeReady(id)
  return true
end

-- advance moves up to limit jobs whose lease or delay ran out, merged in due order (ties:
-- leases first), and returns how many it moved. Taking the first limit of the merge of two
-- sorted prefixes of length limit keeps the order exact.
local function advance(limit)
  local l = redis.call('ZRANGEBYSCORE', K_LEASED, '-inf', now, 'WITHSCORES', 'LIMIT', 0, limit)
  local d = redis.call('ZRANGEBYSCORE', K_DELAYED, '-inf', now, 'WITHSCORES', 'LIMIT', 0, limit)
  local i, j, n, woke = 1, 1, 0, false
  while n < limit and (i <= #l or j <= #d) do
    if j > #d or (i <= #l and tonumber(l[i+1]) <= tonumber(d[j+1])) then
      local id, deadline = l[i], tonumber(l[i+1])
      i = i + 2
      redis.call('ZREM', K_LEASED, id)
      -- It failed when the lease ran out, not when this script noticed.
      if fail(id, EXPIRED, 0, deadline) then woke = true end
    else
      local id = d[j]
      j = j + 2
      redis.call('ZREM', K_DELAYED, id)
      makeReady(id)
      woke = true
    end
    n = n + 1
  end
  if woke then redis.call('PUBLISH', channel, '') end
  return n
end

local function advanceAll()
  while advance(100) == 100 do end
end

-- holds reports whether tok is the token of id's current, unexpired delivery. The deadline
-- is checked as well because advance may not have reached this lease yet.
local function holds(id, tok)
  advance(100)
  local deadline = redis.call('ZSCORE', K_LEASED, id)
  return deadline and tonumber(deadline) > now and redis.call('HGET', K_TOKEN, id) == tok
end
`

// enqueueScript: ARGV[4..7] = id, kind, payload, enqueued. Returns 1 if created.
var enqueueScript = redis.NewScript(prelude + `
local id = ARGV[4]
local st = redis.call('HGET', K_STATE, id)
if st and st ~= 'dead' then return 0 end
if st then
  redis.call('ZREM', K_DEAD, id)
  redis.call('HDEL', K_REASON, id)
end
redis.call('HSET', K_KIND, id, ARGV[5])
redis.call('HSET', K_PAYLOAD, id, ARGV[6])
redis.call('HSET', K_ENQ, id, ARGV[7])
redis.call('HSET', K_ATTEMPTS, id, 0)
makeReady(id)
redis.call('PUBLISH', channel, '')
return 1`)

// leaseScript: ARGV[4] = lease ms. Returns {1, id, kind, payload, enqueued, attempt, token,
// until} or, when no job is ready, {0, ms until the next timer or -1}.
var leaseScript = redis.NewScript(prelude + `
advance(100)
local id = redis.call('LPOP', K_READY)
if not id then
  local wait = -1
  for _, k in ipairs({K_LEASED, K_DELAYED}) do
    local z = redis.call('ZRANGE', k, 0, 0, 'WITHSCORES')
    if z[2] then
      local w = tonumber(z[2]) - now
      if wait < 0 or w < wait then wait = w end
    end
  end
  return {0, wait}
end
local n = redis.call('HINCRBY', K_ATTEMPTS, id, 1)
local tok = tostring(redis.call('INCR', K_SEQ))
local deadline = now + tonumber(ARGV[4])
redis.call('HSET', K_STATE, id, 'leased')
redis.call('HSET', K_TOKEN, id, tok)
redis.call('ZADD', K_LEASED, deadline, id)
return {1, id, redis.call('HGET', K_KIND, id), redis.call('HGET', K_PAYLOAD, id),
  redis.call('HGET', K_ENQ, id), n, tok, deadline}`)

// extendScript: ARGV[4..6] = id, token, lease ms. Returns the new deadline, or -1 if lost.
var extendScript = redis.NewScript(prelude + `
local id = ARGV[4]
if not holds(id, ARGV[5]) then return -1 end
local deadline = now + tonumber(ARGV[6])
redis.call('ZADD', K_LEASED, deadline, id)
return deadline`)

// ackScript: ARGV[4..5] = id, token. Returns 1, or 0 if lost.
var ackScript = redis.NewScript(prelude + `
local id = ARGV[4]
if not holds(id, ARGV[5]) then return 0 end
redis.call('ZREM', K_LEASED, id)
for _, k in ipairs({K_STATE, K_KIND, K_PAYLOAD, K_ENQ, K_ATTEMPTS, K_TOKEN, K_REASON}) do
  redis.call('HDEL', k, id)
end
return 1`)

// nackScript: ARGV[4..7] = id, token, retry ms, reason. Returns 1, or 0 if lost.
var nackScript = redis.NewScript(prelude + `
local id = ARGV[4]
if not holds(id, ARGV[5]) then return 0 end
redis.call('ZREM', K_LEASED, id)
if fail(id, ARGV[7], tonumber(ARGV[6]), now) then redis.call('PUBLISH', channel, '') end
return 1`)

// deadScript returns {id, kind, payload, enqueued, attempts, reason, died ms} per dead job.
var deadScript = redis.NewScript(prelude + `
advanceAll()
local z = redis.call('ZRANGE', K_DEAD, 0, -1, 'WITHSCORES')
local out = {}
for i = 1, #z, 2 do
  local id = z[i]
  out[#out+1] = {id, redis.call('HGET', K_KIND, id), redis.call('HGET', K_PAYLOAD, id),
    redis.call('HGET', K_ENQ, id), tonumber(redis.call('HGET', K_ATTEMPTS, id) or '0'),
    redis.call('HGET', K_REASON, id), tonumber(z[i+1])}
end
return out`)

// depthScript returns {ready, leased, delayed, dead}.
var depthScript = redis.NewScript(prelude + `
advanceAll()
return {redis.call('LLEN', K_READY), redis.call('ZCARD', K_LEASED),
  redis.call('ZCARD', K_DELAYED), redis.call('ZCARD', K_DEAD)}`)
