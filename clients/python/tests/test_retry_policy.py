"""Whether and when the SDK retries: the same rules as the Rust SDK's retry.rs."""

import grpc
import pytest

from switchyard_client import RetryPolicy, SwitchyardError
from switchyard_client import retry


def error(code, retry_after=None):
    return SwitchyardError(code, "x", retry_after=retry_after)


def test_outages_are_retried_and_mistakes_are_not():
    assert retry.retryable(error(grpc.StatusCode.UNAVAILABLE))
    assert retry.retryable(error(grpc.StatusCode.RESOURCE_EXHAUSTED, 0.3))
    for code in (
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNAUTHENTICATED,
    ):
        assert not retry.retryable(error(code)), code


def test_waits_grow_with_jitter_and_honour_the_server():
    policy = RetryPolicy()
    for _ in range(100):
        assert 0.05 <= retry.delay(policy, 1) <= 0.1
        assert 0.4 <= retry.delay(policy, 4) <= 0.8
        assert retry.delay(policy, 30) <= policy.max_backoff
        assert 1.0 <= retry.delay(policy, 1, 1.0) <= 1.25


def test_run_stops_after_max_attempts_and_on_a_final_error():
    policy = RetryPolicy(max_attempts=3, initial_backoff=0.001, max_backoff=0.002)
    calls = []

    class Refusal(grpc.RpcError):
        def __init__(self, code):
            self._code = code

        def code(self):
            return self._code

        def details(self):
            return "refused"

        def trailing_metadata(self):
            return ()

    def down():
        calls.append(1)
        raise Refusal(grpc.StatusCode.UNAVAILABLE)

    with pytest.raises(SwitchyardError) as refused:
        retry.run(policy, down)
    assert refused.value.code == grpc.StatusCode.UNAVAILABLE and len(calls) == 3

    calls.clear()

    def bad():
        calls.append(1)
        raise Refusal(grpc.StatusCode.INVALID_ARGUMENT)

    with pytest.raises(SwitchyardError):
        retry.run(policy, bad)
    assert len(calls) == 1
