import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ConnectionState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CONNECTION_STATE_UNSPECIFIED: _ClassVar[ConnectionState]
    CONNECTION_STATE_ACTIVE: _ClassVar[ConnectionState]
    CONNECTION_STATE_PAUSED: _ClassVar[ConnectionState]
    CONNECTION_STATE_DISABLED: _ClassVar[ConnectionState]
    CONNECTION_STATE_NEEDS_CREDENTIALS: _ClassVar[ConnectionState]

class DeadLetterOrdering(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DEAD_LETTER_ORDERING_UNSPECIFIED: _ClassVar[DeadLetterOrdering]
    DEAD_LETTER_ORDERING_BLOCK: _ClassVar[DeadLetterOrdering]
    DEAD_LETTER_ORDERING_SKIP: _ClassVar[DeadLetterOrdering]

class CircuitState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CIRCUIT_STATE_UNSPECIFIED: _ClassVar[CircuitState]
    CIRCUIT_STATE_CLOSED: _ClassVar[CircuitState]
    CIRCUIT_STATE_OPEN: _ClassVar[CircuitState]
    CIRCUIT_STATE_HALF_OPEN: _ClassVar[CircuitState]
CONNECTION_STATE_UNSPECIFIED: ConnectionState
CONNECTION_STATE_ACTIVE: ConnectionState
CONNECTION_STATE_PAUSED: ConnectionState
CONNECTION_STATE_DISABLED: ConnectionState
CONNECTION_STATE_NEEDS_CREDENTIALS: ConnectionState
DEAD_LETTER_ORDERING_UNSPECIFIED: DeadLetterOrdering
DEAD_LETTER_ORDERING_BLOCK: DeadLetterOrdering
DEAD_LETTER_ORDERING_SKIP: DeadLetterOrdering
CIRCUIT_STATE_UNSPECIFIED: CircuitState
CIRCUIT_STATE_CLOSED: CircuitState
CIRCUIT_STATE_OPEN: CircuitState
CIRCUIT_STATE_HALF_OPEN: CircuitState

class WebhookConfig(_message.Message):
    __slots__ = ("url", "headers")
    class HeadersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    URL_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    url: str
    headers: _containers.ScalarMap[str, str]
    def __init__(self, url: _Optional[str] = ..., headers: _Optional[_Mapping[str, str]] = ...) -> None: ...

class HubspotConfig(_message.Message):
    __slots__ = ("token", "id_property", "base_url", "no_batching")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    ID_PROPERTY_FIELD_NUMBER: _ClassVar[int]
    BASE_URL_FIELD_NUMBER: _ClassVar[int]
    NO_BATCHING_FIELD_NUMBER: _ClassVar[int]
    token: str
    id_property: str
    base_url: str
    no_batching: bool
    def __init__(self, token: _Optional[str] = ..., id_property: _Optional[str] = ..., base_url: _Optional[str] = ..., no_batching: _Optional[bool] = ...) -> None: ...

class MailchimpConfig(_message.Message):
    __slots__ = ("api_key", "list_id", "status_if_new", "base_url")
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    LIST_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_IF_NEW_FIELD_NUMBER: _ClassVar[int]
    BASE_URL_FIELD_NUMBER: _ClassVar[int]
    api_key: str
    list_id: str
    status_if_new: str
    base_url: str
    def __init__(self, api_key: _Optional[str] = ..., list_id: _Optional[str] = ..., status_if_new: _Optional[str] = ..., base_url: _Optional[str] = ...) -> None: ...

class SalesforceConfig(_message.Message):
    __slots__ = ("client_id", "client_secret", "login_url", "object", "external_id_field", "api_version")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_SECRET_FIELD_NUMBER: _ClassVar[int]
    LOGIN_URL_FIELD_NUMBER: _ClassVar[int]
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_ID_FIELD_FIELD_NUMBER: _ClassVar[int]
    API_VERSION_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    client_secret: str
    login_url: str
    object: str
    external_id_field: str
    api_version: str
    def __init__(self, client_id: _Optional[str] = ..., client_secret: _Optional[str] = ..., login_url: _Optional[str] = ..., object: _Optional[str] = ..., external_id_field: _Optional[str] = ..., api_version: _Optional[str] = ...) -> None: ...

class RabbitmqConfig(_message.Message):
    __slots__ = ("url", "username", "password", "exchange", "routing_key", "routed_by_mapping")
    URL_FIELD_NUMBER: _ClassVar[int]
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    EXCHANGE_FIELD_NUMBER: _ClassVar[int]
    ROUTING_KEY_FIELD_NUMBER: _ClassVar[int]
    ROUTED_BY_MAPPING_FIELD_NUMBER: _ClassVar[int]
    url: str
    username: str
    password: str
    exchange: str
    routing_key: str
    routed_by_mapping: bool
    def __init__(self, url: _Optional[str] = ..., username: _Optional[str] = ..., password: _Optional[str] = ..., exchange: _Optional[str] = ..., routing_key: _Optional[str] = ..., routed_by_mapping: _Optional[bool] = ...) -> None: ...

class NatsConfig(_message.Message):
    __slots__ = ("url", "username", "password", "token", "subject", "routed_by_mapping")
    URL_FIELD_NUMBER: _ClassVar[int]
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    ROUTED_BY_MAPPING_FIELD_NUMBER: _ClassVar[int]
    url: str
    username: str
    password: str
    token: str
    subject: str
    routed_by_mapping: bool
    def __init__(self, url: _Optional[str] = ..., username: _Optional[str] = ..., password: _Optional[str] = ..., token: _Optional[str] = ..., subject: _Optional[str] = ..., routed_by_mapping: _Optional[bool] = ...) -> None: ...

class Connection(_message.Message):
    __slots__ = ("id", "name", "kind", "webhook", "signing_secret", "created_at", "policy", "state", "state_reason", "state_changed_at", "circuit_breaker", "updated_at", "hubspot", "mailchimp", "salesforce", "rabbitmq", "nats", "concurrency_limit")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    WEBHOOK_FIELD_NUMBER: _ClassVar[int]
    SIGNING_SECRET_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    STATE_REASON_FIELD_NUMBER: _ClassVar[int]
    STATE_CHANGED_AT_FIELD_NUMBER: _ClassVar[int]
    CIRCUIT_BREAKER_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    HUBSPOT_FIELD_NUMBER: _ClassVar[int]
    MAILCHIMP_FIELD_NUMBER: _ClassVar[int]
    SALESFORCE_FIELD_NUMBER: _ClassVar[int]
    RABBITMQ_FIELD_NUMBER: _ClassVar[int]
    NATS_FIELD_NUMBER: _ClassVar[int]
    CONCURRENCY_LIMIT_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    kind: str
    webhook: WebhookConfig
    signing_secret: str
    created_at: _timestamp_pb2.Timestamp
    policy: DeliveryPolicy
    state: ConnectionState
    state_reason: str
    state_changed_at: _timestamp_pb2.Timestamp
    circuit_breaker: CircuitBreaker
    updated_at: _timestamp_pb2.Timestamp
    hubspot: HubspotConfig
    mailchimp: MailchimpConfig
    salesforce: SalesforceConfig
    rabbitmq: RabbitmqConfig
    nats: NatsConfig
    concurrency_limit: int
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., kind: _Optional[str] = ..., webhook: _Optional[_Union[WebhookConfig, _Mapping]] = ..., signing_secret: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., policy: _Optional[_Union[DeliveryPolicy, _Mapping]] = ..., state: _Optional[_Union[ConnectionState, str]] = ..., state_reason: _Optional[str] = ..., state_changed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., circuit_breaker: _Optional[_Union[CircuitBreaker, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., hubspot: _Optional[_Union[HubspotConfig, _Mapping]] = ..., mailchimp: _Optional[_Union[MailchimpConfig, _Mapping]] = ..., salesforce: _Optional[_Union[SalesforceConfig, _Mapping]] = ..., rabbitmq: _Optional[_Union[RabbitmqConfig, _Mapping]] = ..., nats: _Optional[_Union[NatsConfig, _Mapping]] = ..., concurrency_limit: _Optional[int] = ...) -> None: ...

class DeliveryPolicy(_message.Message):
    __slots__ = ("retry", "permanent_client_errors", "connect_timeout", "request_timeout", "rate_limit", "max_concurrency", "circuit_breaker", "omit_traceparent", "adaptive_concurrency", "ordering")
    RETRY_FIELD_NUMBER: _ClassVar[int]
    PERMANENT_CLIENT_ERRORS_FIELD_NUMBER: _ClassVar[int]
    CONNECT_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    RATE_LIMIT_FIELD_NUMBER: _ClassVar[int]
    MAX_CONCURRENCY_FIELD_NUMBER: _ClassVar[int]
    CIRCUIT_BREAKER_FIELD_NUMBER: _ClassVar[int]
    OMIT_TRACEPARENT_FIELD_NUMBER: _ClassVar[int]
    ADAPTIVE_CONCURRENCY_FIELD_NUMBER: _ClassVar[int]
    ORDERING_FIELD_NUMBER: _ClassVar[int]
    retry: RetryPolicy
    permanent_client_errors: bool
    connect_timeout: _duration_pb2.Duration
    request_timeout: _duration_pb2.Duration
    rate_limit: RateLimit
    max_concurrency: int
    circuit_breaker: CircuitBreakerPolicy
    omit_traceparent: bool
    adaptive_concurrency: AdaptiveConcurrency
    ordering: OrderingPolicy
    def __init__(self, retry: _Optional[_Union[RetryPolicy, _Mapping]] = ..., permanent_client_errors: _Optional[bool] = ..., connect_timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., request_timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., rate_limit: _Optional[_Union[RateLimit, _Mapping]] = ..., max_concurrency: _Optional[int] = ..., circuit_breaker: _Optional[_Union[CircuitBreakerPolicy, _Mapping]] = ..., omit_traceparent: _Optional[bool] = ..., adaptive_concurrency: _Optional[_Union[AdaptiveConcurrency, _Mapping]] = ..., ordering: _Optional[_Union[OrderingPolicy, _Mapping]] = ...) -> None: ...

class AdaptiveConcurrency(_message.Message):
    __slots__ = ("min", "max")
    MIN_FIELD_NUMBER: _ClassVar[int]
    MAX_FIELD_NUMBER: _ClassVar[int]
    min: int
    max: int
    def __init__(self, min: _Optional[int] = ..., max: _Optional[int] = ...) -> None: ...

class OrderingPolicy(_message.Message):
    __slots__ = ("dead_letter",)
    DEAD_LETTER_FIELD_NUMBER: _ClassVar[int]
    dead_letter: DeadLetterOrdering
    def __init__(self, dead_letter: _Optional[_Union[DeadLetterOrdering, str]] = ...) -> None: ...

class RetryPolicy(_message.Message):
    __slots__ = ("schedule", "exponential")
    SCHEDULE_FIELD_NUMBER: _ClassVar[int]
    EXPONENTIAL_FIELD_NUMBER: _ClassVar[int]
    schedule: ConfiguredSchedule
    exponential: ExponentialBackoff
    def __init__(self, schedule: _Optional[_Union[ConfiguredSchedule, _Mapping]] = ..., exponential: _Optional[_Union[ExponentialBackoff, _Mapping]] = ...) -> None: ...

class ConfiguredSchedule(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ExponentialBackoff(_message.Message):
    __slots__ = ("initial", "factor", "cap", "max_attempts")
    INITIAL_FIELD_NUMBER: _ClassVar[int]
    FACTOR_FIELD_NUMBER: _ClassVar[int]
    CAP_FIELD_NUMBER: _ClassVar[int]
    MAX_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    initial: _duration_pb2.Duration
    factor: float
    cap: _duration_pb2.Duration
    max_attempts: int
    def __init__(self, initial: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., factor: _Optional[float] = ..., cap: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., max_attempts: _Optional[int] = ...) -> None: ...

class RateLimit(_message.Message):
    __slots__ = ("count", "period")
    COUNT_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    count: int
    period: _duration_pb2.Duration
    def __init__(self, count: _Optional[int] = ..., period: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class CircuitBreakerPolicy(_message.Message):
    __slots__ = ("failure_threshold", "failure_ratio", "min_requests", "window", "cooldown")
    FAILURE_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    FAILURE_RATIO_FIELD_NUMBER: _ClassVar[int]
    MIN_REQUESTS_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    COOLDOWN_FIELD_NUMBER: _ClassVar[int]
    failure_threshold: int
    failure_ratio: float
    min_requests: int
    window: _duration_pb2.Duration
    cooldown: _duration_pb2.Duration
    def __init__(self, failure_threshold: _Optional[int] = ..., failure_ratio: _Optional[float] = ..., min_requests: _Optional[int] = ..., window: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., cooldown: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class CircuitBreaker(_message.Message):
    __slots__ = ("state", "failure_streak", "last_error", "last_failure_at", "opened_at")
    STATE_FIELD_NUMBER: _ClassVar[int]
    FAILURE_STREAK_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    LAST_FAILURE_AT_FIELD_NUMBER: _ClassVar[int]
    OPENED_AT_FIELD_NUMBER: _ClassVar[int]
    state: CircuitState
    failure_streak: int
    last_error: str
    last_failure_at: _timestamp_pb2.Timestamp
    opened_at: _timestamp_pb2.Timestamp
    def __init__(self, state: _Optional[_Union[CircuitState, str]] = ..., failure_streak: _Optional[int] = ..., last_error: _Optional[str] = ..., last_failure_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., opened_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateConnectionRequest(_message.Message):
    __slots__ = ("name", "webhook", "hubspot", "mailchimp", "salesforce", "rabbitmq", "nats", "policy")
    NAME_FIELD_NUMBER: _ClassVar[int]
    WEBHOOK_FIELD_NUMBER: _ClassVar[int]
    HUBSPOT_FIELD_NUMBER: _ClassVar[int]
    MAILCHIMP_FIELD_NUMBER: _ClassVar[int]
    SALESFORCE_FIELD_NUMBER: _ClassVar[int]
    RABBITMQ_FIELD_NUMBER: _ClassVar[int]
    NATS_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    name: str
    webhook: WebhookConfig
    hubspot: HubspotConfig
    mailchimp: MailchimpConfig
    salesforce: SalesforceConfig
    rabbitmq: RabbitmqConfig
    nats: NatsConfig
    policy: DeliveryPolicy
    def __init__(self, name: _Optional[str] = ..., webhook: _Optional[_Union[WebhookConfig, _Mapping]] = ..., hubspot: _Optional[_Union[HubspotConfig, _Mapping]] = ..., mailchimp: _Optional[_Union[MailchimpConfig, _Mapping]] = ..., salesforce: _Optional[_Union[SalesforceConfig, _Mapping]] = ..., rabbitmq: _Optional[_Union[RabbitmqConfig, _Mapping]] = ..., nats: _Optional[_Union[NatsConfig, _Mapping]] = ..., policy: _Optional[_Union[DeliveryPolicy, _Mapping]] = ...) -> None: ...

class CreateConnectionResponse(_message.Message):
    __slots__ = ("connection",)
    CONNECTION_FIELD_NUMBER: _ClassVar[int]
    connection: Connection
    def __init__(self, connection: _Optional[_Union[Connection, _Mapping]] = ...) -> None: ...

class GetConnectionRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class GetConnectionResponse(_message.Message):
    __slots__ = ("connection",)
    CONNECTION_FIELD_NUMBER: _ClassVar[int]
    connection: Connection
    def __init__(self, connection: _Optional[_Union[Connection, _Mapping]] = ...) -> None: ...

class ListConnectionsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListConnectionsResponse(_message.Message):
    __slots__ = ("connections", "next_page_token")
    CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    connections: _containers.RepeatedCompositeFieldContainer[Connection]
    next_page_token: str
    def __init__(self, connections: _Optional[_Iterable[_Union[Connection, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class DeleteConnectionRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class DeleteConnectionResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class UpdateConnectionRequest(_message.Message):
    __slots__ = ("id", "name", "webhook", "policy", "state", "hubspot", "mailchimp", "salesforce", "rabbitmq", "nats")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    WEBHOOK_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    HUBSPOT_FIELD_NUMBER: _ClassVar[int]
    MAILCHIMP_FIELD_NUMBER: _ClassVar[int]
    SALESFORCE_FIELD_NUMBER: _ClassVar[int]
    RABBITMQ_FIELD_NUMBER: _ClassVar[int]
    NATS_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    webhook: WebhookConfig
    policy: DeliveryPolicy
    state: ConnectionState
    hubspot: HubspotConfig
    mailchimp: MailchimpConfig
    salesforce: SalesforceConfig
    rabbitmq: RabbitmqConfig
    nats: NatsConfig
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., webhook: _Optional[_Union[WebhookConfig, _Mapping]] = ..., policy: _Optional[_Union[DeliveryPolicy, _Mapping]] = ..., state: _Optional[_Union[ConnectionState, str]] = ..., hubspot: _Optional[_Union[HubspotConfig, _Mapping]] = ..., mailchimp: _Optional[_Union[MailchimpConfig, _Mapping]] = ..., salesforce: _Optional[_Union[SalesforceConfig, _Mapping]] = ..., rabbitmq: _Optional[_Union[RabbitmqConfig, _Mapping]] = ..., nats: _Optional[_Union[NatsConfig, _Mapping]] = ...) -> None: ...

class UpdateConnectionResponse(_message.Message):
    __slots__ = ("connection", "requeued_count")
    CONNECTION_FIELD_NUMBER: _ClassVar[int]
    REQUEUED_COUNT_FIELD_NUMBER: _ClassVar[int]
    connection: Connection
    requeued_count: int
    def __init__(self, connection: _Optional[_Union[Connection, _Mapping]] = ..., requeued_count: _Optional[int] = ...) -> None: ...

class PauseConnectionRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class PauseConnectionResponse(_message.Message):
    __slots__ = ("connection",)
    CONNECTION_FIELD_NUMBER: _ClassVar[int]
    connection: Connection
    def __init__(self, connection: _Optional[_Union[Connection, _Mapping]] = ...) -> None: ...

class ResumeConnectionRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ResumeConnectionResponse(_message.Message):
    __slots__ = ("connection", "requeued_count")
    CONNECTION_FIELD_NUMBER: _ClassVar[int]
    REQUEUED_COUNT_FIELD_NUMBER: _ClassVar[int]
    connection: Connection
    requeued_count: int
    def __init__(self, connection: _Optional[_Union[Connection, _Mapping]] = ..., requeued_count: _Optional[int] = ...) -> None: ...

class RotateSigningSecretRequest(_message.Message):
    __slots__ = ("id", "grace_period")
    ID_FIELD_NUMBER: _ClassVar[int]
    GRACE_PERIOD_FIELD_NUMBER: _ClassVar[int]
    id: str
    grace_period: _duration_pb2.Duration
    def __init__(self, id: _Optional[str] = ..., grace_period: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class RotateSigningSecretResponse(_message.Message):
    __slots__ = ("connection", "signing_secret", "previous_secret_expires_at")
    CONNECTION_FIELD_NUMBER: _ClassVar[int]
    SIGNING_SECRET_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_SECRET_EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    connection: Connection
    signing_secret: str
    previous_secret_expires_at: _timestamp_pb2.Timestamp
    def __init__(self, connection: _Optional[_Union[Connection, _Mapping]] = ..., signing_secret: _Optional[str] = ..., previous_secret_expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Rule(_message.Message):
    __slots__ = ("id", "event_type", "connection_id", "enabled", "description", "created_at", "condition", "mapping", "updated_at", "name", "ordering_key")
    ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    CONDITION_FIELD_NUMBER: _ClassVar[int]
    MAPPING_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ORDERING_KEY_FIELD_NUMBER: _ClassVar[int]
    id: str
    event_type: str
    connection_id: str
    enabled: bool
    description: str
    created_at: _timestamp_pb2.Timestamp
    condition: str
    mapping: str
    updated_at: _timestamp_pb2.Timestamp
    name: str
    ordering_key: str
    def __init__(self, id: _Optional[str] = ..., event_type: _Optional[str] = ..., connection_id: _Optional[str] = ..., enabled: _Optional[bool] = ..., description: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., condition: _Optional[str] = ..., mapping: _Optional[str] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., name: _Optional[str] = ..., ordering_key: _Optional[str] = ...) -> None: ...

class CreateRuleRequest(_message.Message):
    __slots__ = ("event_type", "connection_id", "description", "condition", "mapping", "enabled", "name", "ordering_key")
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CONDITION_FIELD_NUMBER: _ClassVar[int]
    MAPPING_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ORDERING_KEY_FIELD_NUMBER: _ClassVar[int]
    event_type: str
    connection_id: str
    description: str
    condition: str
    mapping: str
    enabled: bool
    name: str
    ordering_key: str
    def __init__(self, event_type: _Optional[str] = ..., connection_id: _Optional[str] = ..., description: _Optional[str] = ..., condition: _Optional[str] = ..., mapping: _Optional[str] = ..., enabled: _Optional[bool] = ..., name: _Optional[str] = ..., ordering_key: _Optional[str] = ...) -> None: ...

class CreateRuleResponse(_message.Message):
    __slots__ = ("rule",)
    RULE_FIELD_NUMBER: _ClassVar[int]
    rule: Rule
    def __init__(self, rule: _Optional[_Union[Rule, _Mapping]] = ...) -> None: ...

class GetRuleRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class GetRuleResponse(_message.Message):
    __slots__ = ("rule",)
    RULE_FIELD_NUMBER: _ClassVar[int]
    rule: Rule
    def __init__(self, rule: _Optional[_Union[Rule, _Mapping]] = ...) -> None: ...

class UpdateRuleRequest(_message.Message):
    __slots__ = ("id", "event_type", "connection_id", "condition", "mapping", "enabled", "description", "name", "ordering_key")
    ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    CONDITION_FIELD_NUMBER: _ClassVar[int]
    MAPPING_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ORDERING_KEY_FIELD_NUMBER: _ClassVar[int]
    id: str
    event_type: str
    connection_id: str
    condition: str
    mapping: str
    enabled: bool
    description: str
    name: str
    ordering_key: str
    def __init__(self, id: _Optional[str] = ..., event_type: _Optional[str] = ..., connection_id: _Optional[str] = ..., condition: _Optional[str] = ..., mapping: _Optional[str] = ..., enabled: _Optional[bool] = ..., description: _Optional[str] = ..., name: _Optional[str] = ..., ordering_key: _Optional[str] = ...) -> None: ...

class UpdateRuleResponse(_message.Message):
    __slots__ = ("rule",)
    RULE_FIELD_NUMBER: _ClassVar[int]
    rule: Rule
    def __init__(self, rule: _Optional[_Union[Rule, _Mapping]] = ...) -> None: ...

class ListRulesRequest(_message.Message):
    __slots__ = ("event_type", "connection_id", "page_size", "page_token")
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    event_type: str
    connection_id: str
    page_size: int
    page_token: str
    def __init__(self, event_type: _Optional[str] = ..., connection_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListRulesResponse(_message.Message):
    __slots__ = ("rules", "next_page_token")
    RULES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    rules: _containers.RepeatedCompositeFieldContainer[Rule]
    next_page_token: str
    def __init__(self, rules: _Optional[_Iterable[_Union[Rule, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class DeleteRuleRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class DeleteRuleResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RuleSpec(_message.Message):
    __slots__ = ("event_type", "condition", "mapping", "ordering_key")
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    CONDITION_FIELD_NUMBER: _ClassVar[int]
    MAPPING_FIELD_NUMBER: _ClassVar[int]
    ORDERING_KEY_FIELD_NUMBER: _ClassVar[int]
    event_type: str
    condition: str
    mapping: str
    ordering_key: str
    def __init__(self, event_type: _Optional[str] = ..., condition: _Optional[str] = ..., mapping: _Optional[str] = ..., ordering_key: _Optional[str] = ...) -> None: ...

class TestRuleRequest(_message.Message):
    __slots__ = ("rule_id", "spec", "event_type", "payload_json")
    RULE_ID_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_JSON_FIELD_NUMBER: _ClassVar[int]
    rule_id: str
    spec: RuleSpec
    event_type: str
    payload_json: str
    def __init__(self, rule_id: _Optional[str] = ..., spec: _Optional[_Union[RuleSpec, _Mapping]] = ..., event_type: _Optional[str] = ..., payload_json: _Optional[str] = ...) -> None: ...

class RequestPreview(_message.Message):
    __slots__ = ("method", "url", "headers", "body_json", "error", "exchange", "routing_key", "subject")
    class HeadersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    METHOD_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    BODY_JSON_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    EXCHANGE_FIELD_NUMBER: _ClassVar[int]
    ROUTING_KEY_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    method: str
    url: str
    headers: _containers.ScalarMap[str, str]
    body_json: str
    error: str
    exchange: str
    routing_key: str
    subject: str
    def __init__(self, method: _Optional[str] = ..., url: _Optional[str] = ..., headers: _Optional[_Mapping[str, str]] = ..., body_json: _Optional[str] = ..., error: _Optional[str] = ..., exchange: _Optional[str] = ..., routing_key: _Optional[str] = ..., subject: _Optional[str] = ...) -> None: ...

class TestRuleResponse(_message.Message):
    __slots__ = ("matched", "body_json", "error", "reason", "request")
    MATCHED_FIELD_NUMBER: _ClassVar[int]
    BODY_JSON_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    matched: bool
    body_json: str
    error: str
    reason: str
    request: RequestPreview
    def __init__(self, matched: _Optional[bool] = ..., body_json: _Optional[str] = ..., error: _Optional[str] = ..., reason: _Optional[str] = ..., request: _Optional[_Union[RequestPreview, _Mapping]] = ...) -> None: ...

class TestEventRequest(_message.Message):
    __slots__ = ("event_type", "payload_json")
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_JSON_FIELD_NUMBER: _ClassVar[int]
    event_type: str
    payload_json: str
    def __init__(self, event_type: _Optional[str] = ..., payload_json: _Optional[str] = ...) -> None: ...

class TestEventResponse(_message.Message):
    __slots__ = ("outcomes",)
    OUTCOMES_FIELD_NUMBER: _ClassVar[int]
    outcomes: _containers.RepeatedCompositeFieldContainer[RuleOutcome]
    def __init__(self, outcomes: _Optional[_Iterable[_Union[RuleOutcome, _Mapping]]] = ...) -> None: ...

class RuleOutcome(_message.Message):
    __slots__ = ("rule_id", "rule_name", "event_type", "connection_id", "matched", "body_json", "error", "reason")
    RULE_ID_FIELD_NUMBER: _ClassVar[int]
    RULE_NAME_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    MATCHED_FIELD_NUMBER: _ClassVar[int]
    BODY_JSON_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    rule_id: str
    rule_name: str
    event_type: str
    connection_id: str
    matched: bool
    body_json: str
    error: str
    reason: str
    def __init__(self, rule_id: _Optional[str] = ..., rule_name: _Optional[str] = ..., event_type: _Optional[str] = ..., connection_id: _Optional[str] = ..., matched: _Optional[bool] = ..., body_json: _Optional[str] = ..., error: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...
