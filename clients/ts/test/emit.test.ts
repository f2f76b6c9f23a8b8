/** Emitting against the live stack: ids, idempotency, typed violations, batches, JWTs. */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { Code, Switchyard, SwitchyardError, endpointsFromEnv } from "../src/index.js";
import { admin, machineTokens, registerLeadSchema } from "./helpers.js";

const client = admin();

before(async () => {
  await registerLeadSchema(client);
});
after(() => client.close());

test("emit stores an event and a repeated idempotency key answers the first", async () => {
  const key = `lead-${Date.now()}`;
  const first = await client.emit("lead.created", { id: "l1", email: "ada@example.com" }, { idempotencyKey: key });
  assert.match(first.eventId, /^evt_/);
  assert.equal(first.duplicate, false);
  assert.equal(first.idempotencyKey, key);
  assert.ok(first.schemaVersion >= 1);

  const again = await client.emit("lead.created", { id: "l1", email: "ada@example.com" }, { idempotencyKey: key });
  assert.equal(again.eventId, first.eventId);
  assert.equal(again.duplicate, true);
});

test("emit makes up a fresh idempotency key per call", async () => {
  const payload = { id: "l2", email: "grace@example.com" };
  const one = await client.emit("lead.created", payload);
  const two = await client.emit("lead.created", payload);
  assert.match(one.idempotencyKey, /^sdk_[0-9a-f]{32}$/);
  assert.notEqual(one.idempotencyKey, two.idempotencyKey);
  assert.notEqual(one.eventId, two.eventId);
  assert.equal(two.duplicate, false);
});

test("a payload the schema refuses is a SwitchyardError with field paths", async () => {
  const refused = await client.emit("lead.created", { id: "l3", email: 1 }).then(
    () => assert.fail("an invalid payload was accepted"),
    (error: unknown) => error,
  );
  assert.ok(refused instanceof SwitchyardError);
  assert.equal(refused.code, Code.InvalidArgument);
  const fields = refused.violations.map((violation) => violation.field);
  assert.ok(fields.includes("payload_json/email"), JSON.stringify(refused.violations));
  assert.ok(refused.violations.every((violation) => violation.description.length > 0));
});

test("emitBatch answers each event on its own, in order", async () => {
  const results = await client.emitBatch([
    { type: "lead.created", payload: { id: "b1", email: "b1@example.com" } },
    { type: "lead.created", payload: { id: "b2" } },
    { type: "lead.created", payload: { id: "b3", email: "b3@example.com" }, idempotencyKey: "batch-b3" },
  ]);
  assert.equal(results.length, 3);
  const [first, second, third] = results;
  assert.ok(first?.ok && first.eventId.startsWith("evt_"));
  assert.ok(second && !second.ok);
  assert.equal(second.error.code, Code.InvalidArgument);
  assert.ok(second.error.violations.length > 0, second.error.message);
  assert.ok(third?.ok);
  assert.equal(third.idempotencyKey, "batch-b3");
  assert.notEqual(first.eventId, third.eventId);
});

test("a machine JWT authenticates, and its scope is enforced", async () => {
  const mint = await machineTokens(client);
  const emitter = new Switchyard({ jwt: () => mint("emit"), endpoints: endpointsFromEnv() });
  const emitted = await emitter.emit("lead.created", { id: "j1", email: "jwt@example.com" });
  assert.match(emitted.eventId, /^evt_/);

  const refused = await emitter.registry.listEventTypes({}).then(
    () => assert.fail("an emit-only token listed event types"),
    (error: unknown) => SwitchyardError.from(error),
  );
  assert.equal(refused.code, Code.PermissionDenied);

  const expired = new Switchyard({ jwt: mint("emit", -120), endpoints: endpointsFromEnv() });
  const unauthenticated = await expired.emit("lead.created", { id: "j2", email: "x@example.com" }).then(
    () => assert.fail("an expired token was accepted"),
    (error: unknown) => error as SwitchyardError,
  );
  assert.equal(unauthenticated.code, Code.Unauthenticated);
  emitter.close();
  expired.close();
});
