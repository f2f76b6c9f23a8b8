//! Retrying calls refused by an outage, so an emit during a Postgres or
//! Redis restart (or a restart of Switchyard itself) is neither lost nor,
//! thanks to its idempotency key, stored twice.
//!
//! Whether to retry ([`retryable`]) is kept apart from when ([`delay`]):
//! 1. `UNAVAILABLE` is retried: the server (or the transport) says the call
//!    can be repeated later. So is `RESOURCE_EXHAUSTED` when the server
//!    attached a `google.rpc.RetryInfo` (a quota that refills); without one
//!    the quota will not come back by waiting.
//! 2. A call cut by the transport after it left (connection reset while
//!    the server was killed) is retried only for idempotent calls: the
//!    server may have done it, and only an idempotency key makes the
//!    repeat harmless.
//! 3. The wait grows exponentially from [`RetryPolicy::initial_backoff`]
//!    up to [`RetryPolicy::max_backoff`] with jitter, and is never shorter
//!    than the server's `RetryInfo` delay.
//! 4. Retrying stops after [`RetryPolicy::max_attempts`] calls or once the
//!    next wait would pass [`RetryPolicy::max_elapsed`]; the last status is
//!    returned.

use std::error::Error as _;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use tokio::time::Instant;
use tonic::{Code, Status};
use tonic_types::StatusExt;

/// Called before each retry with the refused call's status and the wait
/// before the next attempt (for logs and metrics).
pub type RetryObserver = Arc<dyn Fn(&Status, Duration) + Send + Sync>;

/// How calls refused by an outage are retried.
#[derive(Clone)]
pub struct RetryPolicy {
    /// Calls in all, the first included; 1 turns retrying off.
    pub max_attempts: u32,
    /// No retry starts after this much time since the first call.
    pub max_elapsed: Duration,
    /// The wait before the first retry, doubled for each one after.
    pub initial_backoff: Duration,
    /// The longest wait between two attempts (a server's `RetryInfo` may
    /// ask for more, and gets it).
    pub max_backoff: Duration,
    /// Told about every retry.
    pub on_retry: Option<RetryObserver>,
}

impl RetryPolicy {
    /// No retries: every call is made once.
    pub fn never() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }
}

impl Default for RetryPolicy {
    /// Up to 10 attempts within 30 s, waits from 100 ms to 5 s: enough to
    /// ride out a restart of Postgres, Redis or a Switchyard process.
    fn default() -> Self {
        Self {
            max_attempts: 10,
            max_elapsed: Duration::from_secs(30),
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            on_retry: None,
        }
    }
}

impl fmt::Debug for RetryPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryPolicy")
            .field("max_attempts", &self.max_attempts)
            .field("max_elapsed", &self.max_elapsed)
            .field("initial_backoff", &self.initial_backoff)
            .field("max_backoff", &self.max_backoff)
            .field("on_retry", &self.on_retry.is_some())
            .finish()
    }
}

/// Whether a call may be repeated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Idempotency {
    /// Repeating it cannot do it twice (a read, an emit with its key).
    Idempotent,
    /// Repeating it might do it twice.
    NotIdempotent,
}

/// The outcome of [`retryable`]: retry, after at least the server's delay
/// when it gave one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryAction {
    Retry { server_delay: Option<Duration> },
    DontRetry,
}

/// Whether the call that failed with `status` may be retried.
pub fn retryable(status: &Status, idempotency: Idempotency) -> RetryAction {
    let server_delay = status
        .get_details_retry_info()
        .and_then(|info| info.retry_delay);
    match status.code() {
        Code::Unavailable => RetryAction::Retry { server_delay },
        Code::ResourceExhausted if server_delay.is_some() => RetryAction::Retry { server_delay },
        // A status made on this side from a transport error (it carries the
        // error as its source; a server's answer never does): the call may
        // have run, so only an idempotent one is repeated.
        Code::Unknown | Code::Cancelled
            if status.source().is_some() && idempotency == Idempotency::Idempotent =>
        {
            RetryAction::Retry { server_delay }
        }
        _ => RetryAction::DontRetry,
    }
}

/// The wait before retry number `retry` (1 for the first), with jitter:
/// between half and all of the exponential backoff, and at least the
/// server's delay plus up to a quarter more, so clients told the same delay
/// do not all come back at once.
pub fn delay(policy: &RetryPolicy, retry: u32, server_delay: Option<Duration>) -> Duration {
    let mut rng = rand::rng();
    let doubling = 2u32.saturating_pow(retry.saturating_sub(1));
    let backoff = policy
        .initial_backoff
        .saturating_mul(doubling)
        .min(policy.max_backoff);
    let jittered = backoff / 2 + backoff.mul_f64(rng.random_range(0.0..=0.5));
    match server_delay {
        Some(server) => jittered.max(server + server.mul_f64(rng.random_range(0.0..=0.25))),
        None => jittered,
    }
}

/// Makes `call` until it succeeds, fails for good or `policy` runs out.
pub(crate) async fn run<T, F, Fut>(
    policy: &RetryPolicy,
    idempotency: Idempotency,
    mut call: F,
) -> Result<T, Status>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Status>>,
{
    let started = Instant::now();
    let mut attempt = 1;
    loop {
        let status = match call().await {
            Ok(value) => return Ok(value),
            Err(status) => status,
        };
        let RetryAction::Retry { server_delay } = retryable(&status, idempotency) else {
            return Err(status);
        };
        if attempt >= policy.max_attempts {
            return Err(status);
        }
        let wait = delay(policy, attempt, server_delay);
        if started.elapsed() + wait > policy.max_elapsed {
            return Err(status);
        }
        if let Some(observer) = &policy.on_retry {
            observer(&status, wait);
        }
        tokio::time::sleep(wait).await;
        attempt += 1;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicU32, Ordering};

    use tonic_types::ErrorDetails;

    use super::*;

    fn unavailable_with_retry_info(delay: Duration) -> Status {
        let mut details = ErrorDetails::new();
        details.set_retry_info(Some(delay));
        Status::with_error_details(Code::Unavailable, "postgres restarting", details)
    }

    #[test]
    fn outages_are_retried_and_mistakes_are_not() {
        let idempotent = Idempotency::Idempotent;
        assert_eq!(
            retryable(&Status::unavailable("down"), idempotent),
            RetryAction::Retry { server_delay: None }
        );
        assert_eq!(
            retryable(
                &unavailable_with_retry_info(Duration::from_secs(1)),
                idempotent
            ),
            RetryAction::Retry {
                server_delay: Some(Duration::from_secs(1))
            }
        );
        for status in [
            Status::invalid_argument("bad payload"),
            Status::internal("bug"),
            Status::unauthenticated("no key"),
            // A server's own Unknown is not a transport failure.
            Status::unknown("odd"),
            // A quota that does not refill by waiting.
            Status::resource_exhausted("too many rules"),
        ] {
            assert_eq!(
                retryable(&status, idempotent),
                RetryAction::DontRetry,
                "{status:?}"
            );
        }
    }

    #[test]
    fn exhausted_quota_with_retry_info_is_retried() {
        let mut details = ErrorDetails::new();
        details.set_retry_info(Some(Duration::from_millis(300)));
        let status = Status::with_error_details(Code::ResourceExhausted, "too fast", details);
        assert_eq!(
            retryable(&status, Idempotency::NotIdempotent),
            RetryAction::Retry {
                server_delay: Some(Duration::from_millis(300))
            }
        );
    }

    #[test]
    fn a_cut_call_is_retried_only_when_idempotent() {
        let cut = Status::from_error(Box::new(std::io::Error::from(
            std::io::ErrorKind::ConnectionReset,
        )));
        assert_eq!(cut.code(), Code::Unknown);
        assert_eq!(
            retryable(&cut, Idempotency::Idempotent),
            RetryAction::Retry { server_delay: None }
        );
        assert_eq!(
            retryable(&cut, Idempotency::NotIdempotent),
            RetryAction::DontRetry
        );
    }

    #[test]
    fn delays_grow_with_jitter_and_honour_the_server() {
        let policy = RetryPolicy::default();
        for _ in 0..100 {
            let first = delay(&policy, 1, None);
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
            let fourth = delay(&policy, 4, None);
            assert!(fourth >= Duration::from_millis(400) && fourth <= Duration::from_millis(800));
            let capped = delay(&policy, 30, None);
            assert!(capped <= policy.max_backoff, "{capped:?}");
            let told = delay(&policy, 1, Some(Duration::from_secs(1)));
            assert!(
                told >= Duration::from_secs(1) && told <= Duration::from_millis(1250),
                "{told:?}"
            );
        }
    }

    fn fast_policy(max_attempts: u32) -> RetryPolicy {
        RetryPolicy {
            max_attempts,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(2),
            ..RetryPolicy::default()
        }
    }

    #[tokio::test]
    async fn retries_until_the_call_succeeds_and_reports_each_retry() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let observed = Arc::clone(&seen);
        let policy = RetryPolicy {
            on_retry: Some(Arc::new(move |status, _| {
                observed.lock().expect("lock").push(status.code());
            })),
            ..fast_policy(5)
        };
        let calls = AtomicU32::new(0);
        let result = run(&policy, Idempotency::Idempotent, || async {
            match calls.fetch_add(1, Ordering::SeqCst) {
                0 | 1 => Err(Status::unavailable("restarting")),
                _ => Ok("stored"),
            }
        })
        .await;
        assert_eq!(result.expect("succeeds"), "stored");
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert_eq!(
            *seen.lock().expect("lock"),
            vec![Code::Unavailable, Code::Unavailable]
        );
    }

    #[tokio::test]
    async fn stops_after_max_attempts_and_on_a_final_error() {
        let calls = AtomicU32::new(0);
        let result: Result<(), Status> = run(&fast_policy(3), Idempotency::Idempotent, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(Status::unavailable("down for good"))
        })
        .await;
        assert_eq!(result.expect_err("fails").code(), Code::Unavailable);
        assert_eq!(calls.load(Ordering::SeqCst), 3);

        let calls = AtomicU32::new(0);
        let result: Result<(), Status> = run(&fast_policy(3), Idempotency::Idempotent, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(Status::invalid_argument("bad"))
        })
        .await;
        assert_eq!(result.expect_err("fails").code(), Code::InvalidArgument);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn stops_when_the_next_wait_would_pass_max_elapsed() {
        let policy = RetryPolicy {
            max_elapsed: Duration::from_millis(500),
            ..fast_policy(100)
        };
        let calls = AtomicU32::new(0);
        let started = Instant::now();
        let result: Result<(), Status> = run(&policy, Idempotency::Idempotent, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            // The server asks for more than the budget left.
            Err(unavailable_with_retry_info(Duration::from_secs(1)))
        })
        .await;
        assert_eq!(result.expect_err("fails").code(), Code::Unavailable);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(started.elapsed() < Duration::from_millis(500));
    }
}
