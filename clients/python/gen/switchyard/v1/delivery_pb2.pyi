import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DeliveryStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DELIVERY_STATUS_UNSPECIFIED: _ClassVar[DeliveryStatus]
    DELIVERY_STATUS_PENDING: _ClassVar[DeliveryStatus]
    DELIVERY_STATUS_DELIVERING: _ClassVar[DeliveryStatus]
    DELIVERY_STATUS_SUCCEEDED: _ClassVar[DeliveryStatus]
    DELIVERY_STATUS_RETRYING: _ClassVar[DeliveryStatus]
    DELIVERY_STATUS_DEAD: _ClassVar[DeliveryStatus]
    DELIVERY_STATUS_FAILED: _ClassVar[DeliveryStatus]

class AttemptTrigger(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ATTEMPT_TRIGGER_UNSPECIFIED: _ClassVar[AttemptTrigger]
    ATTEMPT_TRIGGER_SCHEDULED: _ClassVar[AttemptTrigger]
    ATTEMPT_TRIGGER_MANUAL: _ClassVar[AttemptTrigger]
    ATTEMPT_TRIGGER_REPLAY: _ClassVar[AttemptTrigger]

class AttemptOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ATTEMPT_OUTCOME_UNSPECIFIED: _ClassVar[AttemptOutcome]
    ATTEMPT_OUTCOME_SUCCEEDED: _ClassVar[AttemptOutcome]
    ATTEMPT_OUTCOME_FAILED: _ClassVar[AttemptOutcome]
    ATTEMPT_OUTCOME_DEAD: _ClassVar[AttemptOutcome]
DELIVERY_STATUS_UNSPECIFIED: DeliveryStatus
DELIVERY_STATUS_PENDING: DeliveryStatus
DELIVERY_STATUS_DELIVERING: DeliveryStatus
DELIVERY_STATUS_SUCCEEDED: DeliveryStatus
DELIVERY_STATUS_RETRYING: DeliveryStatus
DELIVERY_STATUS_DEAD: DeliveryStatus
DELIVERY_STATUS_FAILED: DeliveryStatus
ATTEMPT_TRIGGER_UNSPECIFIED: AttemptTrigger
ATTEMPT_TRIGGER_SCHEDULED: AttemptTrigger
ATTEMPT_TRIGGER_MANUAL: AttemptTrigger
ATTEMPT_TRIGGER_REPLAY: AttemptTrigger
ATTEMPT_OUTCOME_UNSPECIFIED: AttemptOutcome
ATTEMPT_OUTCOME_SUCCEEDED: AttemptOutcome
ATTEMPT_OUTCOME_FAILED: AttemptOutcome
ATTEMPT_OUTCOME_DEAD: AttemptOutcome

class Delivery(_message.Message):
    __slots__ = ("id", "event_id", "connection_id", "rule_id", "status", "attempt_count", "created_at", "next_attempt_at", "last_error", "event_type", "trace_id", "trace_url")
    ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    RULE_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_COUNT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    NEXT_ATTEMPT_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    TRACE_URL_FIELD_NUMBER: _ClassVar[int]
    id: str
    event_id: str
    connection_id: str
    rule_id: str
    status: DeliveryStatus
    attempt_count: int
    created_at: _timestamp_pb2.Timestamp
    next_attempt_at: _timestamp_pb2.Timestamp
    last_error: str
    event_type: str
    trace_id: str
    trace_url: str
    def __init__(self, id: _Optional[str] = ..., event_id: _Optional[str] = ..., connection_id: _Optional[str] = ..., rule_id: _Optional[str] = ..., status: _Optional[_Union[DeliveryStatus, str]] = ..., attempt_count: _Optional[int] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., next_attempt_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_error: _Optional[str] = ..., event_type: _Optional[str] = ..., trace_id: _Optional[str] = ..., trace_url: _Optional[str] = ...) -> None: ...

class Attempt(_message.Message):
    __slots__ = ("attempt", "status_code", "error", "duration_ms", "started_at", "response_snippet", "url", "trigger")
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    STATUS_CODE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_SNIPPET_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_FIELD_NUMBER: _ClassVar[int]
    attempt: int
    status_code: int
    error: str
    duration_ms: int
    started_at: _timestamp_pb2.Timestamp
    response_snippet: str
    url: str
    trigger: AttemptTrigger
    def __init__(self, attempt: _Optional[int] = ..., status_code: _Optional[int] = ..., error: _Optional[str] = ..., duration_ms: _Optional[int] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., response_snippet: _Optional[str] = ..., url: _Optional[str] = ..., trigger: _Optional[_Union[AttemptTrigger, str]] = ...) -> None: ...

class ListDeliveriesRequest(_message.Message):
    __slots__ = ("event_id", "page_size", "page_token", "status", "connection_id", "since", "until")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    page_size: int
    page_token: str
    status: DeliveryStatus
    connection_id: str
    since: _timestamp_pb2.Timestamp
    until: _timestamp_pb2.Timestamp
    def __init__(self, event_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., status: _Optional[_Union[DeliveryStatus, str]] = ..., connection_id: _Optional[str] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListDeliveriesResponse(_message.Message):
    __slots__ = ("deliveries", "next_page_token")
    DELIVERIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    deliveries: _containers.RepeatedCompositeFieldContainer[Delivery]
    next_page_token: str
    def __init__(self, deliveries: _Optional[_Iterable[_Union[Delivery, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetDeliveryRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class GetDeliveryResponse(_message.Message):
    __slots__ = ("delivery", "attempts")
    DELIVERY_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    delivery: Delivery
    attempts: _containers.RepeatedCompositeFieldContainer[Attempt]
    def __init__(self, delivery: _Optional[_Union[Delivery, _Mapping]] = ..., attempts: _Optional[_Iterable[_Union[Attempt, _Mapping]]] = ...) -> None: ...

class RetryDeliveryRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class RetryDeliveryResponse(_message.Message):
    __slots__ = ("delivery",)
    DELIVERY_FIELD_NUMBER: _ClassVar[int]
    delivery: Delivery
    def __init__(self, delivery: _Optional[_Union[Delivery, _Mapping]] = ...) -> None: ...

class ReplayDeadLettersRequest(_message.Message):
    __slots__ = ("connection_id", "since", "until")
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    connection_id: str
    since: _timestamp_pb2.Timestamp
    until: _timestamp_pb2.Timestamp
    def __init__(self, connection_id: _Optional[str] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ReplayDeadLettersResponse(_message.Message):
    __slots__ = ("replayed_count",)
    REPLAYED_COUNT_FIELD_NUMBER: _ClassVar[int]
    replayed_count: int
    def __init__(self, replayed_count: _Optional[int] = ...) -> None: ...

class GetDeliveryStatsRequest(_message.Message):
    __slots__ = ("since",)
    SINCE_FIELD_NUMBER: _ClassVar[int]
    since: _timestamp_pb2.Timestamp
    def __init__(self, since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class AttemptBucket(_message.Message):
    __slots__ = ("minute", "outcome", "count")
    MINUTE_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    minute: _timestamp_pb2.Timestamp
    outcome: AttemptOutcome
    count: int
    def __init__(self, minute: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., outcome: _Optional[_Union[AttemptOutcome, str]] = ..., count: _Optional[int] = ...) -> None: ...

class ConnectionStats(_message.Message):
    __slots__ = ("connection_id", "attempts", "succeeded", "mean_duration_ms", "p95_duration_ms")
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    SUCCEEDED_FIELD_NUMBER: _ClassVar[int]
    MEAN_DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    P95_DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    connection_id: str
    attempts: int
    succeeded: int
    mean_duration_ms: int
    p95_duration_ms: int
    def __init__(self, connection_id: _Optional[str] = ..., attempts: _Optional[int] = ..., succeeded: _Optional[int] = ..., mean_duration_ms: _Optional[int] = ..., p95_duration_ms: _Optional[int] = ...) -> None: ...

class GetDeliveryStatsResponse(_message.Message):
    __slots__ = ("buckets", "connections", "since")
    BUCKETS_FIELD_NUMBER: _ClassVar[int]
    CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    buckets: _containers.RepeatedCompositeFieldContainer[AttemptBucket]
    connections: _containers.RepeatedCompositeFieldContainer[ConnectionStats]
    since: _timestamp_pb2.Timestamp
    def __init__(self, buckets: _Optional[_Iterable[_Union[AttemptBucket, _Mapping]]] = ..., connections: _Optional[_Iterable[_Union[ConnectionStats, _Mapping]]] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
