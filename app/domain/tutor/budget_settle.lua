-- Tutor token budgets, settle / release: turn a reservation's hold into the tokens really used.
--
-- KEYS and hold-set layout as in budget_reserve.lua:
-- KEYS[i]        scope hash {used, reserved}
-- KEYS[n + i]    the scope's hold set, member "<reservation id>:<tokens held>", score = expiry (ms)
-- KEYS[2n + 1]   the reservation record {held, max, state}
-- ARGV[1]        n, the number of scopes
-- ARGV[2]        reservation id
-- ARGV[3]        tokens actually used (input + output); 0 to release
-- ARGV[3 + i]    limit of scope i
-- ARGV[3 + n + i] TTL of scope i's keys, seconds
--
-- Only a record in state "held" is applied: its hold is dropped from every scope (unless it already
-- expired and was given back) and the usage is added, once; the record then says "settled" until it
-- expires, so a second settle or release changes nothing. A missing record (never reserved, or
-- settled after the grace period) also changes nothing: charging it could count a message twice.
-- Usage is charged even when the hold had expired: the tokens were spent all the same.
-- Returns "<1 applied | 0 nothing to do> <tightest scope, 1-based> <available in it, may be negative>".

-- Runs after budget_common.lua (n, id, now, return_expired, tightest): budgets.py puts it in front.
local actual = tonumber(ARGV[3])

-- Expired holds first, ours included: then ZREM below finds ours only if it is still counted.
for i = 1, n do
  return_expired(i)
end

local record = redis.call('HMGET', KEYS[2 * n + 1], 'held', 'state')
local applied = 0
if record[2] == 'held' then
  applied = 1
  local held = tonumber(record[1])
  local member = id .. ':' .. record[1]
  -- HSET keeps the record's TTL: it stays the idempotency marker until the grace period ends.
  redis.call('HSET', KEYS[2 * n + 1], 'state', 'settled')
  for i = 1, n do
    if redis.call('ZREM', KEYS[n + i], member) == 1 then
      if redis.call('HINCRBY', KEYS[i], 'reserved', -held) < 0 then
        redis.call('HSET', KEYS[i], 'reserved', 0)
      end
    end
    if actual > 0 then
      redis.call('HINCRBY', KEYS[i], 'used', actual)
    end
    -- The keys may have expired and been recreated just now: never leave them without a TTL.
    local ttl = tonumber(ARGV[3 + n + i])
    redis.call('EXPIRE', KEYS[i], ttl)
    redis.call('EXPIRE', KEYS[n + i], ttl)
  end
end

local tight, least = tightest(3)

return string.format('%d %d %d', applied, tight, least)
