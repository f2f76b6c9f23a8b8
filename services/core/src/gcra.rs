//! The one generic cell rate algorithm (GCRA) of Switchyard, kept in Redis:
//! a key holds the theoretical arrival time (TAT) of the next cell, read
//! and moved by Lua on Redis's own clock (`TIME`), so replicas with skewed
//! clocks agree.
//!
//! - [`LUA`] is the algorithm as a Lua `local function gcra(…)`; every
//!   script that rate-limits starts with it: [`TAKE`] here, and the
//!   delivery gate's `ADMIT`, which runs it between its breaker and
//!   concurrency checks in the same atomic script.
//! - [`Allowance`] turns a rate and a burst into the interval and tolerance
//!   the function takes, in the caller's unit of time.
//! - [`take`] runs [`TAKE`]: takes cells from one key's allowance now, or
//!   says how long until they would conform (the ingest quota's caller).
//!
//! With one cell every `interval`, cells conform while the TAT is no more
//! than `tolerance` (`burst - 1` intervals) ahead of now, so `burst` cells
//! may arrive at once and then one per interval.

use std::sync::LazyLock;
use std::time::Duration;

use redis::Script;

use crate::redis_conn::RedisConn;

/// `gcra(key, now, interval, tolerance, count, unit_ms, book_held, whole)`
/// books `count` cells (all or none) on the TAT at `key` and returns the
/// time at which they conform: at or before `now` when they do now.
///
/// `now`, `interval`, `tolerance` and the result are in the caller's unit,
/// of which `unit_ms` make a millisecond (the key expires once the TAT is
/// past). Cells that do not conform yet are booked too when `book_held`
/// (the gate reserves them a later slot) and change nothing otherwise. The
/// TAT is written rounded to a whole unit when `whole`, as it is otherwise.
pub const LUA: &str = r"
local function gcra(key, now, interval, tolerance, count, unit_ms, book_held, whole)
  local tat = tonumber(redis.call('GET', key) or '0')
  if tat < now then tat = now end
  local conform_at = tat + (count - 1) * interval - tolerance
  if conform_at > now and not book_held then return conform_at end
  local next_tat = tat + count * interval
  local stored = next_tat
  if whole then stored = string.format('%.0f', next_tat) end
  redis.call('SET', key, stored, 'PX', math.ceil((next_tat - now) / unit_ms) + 1000)
  return conform_at
end
";

/// KEYS: the TAT key (microseconds of Redis's clock, whole). ARGV: 1
/// interval (µs, may be fractional), 2 tolerance (µs), 3 cells taken at
/// once (all or none). Returns `{admitted, wait_us}`; a refusal changes
/// nothing.
pub static TAKE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "{LUA}{}",
        r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local conform_at = gcra(KEYS[1], now, tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), 1000, false, true)
local wait = conform_at - now
if wait > 0 then return {0, math.ceil(wait)} end
return {1, 0}
"
    )
});

static TAKE_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(&TAKE));

/// One cell every `interval`, `burst` at once, in one unit of time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Allowance {
    pub interval: f64,
    /// How far ahead of now the TAT may be: `burst - 1` intervals.
    pub tolerance: f64,
}

impl Allowance {
    pub fn new(interval: f64, burst: u32) -> Self {
        Self {
            interval,
            tolerance: interval * f64::from(burst.saturating_sub(1)),
        }
    }

    /// `rate` cells per second, in microseconds (the unit of [`take`]).
    pub fn per_second_us(rate: f64, burst: u32) -> Self {
        Self::new(1_000_000.0 / rate, burst)
    }
}

/// Takes `count` cells (at least one) from `key`'s allowance (in
/// microseconds, see [`Allowance::per_second_us`]): `None` when they are
/// taken, or how long until they would all conform (nothing is taken).
pub async fn take(
    redis: &RedisConn,
    key: &str,
    allowance: Allowance,
    count: usize,
) -> redis::RedisResult<Option<Duration>> {
    let (admitted, wait_us): (i64, i64) = TAKE_SCRIPT
        .key(key)
        .arg(allowance.interval)
        .arg(allowance.tolerance)
        .arg(count.max(1))
        .invoke_async(&mut redis.clone())
        .await?;
    if admitted == 1 {
        return Ok(None);
    }
    Ok(Some(Duration::from_micros(
        u64::try_from(wait_us).unwrap_or(0),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tolerance_is_burst_minus_one_intervals() {
        assert_eq!(
            Allowance::per_second_us(5.0, 3),
            Allowance {
                interval: 200_000.0,
                tolerance: 400_000.0
            }
        );
        assert_eq!(Allowance::new(20.0, 1).tolerance, 0.0);
        assert_eq!(Allowance::new(20.0, 0).tolerance, 0.0);
    }

    #[test]
    fn every_script_defines_the_function_once() {
        assert_eq!(TAKE.matches("local function gcra(").count(), 1);
    }
}
