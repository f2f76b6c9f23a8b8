"""The asyncio client against the live stack."""

import os

import grpc
import pytest

from switchyard_client import AsyncSwitchyard, BatchEvent, Endpoints, SwitchyardError


async def test_async_emit_duplicate_and_violations(admin):
    async with AsyncSwitchyard(
        api_key=os.environ["SWITCHYARD_API_KEY"], endpoints=Endpoints.from_env()
    ) as client:
        first = await client.emit(
            "lead.created", {"id": "a1", "email": "a1@example.com"}, idempotency_key="py-async-a1"
        )
        again = await client.emit(
            "lead.created", {"id": "a1", "email": "a1@example.com"}, idempotency_key="py-async-a1"
        )
        assert first.event_id.startswith("evt_") and again.event_id == first.event_id
        assert again.duplicate and not first.duplicate

        with pytest.raises(SwitchyardError) as refused:
            await client.emit("lead.created", {"id": "a2", "email": 1})
        assert refused.value.code == grpc.StatusCode.INVALID_ARGUMENT
        assert "payload_json/email" in [v.field for v in refused.value.violations]

        results = await client.emit_batch(
            [BatchEvent("lead.created", {"id": "a3"}), BatchEvent("lead.created", {"id": "a4", "email": "a4@example.com"})]
        )
        assert [result.ok for result in results] == [False, True]


async def test_async_machine_jwt_from_a_coroutine(admin, mint):
    async def token() -> str:
        return mint("emit")

    async with AsyncSwitchyard(jwt=token, endpoints=Endpoints.from_env()) as client:
        emitted = await client.emit("lead.created", {"id": "aj", "email": "aj@example.com"})
        assert emitted.event_id.startswith("evt_")
