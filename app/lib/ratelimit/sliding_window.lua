-- Multi-key sliding-window counter: one atomic decision across several limits.
--
-- Each limit allows `limit` requests per `window`. Time is cut into fixed windows aligned on the
-- server clock; the count used is  previous_window_count * (1 - elapsed_fraction) + current_count,
-- the usual O(1) approximation of a true sliding log.
--
-- KEYS[i]        hash {w = <current window start, microseconds>, c = <count in w>, p = <count in w - window>}
-- ARGV[1]        cost
-- ARGV[2i]       limit of KEYS[i]
-- ARGV[2i + 1]   rate of KEYS[i] in requests per second; window = limit / rate seconds
--
-- Either every limit has room for `cost` and all are charged, or none is charged.
-- Returns the same reply as token_bucket.lua, one space-separated string:
--   "<allowed 1|0> <limiting index, 1-based into KEYS> <remaining> <retry_after s> <reset s>"
-- here reset is the time until the limit's weighted count falls back to zero.

local cost = tonumber(ARGV[1])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])

local n = #KEYS
local spec = {}
local refused, refused_wait = 0, -1

for i = 1, n do
  local limit = tonumber(ARGV[2 * i])
  local window = math.floor(limit / tonumber(ARGV[2 * i + 1]) * 1000000 + 0.5) -- microseconds
  if window < 1 then
    window = 1
  end
  local start = now - (now % window)
  local state = redis.call('HMGET', KEYS[i], 'w', 'c', 'p')
  local stored = tonumber(state[1])
  local current, previous = 0, 0
  if stored == start then
    current = tonumber(state[2]) or 0
    previous = tonumber(state[3]) or 0
  elseif stored == start - window then
    previous = tonumber(state[2]) or 0
  end
  local elapsed = (now - start) / window
  local used = previous * (1 - elapsed) + current
  local reset = 0
  if current > 0 then
    reset = start + 2 * window - now
  elseif previous > 0 then
    reset = start + window - now
  end
  spec[i] = {limit, window, start, current, previous, used, reset}
  if used + cost > limit then
    local wait
    if current + cost <= limit then
      -- Room opens inside this window as the previous window's weight fades.
      wait = (1 - (limit - current - cost) / previous - elapsed) * window
    else
      -- Wait for the next window, where this window's count becomes the fading one.
      local fraction = 0
      if current > 0 then
        fraction = 1 - (limit - cost) / current
      end
      if fraction < 0 then
        fraction = 0
      end
      wait = start + window - now + fraction * window
    end
    if wait < 0 then
      wait = 0
    end
    if wait > refused_wait then
      refused, refused_wait = i, wait
    end
  end
end

if refused > 0 then
  local s = spec[refused]
  local remaining = math.floor(s[1] - s[6])
  if remaining < 0 then
    remaining = 0
  end
  return '0 ' .. refused .. ' ' .. remaining .. ' ' .. (refused_wait / 1000000) .. ' ' .. (s[7] / 1000000)
end

local best, best_remaining, best_reset = 1, nil, 0
for i = 1, n do
  local s = spec[i]
  local limit, window, start, current, previous, used = s[1], s[2], s[3], s[4], s[5], s[6]
  redis.call('HSET', KEYS[i], 'w', start, 'c', current + cost, 'p', previous)
  -- The counts matter until the end of the next window.
  local reset = start + 2 * window - now
  redis.call('PEXPIRE', KEYS[i], math.ceil(reset / 1000) + 1)
  local remaining = math.floor(limit - used - cost)
  if best_remaining == nil or remaining < best_remaining
      or (remaining == best_remaining and reset > best_reset) then
    best, best_remaining, best_reset = i, remaining, reset
  end
end

return '1 ' .. best .. ' ' .. best_remaining .. ' 0 ' .. (best_reset / 1000000)
