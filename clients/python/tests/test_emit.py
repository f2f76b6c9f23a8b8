"""The synchronous client against the live stack."""

import time

import grpc
import pytest
from switchyard.v1 import registry_pb2

from switchyard_client import BatchEvent, Endpoints, Switchyard, SwitchyardError


def test_emit_and_a_repeated_idempotency_key(admin):
    key = f"py-lead-{time.time_ns()}"
    first = admin.emit("lead.created", {"id": "p1", "email": "ada@example.com"}, idempotency_key=key)
    assert first.event_id.startswith("evt_")
    assert not first.duplicate
    assert first.idempotency_key == key
    again = admin.emit("lead.created", {"id": "p1", "email": "ada@example.com"}, idempotency_key=key)
    assert again.event_id == first.event_id
    assert again.duplicate


def test_each_emit_gets_its_own_key(admin):
    one = admin.emit("lead.created", {"id": "p2", "email": "a@example.com"})
    two = admin.emit("lead.created", {"id": "p2", "email": "a@example.com"})
    assert one.idempotency_key.startswith("sdk_") and len(one.idempotency_key) == 36
    assert one.idempotency_key != two.idempotency_key
    assert one.event_id != two.event_id


def test_violations_are_typed_with_field_paths(admin):
    with pytest.raises(SwitchyardError) as refused:
        admin.emit("lead.created", {"id": "p3", "email": 1})
    assert refused.value.code == grpc.StatusCode.INVALID_ARGUMENT
    fields = [violation.field for violation in refused.value.violations]
    assert "payload_json/email" in fields
    assert all(violation.description for violation in refused.value.violations)


def test_emit_batch_answers_each_event(admin):
    results = admin.emit_batch(
        [
            BatchEvent("lead.created", {"id": "b1", "email": "b1@example.com"}),
            BatchEvent("lead.created", {"id": "b2"}),
            BatchEvent("lead.created", {"id": "b3", "email": "b3@example.com"}, "py-batch-b3"),
        ]
    )
    assert [result.ok for result in results] == [True, False, True]
    assert results[0].emitted.event_id.startswith("evt_")
    assert results[1].error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert results[1].error.violations, results[1].error.message
    assert results[2].emitted.idempotency_key == "py-batch-b3"


def test_machine_jwt_authenticates_and_its_scope_holds(admin, mint):
    emitter = Switchyard(jwt=lambda: mint("emit"), endpoints=Endpoints.from_env())
    emitted = emitter.emit("lead.created", {"id": "j1", "email": "jwt@example.com"})
    assert emitted.event_id.startswith("evt_")
    with pytest.raises(grpc.RpcError) as denied:
        emitter.registry.ListEventTypes(registry_pb2.ListEventTypesRequest())
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED

    expired = Switchyard(jwt=mint("emit", -120), endpoints=Endpoints.from_env())
    with pytest.raises(SwitchyardError) as refused:
        expired.emit("lead.created", {"id": "j2", "email": "x@example.com"})
    assert refused.value.code == grpc.StatusCode.UNAUTHENTICATED
    emitter.close()
    expired.close()
