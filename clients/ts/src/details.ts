/**
 * The google.rpc error details Switchyard attaches to a refusal, read from
 * a ConnectError's raw details: `BadRequest` (the fields at fault, e.g.
 * `payload_json/email`) and `RetryInfo` (how long to wait before retrying).
 * Both are tiny messages, decoded with protobuf-es's wire reader so the SDK
 * needs no copy of googleapis' protos.
 */
import { BinaryReader } from "@bufbuild/protobuf/wire";
import type { ConnectError } from "@connectrpc/connect";

const BAD_REQUEST = "google.rpc.BadRequest";
const RETRY_INFO = "google.rpc.RetryInfo";

/** One field the server refused, and why. */
export interface FieldViolation {
  /** A path such as `payload_json/email` or `event_type`. */
  field: string;
  description: string;
}

/** The raw details of an error parsed from the wire (not ones made locally). */
function incoming(error: ConnectError): { type: string; value: Uint8Array }[] {
  return error.details.filter(
    (detail): detail is { type: string; value: Uint8Array } =>
      "type" in detail && detail.value instanceof Uint8Array,
  );
}

/** Every field violation of every `BadRequest` detail, in order. */
export function fieldViolations(error: ConnectError): FieldViolation[] {
  const violations: FieldViolation[] = [];
  for (const detail of incoming(error)) {
    if (detail.type !== BAD_REQUEST) continue;
    const reader = new BinaryReader(detail.value);
    while (reader.pos < reader.len) {
      const [field, wireType] = reader.tag();
      if (field === 1) {
        violations.push(readViolation(reader.bytes()));
      } else {
        reader.skip(wireType);
      }
    }
  }
  return violations;
}

function readViolation(bytes: Uint8Array): FieldViolation {
  const reader = new BinaryReader(bytes);
  const violation: FieldViolation = { field: "", description: "" };
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === 1) violation.field = reader.string();
    else if (field === 2) violation.description = reader.string();
    else reader.skip(wireType);
  }
  return violation;
}

/** The server's `RetryInfo` delay in milliseconds, when it sent one. */
export function retryDelayMs(error: ConnectError): number | undefined {
  for (const detail of incoming(error)) {
    if (detail.type !== RETRY_INFO) continue;
    const reader = new BinaryReader(detail.value);
    while (reader.pos < reader.len) {
      const [field, wireType] = reader.tag();
      if (field === 1) return readDurationMs(reader.bytes());
      reader.skip(wireType);
    }
  }
  return undefined;
}

function readDurationMs(bytes: Uint8Array): number {
  const reader = new BinaryReader(bytes);
  let seconds = 0;
  let nanos = 0;
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === 1) seconds = Number(reader.int64());
    else if (field === 2) nanos = reader.int32();
    else reader.skip(wireType);
  }
  return seconds * 1000 + Math.round(nanos / 1e6);
}
