//! Forgetting departed consumers. A delivery process that stops cleanly
//! leaves the group itself (`super::handback`); one that was killed
//! (`kill -9`, out of memory, a lost node) stays in it, and each crash
//! would add a name to `XINFO CONSUMERS` forever. Every round, one Lua
//! script deletes the consumers that have nothing pending — the reclaimer
//! has taken their entries over — and have not read for `idle` (twice the
//! visibility timeout; a live consumer reads at least every second while it
//! has a free slot, and no attempt runs longer than the visibility
//! timeout).
//!
//! Both tests and the deletion are one atomic step, so an entry is never
//! dropped with its consumer; a live consumer deleted by mistake is
//! recreated by its next read and, having nothing pending, loses nothing.
//! Every replica runs the loop; running it twice at once deletes nothing
//! twice.

use std::time::Duration;

use redis::Script;
use switchyard_core::shutdown::{self, Signal};
use switchyard_delivery_model::queue::CONSUMER_GROUP;

use super::queue::JobQueue;

/// Deletes the consumers of group ARGV[1] on stream KEYS[1] with nothing
/// pending and idle for at least ARGV[2] ms; answers how many.
const FORGET: &str = r"
local removed = 0
for _, consumer in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
  local fields = {}
  for i = 1, #consumer, 2 do
    fields[consumer[i]] = consumer[i + 1]
  end
  if fields['pending'] == 0 and fields['idle'] >= tonumber(ARGV[2]) then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], fields['name'])
    removed = removed + 1
  end
end
return removed
";

pub async fn run(queue: JobQueue, idle: Duration, interval: Duration, shutdown: Signal) {
    let script = Script::new(FORGET);
    let idle_ms = u64::try_from(idle.as_millis()).unwrap_or(u64::MAX);
    shutdown::every(interval, shutdown, || async {
        let forgotten: redis::RedisResult<usize> = script
            .key(&queue.keys().stream)
            .arg(CONSUMER_GROUP)
            .arg(idle_ms)
            .invoke_async(&mut queue.commands())
            .await;
        match forgotten {
            Ok(0) => {}
            Ok(count) => tracing::info!(count, "forgot departed consumers of the job stream"),
            // A missing group is the consumer's and the reclaimer's to repair.
            Err(error) => tracing::debug!(%error, "looking for departed consumers failed"),
        }
    })
    .await;
    tracing::debug!("departed-consumer sweep stopped");
}
