/**
 * One error type for every refused call: {@link SwitchyardError} carries
 * the gRPC code, the server's message, the fields at fault (for
 * `InvalidArgument`) and the server's retry delay (for `Unavailable` and
 * `ResourceExhausted`), whether the call failed whole or one event of a
 * batch was refused.
 */
import { Code, ConnectError } from "@connectrpc/connect";

import { type FieldViolation, fieldViolations, retryDelayMs } from "./details.js";

export { Code };
export type { FieldViolation };

export class SwitchyardError extends Error {
  override readonly name = "SwitchyardError";
  /** The gRPC status code (`Code.InvalidArgument`, `Code.Unavailable`, …). */
  readonly code: Code;
  /** The server's message, without the code in front. */
  readonly rawMessage: string;
  /** For `InvalidArgument`: each field at fault, e.g. `payload_json/email`. */
  readonly violations: FieldViolation[];
  /** For outages and quotas: how long the server asked to wait, in ms. */
  readonly retryAfterMs: number | undefined;

  constructor(
    code: Code,
    rawMessage: string,
    violations: FieldViolation[] = [],
    retryAfterMs?: number,
    options?: { cause?: unknown },
  ) {
    super(`[${Code[code] ?? code}] ${rawMessage}`, options);
    this.code = code;
    this.rawMessage = rawMessage;
    this.violations = violations;
    this.retryAfterMs = retryAfterMs;
  }

  /** The error of a failed call (any thrown value: transport errors too). */
  static from(reason: unknown): SwitchyardError {
    if (reason instanceof SwitchyardError) return reason;
    const error = ConnectError.from(reason);
    return new SwitchyardError(
      error.code,
      error.rawMessage,
      fieldViolations(error),
      retryDelayMs(error),
      { cause: reason },
    );
  }
}
