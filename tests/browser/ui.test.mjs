// The browser test of `actorflow ui` (CTest label `browser`): makes a store with a finished, a
// failed, an interrupted and a running run (make_store.cpp), serves it with `actorflow ui --port 0`, and
// drives Debian's chromium headless with playwright-core at 1280 px and at a phone's size. It
// checks what a person would look for, keeps screenshots in the output folder, and stops the
// server itself. Exits 77 (CTest's skip) only when chromium or playwright-core is missing.
//   node ui.test.mjs <actorflow> <actorflow-ui-make-store> <output dir>
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";

// Where tools/setup installed chromium and playwright-core (tools/run test sets
// ACTORFLOW_REQUIRE_BROWSER=1), a missing one is a failure, not a skip.
const SKIP = process.env.ACTORFLOW_REQUIRE_BROWSER === "1" ? 1 : 77;
const [actorflow, makeStore, outDir] = process.argv.slice(2);
if (!actorflow || !makeStore || !outDir) {
  console.error("usage: node ui.test.mjs <actorflow> <actorflow-ui-make-store> <output dir>");
  process.exit(2);
}

const chromiumPath = process.env.CHROMIUM || "/usr/bin/chromium";
if (!existsSync(chromiumPath)) {
  console.log(`skipped: no chromium at ${chromiumPath} (tools/setup installs Debian's chromium)`);
  process.exit(SKIP);
}
let chromium;
try {
  ({ chromium } = await import("playwright-core"));
} catch (error) {
  console.log("skipped: playwright-core is not installed in tests/browser/node_modules " +
              `(tools/setup installs it): ${error.message}`);
  process.exit(SKIP);
}

// Every wait is bounded; a hung step fails the test instead of stalling CTest.
const STEP_MS = 15000;

function step(name) {
  console.log(`- ${name}`);
}

// Starts `actorflow ui` and resolves with its URL once it prints it.
function startServer(args) {
  const server = spawn(actorflow, ["ui", ...args], { stdio: ["ignore", "pipe", "inherit"] });
  const url = new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`no URL from actorflow ui within ${STEP_MS} ms: ${out}`)), STEP_MS);
    server.stdout.on("data", (chunk) => {
      out += chunk;
      const match = out.match(/serving (http:\/\/127\.0\.0\.1:\d+\/)/);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    server.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`actorflow ui exited (${code}) before serving: ${out}`));
    });
  });
  return { server, url };
}

async function stopServer(server) {
  if (server.exitCode !== null) return;
  const exited = new Promise((resolve) => server.on("exit", resolve));
  server.kill("SIGTERM");
  const timer = setTimeout(() => server.kill("SIGKILL"), 5000);
  await exited;
  clearTimeout(timer);
}

// Waits until the page has rendered what `hash` names (app.js marks the body when it has).
async function shown(page, hash) {
  await page.waitForFunction(
      (want) => document.body.dataset.ready === "true" && document.body.dataset.hash === want,
      hash, { timeout: STEP_MS });
}

async function main() {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const db = join(outDir, "runs.db");
  const traces = join(outDir, "traces");
  mkdirSync(traces);

  step("make a store with a finished, a failed and an interrupted run");
  const made = spawnSync(makeStore, [db, traces], { encoding: "utf8", timeout: 120000 });
  assert.equal(made.status, 0, `make_store failed: ${made.stderr}${made.stdout}`);

  step("a store that is not there is a clear error");
  const missing = spawnSync(actorflow, ["ui", "--db", join(outDir, "nope.db"), "--port", "0"],
                            { encoding: "utf8", timeout: STEP_MS });
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /nope\.db: no such checkpoint store/);

  const { server, url: urlPromise } = startServer(["--db", db, "--traces", traces, "--port", "0"]);
  let browser;
  try {
    const url = await urlPromise;
    browser = await chromium.launch({
      executablePath: chromiumPath,
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });

    // -- a 1,280-pixel window ----------------------------------------------------------------
    const desk = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    desk.setDefaultTimeout(STEP_MS);
    const pageErrors = [];
    desk.on("pageerror", (error) => pageErrors.push(error.message));

    step("the run list shows the four runs, newest first, with their statuses");
    const started = Date.now();
    await desk.goto(url);
    await shown(desk, "#/");
    const listMs = Date.now() - started;
    const rows = desk.locator("#runs tbody tr");
    assert.equal(await rows.count(), 4);
    assert.deepEqual(await desk.locator("#runs tbody tr td[data-label=Run]").allTextContents(),
                     ["live-run", "review-waiting", "nightly-failed", "nightly-finished"]);
    const statuses = await desk.locator("#runs tbody tr .badge").allTextContents();
    for (const status of ["running", "succeeded", "failed", "interrupted", "1 pending"])
      assert.ok(statuses.includes(status), `no "${status}" among ${statuses}`);

    step("while a run is running the list refreshes itself: it sees that run's items and end");
    assert.ok(await desk.locator("#live").isVisible(), "no live marker while a run runs");
    const advanced = spawnSync(makeStore, ["--advance", db, "live-run"], { encoding: "utf8", timeout: STEP_MS });
    assert.equal(advanced.status, 0, `make_store --advance failed: ${advanced.stderr}`);
    const live = desk.locator("#runs tbody tr[data-run-id=live-run]");
    await live.locator(".badge.succeeded").waitFor({ timeout: STEP_MS });
    assert.equal(await live.locator("td[data-label='Items done']").textContent(), "5");
    assert.equal(await live.locator("td[data-label=Cost]").textContent(), "$0.2500");
    await desk.locator("#live").waitFor({ state: "hidden", timeout: STEP_MS });
    // Its model calls (the offline provider, priced) show as tokens and a cost.
    const finished = desk.locator("#runs tbody tr[data-run-id=nightly-finished]");
    assert.notEqual(await finished.locator("td[data-label=Tokens]").textContent(), "0");
    assert.match(await finished.locator("td[data-label=Cost]").textContent(), /^\$0\.0*[1-9]/);
    await desk.screenshot({ path: join(outDir, "runs-1280.png"), fullPage: true });

    step("the status filter keeps the failed run only");
    await desk.locator("#filters button[data-status=failed]").click();
    await desk.waitForFunction(() => document.querySelectorAll("#runs tbody tr").length === 1);
    assert.equal(await rows.first().getAttribute("data-run-id"), "nightly-failed");

    step("the failed run: its error, graph, failed items, State and timeline");
    let loadStart = Date.now();
    await rows.first().click();
    await shown(desk, "#/run/nightly-failed");
    await desk.waitForSelector("#graph svg");
    await desk.waitForSelector("#timeline .bar");
    const runMs = Date.now() - loadStart;
    assert.match(await desk.locator("#summary").textContent(), /could not be summarised/);
    const drawn = await desk.locator("#graph svg text").allTextContents();
    for (const name of ["start", "load", "prepare", "clean", "tag", "summarise", "report"])
      assert.ok(drawn.includes(name), `the graph does not name "${name}": ${drawn}`);
    assert.equal(await desk.locator("#graph svg #af-next").count(), 1, "the next node is not marked");

    await desk.locator("button.failed-link").click();
    await desk.waitForFunction(() => {
      const rows = [...document.querySelectorAll("#items tbody tr")];
      return rows.length > 0 && rows.every((row) => row.classList.contains("failed"));
    });
    const failedRows = desk.locator("#items tbody tr");
    assert.equal(await failedRows.count(), 3); // documents 3, 10 and 17 of 0..23
    const errors = await desk.locator("#items tbody td.detail").allTextContents();
    assert.ok(errors.some((text) => text.includes("no text in document 3")), `errors: ${errors}`);
    assert.ok(await desk.locator("#items-panel").isVisible());

    assert.match(await desk.locator("#state").textContent(), /documents/);
    const kinds = await desk.locator("#timeline .bar").evaluateAll(
        (bars) => [...new Set(bars.map((bar) => bar.classList[1]))]);
    for (const kind of ["flow", "node", "item"])
      assert.ok(kinds.includes(kind), `the timeline has no ${kind} span: ${kinds}`);
    await desk.screenshot({ path: join(outDir, "run-1280.png"), fullPage: true });

    step("the interrupted run shows its pending question");
    await desk.goto(`${url}#/run/review-waiting`);
    await shown(desk, "#/run/review-waiting");
    assert.match(await desk.locator("#interrupts").textContent(), /publish the summaries\?/);

    step("a run that is not there, and bad parameters, are clear errors");
    await desk.goto(`${url}#/run/no-such-run`);
    await shown(desk, "#/run/no-such-run");
    assert.match(await desk.locator("#run-error").textContent(), /no run 'no-such-run'/);
    const bad = await desk.evaluate(async () => {
      const answers = [];
      for (const path of ["/api/items?id=nightly-failed&limit=lots", "/api/runs?status=odd",
                          "/api/run", "/api/graph.svg?id=no-such-run", "/api/nothing"]) {
        const response = await fetch(path);
        answers.push([response.status, (await response.json()).error]);
      }
      return answers;
    });
    assert.deepEqual(bad.map(([status]) => status), [400, 400, 400, 404, 404]);
    assert.ok(bad.every(([, error]) => typeof error === "string" && error.length > 0));
    assert.deepEqual(pageErrors, [], "the page threw");

    // -- a phone ---------------------------------------------------------------------------
    step("a phone-sized window stacks the panels and fits the width");
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2,
                                          isMobile: true, hasTouch: true });
    phone.setDefaultTimeout(STEP_MS);
    await phone.goto(url);
    await shown(phone, "#/");
    assert.equal(await phone.locator("#runs tbody tr").count(), 4);
    const fits = () => document.documentElement.scrollWidth <= window.innerWidth + 1;
    assert.ok(await phone.evaluate(fits), "the run list is wider than the phone");
    await phone.screenshot({ path: join(outDir, "runs-phone.png"), fullPage: true });
    await phone.locator("#runs tbody tr[data-run-id=nightly-failed]").click();
    await shown(phone, "#/run/nightly-failed");
    await phone.waitForSelector("#graph svg");
    assert.ok(await phone.evaluate(fits), "the run view is wider than the phone");
    const [graphBox, stateBox] = await Promise.all(
        [phone.locator(".graph-panel").boundingBox(), phone.locator(".state-panel").boundingBox()]);
    assert.ok(stateBox.y >= graphBox.y + graphBox.height, "the panels are not stacked");
    await phone.screenshot({ path: join(outDir, "run-phone.png"), fullPage: true });

    console.log(`ok: page loads: run list ${listMs} ms, failed run with graph and timeline ${runMs} ms`);
    console.log(`screenshots in ${outDir}`);
  } finally {
    if (browser) await browser.close();
    await stopServer(server);
  }
  assert.equal(server.exitCode, 0, `actorflow ui exited with ${server.exitCode} after SIGTERM`);
}

try {
  await main();
} catch (error) {
  console.error(`FAILED: ${error.stack || error.message}`);
  process.exit(1);
}
