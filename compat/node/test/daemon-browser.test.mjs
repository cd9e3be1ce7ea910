// The daemon's own page in a real browser (Debian's chromium driven by
// playwright-core): with cors.origins set to a list that does not name the
// daemon, the dashboard it serves must still connect, since a page talks
// to the server it came from from its own origin (issue 9 item 9: it got
// POST 403 and upgrade 400 in a reconnect loop). A foreign page is still
// refused: that is what the list is for.

import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import http from "node:http";
import { createRequire } from "node:module";
import path from "node:path";
import {
  daemonPath,
  metric,
  metrics,
  startDaemon,
  stopAllDaemons,
  token,
} from "./daemon-harness.mjs";

const require = createRequire(import.meta.url);
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const HAVE = !!daemonPath() && existsSync(CHROMIUM);
const CLIENT_JS = path.join(
  path.dirname(require.resolve("socket.io-client/package.json")),
  "dist",
  "socket.io.min.js",
);

let playwright;
async function launch() {
  playwright ??= await import("playwright-core");
  return playwright.chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  });
}

// A page on another origin that tries the daemon with the stock client.
function foreignSite(daemonUrl) {
  const html = `<!doctype html><script src="${daemonUrl}/socket.io/socket.io.js"></script>
<script>
window.result = new Promise((resolve) => {
  const s = io(${JSON.stringify(daemonUrl)}, { reconnection: false, auth: { token: location.hash.slice(1) } });
  s.on("connect", () => resolve("connected"));
  s.on("connect_error", (e) => resolve("refused: " + e.message));
});
</script>`;
  const srv = http.createServer((req, res) => {
    res.writeHead(200, { "Content-Type": "text/html" });
    res.end(html);
  });
  return new Promise((resolve) =>
    srv.listen(0, "127.0.0.1", () => resolve(srv)),
  );
}

(HAVE ? describe : describe.skip)("the dashboard in chromium with cors.origins set to a list", function () {
  this.timeout(60000);
  let d, browser;
  before(async () => {
    d = await startDaemon({
      SIO_SERVER_DASHBOARD: "on",
      SIO_SERVER_CLIENT_JS: CLIENT_JS,
      SIO_CORS_ORIGINS: "https://app.example.com, https://admin.example.com",
    });
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
    await stopAllDaemons();
  });

  for (const host of ["127.0.0.1", "localhost"]) {
    it(`connects from its own origin (http://${host}:port), upgrades, stays connected and publishes`, async () => {
      const page = await browser.newPage();
      const failed = [];
      page.on("response", (r) => {
        if (r.status() >= 400) failed.push(`${r.status()} ${r.request().method()} ${r.url()}`);
      });
      const tok = token(`dash-${host}`);
      await page.goto(`http://${host}:${d.port}/#token=${tok}&key=${encodeURIComponent("daemon-test-api-key-7f3c9a")}`);
      await page.click("#connect");
      await page.waitForFunction(() => document.getElementById("state").textContent === "connected", null, { timeout: 10000 });
      // polling first, then the WebSocket upgrade: both passed the Origin check
      await page.waitForFunction(() => /via websocket$/.test(document.getElementById("sid").textContent), null, { timeout: 10000 });
      await page.waitForFunction(() => document.getElementById("rooms").textContent.includes("global"), null, { timeout: 10000 });
      // no reconnect loop: still the same session a second later
      const sid = await page.textContent("#sid");
      await page.waitForTimeout(1000);
      assert.equal(await page.textContent("#state"), "connected");
      assert.equal(await page.textContent("#sid"), sid);
      // a publish from the page reaches the page
      await page.fill("#prooms", "global");
      await page.selectOption("#event", "project.updated");
      await page.fill("#data", '{"project_id":"9","name":"from the page"}');
      await page.click("#publish");
      await page.waitForFunction(() => document.getElementById("log").textContent.includes("from the page"), null, { timeout: 10000 });
      assert.match(await page.textContent("#pubres"), /^202 /);
      assert.deepEqual(failed, []);
      await page.close();
    });
  }

  it("still refuses a foreign page (CSWSH): the list is applied to other origins", async () => {
    const site = await foreignSite(d.url);
    const page = await browser.newPage();
    const before = metric(await metrics(d), "sio_limit_hits_total", { limit: "origin" });
    try {
      await page.goto(`http://127.0.0.1:${site.address().port}/#${token("foreign")}`);
      const result = await page.evaluate(() => window.result);
      assert.match(result, /^refused/);
      const after = metric(await metrics(d), "sio_limit_hits_total", { limit: "origin" });
      assert.ok(after > before, `origin refusals ${before} -> ${after}`);
    } finally {
      await page.close();
      site.close();
    }
  });
});
