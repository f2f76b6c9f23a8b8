/**
 * Retrying calls refused by an outage, as the Rust SDK does, so an emit
 * during a restart of Postgres, Redis or Switchyard is neither lost nor —
 * thanks to its idempotency key — stored twice.
 *
 * 1. Whether: `Unavailable` is retried; `ResourceExhausted` only when the
 *    server attached a `RetryInfo` (a quota that refills by waiting).
 * 2. When: the wait doubles from `initialBackoffMs` up to `maxBackoffMs`,
 *    jittered to between half and all of it, and is never shorter than the
 *    server's delay (plus up to a quarter more, so clients told the same
 *    delay do not all come back at once).
 * 3. Until: `maxAttempts` calls, or the next wait would pass
 *    `maxElapsedMs` since the first; the last error is thrown.
 */
import { Code } from "@connectrpc/connect";

import { SwitchyardError } from "./errors.js";

export interface RetryPolicy {
  /** Calls in all, the first included; 1 turns retrying off. */
  maxAttempts: number;
  /** No retry starts after this long since the first call. */
  maxElapsedMs: number;
  /** The wait before the first retry, doubled for each one after. */
  initialBackoffMs: number;
  /** The longest wait between two attempts (a server's RetryInfo may ask for more, and gets it). */
  maxBackoffMs: number;
  /** Told about every retry: the refused call's error and the wait before the next attempt. */
  onRetry?: (error: SwitchyardError, waitMs: number) => void;
}

/** Up to 10 attempts within 30 s, waits from 100 ms to 5 s. */
export const DEFAULT_RETRY: RetryPolicy = {
  maxAttempts: 10,
  maxElapsedMs: 30_000,
  initialBackoffMs: 100,
  maxBackoffMs: 5_000,
};

/** No retries: every call is made once. */
export const NEVER_RETRY: RetryPolicy = { ...DEFAULT_RETRY, maxAttempts: 1 };

/** Whether a call that failed with `error` may be retried. */
export function retryable(error: SwitchyardError): boolean {
  if (error.code === Code.Unavailable) return true;
  return error.code === Code.ResourceExhausted && error.retryAfterMs !== undefined;
}

/** The wait before retry number `retry` (1 for the first), in ms. */
export function delayMs(policy: RetryPolicy, retry: number, serverDelayMs?: number): number {
  const backoff = Math.min(policy.initialBackoffMs * 2 ** (retry - 1), policy.maxBackoffMs);
  const jittered = backoff / 2 + backoff * 0.5 * Math.random();
  if (serverDelayMs === undefined) return jittered;
  return Math.max(jittered, serverDelayMs + serverDelayMs * 0.25 * Math.random());
}

/** Makes `call` until it succeeds, fails for good or `policy` runs out. */
export async function withRetry<T>(policy: RetryPolicy, call: () => Promise<T>): Promise<T> {
  const started = Date.now();
  for (let attempt = 1; ; attempt++) {
    let error: SwitchyardError;
    try {
      return await call();
    } catch (reason) {
      error = SwitchyardError.from(reason);
    }
    if (!retryable(error) || attempt >= policy.maxAttempts) throw error;
    const wait = delayMs(policy, attempt, error.retryAfterMs);
    if (Date.now() - started + wait > policy.maxElapsedMs) throw error;
    policy.onRetry?.(error, wait);
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
}
