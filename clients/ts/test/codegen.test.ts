/**
 * `switchyard schema codegen --lang ts` against the live registry: the
 * generated types accept the right payload (compiled and emitted through the
 * generated helper) and reject a wrong one at compile time.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { after, before, test } from "node:test";
import { promisify } from "node:util";

import { admin, env, registerLeadSchema } from "./helpers.js";

const run = promisify(execFile);
const fixtures = fileURLToPath(new URL("../../test/fixtures/", import.meta.url));
const tsc = fileURLToPath(new URL("../../../../node_modules/.bin/tsc", import.meta.url));
const compilerOptions = [
  "--strict",
  "--target", "ES2022",
  "--module", "NodeNext",
  "--moduleResolution", "NodeNext",
  "--skipLibCheck",
  "--types", "node",
];

const client = admin();
after(() => client.close());

before(async () => {
  await registerLeadSchema(client);
  const { stdout } = await run(env("SWITCHYARD_BIN"), [
    "schema", "codegen", "--lang", "ts", "--out", `${fixtures}events`,
  ]);
  assert.match(stdout, /wrote .*lead\.created\.v1\.ts/);
  assert.match(stdout, /wrote .*index\.ts/);
});

test("a wrong payload fails to compile against the generated type", async () => {
  const failed = await run(tsc, [...compilerOptions, "--rootDir", fixtures, "--noEmit", `${fixtures}wrong-payload.ts`]).then(
    () => assert.fail("tsc accepted `email: 1` for lead.created"),
    (error: { code: number; stdout: string }) => error,
  );
  assert.notEqual(failed.code, 0);
  assert.match(failed.stdout, /wrong-payload\.ts\(7,\d+\): error TS2322: Type 'number' is not assignable to type 'string'/);
});

test("the right payload compiles and the generated helper emits it", async () => {
  const outDir = `${fixtures}out`;
  // rootDir: the fixtures sit inside @switchyard/client's own folder.
  await run(tsc, [...compilerOptions, "--rootDir", fixtures, "--outDir", outDir, `${fixtures}right-payload.ts`]);
  const { emitRight } = await import(`${outDir}/right-payload.js`);
  const emitted = await emitRight(client);
  assert.match(emitted.eventId, /^evt_/);
  assert.equal(emitted.schemaVersion, 1);
});
