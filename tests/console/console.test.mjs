// The console in a real browser: headless Chromium driven by
// playwright-core, against the live stack tests/tests/console.rs started.
//
// The harness passes the console URL, an admin key and a read-only key in
// the environment, and emits events on request: this script writes
// `@@ emit` on stdout and reads the event id from stdin. Each step asserts
// what the page shows; the first failure exits non-zero with its reason.
// Screenshots of the main pages go to $CONSOLE_SCREENSHOTS.

import { chromium } from "playwright-core";
import { createInterface } from "node:readline";
import { mkdirSync } from "node:fs";
import assert from "node:assert/strict";

const base = process.env.CONSOLE_URL;
const adminKey = process.env.ADMIN_KEY;
const readKey = process.env.READ_KEY;
const failingConnection = process.env.FAILING_CONNECTION;
const shots = process.env.CONSOLE_SCREENSHOTS;
mkdirSync(shots, { recursive: true });

const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
async function ask(command) {
  process.stdout.write(`@@ ${command}\n`);
  const { value, done } = await lines.next();
  assert.ok(!done, `the harness closed stdin before answering ${command}`);
  return value.trim();
}

function step(text) {
  process.stdout.write(`--- ${text}\n`);
}

async function shot(page, name) {
  await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
}

async function signIn(context, key) {
  const page = await context.newPage();
  await page.goto(`${base}/signin`);
  await page.fill("#credential", key);
  await Promise.all([page.waitForNavigation(), page.click("button[type=submit]")]);
  assert.equal(page.url(), `${base}/`, `sign-in ended on ${page.url()}: ${await page.textContent("body")}`);
  return page;
}

// Polls `check` (which throws until satisfied) for up to `ms`.
async function eventually(check, ms = 20000) {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
let failure = null;
try {
  const admin = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  step("sign in with the admin key");
  const page = await signIn(admin, adminKey);
  assert.equal(await page.textContent("#scope"), "admin");
  const cookies = await admin.cookies();
  const session = cookies.find((c) => c.name === "sy_session");
  assert.ok(session, "a session cookie");
  assert.ok(session.httpOnly && session.sameSite === "Strict", "HttpOnly, SameSite=Strict");
  assert.ok(!session.value.includes(adminKey) && !(await page.content()).includes(adminKey),
    "the key never reaches the page or the cookie");

  step("emit an event and watch it appear in the live list with three deliveries");
  await page.goto(`${base}/events`);
  const eventId = await ask("emit");
  const row = page.locator(`tr.event[data-id="${eventId}"]`);
  await eventually(async () => {
    const badges = await row.locator(".deliveries").textContent({ timeout: 1000 });
    assert.match(badges, /2 succeeded/);
    assert.match(badges, /1 dead/);
  });
  await shot(page, "events");

  step("the event page shows the payload, schema version and its three deliveries");
  await row.locator("a").click();
  await page.waitForURL(`${base}/events/${eventId}`);
  assert.equal(await page.textContent("#delivery-count"), "3");
  assert.match(await page.textContent("#payload"), /ada@example\.com/);
  assert.equal(await page.textContent("#schema-version"), "2");
  assert.equal(await page.locator("section.delivery").count(), 3);
  await shot(page, "event");

  step("open the failed delivery and read its attempts");
  await page.locator('section.delivery[data-status="dead"] h3 a').click();
  await page.waitForURL(/\/deliveries\/dlv_/);
  const deadUrl = page.url();
  const attempts = page.locator("tr.attempt");
  assert.equal(await attempts.count(), 3);
  for (let i = 0; i < 3; i++) {
    assert.equal((await attempts.nth(i).locator("td.code").textContent()).trim(), "500");
  }
  await shot(page, "delivery");

  step("the list filters by delivery status and time range");
  await page.goto(`${base}/events?status=dead`);
  assert.deepEqual(await page.locator("tr.event").evaluateAll((rows) => rows.map((r) => r.dataset.id)), [eventId]);
  await page.goto(`${base}/events?status=pending`);
  assert.equal(await page.locator("tr.event").count(), 0);
  await page.goto(`${base}/events?since=2099-01-01T00:00`);
  assert.match(await page.textContent("#events tbody"), /No events match/);
  await page.goto(`${base}/events?type=lead.created&until=2099-01-01T00:00`);
  assert.equal(await page.locator("tr.event").count(), 1);

  step("a read-only key sees no retry or replay, and the server refuses a replay");
  const reader = await browser.newContext();
  const readPage = await signIn(reader, readKey);
  assert.equal(await readPage.textContent("#scope"), "read only");
  await readPage.goto(`${base}/dead-letters`);
  assert.equal(await readPage.locator("tr.dead-letter").count(), 1);
  assert.equal(await readPage.locator("#replay, button.replay, button.retry").count(), 0);
  const refused = await readPage.evaluate(async (connection) => {
    const csrf = document.querySelector("input[name=csrf]").value;
    const body = new URLSearchParams({ csrf, connection });
    const response = await fetch("/dead-letters/replay", { method: "POST", body });
    return { status: response.status, text: await response.text() };
  }, failingConnection);
  assert.equal(refused.status, 403, refused.text);
  assert.match(refused.text, /admin/);
  await readPage.goto(deadUrl);
  assert.equal(await readPage.locator("button.retry").count(), 0);
  assert.equal(await readPage.locator("tr.attempt").count(), 3, "the refused replay made no attempt");
  await reader.close();

  step("retry the dead letter as admin: one more attempt, which fails");
  await page.goto(`${base}/dead-letters`);
  assert.equal(await page.locator("tr.dead-letter").count(), 1);
  await shot(page, "dead-letters");
  await page.locator("tr.dead-letter button.retry").click();
  await page.waitForURL(deadUrl);
  await eventually(async () => {
    await page.goto(deadUrl);
    assert.equal(await page.locator("tr.attempt").count(), 4);
    assert.equal(await page.getAttribute("section.delivery", "data-status"), "dead");
  });
  assert.match(await page.locator("tr.attempt").nth(3).textContent(), /manual retry/);

  step("replay the dead letter as admin and see it succeed");
  await page.goto(`${base}/dead-letters`);
  assert.equal(await page.locator("tr.dead-letter").count(), 1);
  await page.selectOption('#replay select[name="connection"]', failingConnection);
  await page.click("button.replay");
  await page.waitForURL(/replayed=1/);
  assert.match(await page.textContent("#replayed"), /Replayed 1 dead letters/);
  await eventually(async () => {
    await page.goto(deadUrl);
    assert.equal(await page.getAttribute("section.delivery", "data-status"), "succeeded");
  });
  const last = page.locator("tr.attempt").nth(4);
  assert.match(await last.textContent(), /replay/);
  assert.equal((await last.locator("td.code").textContent()).trim(), "204");

  step("the overview charts attempts by outcome");
  await page.goto(`${base}/`);
  const total = async (outcome) =>
    Number(await page.textContent(`#totals [data-outcome="${outcome}"]`));
  assert.ok((await total("succeeded")) >= 3);
  assert.ok((await total("failed")) >= 2);
  assert.ok((await total("dead")) >= 1);
  assert.ok((await page.locator("#chart rect.bar").count()) >= 1);
  await shot(page, "overview");

  step("connections show state and last hour's success rate; pause and resume");
  await page.goto(`${base}/connections`);
  const failing = page.locator(`tr.connection[data-id="${failingConnection}"]`);
  assert.match(await failing.locator("td.rate").textContent(), /20% of 5 attempts/);
  await failing.locator("button.pause").click();
  await page.waitForURL(`${base}/connections`);
  assert.match(await failing.locator("td.state").textContent(), /paused/);
  await shot(page, "connections");
  await failing.locator("button.resume").click();
  assert.match(await failing.locator("td.state").textContent(), /active/);

  step("schemas: versions, compatibility and a diff");
  await page.goto(`${base}/schemas/lead.created`);
  assert.equal(await page.textContent("#compatibility"), "backward");
  const diffLines = async (kind) => (await page.locator(`#diff .${kind}`).allTextContents()).join("");
  assert.match(await diffLines("ins"), /A sales lead/);
  assert.match(await diffLines("del"), /minimum/);
  await shot(page, "schemas");

  step("rules: condition, mapping and the test box");
  await page.goto(`${base}/rules`);
  await page.locator("tr.rule a", { hasText: "big-leads" }).click();
  assert.match(await page.textContent("#condition"), /amount > 100/);
  await page.fill("#payload", '{"id": "l-9", "email": "grace@example.com", "amount": 500}');
  await page.click("#test-rule button");
  assert.match(await page.textContent("#test-result"), /Matched/);
  assert.match(await page.textContent("#test-body"), /grace@example\.com/);
  await shot(page, "rules");
  await page.fill("#payload", '{"id": "l-10", "email": "x@example.com", "amount": 5}');
  await page.click("#test-rule button");
  assert.match(await page.textContent("#test-result"), /Did not match/);

  step("every page carried the CSP");
  const response = await page.goto(`${base}/events`);
  assert.match(response.headers()["content-security-policy"], /script-src 'self'/);
  process.stdout.write("console browser test passed\n");
} catch (error) {
  failure = error;
} finally {
  await browser.close();
}
// stdin stays open (the harness's pipe): exit rather than wait for it.
if (failure) {
  console.error(failure);
  process.exit(1);
}
process.exit(0);
