"""switchyard-client: the Python SDK for Switchyard.

    from switchyard_client import Switchyard
    sy = Switchyard(api_key="sy_live_…")
    print(sy.emit("lead.created", {"email": "ada@example.com"}).event_id)

`client` is the synchronous client and `aio` the asyncio one; `common`
holds what they share, `retry` the retry policy, `errors` the typed error.
The generated messages and stubs are the ``switchyard.v1`` package.
"""

from .aio import AsyncSwitchyard
from .client import Switchyard
from .common import BatchEvent, BatchResult, Emitted, Endpoints, generate_idempotency_key
from .errors import FieldViolation, SwitchyardError
from .retry import NEVER, RetryPolicy

__all__ = [
    "AsyncSwitchyard",
    "BatchEvent",
    "BatchResult",
    "Emitted",
    "Endpoints",
    "FieldViolation",
    "NEVER",
    "RetryPolicy",
    "Switchyard",
    "SwitchyardError",
    "generate_idempotency_key",
]
