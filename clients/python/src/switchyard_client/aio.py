"""The asyncio client: the same surface as `client.Switchyard`, awaited.

Channels are ``grpc.aio`` channels; create the client inside the event
loop that uses it, and ``await client.close()`` (or ``async with``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
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


class _Auth(grpc.aio.UnaryUnaryClientInterceptor):
    """Adds ``authorization: Bearer <token>`` to every call; the token
    source may be a coroutine function."""

    def __init__(self, token: Callable[[], str | Awaitable[str]]):
        self._token = token

    async def intercept_unary_unary(self, continuation, details, request):
        token = self._token()
        if isinstance(token, Awaitable):
            token = await token
        metadata = grpc.aio.Metadata(*(details.metadata or []))
        metadata.add("authorization", f"Bearer {token}")
        return await continuation(details._replace(metadata=metadata), request)


def _channel(endpoint: str, auth: _Auth, tls: grpc.ChannelCredentials | None) -> grpc.aio.Channel:
    address, secure = target(endpoint)
    if secure:
        return grpc.aio.secure_channel(
            address, tls or grpc.ssl_channel_credentials(), interceptors=[auth]
        )
    return grpc.aio.insecure_channel(address, interceptors=[auth])


class AsyncSwitchyard(Stubs):
    def __init__(
        self,
        *,
        api_key: str | None = None,
        jwt: str | Callable[[], str | Awaitable[str]] | None = None,
        endpoint: str | None = None,
        endpoints: Endpoints | None = None,
        retry: retrying.RetryPolicy = retrying.RetryPolicy(),
        timeout: float = 10.0,
        tls: grpc.ChannelCredentials | None = None,
    ):
        auth = _Auth(bearer(api_key, jwt))
        self._channels = [_channel(address, auth, tls) for address in addresses(endpoint, endpoints)]
        super().__init__(*self._channels)
        self.retry = retry
        self.timeout = timeout

    async def emit(
        self,
        event_type: str,
        payload: Any,
        *,
        idempotency_key: str | None = None,
        schema_version: int = 0,
        timeout: float | None = None,
    ) -> Emitted:
        request = event_request(event_type, payload, idempotency_key, schema_version)
        deadline = timeout or self.timeout
        response = await retrying.run_async(
            self.retry, lambda: self.ingest.EmitEvent(request, timeout=deadline)
        )
        return emitted(response, request.idempotency_key)

    async def emit_batch(
        self, events: list[BatchEvent], *, timeout: float | None = None
    ) -> list[BatchResult]:
        request = batch_request(events)
        deadline = timeout or self.timeout
        response = await retrying.run_async(
            self.retry, lambda: self.ingest.EmitEvents(request, timeout=deadline)
        )
        return batch_results(request, response)

    async def close(self) -> None:
        for channel in self._channels:
            await channel.close()

    async def __aenter__(self) -> AsyncSwitchyard:
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.close()
