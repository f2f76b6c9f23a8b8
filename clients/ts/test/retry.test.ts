/**
 * Retries: an ingest stand-in answers the first emit with `Unavailable`
 * and a RetryInfo of 300 ms, then passes every call on to the live stack.
 */
import assert from "node:assert/strict";
import { createServer } from "node:http2";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";

import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";

import { IngestService } from "../gen/switchyard/v1/ingest_pb.js";
import { DEFAULT_RETRY, Switchyard, SwitchyardError, endpointsFromEnv } from "../src/index.js";
import { admin, env, registerLeadSchema } from "./helpers.js";

const live = admin();
const SERVER_DELAY_MS = 300;
const seenKeys: string[] = [];
let refusalsLeft = 0;
let stallMs = 0;

function retryInfo(delayMs: number): Uint8Array {
  const writer = new BinaryWriter();
  writer.tag(1, WireType.LengthDelimited).fork();
  writer.tag(1, WireType.Varint).int64(Math.floor(delayMs / 1000));
  writer.tag(2, WireType.Varint).int32((delayMs % 1000) * 1_000_000);
  writer.join();
  return writer.finish();
}

const server = createServer(
  connectNodeAdapter({
    routes: (router: ConnectRouter) =>
      router.service(IngestService, {
        async emitEvent(request) {
          seenKeys.push(request.idempotencyKey);
          await new Promise((resolve) => setTimeout(resolve, stallMs));
          if (refusalsLeft > 0) {
            refusalsLeft -= 1;
            const refusal = new ConnectError("postgres restarting", Code.Unavailable);
            // A detail in wire form: the SDK reads RetryInfo without its descriptor.
            refusal.details.push({ type: "google.rpc.RetryInfo", value: retryInfo(SERVER_DELAY_MS) });
            throw refusal;
          }
          return live.ingest.emitEvent(request);
        },
        emitEvents: (request) => live.ingest.emitEvents(request),
      }),
  }),
);

let endpoint = "";
before(async () => {
  await registerLeadSchema(live);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
const clients: Switchyard[] = [live];
after(() => {
  for (const client of clients) client.close();
  server.close();
});

test("an emit refused once with Unavailable is retried after the server's delay, under one key", async () => {
  const retries: SwitchyardError[] = [];
  const client = new Switchyard({
    apiKey: env("SWITCHYARD_API_KEY"),
    endpoints: { ...endpointsFromEnv(), ingest: endpoint },
    retry: { ...DEFAULT_RETRY, onRetry: (error) => retries.push(error) },
  });
  clients.push(client);
  seenKeys.length = 0;
  refusalsLeft = 1;
  const started = Date.now();
  const emitted = await client.emit("lead.created", { id: "r1", email: "retry@example.com" });
  const elapsed = Date.now() - started;

  assert.match(emitted.eventId, /^evt_/);
  assert.equal(emitted.duplicate, false);
  assert.equal(seenKeys.length, 2);
  assert.equal(seenKeys[0], seenKeys[1]);
  assert.equal(seenKeys[0], emitted.idempotencyKey);
  assert.equal(retries.length, 1);
  assert.equal(retries[0]?.code, Code.Unavailable);
  assert.equal(retries[0]?.retryAfterMs, SERVER_DELAY_MS);
  assert.ok(elapsed >= SERVER_DELAY_MS, `retried after ${elapsed} ms`);
});

test("with retries off the Unavailable reaches the caller, typed", async () => {
  const client = new Switchyard({
    apiKey: env("SWITCHYARD_API_KEY"),
    endpoints: { ...endpointsFromEnv(), ingest: endpoint },
    retry: { ...DEFAULT_RETRY, maxAttempts: 1 },
  });
  clients.push(client);
  refusalsLeft = 1;
  const error = await client.emit("lead.created", { id: "r2", email: "r2@example.com" }).then(
    () => assert.fail("the refusal was not surfaced"),
    (reason: unknown) => reason as SwitchyardError,
  );
  assert.ok(error instanceof SwitchyardError);
  assert.equal(error.code, Code.Unavailable);
  assert.equal(error.retryAfterMs, SERVER_DELAY_MS);
});

test("a deadline shorter than the call fails with DeadlineExceeded", async () => {
  const client = new Switchyard({
    apiKey: env("SWITCHYARD_API_KEY"),
    endpoints: { ...endpointsFromEnv(), ingest: endpoint },
    retry: { ...DEFAULT_RETRY, maxAttempts: 1 },
  });
  clients.push(client);
  refusalsLeft = 0;
  stallMs = 1_000;
  const started = Date.now();
  const error = await client
    .emit("lead.created", { id: "r3", email: "r3@example.com" }, { timeoutMs: 200 })
    .then(
      () => assert.fail("a 200 ms deadline was met by a 1 s call"),
      (reason: unknown) => reason as SwitchyardError,
    );
  stallMs = 0;
  assert.equal(error.code, Code.DeadlineExceeded);
  assert.ok(Date.now() - started < 900);
});
