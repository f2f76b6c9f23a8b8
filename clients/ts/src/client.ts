/**
 * The Switchyard client: one authenticated gRPC transport per service and
 * the helpers applications call most.
 *
 * - `emit` / `emitBatch` send events through `EmitEvent` / `EmitEvents`.
 *   Every event gets an idempotency key (made up when none is given) before
 *   the first attempt, so the SDK's own retries (see `retry.ts`) store it
 *   once; a retry the server had already stored answers `duplicate`.
 * - Every call carries `authorization: Bearer <API key or machine JWT>`; a
 *   JWT may be a function, asked before each call, so a token can be
 *   refreshed before it expires.
 * - Each attempt has a deadline (`timeoutMs`, sent as `grpc-timeout`).
 * - Admin calls are the generated clients — `registry`, `router`,
 *   `delivery`, `workspaces` — made once, errors thrown as ConnectError
 *   (`SwitchyardError.from` turns one into the SDK's error).
 */
import { create } from "@bufbuild/protobuf";
import { type Client, type Interceptor, createClient } from "@connectrpc/connect";
import { Http2SessionManager, createGrpcTransport } from "@connectrpc/connect-node";
import { randomUUID } from "node:crypto";

import { DeliveryService } from "../gen/switchyard/v1/delivery_pb.js";
import {
  type EmitEventRequest,
  EmitEventRequestSchema,
  type EmitEventResponse,
  IngestService,
} from "../gen/switchyard/v1/ingest_pb.js";
import { RegistryService } from "../gen/switchyard/v1/registry_pb.js";
import { RouterService } from "../gen/switchyard/v1/router_pb.js";
import { WorkspaceService } from "../gen/switchyard/v1/workspace_pb.js";
import { type Code, SwitchyardError } from "./errors.js";
import { DEFAULT_RETRY, type RetryPolicy, withRetry } from "./retry.js";

/** Where each service listens (WorkspaceService is served by the registry). */
export interface Endpoints {
  registry: string;
  ingest: string;
  router: string;
  delivery: string;
}

/** The default local ports, 50051-50054. */
export const LOCAL_ENDPOINTS: Endpoints = {
  registry: "http://127.0.0.1:50051",
  ingest: "http://127.0.0.1:50052",
  router: "http://127.0.0.1:50053",
  delivery: "http://127.0.0.1:50054",
};

/** {@link LOCAL_ENDPOINTS} overridden by `SWITCHYARD_{REGISTRY,INGEST,ROUTER,DELIVERY}_ENDPOINT`. */
export function endpointsFromEnv(env: NodeJS.ProcessEnv = process.env): Endpoints {
  return {
    registry: env.SWITCHYARD_REGISTRY_ENDPOINT ?? LOCAL_ENDPOINTS.registry,
    ingest: env.SWITCHYARD_INGEST_ENDPOINT ?? LOCAL_ENDPOINTS.ingest,
    router: env.SWITCHYARD_ROUTER_ENDPOINT ?? LOCAL_ENDPOINTS.router,
    delivery: env.SWITCHYARD_DELIVERY_ENDPOINT ?? LOCAL_ENDPOINTS.delivery,
  };
}

export type Credentials =
  | { apiKey: string; jwt?: never }
  | { jwt: string | (() => string | Promise<string>); apiKey?: never };

export type SwitchyardOptions = Credentials & {
  /** One address serving every service (a gRPC ingress routing by path). */
  endpoint?: string;
  /** Each service's address; the default is {@link endpointsFromEnv}. */
  endpoints?: Partial<Endpoints>;
  /** How emits are retried; default {@link DEFAULT_RETRY}. */
  retry?: RetryPolicy;
  /** The deadline of each attempt, in ms; default 10 s. */
  timeoutMs?: number;
};

export interface EmitOptions {
  /** A repeat within the workspace returns the first event; made up when absent. */
  idempotencyKey?: string;
  /** The schema version to validate against; 0 or absent means the latest. */
  schemaVersion?: number;
  /** This call's per-attempt deadline, in ms. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface Emitted {
  /** `evt_…` */
  eventId: string;
  /** True when the idempotency key was seen before; eventId is the first event's. */
  duplicate: boolean;
  schemaVersion: number;
  deprecated: boolean;
  /** The key the event was stored under (the SDK's when none was given). */
  idempotencyKey: string;
}

export interface BatchEvent {
  type: string;
  payload: unknown;
  idempotencyKey?: string;
  schemaVersion?: number;
}

/** One event of a batch: stored, or refused on its own. */
export type BatchResult = ({ ok: true } & Emitted) | { ok: false; error: SwitchyardError };

export class Switchyard {
  readonly registry: Client<typeof RegistryService>;
  readonly ingest: Client<typeof IngestService>;
  readonly router: Client<typeof RouterService>;
  readonly delivery: Client<typeof DeliveryService>;
  readonly workspaces: Client<typeof WorkspaceService>;
  readonly retry: RetryPolicy;
  readonly timeoutMs: number;
  /** One HTTP/2 connection per distinct endpoint, closed by {@link close}. */
  private readonly sessions = new Map<string, Http2SessionManager>();

  constructor(options: SwitchyardOptions) {
    const token = bearer(options);
    const auth: Interceptor = (next) => async (request) => {
      request.header.set("authorization", `Bearer ${await token()}`);
      return next(request);
    };
    const base = options.endpoint;
    const endpoints = base
      ? { registry: base, ingest: base, router: base, delivery: base }
      : { ...endpointsFromEnv(), ...options.endpoints };
    const transport = (baseUrl: string) => {
      let sessionManager = this.sessions.get(baseUrl);
      if (!sessionManager) {
        sessionManager = new Http2SessionManager(baseUrl);
        this.sessions.set(baseUrl, sessionManager);
      }
      return createGrpcTransport({ baseUrl, interceptors: [auth], sessionManager });
    };
    const registry = transport(endpoints.registry);
    this.registry = createClient(RegistryService, registry);
    this.workspaces = createClient(WorkspaceService, registry);
    this.ingest = createClient(IngestService, transport(endpoints.ingest));
    this.router = createClient(RouterService, transport(endpoints.router));
    this.delivery = createClient(DeliveryService, transport(endpoints.delivery));
    this.retry = options.retry ?? DEFAULT_RETRY;
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  /** Closes the connections (calls made after this fail). */
  close(): void {
    for (const session of this.sessions.values()) session.abort();
    this.sessions.clear();
  }

  /** Emits one event; throws {@link SwitchyardError} when it is refused. */
  async emit(type: string, payload: unknown, options: EmitOptions = {}): Promise<Emitted> {
    const request = eventRequest({ type, payload, ...options });
    const call = { timeoutMs: options.timeoutMs ?? this.timeoutMs, signal: options.signal };
    const response = await withRetry(this.retry, () => this.ingest.emitEvent(request, call));
    return emitted(response, request.idempotencyKey);
  }

  /**
   * Emits up to 1,000 events in one `EmitEvents` call: one result per event,
   * in order. Throws only when the call fails whole (after retries).
   */
  async emitBatch(
    events: BatchEvent[],
    options: { timeoutMs?: number; signal?: AbortSignal } = {},
  ): Promise<BatchResult[]> {
    const requests = events.map(eventRequest);
    const call = { timeoutMs: options.timeoutMs ?? this.timeoutMs, signal: options.signal };
    const response = await withRetry(this.retry, () =>
      this.ingest.emitEvents({ events: requests }, call),
    );
    return response.results.map((result, index): BatchResult => {
      const key = requests[index]?.idempotencyKey ?? "";
      if (result.outcome.case === "accepted") {
        return { ok: true, ...emitted(result.outcome.value, key) };
      }
      const refused = result.outcome.value;
      const error = new SwitchyardError(
        (refused?.code ?? 2) as Code,
        refused?.message ?? "no result for this event",
        refused?.violations.map(({ field, description }) => ({ field, description })) ?? [],
        refused?.retryAfterMs || undefined,
      );
      return { ok: false, error };
    });
  }
}

function bearer(credentials: Credentials): () => string | Promise<string> {
  if (credentials.apiKey !== undefined) {
    const key = credentials.apiKey;
    return () => key;
  }
  const jwt = credentials.jwt;
  if (jwt === undefined) throw new TypeError("Switchyard needs an apiKey or a jwt");
  return typeof jwt === "function" ? jwt : () => jwt;
}

function eventRequest(event: BatchEvent & EmitOptions): EmitEventRequest {
  return create(EmitEventRequestSchema, {
    eventType: event.type,
    payloadJson: JSON.stringify(event.payload),
    idempotencyKey: event.idempotencyKey || generateIdempotencyKey(),
    schemaVersion: event.schemaVersion ?? 0,
  });
}

/** Random, so two emits never share one, and marked as the SDK's. */
export function generateIdempotencyKey(): string {
  return `sdk_${randomUUID().replaceAll("-", "")}`;
}

function emitted(response: EmitEventResponse, idempotencyKey: string): Emitted {
  return {
    eventId: response.eventId,
    duplicate: response.duplicate,
    schemaVersion: response.schemaVersion,
    deprecated: response.deprecated,
    idempotencyKey,
  };
}
