-- Tutor token budgets, reserve: hold a message's worst case in every scope at once, or in none.
--
-- KEYS[i]        scope hash {used = <tokens charged>, reserved = <tokens held by live reservations>}
-- KEYS[n + i]    the scope's hold set: member "<reservation id>:<tokens held>", score = hold expiry
--                (server clock, milliseconds). The amount rides in the member so that returning an
--                expired hold needs no other key.
-- KEYS[2n + 1]   the reservation record hash {held, max, state = "held"}; settle.lua reads it, so the
--                amount to release comes from the server, and its state makes settle idempotent.
-- ARGV[1]        n, the number of scopes
-- ARGV[2]        reservation id (a fresh uuid hex; no ':')
-- ARGV[3]        hold lifetime, ms: after it, a hold whose process never settled is given back
-- ARGV[4]        record lifetime, ms (hold lifetime + the grace in which a late settle still counts)
-- ARGV[5]        input tokens
-- ARGV[6]        max output tokens wanted
-- ARGV[7]        min output tokens: a reply shorter than this is not worth starting
-- ARGV[7 + i]    limit of scope i, tokens (passed per call, so an admin's change applies at once)
-- ARGV[7 + n + i] TTL of scope i's keys, seconds (period end + slack; sliding for sessions)
--
-- Each scope has available = limit - used - reserved. Either every scope has room for
-- input + min output, and all hold input + granted output with
--   granted = min(max output, least available - input),
-- or nothing is written (returning other reservations' expired holds aside, which changes no
-- answer) and the reply names the scope with the least room.
-- Returns one space-separated string (a single bulk reply, like the rate limiter's scripts):
--   granted: "1 <tightest scope, 1-based> <remaining in it after the hold> <granted output> <held>"
--   refused: "0 <tightest scope, 1-based> <available in it, may be negative>"

-- Runs after budget_common.lua (n, id, now, return_expired, tightest): budgets.py puts it in front.
local hold_ms, record_ms = tonumber(ARGV[3]), tonumber(ARGV[4])
local input, max_out, min_out = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])

for i = 1, n do
  return_expired(i)
end
local tight, least = tightest(7)

if least < input + min_out then
  return string.format('0 %d %d', tight, least)
end

local granted = math.min(max_out, least - input)
local held = input + granted
local member = id .. ':' .. held
for i = 1, n do
  local ttl = tonumber(ARGV[7 + n + i])
  redis.call('HINCRBY', KEYS[i], 'reserved', held)
  redis.call('ZADD', KEYS[n + i], now + hold_ms, member)
  redis.call('EXPIRE', KEYS[i], ttl)
  redis.call('EXPIRE', KEYS[n + i], ttl)
end
redis.call('HSET', KEYS[2 * n + 1], 'held', held, 'max', granted, 'state', 'held')
redis.call('PEXPIRE', KEYS[2 * n + 1], record_ms)

return string.format('1 %d %d %d %d', tight, least - held, granted, held)
