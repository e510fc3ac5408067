-- Tutor token budgets: reserve / settle, atomically across every scope (org month, course month,
-- user day, session). KEYS = n scope hashes {used, reserved}, then their n hold sets, then (settle
-- only) the reservation's "settled" marker. Holds are scored by expiry (server ms), so the hold of a
-- process that crashed between reserve and settle is returned by the next call on that scope.
local op = ARGV[1]
local n = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

local function clean(i)
  local holds = KEYS[n + i]
  local expired = redis.call('ZRANGEBYSCORE', holds, '-inf', now)
  for _, member in ipairs(expired) do
    redis.call('HINCRBY', KEYS[i], 'reserved', -tonumber(string.match(member, ':(%d+)$')))
  end
  if #expired > 0 then redis.call('ZREMRANGEBYSCORE', holds, '-inf', now) end
end

local function available(i, limit)
  local v = redis.call('HMGET', KEYS[i], 'used', 'reserved')
  return limit - (tonumber(v[1]) or 0) - (tonumber(v[2]) or 0)
end

-- ARGV (reserve): op, n, reservation id, hold ms, input, max output, min output, n limits, n ttls
-- reply: "1 <tightest> <remaining> <granted max_tokens> <held>" or "0 <tightest> <available>"
if op == 'reserve' then
  local id, hold_ms = ARGV[3], tonumber(ARGV[4])
  local input, max_out, min_out = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
  local tight, least = 1, nil
  for i = 1, n do
    clean(i)
    local avail = available(i, tonumber(ARGV[7 + i]))
    if least == nil or avail < least then least, tight = avail, i end
  end
  if least < input + min_out then return '0 ' .. tight .. ' ' .. least end
  local grant = math.min(max_out, least - input)
  local held = input + grant
  for i = 1, n do
    local ttl = tonumber(ARGV[7 + n + i])
    redis.call('HINCRBY', KEYS[i], 'reserved', held)
    redis.call('ZADD', KEYS[n + i], now + hold_ms, id .. ':' .. held)
    redis.call('EXPIRE', KEYS[i], ttl)
    redis.call('EXPIRE', KEYS[n + i], ttl)
  end
  return '1 ' .. tight .. ' ' .. (least - held) .. ' ' .. grant .. ' ' .. held
end

-- ARGV (settle): op, n, reservation id, held, actual tokens, n limits
-- reply: "<1 if this call settled, 0 if already settled> <remaining in the tightest scope>"
local id, held, actual = ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local first = redis.call('SET', KEYS[2 * n + 1], '1', 'NX', 'EX', 86400)
if first then
  for i = 1, n do
    if redis.call('ZREM', KEYS[n + i], id .. ':' .. held) == 1 then
      redis.call('HINCRBY', KEYS[i], 'reserved', -held)
    end
    if actual > 0 then redis.call('HINCRBY', KEYS[i], 'used', actual) end
  end
end
local least = nil
for i = 1, n do
  local avail = available(i, tonumber(ARGV[5 + i]))
  if least == nil or avail < least then least = avail end
end
return (first and '1 ' or '0 ') .. least
