import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Compatibility(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    COMPATIBILITY_UNSPECIFIED: _ClassVar[Compatibility]
    COMPATIBILITY_BACKWARD: _ClassVar[Compatibility]
    COMPATIBILITY_BACKWARD_TRANSITIVE: _ClassVar[Compatibility]
    COMPATIBILITY_FORWARD: _ClassVar[Compatibility]
    COMPATIBILITY_FORWARD_TRANSITIVE: _ClassVar[Compatibility]
    COMPATIBILITY_FULL: _ClassVar[Compatibility]
    COMPATIBILITY_FULL_TRANSITIVE: _ClassVar[Compatibility]
    COMPATIBILITY_NONE: _ClassVar[Compatibility]
COMPATIBILITY_UNSPECIFIED: Compatibility
COMPATIBILITY_BACKWARD: Compatibility
COMPATIBILITY_BACKWARD_TRANSITIVE: Compatibility
COMPATIBILITY_FORWARD: Compatibility
COMPATIBILITY_FORWARD_TRANSITIVE: Compatibility
COMPATIBILITY_FULL: Compatibility
COMPATIBILITY_FULL_TRANSITIVE: Compatibility
COMPATIBILITY_NONE: Compatibility

class RegisterSchemaRequest(_message.Message):
    __slots__ = ("event_type", "json_schema", "description", "compatibility")
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    JSON_SCHEMA_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    COMPATIBILITY_FIELD_NUMBER: _ClassVar[int]
    event_type: str
    json_schema: str
    description: str
    compatibility: Compatibility
    def __init__(self, event_type: _Optional[str] = ..., json_schema: _Optional[str] = ..., description: _Optional[str] = ..., compatibility: _Optional[_Union[Compatibility, str]] = ...) -> None: ...

class RegisterSchemaResponse(_message.Message):
    __slots__ = ("event_type", "version", "unchanged", "compatibility")
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    UNCHANGED_FIELD_NUMBER: _ClassVar[int]
    COMPATIBILITY_FIELD_NUMBER: _ClassVar[int]
    event_type: str
    version: int
    unchanged: bool
    compatibility: Compatibility
    def __init__(self, event_type: _Optional[str] = ..., version: _Optional[int] = ..., unchanged: _Optional[bool] = ..., compatibility: _Optional[_Union[Compatibility, str]] = ...) -> None: ...

class CheckCompatibilityRequest(_message.Message):
    __slots__ = ("event_type", "json_schema", "compatibility")
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    JSON_SCHEMA_FIELD_NUMBER: _ClassVar[int]
    COMPATIBILITY_FIELD_NUMBER: _ClassVar[int]
    event_type: str
    json_schema: str
    compatibility: Compatibility
    def __init__(self, event_type: _Optional[str] = ..., json_schema: _Optional[str] = ..., compatibility: _Optional[_Union[Compatibility, str]] = ...) -> None: ...

class Incompatibility(_message.Message):
    __slots__ = ("path", "reason", "version")
    PATH_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    path: str
    reason: str
    version: int
    def __init__(self, path: _Optional[str] = ..., reason: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class CheckCompatibilityResponse(_message.Message):
    __slots__ = ("compatible", "incompatibilities", "compatibility", "checked_versions", "latest_version", "unchanged")
    COMPATIBLE_FIELD_NUMBER: _ClassVar[int]
    INCOMPATIBILITIES_FIELD_NUMBER: _ClassVar[int]
    COMPATIBILITY_FIELD_NUMBER: _ClassVar[int]
    CHECKED_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    LATEST_VERSION_FIELD_NUMBER: _ClassVar[int]
    UNCHANGED_FIELD_NUMBER: _ClassVar[int]
    compatible: bool
    incompatibilities: _containers.RepeatedCompositeFieldContainer[Incompatibility]
    compatibility: Compatibility
    checked_versions: _containers.RepeatedScalarFieldContainer[int]
    latest_version: int
    unchanged: bool
    def __init__(self, compatible: _Optional[bool] = ..., incompatibilities: _Optional[_Iterable[_Union[Incompatibility, _Mapping]]] = ..., compatibility: _Optional[_Union[Compatibility, str]] = ..., checked_versions: _Optional[_Iterable[int]] = ..., latest_version: _Optional[int] = ..., unchanged: _Optional[bool] = ...) -> None: ...

class ValidatePayloadRequest(_message.Message):
    __slots__ = ("event_type", "schema_version", "payload_json")
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_JSON_FIELD_NUMBER: _ClassVar[int]
    event_type: str
    schema_version: int
    payload_json: str
    def __init__(self, event_type: _Optional[str] = ..., schema_version: _Optional[int] = ..., payload_json: _Optional[str] = ...) -> None: ...

class Violation(_message.Message):
    __slots__ = ("instance_path", "schema_path", "message", "keyword")
    INSTANCE_PATH_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_PATH_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    KEYWORD_FIELD_NUMBER: _ClassVar[int]
    instance_path: str
    schema_path: str
    message: str
    keyword: str
    def __init__(self, instance_path: _Optional[str] = ..., schema_path: _Optional[str] = ..., message: _Optional[str] = ..., keyword: _Optional[str] = ...) -> None: ...

class ValidatePayloadResponse(_message.Message):
    __slots__ = ("valid", "violations", "schema_version", "truncated", "deprecated")
    VALID_FIELD_NUMBER: _ClassVar[int]
    VIOLATIONS_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    DEPRECATED_FIELD_NUMBER: _ClassVar[int]
    valid: bool
    violations: _containers.RepeatedCompositeFieldContainer[Violation]
    schema_version: int
    truncated: bool
    deprecated: bool
    def __init__(self, valid: _Optional[bool] = ..., violations: _Optional[_Iterable[_Union[Violation, _Mapping]]] = ..., schema_version: _Optional[int] = ..., truncated: _Optional[bool] = ..., deprecated: _Optional[bool] = ...) -> None: ...

class ValidatePayloadsRequest(_message.Message):
    __slots__ = ("payloads",)
    PAYLOADS_FIELD_NUMBER: _ClassVar[int]
    payloads: _containers.RepeatedCompositeFieldContainer[ValidatePayloadRequest]
    def __init__(self, payloads: _Optional[_Iterable[_Union[ValidatePayloadRequest, _Mapping]]] = ...) -> None: ...

class ValidationError(_message.Message):
    __slots__ = ("code", "message")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    code: int
    message: str
    def __init__(self, code: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...

class ValidatePayloadsResult(_message.Message):
    __slots__ = ("validation", "error")
    VALIDATION_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    validation: ValidatePayloadResponse
    error: ValidationError
    def __init__(self, validation: _Optional[_Union[ValidatePayloadResponse, _Mapping]] = ..., error: _Optional[_Union[ValidationError, _Mapping]] = ...) -> None: ...

class ValidatePayloadsResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[ValidatePayloadsResult]
    def __init__(self, results: _Optional[_Iterable[_Union[ValidatePayloadsResult, _Mapping]]] = ...) -> None: ...

class GetEventTypeRequest(_message.Message):
    __slots__ = ("event_type",)
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    event_type: str
    def __init__(self, event_type: _Optional[str] = ...) -> None: ...

class SchemaVersion(_message.Message):
    __slots__ = ("version", "json_schema", "created_at")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    JSON_SCHEMA_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    version: int
    json_schema: str
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, version: _Optional[int] = ..., json_schema: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class EventType(_message.Message):
    __slots__ = ("name", "description", "latest_version", "versions", "created_at", "compatibility", "deprecated", "deprecation_reason", "deprecated_at")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    LATEST_VERSION_FIELD_NUMBER: _ClassVar[int]
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    COMPATIBILITY_FIELD_NUMBER: _ClassVar[int]
    DEPRECATED_FIELD_NUMBER: _ClassVar[int]
    DEPRECATION_REASON_FIELD_NUMBER: _ClassVar[int]
    DEPRECATED_AT_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    latest_version: int
    versions: _containers.RepeatedCompositeFieldContainer[SchemaVersion]
    created_at: _timestamp_pb2.Timestamp
    compatibility: Compatibility
    deprecated: bool
    deprecation_reason: str
    deprecated_at: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., latest_version: _Optional[int] = ..., versions: _Optional[_Iterable[_Union[SchemaVersion, _Mapping]]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., compatibility: _Optional[_Union[Compatibility, str]] = ..., deprecated: _Optional[bool] = ..., deprecation_reason: _Optional[str] = ..., deprecated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetEventTypeResponse(_message.Message):
    __slots__ = ("event_type",)
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    event_type: EventType
    def __init__(self, event_type: _Optional[_Union[EventType, _Mapping]] = ...) -> None: ...

class GetSchemaVersionRequest(_message.Message):
    __slots__ = ("event_type", "version")
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    event_type: str
    version: int
    def __init__(self, event_type: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class GetSchemaVersionResponse(_message.Message):
    __slots__ = ("event_type", "schema_version")
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    event_type: str
    schema_version: SchemaVersion
    def __init__(self, event_type: _Optional[str] = ..., schema_version: _Optional[_Union[SchemaVersion, _Mapping]] = ...) -> None: ...

class SetCompatibilityRequest(_message.Message):
    __slots__ = ("event_type", "compatibility")
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    COMPATIBILITY_FIELD_NUMBER: _ClassVar[int]
    event_type: str
    compatibility: Compatibility
    def __init__(self, event_type: _Optional[str] = ..., compatibility: _Optional[_Union[Compatibility, str]] = ...) -> None: ...

class SetCompatibilityResponse(_message.Message):
    __slots__ = ("event_type", "previous")
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_FIELD_NUMBER: _ClassVar[int]
    event_type: EventType
    previous: Compatibility
    def __init__(self, event_type: _Optional[_Union[EventType, _Mapping]] = ..., previous: _Optional[_Union[Compatibility, str]] = ...) -> None: ...

class DeprecateEventTypeRequest(_message.Message):
    __slots__ = ("event_type", "deprecated", "reason")
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    DEPRECATED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    event_type: str
    deprecated: bool
    reason: str
    def __init__(self, event_type: _Optional[str] = ..., deprecated: _Optional[bool] = ..., reason: _Optional[str] = ...) -> None: ...

class DeprecateEventTypeResponse(_message.Message):
    __slots__ = ("event_type",)
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    event_type: EventType
    def __init__(self, event_type: _Optional[_Union[EventType, _Mapping]] = ...) -> None: ...

class ListEventTypesRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListEventTypesResponse(_message.Message):
    __slots__ = ("event_types", "next_page_token")
    EVENT_TYPES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    event_types: _containers.RepeatedCompositeFieldContainer[EventType]
    next_page_token: str
    def __init__(self, event_types: _Optional[_Iterable[_Union[EventType, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
