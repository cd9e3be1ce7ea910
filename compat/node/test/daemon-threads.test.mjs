// The daemon with server.threads = 2 (issue 12): one process, two event
// loops on SO_REUSEPORT listeners. An Engine.IO sid's first character is
// its loop's base64url digit ('A' loop 0, 'B' loop 1), so every test first
// makes sure both loops hold sessions, then checks that what must be
// process-wide is: a broadcast reaches every loop once, a per-user limit
// counts the connections of both loops, /metrics and /health answer on
// either loop with the figures of both right after an action, a drain and
// a reload reach both loops, and garbage on one loop leaves the other
// alone.
//
// Run: cd compat/node && SIO_DAEMON=$PWD/../../build/sio-server \
//   npx mocha --no-config --timeout 30000 --exit test/daemon-threads.test.mjs

import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import {
  client,
  closeClients,
  connectAs,
  daemonPath,
  metric,
  metrics,
  once,
  publish,
  removeTempDirs,
  request,
  sleep,
  startDaemon,
  stopAllDaemons,
  tempDir,
  token,
} from "./daemon-harness.mjs";

const THREADS = { SIO_SERVER_THREADS: "2" };

// The loop of an Engine.IO sid: its first (base64url) digit.
function loopOfSid(sid) {
  assert.ok(sid && sid.length === 20, `an Engine.IO sid (${sid})`);
  return "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".indexOf(sid[0]);
}

// The loop of a connected client.
function loopOf(socket) {
  return loopOfSid(socket.io.engine && socket.io.engine.id);
}

// Connects clients of distinct users until both loops have at least
// `each` of them (the kernel spreads connections; bounded).
async function onBothLoops(d, prefix, each = 1, max = 80) {
  const byLoop = [[], []];
  for (let i = 0; i < max && (byLoop[0].length < each || byLoop[1].length < each); i++) {
    const c = await connectAs(d, token(`${prefix}-${i}`));
    byLoop[loopOf(c.socket)].push(c.socket);
  }
  assert.ok(byLoop[0].length >= each && byLoop[1].length >= each,
    `clients on both loops (${byLoop[0].length} and ${byLoop[1].length})`);
  return byLoop;
}

// A connection that must be refused: { err, loop } (its connect_error and
// the loop that refused it).
function refusal(d, tok) {
  const s = client(d, { transports: ["websocket"], auth: { token: tok } });
  let sid; // the engine is gone by the connect_error
  s.io.once("open", () => {
    sid = s.io.engine.id;
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("neither connect nor connect_error")), 6000);
    s.once("connect", () => {
      clearTimeout(timer);
      reject(new Error("connected, but should have been refused"));
    });
    s.once("connect_error", (err) => {
      clearTimeout(timer);
      resolve({ err, loop: loopOfSid(sid) });
    });
  });
}

// A raw polling handshake on a keep-alive connection: { sock, sid }.
function rawHandshake(port) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, "127.0.0.1");
    let buf = "";
    const timer = setTimeout(() => reject(new Error("handshake timed out")), 3000);
    sock.on("error", reject);
    sock.on("data", (c) => {
      buf += c.toString("latin1");
      const m = /"sid":"([^"]+)"/.exec(buf);
      if (m) {
        clearTimeout(timer);
        sock.removeAllListeners("data");
        resolve({ sock, sid: m[1] });
      }
    });
    sock.write("GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n");
  });
}

// Sends one request on a raw keep-alive connection and resolves with
// { status, body } once Content-Length bytes of body have come.
function rawRequest(sock, text) {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => {
      sock.removeListener("data", onData);
      reject(new Error("no answer in 3 s"));
    }, 3000);
    function onData(c) {
      buf = Buffer.concat([buf, c]);
      const end = buf.indexOf("\r\n\r\n");
      if (end < 0) return;
      const head = buf.subarray(0, end).toString("latin1");
      const len = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? 0);
      if (buf.length < end + 4 + len) return;
      clearTimeout(timer);
      sock.removeListener("data", onData);
      resolve({
        status: Number(head.split(" ")[1]),
        body: buf.subarray(end + 4, end + 4 + len).toString("utf8"),
      });
    }
    sock.on("data", onData);
    sock.write(text);
  });
}

if (!daemonPath()) {
  describe("sio-server daemon, server.threads = 2", function () {
    it("is skipped: SIO_DAEMON is not set", function () {
      this.skip();
    });
  });
} else {
  describe("sio-server daemon, server.threads = 2", function () {
    this.timeout(30000);
    afterEach(closeClients);
    after(async () => {
      closeClients();
      await stopAllDaemons();
      removeTempDirs();
    });

    it("refuses server.threads 0, 65 and x at start (exit 1, the key named)", async () => {
      for (const v of ["0", "65", "x"]) {
        await assert.rejects(startDaemon({ SIO_SERVER_THREADS: v }), (err) => {
          assert.match(err.message, /server\.threads: "[^"]*": expected auto or a number of threads from 1 to 64 \(from SIO_SERVER_THREADS\)/);
          return true;
        });
      }
    });

    it("/config shows 2; 40 clients land on both loops and one broadcast per publish reaches each exactly once", async () => {
      const d = await startDaemon(THREADS);
      assert.equal((await request(`${d.url}/config`)).json.threads, 2);
      const sockets = [];
      const seen = new Set();
      for (let i = 0; i < 40; i++) {
        const { socket } = await connectAs(d, token(`bc-${i}`), {
          transports: i % 4 === 0 ? ["polling"] : ["websocket"],
        });
        seen.add(loopOf(socket));
        sockets.push(socket);
      }
      assert.deepEqual([...seen].sort(), [0, 1], "sessions on both loops");
      const got = sockets.map(() => []);
      sockets.forEach((s, i) => s.on("issue.created", (env) => got[i].push(env.data.n)));
      const before = await metrics(d);
      // each publish is a new connection: the API answers on either loop,
      // and counts the recipients of both
      for (let n = 1; n <= 4; n++) {
        const r = await publish(d, { rooms: ["global"], event: "issue.created", data: { n } });
        assert.equal(r.status, 202);
        assert.equal(r.json.local_recipients, 40);
      }
      const after = await metrics(d);
      assert.equal(metric(after, "sio_broadcasts_total") - metric(before, "sio_broadcasts_total"), 4,
        "one broadcast per publish, however many loops ran it");
      const deadline = Date.now() + 5000;
      while (got.some((g) => g.length < 4) && Date.now() < deadline) await sleep(25);
      await sleep(200); // nothing twice
      got.forEach((g, i) => assert.deepEqual(g.slice().sort(), [1, 2, 3, 4], `client ${i}`));
    });

    it("counts a user's connections over both loops: with a limit of 2 the 3rd is refused on either loop", async () => {
      const d = await startDaemon({ ...THREADS, SIO_LIMITS_MAX_CONNECTIONS_PER_USER: "2" });
      const tok = token("limited");
      const first = await connectAs(d, tok);
      const loop1 = loopOf(first.socket);
      // the second one on the other loop (retried until the kernel puts it there)
      let second;
      for (let i = 0; i < 60 && !second; i++) {
        const c = await connectAs(d, tok);
        if (loopOf(c.socket) !== loop1) {
          second = c;
        } else {
          c.socket.disconnect();
          await sleep(30); // its slot is given back on the server's side
        }
      }
      assert.ok(second, "a second connection on the other loop");
      const refusedOn = new Set();
      for (let i = 0; i < 40 && refusedOn.size < 2; i++) {
        const { err, loop } = await refusal(d, tok);
        assert.equal(err.message, "unauthorized");
        assert.deepEqual(err.data, { code: "connection_limit" });
        refusedOn.add(loop);
      }
      assert.equal(refusedOn.size, 2, "refused on both loops");
      const m = await metrics(d);
      assert.equal(metric(m, "sio_auth_failures_total", { code: "connection_limit" }),
        metric(m, "sio_limit_hits_total", { limit: "connections_per_user" }));
      // a slot given back is usable from either loop
      first.socket.disconnect();
      await sleep(100);
      const again = await connectAs(d, tok);
      assert.equal(again.established.data.user_id, "limited");
      const { err } = await refusal(d, tok);
      assert.deepEqual(err.data, { code: "connection_limit" });
    });

    it("/metrics and /health sum both loops right after an action, whichever loop answers", async () => {
      const d = await startDaemon(THREADS);
      const byLoop = await onBothLoops(d, "fig", 3);
      const held = byLoop[0].length + byLoop[1].length;
      const refusedOn = new Set();
      for (let round = 0; round < 4; round++) {
        const before = await metrics(d);
        const bad = 6;
        for (let i = 0; i < bad; i++) {
          const { err, loop } = await refusal(d, "not-a-jwt");
          assert.deepEqual(err.data, { code: "invalid_token" });
          refusedOn.add(loop);
        }
        // no wait: the scrape must already see all of them
        const m = await metrics(d);
        assert.equal(
          metric(m, "sio_auth_failures_total", { code: "invalid_token" }) -
            metric(before, "sio_auth_failures_total", { code: "invalid_token" }),
          bad,
        );
        assert.equal(metric(m, "sio_sockets", { namespace: "/" }), held);
        assert.equal(metric(m, "sio_loop_up", { loop: "0" }), 1);
        assert.equal(metric(m, "sio_loop_up", { loop: "1" }), 1);
        assert.equal(
          metric(m, "sio_loop_connections", { loop: "0" }) + metric(m, "sio_loop_connections", { loop: "1" }),
          metric(m, "sio_connections", { transport: "polling" }) + metric(m, "sio_connections", { transport: "websocket" }),
        );
        assert.ok(metric(m, "sio_loop_connections", { loop: "0" }) >= byLoop[0].length);
        assert.ok(metric(m, "sio_loop_connections", { loop: "1" }) >= byLoop[1].length);
        const h = await request(`${d.url}/health`);
        assert.equal(h.status, 200);
        assert.equal(h.json.connections.local, held);
      }
      assert.equal(refusedOn.size, 2, "refusals counted on both loops");
      // a client that goes is gone from the figures of its loop
      byLoop[1][0].disconnect();
      let m;
      const deadline = Date.now() + 3000;
      do {
        m = await metrics(d);
      } while (metric(m, "sio_sockets", { namespace: "/" }) !== held - 1 && Date.now() < deadline);
      assert.equal(metric(m, "sio_sockets", { namespace: "/" }), held - 1);
    });

    it("SIGTERM drains both loops: every client is told, and the process exits 0 once they have gone", async () => {
      const d = await startDaemon({ ...THREADS, SIO_SERVER_DRAIN_TIMEOUT_MS: "8000" });
      const byLoop = await onBothLoops(d, "drain", 3);
      const all = [...byLoop[0], ...byLoop[1]];
      const told = all.map((s) =>
        once(s, "connection.error", 5000).then(([env]) => {
          assert.equal(env.data.code, "server_shutdown");
          s.disconnect(); // as a well-behaved client does
        }),
      );
      const t0 = Date.now();
      d.signal("SIGTERM");
      await Promise.all(told);
      const exit = await d.waitExit(5000);
      assert.equal(exit.code, 0);
      assert.ok(Date.now() - t0 < 4000, `exited ${Date.now() - t0} ms after SIGTERM, well before the 8 s bound`);
    });

    it("SIGTERM with clients that stay: both loops close at the drain bound and the process exits 0", async () => {
      const d = await startDaemon({ ...THREADS, SIO_SERVER_DRAIN_TIMEOUT_MS: "1000" });
      const byLoop = await onBothLoops(d, "stay", 2);
      const gone = [...byLoop[0], ...byLoop[1]].map((s) => once(s, "disconnect", 6000));
      const t0 = Date.now();
      d.signal("SIGTERM");
      const exit = await d.waitExit(6000);
      assert.equal(exit.code, 0);
      const took = Date.now() - t0;
      assert.ok(took >= 900 && took < 5000, `exited after ${took} ms (bound 1000 ms)`);
      await Promise.all(gone);
    });

    it("a second SIGTERM during the drain closes both loops at once: exit 0 long before the drain bound", async () => {
      const d = await startDaemon({ ...THREADS, SIO_SERVER_DRAIN_TIMEOUT_MS: "20000" });
      const byLoop = await onBothLoops(d, "twice", 2);
      const told = [...byLoop[0], ...byLoop[1]].map((s) => once(s, "connection.error", 5000));
      const gone = [...byLoop[0], ...byLoop[1]].map((s) => once(s, "disconnect", 5000));
      d.signal("SIGTERM");
      await Promise.all(told);
      const t0 = Date.now();
      d.signal("SIGTERM");
      const exit = await d.waitExit(5000);
      assert.equal(exit.code, 0);
      assert.ok(Date.now() - t0 < 3000, `exited ${Date.now() - t0} ms after the second signal`);
      await Promise.all(gone);
    });

    it("draining with sockets on loop 0 only: loop 1 still answers /metrics and /health (503) on its connections until the last socket leaves, then both close", async () => {
      const d = await startDaemon({ ...THREADS, SIO_SERVER_DRAIN_TIMEOUT_MS: "6000" });
      // a keep-alive connection to loop 1 (its handshake says where it is)
      let raw;
      for (let i = 0; i < 60 && !raw; i++) {
        const h = await rawHandshake(d.port);
        if (h.sid[0] === "B") raw = h;
        else h.sock.destroy();
      }
      assert.ok(raw, "a raw connection on loop 1");
      // one socket, on loop 0 only: loop 1 has none of its own
      let keep;
      for (let i = 0; i < 60 && !keep; i++) {
        const c = await connectAs(d, token(`only0-${i}`));
        if (loopOf(c.socket) === 0) keep = c.socket;
        else {
          c.socket.disconnect();
          await sleep(30);
        }
      }
      assert.ok(keep, "a socket on loop 0");
      const told = once(keep, "connection.error", 5000);
      d.signal("SIGTERM");
      await told;
      await sleep(300); // a loop closing alone would have closed by now
      const t0 = Date.now();
      const r = await rawRequest(raw.sock, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
      assert.ok(Date.now() - t0 < 900, `answered in ${Date.now() - t0} ms, not at the 1 s deadline`);
      assert.equal(r.status, 200);
      assert.match(r.body, /^sio_loop_up\{loop="0"\} 1$/m);
      assert.match(r.body, /^sio_loop_up\{loop="1"\} 1$/m);
      assert.match(r.body, /^sio_sockets\{namespace="\/"\} 1$/m);
      const h = await rawRequest(raw.sock, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
      assert.equal(h.status, 503);
      assert.equal(JSON.parse(h.body).status, "draining");
      assert.equal(JSON.parse(h.body).connections.local, 1);
      const t1 = Date.now();
      keep.disconnect();
      assert.equal((await d.waitExit(5000)).code, 0);
      assert.ok(Date.now() - t1 < 2000, `exited ${Date.now() - t1} ms after the last socket, not at the drain bound`);
      raw.sock.destroy();
    });

    it("SIGHUP applies new keys on both loops; a new server.threads is reported as needing a restart", async () => {
      const dir = tempDir();
      const file = path.join(dir, "sio-server.conf");
      const secretA = "threads-secret-A-0123456789abcdef-0123456789";
      const secretB = "threads-secret-B-0123456789abcdef-0123456789";
      const conf = (secret, epm, threads) =>
        `[server]\nthreads = ${threads}\n[auth]\nsecret = ${secret}\n[limits]\nevents_per_minute = ${epm}\n`;
      writeFileSync(file, conf(secretA, 60, 2));
      const d = await startDaemon({ SIO_SERVER_THREADS: null, SIO_AUTH_SECRET: null }, ["--config", file]);
      assert.equal((await request(`${d.url}/config`)).json.threads, 2);
      const tA = (sub) => token(sub, {}, { key: secretA });
      const tB = (sub) => token(sub, {}, { key: secretB });
      writeFileSync(file, conf(secretB, 120, 3));
      const from = d.stderr().length;
      d.signal("SIGHUP");
      await d.waitStderr(/configuration reloaded/, 5000, from);
      assert.match(d.stderr().slice(from), /server\.threads: changed, but takes effect only after a restart/);
      await sleep(100); // the other loop applies it from its mailbox
      const acceptedOn = new Set();
      for (let i = 0; i < 60 && acceptedOn.size < 2; i++) {
        const { socket, established } = await connectAs(d, tB(`new-${i}`));
        assert.equal(established.data.user_id, `new-${i}`);
        acceptedOn.add(loopOf(socket));
      }
      assert.equal(acceptedOn.size, 2, "the new key works on both loops");
      const refusedOn = new Set();
      for (let i = 0; i < 60 && refusedOn.size < 2; i++) {
        const { err, loop } = await refusal(d, tA(`old-${i}`));
        assert.deepEqual(err.data, { code: "invalid_token" });
        refusedOn.add(loop);
      }
      assert.equal(refusedOn.size, 2, "the old key is refused on both loops");
      for (let i = 0; i < 6; i++) {
        const c = (await request(`${d.url}/config`)).json;
        assert.equal(c.limits.events_per_minute, 120);
        assert.equal(c.threads, 2);
      }
    });

    it("a request for another loop's session is handed to its owner, counted in sio_loop_handoffs_total", async () => {
      const d = await startDaemon(THREADS);
      const { sock, sid } = await rawHandshake(d.port);
      sock.destroy();
      const before = await metrics(d);
      let handed = false;
      // new connections until one lands on the other loop
      for (let i = 0; i < 60 && !handed; i++) {
        const r = await request(`${d.url}/socket.io/?EIO=4&transport=polling&sid=${sid}`, {
          method: "POST",
          headers: { "Content-Type": "text/plain;charset=UTF-8" },
          body: "6",
        });
        assert.equal(r.status, 200, `POST for ${sid}: ${r.body}`);
        assert.equal(r.body, "ok");
        const m = await metrics(d);
        handed = metric(m, "sio_loop_handoffs_total", { outcome: "handed" }) >
          metric(before, "sio_loop_handoffs_total", { outcome: "handed" });
        if (handed) {
          assert.equal(metric(m, "sio_loop_handoffs_total", { outcome: "handed" }) -
            metric(before, "sio_loop_handoffs_total", { outcome: "handed" }), 1);
          assert.equal(metric(m, "sio_loop_handoffs_total", { outcome: "adopted" }) -
            metric(before, "sio_loop_handoffs_total", { outcome: "adopted" }), 1);
          assert.equal(metric(m, "sio_loop_handoffs_total", { outcome: "failed" }), 0);
        }
      }
      assert.ok(handed, "a POST reached the other loop and was handed over");
    });

    it("garbage on loop 1's connection closes that connection only: loop 0's clients go on", async () => {
      const d = await startDaemon(THREADS);
      const byLoop = await onBothLoops(d, "garbage", 2);
      let raw;
      for (let i = 0; i < 60; i++) {
        raw = await rawHandshake(d.port);
        if (raw.sid[0] === "B") break;
        raw.sock.destroy();
        raw = null;
      }
      assert.ok(raw, "a raw connection holding a session of loop 1");
      const closed = new Promise((resolve) => raw.sock.once("close", resolve));
      raw.sock.on("data", () => {});
      raw.sock.write("\x00\x01\x02 NOT HTTP \xff\r\n\r\n");
      await closed;
      // loop 0's clients still answer, and new clients connect on both loops
      for (const s of byLoop[0]) {
        const res = await new Promise((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error("no ping ack")), 3000);
          s.emit("ping", {}, (r) => {
            clearTimeout(timer);
            resolve(r);
          });
        });
        assert.equal(res.pong, true);
      }
      await onBothLoops(d, "after-garbage", 1);
      assert.equal((await request(`${d.url}/health`)).status, 200);
    });
  });
}
