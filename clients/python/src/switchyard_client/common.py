"""What the sync and asyncio clients share: endpoints, credentials,
channels, and turning events into requests and responses into results.

Every event gets an idempotency key (made up when none is given) before the
first attempt, so the SDK's own retries store it once; a retry the server
had already stored answers ``duplicate``.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from switchyard.v1 import (
    delivery_pb2_grpc,
    ingest_pb2,
    ingest_pb2_grpc,
    registry_pb2_grpc,
    router_pb2_grpc,
    workspace_pb2_grpc,
)

from .errors import FieldViolation, SwitchyardError


@dataclass(frozen=True)
class Endpoints:
    """Where each service listens (WorkspaceService is served by the registry)."""

    registry: str = "http://127.0.0.1:50051"
    ingest: str = "http://127.0.0.1:50052"
    router: str = "http://127.0.0.1:50053"
    delivery: str = "http://127.0.0.1:50054"

    @classmethod
    def single(cls, endpoint: str) -> Endpoints:
        """One address serving every service (a gRPC ingress routing by path)."""
        return cls(endpoint, endpoint, endpoint, endpoint)

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Endpoints:
        """The local defaults overridden by ``SWITCHYARD_{REGISTRY,INGEST,ROUTER,DELIVERY}_ENDPOINT``."""
        local = cls()
        return cls(
            env.get("SWITCHYARD_REGISTRY_ENDPOINT", local.registry),
            env.get("SWITCHYARD_INGEST_ENDPOINT", local.ingest),
            env.get("SWITCHYARD_ROUTER_ENDPOINT", local.router),
            env.get("SWITCHYARD_DELIVERY_ENDPOINT", local.delivery),
        )


def addresses(endpoint: str | None, endpoints: Endpoints | None) -> tuple[str, str, str, str]:
    """The registry, ingest, router and delivery addresses a client was given."""
    where = Endpoints.single(endpoint) if endpoint else (endpoints or Endpoints.from_env())
    return where.registry, where.ingest, where.router, where.delivery


class Stubs:
    """The generated stubs over a client's four channels, one attribute per
    service (the registry's channel also serves WorkspaceService)."""

    def __init__(self, registry, ingest, router, delivery):
        self.registry = registry_pb2_grpc.RegistryServiceStub(registry)
        self.workspaces = workspace_pb2_grpc.WorkspaceServiceStub(registry)
        self.ingest = ingest_pb2_grpc.IngestServiceStub(ingest)
        self.router = router_pb2_grpc.RouterServiceStub(router)
        self.delivery = delivery_pb2_grpc.DeliveryServiceStub(delivery)


def target(endpoint: str) -> tuple[str, bool]:
    """A gRPC target (``host:port``) and whether it is TLS."""
    for scheme, secure in (("https://", True), ("http://", False)):
        if endpoint.startswith(scheme):
            return endpoint[len(scheme) :].rstrip("/"), secure
    return endpoint, False


def bearer(api_key: str | None, jwt: str | Callable[[], str] | None) -> Callable[[], str]:
    """The token source: an API key, a JWT, or a function minting fresh JWTs."""
    if (api_key is None) == (jwt is None):
        raise TypeError("give exactly one of api_key and jwt")
    if api_key is not None:
        return lambda: api_key
    return jwt if callable(jwt) else (lambda: jwt)


@dataclass(frozen=True)
class Emitted:
    #: ``evt_…``
    event_id: str
    #: True when the idempotency key was seen before; event_id is the first event's.
    duplicate: bool
    schema_version: int
    deprecated: bool
    #: The key the event was stored under (the SDK's when none was given).
    idempotency_key: str


@dataclass(frozen=True)
class BatchEvent:
    type: str
    payload: Any
    idempotency_key: str | None = None
    schema_version: int = 0


@dataclass(frozen=True)
class BatchResult:
    """One event of a batch: ``emitted`` when stored, else ``error``."""

    emitted: Emitted | None = None
    error: SwitchyardError | None = None

    @property
    def ok(self) -> bool:
        return self.emitted is not None


def generate_idempotency_key() -> str:
    """Random, so two emits never share one, and marked as the SDK's."""
    return f"sdk_{uuid.uuid4().hex}"


def event_request(
    event_type: str, payload: Any, idempotency_key: str | None, schema_version: int
) -> ingest_pb2.EmitEventRequest:
    return ingest_pb2.EmitEventRequest(
        event_type=event_type,
        payload_json=json.dumps(payload),
        idempotency_key=idempotency_key or generate_idempotency_key(),
        schema_version=schema_version,
    )


def batch_request(events: list[BatchEvent]) -> ingest_pb2.EmitEventsRequest:
    return ingest_pb2.EmitEventsRequest(
        events=[
            event_request(e.type, e.payload, e.idempotency_key, e.schema_version) for e in events
        ]
    )


def emitted(response: ingest_pb2.EmitEventResponse, idempotency_key: str) -> Emitted:
    return Emitted(
        response.event_id,
        response.duplicate,
        response.schema_version,
        response.deprecated,
        idempotency_key,
    )


def batch_results(
    request: ingest_pb2.EmitEventsRequest, response: ingest_pb2.EmitEventsResponse
) -> list[BatchResult]:
    results = []
    for sent, result in zip(request.events, response.results):
        if result.WhichOneof("outcome") == "accepted":
            results.append(BatchResult(emitted=emitted(result.accepted, sent.idempotency_key)))
            continue
        refused = result.error
        error = SwitchyardError.from_code(
            refused.code,
            refused.message,
            violations=[FieldViolation(v.field, v.description) for v in refused.violations],
            retry_after=refused.retry_after_ms / 1000 if refused.retry_after_ms else None,
        )
        results.append(BatchResult(error=error))
    return results
