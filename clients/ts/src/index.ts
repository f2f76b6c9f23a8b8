/**
 * `@switchyard/client`: the TypeScript SDK for Switchyard.
 *
 * ```ts
 * import { Switchyard } from "@switchyard/client";
 * const sy = new Switchyard({ apiKey: process.env.SWITCHYARD_API_KEY! });
 * const { eventId } = await sy.emit("lead.created", { email: "ada@example.com" });
 * ```
 *
 * `client.ts` holds the client, `retry.ts` the retry policy, `errors.ts`
 * and `details.ts` the typed error; the generated messages and service
 * descriptors are under `@switchyard/client/gen/switchyard/v1/*_pb`.
 */
export {
  type BatchEvent,
  type BatchResult,
  type Credentials,
  type EmitOptions,
  type Emitted,
  type Endpoints,
  LOCAL_ENDPOINTS,
  Switchyard,
  type SwitchyardOptions,
  endpointsFromEnv,
  generateIdempotencyKey,
} from "./client.js";
export { Code, type FieldViolation, SwitchyardError } from "./errors.js";
export { DEFAULT_RETRY, NEVER_RETRY, type RetryPolicy, delayMs, retryable, withRetry } from "./retry.js";
