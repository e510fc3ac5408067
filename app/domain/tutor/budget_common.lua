-- Tutor token budgets, the part budget_reserve.lua and budget_settle.lua share: budgets.py puts this
-- text in front of each script when it registers it, so both give back expired holds and find the
-- tightest scope with the same code. It reads ARGV[1] (n, the number of scopes), ARGV[2] (the
-- reservation id), the scope hashes KEYS[1..n], their hold sets KEYS[n+1..2n] (layout:
-- budget_reserve.lua) and the server clock.

local n = tonumber(ARGV[1])
local id = ARGV[2]
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)

-- Give back the holds of reservations that were never settled (their process died): without this a
-- crash would shrink the budget until the period ends.
local function return_expired(i)
  local holds = KEYS[n + i]
  local expired = redis.call('ZRANGEBYSCORE', holds, '-inf', now)
  if #expired == 0 then
    return
  end
  local total = 0
  for _, member in ipairs(expired) do
    total = total + (tonumber(string.match(member, ':(%d+)$')) or 0)
  end
  redis.call('ZREMRANGEBYSCORE', holds, '-inf', now)
  -- Never below zero: a hash evicted apart from its hold set must not mint budget.
  if redis.call('HINCRBY', KEYS[i], 'reserved', -total) < 0 then
    redis.call('HSET', KEYS[i], 'reserved', 0)
  end
end

-- The scope with the least room (1-based) and that room, available = limit - used - reserved, may be
-- negative. Scope i's limit is ARGV[first + i]. Ties keep the earlier scope: callers list scopes
-- broadest first, whose reset is the later one.
local function tightest(first)
  local tight, least = 1, nil
  for i = 1, n do
    local state = redis.call('HMGET', KEYS[i], 'used', 'reserved')
    local available = tonumber(ARGV[first + i]) - (tonumber(state[1]) or 0) - (tonumber(state[2]) or 0)
    if least == nil or available < least then
      tight, least = i, available
    end
  end
  return tight, least
end
