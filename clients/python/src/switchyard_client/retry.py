"""Retrying calls refused by an outage, as the Rust and TypeScript SDKs do.

1. Whether: ``UNAVAILABLE`` is retried; ``RESOURCE_EXHAUSTED`` only when
   the server attached a ``RetryInfo`` (a quota that refills by waiting).
2. When: the wait doubles from ``initial_backoff`` up to ``max_backoff``,
   jittered to between half and all of it, and is never shorter than the
   server's delay (plus up to a quarter more).
3. Until: ``max_attempts`` calls, or the next wait would pass
   ``max_elapsed`` since the first; the last error is raised.

`run` and `run_async` share `next_wait`, which holds all three.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import grpc

from .errors import SwitchyardError

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    #: Calls in all, the first included; 1 turns retrying off.
    max_attempts: int = 10
    #: No retry starts after this many seconds since the first call.
    max_elapsed: float = 30.0
    #: The wait before the first retry, doubled for each one after.
    initial_backoff: float = 0.1
    #: The longest wait between two attempts (a server's RetryInfo may ask for more).
    max_backoff: float = 5.0
    #: Told about every retry: the refused call's error and the wait before the next attempt.
    on_retry: Callable[[SwitchyardError, float], None] | None = None


NEVER = RetryPolicy(max_attempts=1)


def retryable(error: SwitchyardError) -> bool:
    if error.code == grpc.StatusCode.UNAVAILABLE:
        return True
    return error.code == grpc.StatusCode.RESOURCE_EXHAUSTED and error.retry_after is not None


def delay(policy: RetryPolicy, retry: int, server_delay: float | None = None) -> float:
    """The wait before retry number ``retry`` (1 for the first), in seconds."""
    backoff = min(policy.initial_backoff * 2 ** (retry - 1), policy.max_backoff)
    jittered = backoff / 2 + backoff * 0.5 * random.random()
    if server_delay is None:
        return jittered
    return max(jittered, server_delay + server_delay * 0.25 * random.random())


def next_wait(
    policy: RetryPolicy, attempt: int, started: float, error: SwitchyardError
) -> float | None:
    """The wait before the next attempt, or None when ``error`` is final."""
    if not retryable(error) or attempt >= policy.max_attempts:
        return None
    wait = delay(policy, attempt, error.retry_after)
    if time.monotonic() - started + wait > policy.max_elapsed:
        return None
    if policy.on_retry is not None:
        policy.on_retry(error, wait)
    return wait


def run(policy: RetryPolicy, call: Callable[[], T]) -> T:
    started = time.monotonic()
    attempt = 1
    while True:
        try:
            return call()
        except grpc.RpcError as failure:
            error = SwitchyardError.from_rpc_error(failure)
        wait = next_wait(policy, attempt, started, error)
        if wait is None:
            raise error
        time.sleep(wait)
        attempt += 1


async def run_async(policy: RetryPolicy, call: Callable[[], Awaitable[T]]) -> T:
    started = time.monotonic()
    attempt = 1
    while True:
        try:
            return await call()
        except grpc.RpcError as failure:
            error = SwitchyardError.from_rpc_error(failure)
        wait = next_wait(policy, attempt, started, error)
        if wait is None:
            raise error
        await asyncio.sleep(wait)
        attempt += 1
