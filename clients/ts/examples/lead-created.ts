/**
 * The brief's example: a Node backend emitting `lead.created`.
 *
 * With the workspace's admin API key it registers the schema and an Ed25519
 * key for machine tokens; then, like a service holding only that signing
 * key, it emits with a short-lived machine JWT: one valid lead (prints the
 * event id) and one invalid (prints the violations).
 *
 *   SWITCHYARD_API_KEY=sy_live_… SWITCHYARD_WORKSPACE_ID=ws_… node dist/examples/lead-created.js
 */
import { generateKeyPairSync, randomUUID, sign } from "node:crypto";
import { readFileSync } from "node:fs";

import { VerificationAlgorithm } from "../gen/switchyard/v1/workspace_pb.js";
import { Switchyard, SwitchyardError } from "../src/index.js";

const admin = new Switchyard({ apiKey: process.env.SWITCHYARD_API_KEY! });
const schema = readFileSync(new URL("../../../../examples/lead.schema.json", import.meta.url), "utf8");
const registered = await admin.registry.registerSchema({ eventType: "lead.created", jsonSchema: schema });
console.log(`schema lead.created v${registered.version}`);

// The machine's signing key; Switchyard keeps only the public half.
const { publicKey, privateKey } = generateKeyPairSync("ed25519");
const kid = `example-backend-${randomUUID()}`;
await admin.workspaces.addVerificationKey({
  kid,
  algorithm: VerificationAlgorithm.EDDSA,
  material: Buffer.from(publicKey.export({ type: "spki", format: "pem" }).toString()),
});

/** A JWT for this workspace, allowed to emit, valid five minutes. */
function createMachineToken(): string {
  const now = Math.floor(Date.now() / 1000);
  const encode = (part: object) => Buffer.from(JSON.stringify(part)).toString("base64url");
  const header = encode({ alg: "EdDSA", typ: "JWT", kid });
  const claims = encode({
    sub: "example-backend",
    ws: process.env.SWITCHYARD_WORKSPACE_ID,
    scope: "emit",
    aud: "switchyard",
    iat: now,
    exp: now + 300,
  });
  const signature = sign(null, Buffer.from(`${header}.${claims}`), privateKey).toString("base64url");
  return `${header}.${claims}.${signature}`;
}

const backend = new Switchyard({ jwt: createMachineToken });
const lead = { id: "lead_1", email: "ada@example.com", firstName: "Ada", source: "web" };
const { eventId } = await backend.emit("lead.created", lead);
console.log(`emitted ${eventId}`);

try {
  await backend.emit("lead.created", { id: "lead_2", email: 42 });
} catch (error) {
  if (!(error instanceof SwitchyardError)) throw error;
  for (const violation of error.violations) {
    console.log(`refused ${violation.field}: ${violation.description}`);
  }
}

admin.close();
backend.close();
