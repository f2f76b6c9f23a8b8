/** The example runs as a reader would run it, against the live stack. */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { test } from "node:test";
import { promisify } from "node:util";

const run = promisify(execFile);

test("examples/lead-created prints the event id and the violations", async () => {
  const script = new URL("../examples/lead-created.js", import.meta.url);
  const { stdout } = await run(process.execPath, [script.pathname], { env: process.env });
  assert.match(stdout, /^schema lead\.created v\d+$/m);
  assert.match(stdout, /^emitted evt_\w+$/m);
  assert.match(stdout, /^refused payload_json\/email: .+$/m);
});
