/** Whether and when the SDK retries: the same rules as the Rust SDK's retry.rs. */
import assert from "node:assert/strict";
import { test } from "node:test";

import { Code, DEFAULT_RETRY, SwitchyardError, delayMs, retryable, withRetry } from "../src/index.js";

test("outages are retried, mistakes and quotas without RetryInfo are not", () => {
  assert.equal(retryable(new SwitchyardError(Code.Unavailable, "down")), true);
  assert.equal(retryable(new SwitchyardError(Code.ResourceExhausted, "slow down", [], 300)), true);
  for (const code of [Code.ResourceExhausted, Code.InvalidArgument, Code.Internal, Code.Unauthenticated]) {
    assert.equal(retryable(new SwitchyardError(code, "final")), false, Code[code]);
  }
});

test("waits grow with jitter, stay under the cap and honour the server", () => {
  for (let i = 0; i < 100; i++) {
    const first = delayMs(DEFAULT_RETRY, 1);
    assert.ok(first >= 50 && first <= 100, `${first}`);
    const fourth = delayMs(DEFAULT_RETRY, 4);
    assert.ok(fourth >= 400 && fourth <= 800, `${fourth}`);
    assert.ok(delayMs(DEFAULT_RETRY, 30) <= DEFAULT_RETRY.maxBackoffMs);
    const told = delayMs(DEFAULT_RETRY, 1, 1000);
    assert.ok(told >= 1000 && told <= 1250, `${told}`);
  }
});

test("withRetry stops after maxAttempts and at once on a final error", async () => {
  const policy = { ...DEFAULT_RETRY, maxAttempts: 3, initialBackoffMs: 1, maxBackoffMs: 2 };
  let calls = 0;
  await assert.rejects(
    withRetry(policy, async () => {
      calls += 1;
      throw new SwitchyardError(Code.Unavailable, "down for good");
    }),
    (error: SwitchyardError) => error.code === Code.Unavailable,
  );
  assert.equal(calls, 3);

  calls = 0;
  await assert.rejects(
    withRetry(policy, async () => {
      calls += 1;
      throw new SwitchyardError(Code.InvalidArgument, "bad");
    }),
    (error: SwitchyardError) => error.code === Code.InvalidArgument,
  );
  assert.equal(calls, 1);
});

test("withRetry gives up when the server's delay passes maxElapsedMs", async () => {
  let calls = 0;
  const started = Date.now();
  await assert.rejects(
    withRetry({ ...DEFAULT_RETRY, maxElapsedMs: 500 }, async () => {
      calls += 1;
      throw new SwitchyardError(Code.Unavailable, "restarting", [], 1000);
    }),
  );
  assert.equal(calls, 1);
  assert.ok(Date.now() - started < 500);
});
