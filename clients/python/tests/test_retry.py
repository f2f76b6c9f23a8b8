"""Retries: an ingest stand-in answers the first emit with UNAVAILABLE and a
RetryInfo of 300 ms, then passes calls on to the live stack."""

import os
import time
from concurrent import futures

import grpc
import pytest
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status
from switchyard.v1 import ingest_pb2_grpc

from switchyard_client import AsyncSwitchyard, Endpoints, RetryPolicy, Switchyard, SwitchyardError

SERVER_DELAY = 0.3


class FlakyIngest(ingest_pb2_grpc.IngestServiceServicer):
    def __init__(self, live: Switchyard):
        self.live = live
        self.refusals_left = 0
        self.stall = 0.0
        self.keys: list[str] = []

    def EmitEvent(self, request, context):
        self.keys.append(request.idempotency_key)
        time.sleep(self.stall)
        if self.refusals_left > 0:
            self.refusals_left -= 1
            detail = any_pb2.Any()
            detail.Pack(
                error_details_pb2.RetryInfo(
                    retry_delay=duration_pb2.Duration(nanos=int(SERVER_DELAY * 1e9))
                )
            )
            status = status_pb2.Status(
                code=code_pb2.UNAVAILABLE, message="postgres restarting", details=[detail]
            )
            context.abort_with_status(rpc_status.to_status(status))
        return self.live.ingest.EmitEvent(request)


@pytest.fixture
def flaky(admin):
    ingest = FlakyIngest(admin)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    ingest_pb2_grpc.add_IngestServiceServicer_to_server(ingest, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    ingest.endpoint = f"http://127.0.0.1:{port}"
    yield ingest
    server.stop(None)


def endpoints(flaky) -> Endpoints:
    live = Endpoints.from_env()
    return Endpoints(live.registry, flaky.endpoint, live.router, live.delivery)


def test_an_unavailable_emit_is_retried_after_the_servers_delay(flaky):
    retries = []
    client = Switchyard(
        api_key=os.environ["SWITCHYARD_API_KEY"],
        endpoints=endpoints(flaky),
        retry=RetryPolicy(on_retry=lambda error, wait: retries.append((error, wait))),
    )
    flaky.refusals_left = 1
    started = time.monotonic()
    emitted = client.emit("lead.created", {"id": "pr1", "email": "retry@example.com"})
    elapsed = time.monotonic() - started
    assert emitted.event_id.startswith("evt_") and not emitted.duplicate
    assert flaky.keys == [emitted.idempotency_key, emitted.idempotency_key]
    [(error, wait)] = retries
    assert error.code == grpc.StatusCode.UNAVAILABLE
    assert error.retry_after == pytest.approx(SERVER_DELAY)
    assert wait >= SERVER_DELAY and elapsed >= SERVER_DELAY
    client.close()


def test_without_retries_the_refusal_is_typed(flaky):
    client = Switchyard(
        api_key=os.environ["SWITCHYARD_API_KEY"],
        endpoints=endpoints(flaky),
        retry=RetryPolicy(max_attempts=1),
    )
    flaky.refusals_left = 1
    with pytest.raises(SwitchyardError) as refused:
        client.emit("lead.created", {"id": "pr2", "email": "r2@example.com"})
    assert refused.value.code == grpc.StatusCode.UNAVAILABLE
    assert refused.value.retry_after == pytest.approx(SERVER_DELAY)
    client.close()


async def test_the_asyncio_client_retries_too(flaky):
    flaky.refusals_left = 1
    flaky.keys.clear()
    async with AsyncSwitchyard(
        api_key=os.environ["SWITCHYARD_API_KEY"], endpoints=endpoints(flaky)
    ) as client:
        emitted = await client.emit("lead.created", {"id": "pr3", "email": "r3@example.com"})
    assert emitted.event_id.startswith("evt_")
    assert flaky.keys == [emitted.idempotency_key, emitted.idempotency_key]


def test_a_deadline_shorter_than_the_call_fails_with_deadline_exceeded(flaky):
    client = Switchyard(api_key=os.environ["SWITCHYARD_API_KEY"], endpoints=endpoints(flaky))
    flaky.stall = 1.0
    started = time.monotonic()
    with pytest.raises(SwitchyardError) as refused:
        client.emit("lead.created", {"id": "pr4", "email": "r4@example.com"}, timeout=0.2)
    assert refused.value.code == grpc.StatusCode.DEADLINE_EXCEEDED
    assert time.monotonic() - started < 0.9
    client.close()
