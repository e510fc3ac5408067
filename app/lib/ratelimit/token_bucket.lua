-- Multi-bucket token bucket: one atomic decision across several buckets.
--
-- KEYS[i]        bucket hash {tokens = <float>, ts = <server time, microseconds>}
-- ARGV[1]        cost (tokens to take from EVERY bucket)
-- ARGV[2i]       burst (capacity) of KEYS[i]
-- ARGV[2i + 1]   refill rate of KEYS[i], tokens per second
--
-- Either every bucket holds `cost` tokens and all are charged, or none is charged.
-- Returns one space-separated string (a single bulk reply parses much faster than an array):
--   "<allowed 1|0> <limiting index, 1-based into KEYS> <remaining whole tokens> <retry_after s> <reset s>"
-- e.g. "1 2 17 0 3.25" or "0 3 0 0.4995 50.0". retry_after is 0 when allowed.
-- When allowed, the limiting bucket is the one left with the fewest whole tokens (ties: the one
-- that takes longest to refill); when refused, it is the refusing bucket that needs longest to
-- recover, so retry_after is when every bucket can pay again. A missing key is a full bucket.

local cost = tonumber(ARGV[1])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])

local n = #KEYS
local level = {}
local refused, refused_wait = 0, -1

for i = 1, n do
  local burst = tonumber(ARGV[2 * i])
  local rate = tonumber(ARGV[2 * i + 1]) / 1000000 -- tokens per microsecond
  local state = redis.call('HMGET', KEYS[i], 'tokens', 'ts')
  local tokens = tonumber(state[1])
  local ts = tonumber(state[2])
  if tokens == nil or ts == nil then
    tokens = burst
  elseif now > ts then
    -- A clock that stepped back (failover to another host) simply refills nothing.
    tokens = tokens + (now - ts) * rate
  end
  if tokens > burst then
    tokens = burst
  end
  level[i] = tokens
  if tokens < cost then
    local wait = (cost - tokens) / rate
    if wait > refused_wait then
      refused, refused_wait = i, wait
    end
  end
end

if refused > 0 then
  local burst = tonumber(ARGV[2 * refused])
  local rate = tonumber(ARGV[2 * refused + 1]) / 1000000
  local tokens = level[refused]
  return '0 ' .. refused .. ' ' .. math.floor(tokens) .. ' ' .. (refused_wait / 1000000) .. ' '
    .. ((burst - tokens) / rate / 1000000)
end

local best, best_remaining, best_reset = 1, nil, 0
for i = 1, n do
  local burst = tonumber(ARGV[2 * i])
  local rate = tonumber(ARGV[2 * i + 1]) / 1000000
  local tokens = level[i] - cost
  local full_in = (burst - tokens) / rate -- microseconds until the bucket is full again
  redis.call('HSET', KEYS[i], 'tokens', tokens, 'ts', now)
  -- Once full, the key carries no information: let it expire then.
  redis.call('PEXPIRE', KEYS[i], math.ceil(full_in / 1000) + 1)
  local remaining = math.floor(tokens)
  if best_remaining == nil or remaining < best_remaining
      or (remaining == best_remaining and full_in > best_reset) then
    best, best_remaining, best_reset = i, remaining, full_in
  end
end

return '1 ' .. best .. ' ' .. best_remaining .. ' 0 ' .. (best_reset / 1000000)
