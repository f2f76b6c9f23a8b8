//! The two Lua scripts behind the gate. Each runs atomically in Redis and
//! takes Redis's own clock (`TIME`), so replicas with skewed clocks agree.
//! Keys are those of `switchyard_core::limits::ConnectionKeys`.

/// Decides whether one attempt may start now. Checks, in order, the
/// circuit breaker, the concurrency cap and the rate limit, and changes
/// nothing unless the attempt is admitted — except the rate limiter, which
/// books a later slot for an attempt it holds back (so a backlog leaves at
/// the limit's pace instead of stampeding back at once).
///
/// KEYS: breaker, slots, rate, reserved.
/// ARGV: 1 delivery id, 2 lease id, 3 lease ttl (ms), 4 max concurrency
/// (0: none), 5 rate interval (ms, may be fractional; 0: none), 6 burst
/// tolerance (ms), 7 breaker cooldown (ms), 8 breaker enabled (1 or 0).
///
/// Returns `{verdict, wait_ms, state, streak}`: verdict 1 admitted, 2
/// admitted as the half-open probe, 0 held by the breaker, -1 held by the
/// concurrency cap, -2 held by the rate limit until `wait_ms` from now.
pub const ADMIT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[3])
local b = redis.call('HMGET', KEYS[1], 'state', 'streak', 'opened_at', 'probe_until')
local state = b[1] or 'closed'
local streak = tonumber(b[2] or '0')
local probe = false
if ARGV[8] == '1' and state ~= 'closed' then
  if state == 'open' then
    local reopen = tonumber(b[3] or '0') + tonumber(ARGV[7])
    if now < reopen then return {0, reopen - now, state, streak} end
  else
    local busy_until = tonumber(b[4] or '0')
    if now < busy_until then return {0, math.min(busy_until - now, 1000), state, streak} end
  end
  probe = true
end
local max = tonumber(ARGV[4])
if max > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
  if redis.call('ZCARD', KEYS[2]) >= max then return {-1, 0, state, streak} end
end
local interval = tonumber(ARGV[5])
if interval > 0 then
  local reserved = redis.call('ZSCORE', KEYS[4], ARGV[1])
  if reserved then
    reserved = tonumber(reserved)
    if reserved > now then return {-2, math.ceil(reserved - now), state, streak} end
    redis.call('ZREM', KEYS[4], ARGV[1])
  else
    local tat = tonumber(redis.call('GET', KEYS[3]) or '0')
    if tat < now then tat = now end
    local allowed_at = tat - tonumber(ARGV[6])
    redis.call('SET', KEYS[3], tat + interval, 'PX', math.ceil(tat + interval - now) + 1000)
    if allowed_at > now then
      redis.call('ZADD', KEYS[4], allowed_at, ARGV[1])
      redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now - 600000)
      redis.call('PEXPIRE', KEYS[4], math.ceil(allowed_at - now) + 600000)
      return {-2, math.ceil(allowed_at - now), state, streak}
    end
  end
end
if max > 0 then
  redis.call('ZADD', KEYS[2], now + ttl, ARGV[2])
  redis.call('PEXPIRE', KEYS[2], ttl + 1000)
end
if probe then
  redis.call('HSET', KEYS[1], 'state', 'half_open', 'probe_lease', ARGV[2], 'probe_until', now + ttl)
  return {2, 0, 'half_open', streak}
end
return {1, 0, state, streak}
";

/// Records how an admitted attempt went: frees its concurrency slot and
/// moves the breaker. A failure lengthens the streak and may open it (or
/// re-open it, when it was the probe); a success ends the streak, and a
/// probe that got any answer closes it. Outcomes: `s` success, `f`
/// failure, `n` neutral (the destination answered, but not 2xx).
///
/// KEYS: breaker, slots.
/// ARGV: 1 lease id, 2 outcome, 3 error, 4 failure threshold (0: off),
/// 5 failure ratio (0: off), 6 minimum requests for the ratio, 7 ratio
/// window (ms), 8 retention of the breaker hash (ms).
///
/// Returns `{state, streak}`.
pub const FINISH: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREM', KEYS[2], ARGV[1])
local b = redis.call('HMGET', KEYS[1], 'state', 'streak', 'probe_lease', 'win_start', 'win_total', 'win_failures')
local state = b[1] or 'closed'
local streak = tonumber(b[2] or '0')
local is_probe = b[3] == ARGV[1]
local outcome = ARGV[2]
local ratio = tonumber(ARGV[5])
local total = tonumber(b[5] or '0')
local failures = tonumber(b[6] or '0')
if ratio > 0 then
  if now - tonumber(b[4] or '0') >= tonumber(ARGV[7]) then
    total = 0
    failures = 0
    redis.call('HSET', KEYS[1], 'win_start', now)
  end
  total = total + 1
  if outcome == 'f' then failures = failures + 1 end
  redis.call('HSET', KEYS[1], 'win_total', total, 'win_failures', failures)
end
if outcome == 'f' then
  streak = streak + 1
  redis.call('HSET', KEYS[1], 'streak', streak, 'last_error', ARGV[3], 'last_failure_at', now)
  local threshold = tonumber(ARGV[4])
  local trip = (threshold > 0 and streak >= threshold)
    or (ratio > 0 and total >= tonumber(ARGV[6]) and failures >= ratio * total)
  if is_probe or (state == 'closed' and trip) then
    state = 'open'
    redis.call('HSET', KEYS[1], 'state', 'open', 'opened_at', now)
    redis.call('HDEL', KEYS[1], 'probe_lease', 'probe_until')
    if ratio > 0 then
      redis.call('HSET', KEYS[1], 'win_start', now, 'win_total', 0, 'win_failures', 0)
    end
  end
else
  if outcome == 's' then
    streak = 0
    redis.call('HSET', KEYS[1], 'streak', 0)
  end
  if is_probe then
    state = 'closed'
    redis.call('HSET', KEYS[1], 'state', 'closed')
    redis.call('HDEL', KEYS[1], 'probe_lease', 'probe_until', 'opened_at')
  end
end
redis.call('PEXPIRE', KEYS[1], ARGV[8])
return {state, streak}
";
