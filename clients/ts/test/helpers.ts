/**
 * What the SDK tests share: the live stack `scripts/with-stack.sh` started
 * (its endpoints and admin key come in SWITCHYARD_* variables), a client
 * for it, the example schema registered once, and machine tokens signed
 * with an Ed25519 key the test registers.
 */
import { generateKeyPairSync, randomUUID, sign } from "node:crypto";
import { readFileSync } from "node:fs";

import { VerificationAlgorithm } from "../gen/switchyard/v1/workspace_pb.js";
import { Switchyard, endpointsFromEnv } from "../src/index.js";

export const repository = new URL("../../../../", import.meta.url);

export function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the tests through scripts/with-stack.sh`);
  return value;
}

export function admin(): Switchyard {
  return new Switchyard({ apiKey: env("SWITCHYARD_API_KEY"), endpoints: endpointsFromEnv() });
}

/** Registers examples/lead.schema.json as `lead.created` (unchanged after the first time). */
export async function registerLeadSchema(client: Switchyard): Promise<number> {
  const schema = readFileSync(new URL("examples/lead.schema.json", repository), "utf8");
  const response = await client.registry.registerSchema({
    eventType: "lead.created",
    jsonSchema: schema,
  });
  return response.version;
}

/** A machine JWT minter: registers a fresh Ed25519 key, signs tokens with it. */
export async function machineTokens(
  client: Switchyard,
): Promise<(scope: string, ttlSeconds?: number) => string> {
  const { publicKey, privateKey } = generateKeyPairSync("ed25519");
  const kid = `test-${randomUUID()}`;
  await client.workspaces.addVerificationKey({
    kid,
    algorithm: VerificationAlgorithm.EDDSA,
    material: new TextEncoder().encode(publicKey.export({ type: "spki", format: "pem" }).toString()),
  });
  const workspace = env("SWITCHYARD_WORKSPACE_ID");
  return (scope, ttlSeconds = 300) => {
    const now = Math.floor(Date.now() / 1000);
    const part = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
    const unsigned = `${part({ alg: "EdDSA", typ: "JWT", kid })}.${part({
      sub: "billing-service",
      ws: workspace,
      scope,
      aud: "switchyard",
      iat: now,
      exp: now + ttlSeconds,
    })}`;
    const signature = sign(null, Buffer.from(unsigned), privateKey).toString("base64url");
    return `${unsigned}.${signature}`;
  };
}
