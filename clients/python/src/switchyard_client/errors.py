"""One error type for every refused call.

`SwitchyardError` carries the gRPC status code, the server's message, the
fields at fault (`payload_json/email`, from `google.rpc.BadRequest`) and
the server's retry delay (`google.rpc.RetryInfo`), whether a call failed
whole or one event of a batch was refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

_CODES = {code.value[0]: code for code in grpc.StatusCode}


@dataclass(frozen=True)
class FieldViolation:
    """One field the server refused, and why."""

    field: str
    description: str


@dataclass
class SwitchyardError(Exception):
    code: grpc.StatusCode
    message: str
    violations: list[FieldViolation] = field(default_factory=list)
    #: For outages and quotas: how long the server asked to wait, in seconds.
    retry_after: float | None = None

    def __str__(self) -> str:
        return f"[{self.code.name}] {self.message}"

    @classmethod
    def from_code(cls, code: int, message: str, **kwargs) -> SwitchyardError:
        """An error from a numeric google.rpc.Code (as EmitEvents reports one)."""
        return cls(_CODES.get(code, grpc.StatusCode.UNKNOWN), message, **kwargs)

    @classmethod
    def from_rpc_error(cls, error: grpc.RpcError) -> SwitchyardError:
        """The error of a failed call, details decoded from its trailers."""
        violations: list[FieldViolation] = []
        retry_after = None
        try:
            status = rpc_status.from_call(error)
        except ValueError:
            status = None
        for detail in status.details if status is not None else []:
            if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad_request = error_details_pb2.BadRequest()
                detail.Unpack(bad_request)
                violations.extend(
                    FieldViolation(v.field, v.description) for v in bad_request.field_violations
                )
            elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
                info = error_details_pb2.RetryInfo()
                detail.Unpack(info)
                retry_after = info.retry_delay.ToTimedelta().total_seconds()
        return cls(error.code(), error.details() or "", violations, retry_after)
