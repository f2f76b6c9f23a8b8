"""The synchronous client: one authenticated channel per service.

``emit`` and ``emit_batch`` retry outages (see `retry`); the generated
stubs — ``registry``, ``router``, ``delivery``, ``workspaces`` — are
reachable for every other call and make it once (their errors are
``grpc.RpcError``; ``SwitchyardError.from_rpc_error`` types one).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc

from . import retry as retrying
from .common import (
    BatchEvent,
    BatchResult,
    Emitted,
    Endpoints,
    Stubs,
    addresses,
    batch_request,
    batch_results,
    bearer,
    emitted,
    event_request,
    target,
)


class _Auth(grpc.UnaryUnaryClientInterceptor):
    """Adds ``authorization: Bearer <token>`` to every call."""

    def __init__(self, token: Callable[[], str]):
        self._token = token

    def intercept_unary_unary(self, continuation, details, request):
        metadata = list(details.metadata or []) + [("authorization", f"Bearer {self._token()}")]
        return continuation(details._replace(metadata=metadata), request)


def _channel(endpoint: str, auth: _Auth, tls: grpc.ChannelCredentials | None) -> grpc.Channel:
    address, secure = target(endpoint)
    if secure:
        channel = grpc.secure_channel(address, tls or grpc.ssl_channel_credentials())
    else:
        channel = grpc.insecure_channel(address)
    return grpc.intercept_channel(channel, auth)


class Switchyard(Stubs):
    def __init__(
        self,
        *,
        api_key: str | None = None,
        jwt: str | Callable[[], str] | None = None,
        endpoint: str | None = None,
        endpoints: Endpoints | None = None,
        retry: retrying.RetryPolicy = retrying.RetryPolicy(),
        timeout: float = 10.0,
        tls: grpc.ChannelCredentials | None = None,
    ):
        """``jwt`` may be a function, asked before each call, so a machine
        token can be refreshed; ``timeout`` is each attempt's deadline in
        seconds; ``tls`` replaces the system roots for ``https://`` endpoints."""
        auth = _Auth(bearer(api_key, jwt))
        self._channels = [_channel(address, auth, tls) for address in addresses(endpoint, endpoints)]
        super().__init__(*self._channels)
        self.retry = retry
        self.timeout = timeout

    def emit(
        self,
        event_type: str,
        payload: Any,
        *,
        idempotency_key: str | None = None,
        schema_version: int = 0,
        timeout: float | None = None,
    ) -> Emitted:
        """Emits one event; raises `SwitchyardError` when it is refused."""
        request = event_request(event_type, payload, idempotency_key, schema_version)
        deadline = timeout or self.timeout
        response = retrying.run(
            self.retry, lambda: self.ingest.EmitEvent(request, timeout=deadline)
        )
        return emitted(response, request.idempotency_key)

    def emit_batch(
        self, events: list[BatchEvent], *, timeout: float | None = None
    ) -> list[BatchResult]:
        """Up to 1,000 events in one ``EmitEvents`` call: one result per
        event, in order; raises only when the call fails whole."""
        request = batch_request(events)
        deadline = timeout or self.timeout
        response = retrying.run(
            self.retry, lambda: self.ingest.EmitEvents(request, timeout=deadline)
        )
        return batch_results(request, response)

    def close(self) -> None:
        for channel in self._channels:
            channel.close()

    def __enter__(self) -> Switchyard:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
