//! The two Lua scripts behind the gate. Each runs atomically in Redis and
//! takes Redis's own clock (`TIME`), so replicas with skewed clocks agree.
//! Keys are those of `crate::limits::ConnectionKeys`.

use std::sync::LazyLock;

use switchyard_core::gcra;

/// Decides whether one attempt may start now. Checks, in order, the
/// circuit breaker, the concurrency cap and the rate limit, and changes
/// nothing unless the attempt is admitted — except the rate limiter, which
/// books a later slot for an attempt it holds back (so a backlog leaves at
/// the limit's pace instead of stampeding back at once).
///
/// KEYS: breaker, slots, rate, reserved.
/// ARGV: 1 delivery id, 2 lease id, 3 lease ttl (ms), 4 max concurrency
/// (0: none), 5 rate interval (ms, may be fractional; 0: none), 6 burst
/// tolerance (ms), 7 breaker cooldown (ms), 8 breaker enabled (1 or 0),
/// 9 and 10 the adaptive limit's min and max (0: not adaptive; the cap is
/// then the limit in the breaker hash's `aimd_limit`, `min` when unset).
///
/// Returns `{verdict, wait_ms, state, streak, now}`: verdict 1 admitted, 2
/// admitted as the half-open probe, 0 held by the breaker, -1 held by the
/// concurrency cap, -2 held by the rate limit until `wait_ms` from now;
/// `now` is Redis's clock (Unix ms), the attempt's start for `FINISH`.
///
/// The rate limit is `switchyard_core::gcra`'s function, in milliseconds,
/// booking a held attempt's slot.
pub static ADMIT: LazyLock<String> = LazyLock::new(|| format!("{}{ADMIT_BODY}", gcra::LUA));

const ADMIT_BODY: &str = r"
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
    if now < reopen then return {0, reopen - now, state, streak, now} end
  else
    local busy_until = tonumber(b[4] or '0')
    if now < busy_until then return {0, math.min(busy_until - now, 1000), state, streak, now} end
  end
  probe = true
end
local max = tonumber(ARGV[4])
local amin = tonumber(ARGV[9])
if amin > 0 then
  local limit = tonumber(redis.call('HGET', KEYS[1], 'aimd_limit') or amin)
  max = math.max(amin, math.min(tonumber(ARGV[10]), math.floor(limit)))
end
if max > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
  if redis.call('ZCARD', KEYS[2]) >= max then return {-1, 0, state, streak, now} end
end
local interval = tonumber(ARGV[5])
if interval > 0 then
  local reserved = redis.call('ZSCORE', KEYS[4], ARGV[1])
  if reserved then
    reserved = tonumber(reserved)
    if reserved > now then return {-2, math.ceil(reserved - now), state, streak, now} end
    redis.call('ZREM', KEYS[4], ARGV[1])
  else
    local allowed_at = gcra(KEYS[3], now, interval, tonumber(ARGV[6]), 1, 1, true, false)
    if allowed_at > now then
      redis.call('ZADD', KEYS[4], allowed_at, ARGV[1])
      redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now - 600000)
      redis.call('PEXPIRE', KEYS[4], math.ceil(allowed_at - now) + 600000)
      return {-2, math.ceil(allowed_at - now), state, streak, now}
    end
  end
end
if max > 0 then
  redis.call('ZADD', KEYS[2], now + ttl, ARGV[2])
  redis.call('PEXPIRE', KEYS[2], ttl + 1000)
end
if probe then
  redis.call('HSET', KEYS[1], 'state', 'half_open', 'probe_lease', ARGV[2], 'probe_until', now + ttl)
  return {2, 0, 'half_open', streak, now}
end
return {1, 0, state, streak, now}
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
local limit = 0
local amin = tonumber(ARGV[9])
if amin > 0 then
  local amax = tonumber(ARGV[10])
  local a = redis.call('HMGET', KEYS[1], 'aimd_limit', 'aimd_drop_at', 'aimd_base')
  limit = tonumber(a[1] or amin)
  local latency = tonumber(ARGV[12])
  if ARGV[11] == 'x' then
    if tonumber(ARGV[13]) >= tonumber(a[2] or '0') then
      limit = limit / 2
      redis.call('HSET', KEYS[1], 'aimd_drop_at', now)
    end
  elseif ARGV[11] == 'o' then
    local base = tonumber(a[3] or latency)
    if latency <= 2 * base + 5 then limit = limit + 1 / math.max(limit, 1) end
    if latency < base then base = latency else base = base + (latency - base) / 100 end
    redis.call('HSET', KEYS[1], 'aimd_base', base)
  end
  limit = math.max(amin, math.min(amax, limit))
  redis.call('HSET', KEYS[1], 'aimd_limit', limit)
end
redis.call('PEXPIRE', KEYS[1], ARGV[8])
return {state, streak, math.floor(limit)}
";
