// End-to-end tests of the close path (SPEC §2 "Close semantics",
// limits.close_timeout_ms in SPEC §4): a peer that is still sending when
// the server closes receives the last bytes (no RST), and a peer that stops
// reading loses its connection and fd within close_timeout_ms.
//
// The daemon is SIO_DAEMON; without it the file is skipped.

import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import http from "node:http";
import WebSocket from "ws";
import {
  API_KEY,
  closeClients,
  connectAs,
  daemonPath,
  metric,
  metrics,
  once,
  publish,
  sleep,
  startDaemon,
  stopAllDaemons,
  token,
} from "./daemon-harness.mjs";

const fdCount = (pid) => readdirSync(`/proc/${pid}/fd`).length;

// Resolves when cond() is true, polling; rejects after ms.
async function until(cond, ms, what) {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await sleep(20);
  }
}

// A WebSocket client that joined "/" with its token, then stops reading.
async function stuckClient(d, sub) {
  const ws = new WebSocket(`ws://127.0.0.1:${d.port}/socket.io/?EIO=4&transport=websocket`);
  ws.on("error", () => {});
  const joined = new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${sub}: no CONNECT`)), 10000);
    ws.on("message", (m) => {
      const s = m.toString();
      if (s.startsWith("0{")) ws.send(`40${JSON.stringify({ token: token(sub) })}`);
      if (s.startsWith("40")) {
        clearTimeout(t);
        resolve();
      }
    });
  });
  await joined;
  ws._socket.pause(); // stops reading: the kernel queues fill, then ours
  return ws;
}

// POSTs body to /api/v1/emit while still writing it; resolves with the
// status or the socket error code the client saw.
function bigEmit(d, size) {
  return new Promise((resolve) => {
    const req = http.request(
      {
        host: "127.0.0.1",
        port: d.port,
        path: "/api/v1/emit",
        method: "POST",
        headers: {
          Authorization: `Bearer ${API_KEY}`,
          "Content-Type": "application/json",
          "Content-Length": size,
        },
      },
      (res) => {
        res.resume();
        resolve({ status: res.statusCode });
      },
    );
    req.on("error", (e) => resolve({ error: e.code }));
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    let left = size;
    const pump = () => {
      while (left > 0) {
        const n = Math.min(left, chunk.length);
        left -= n;
        if (!req.write(chunk.subarray(0, n))) return req.once("drain", pump);
      }
      req.end();
    };
    pump();
  });
}

(daemonPath() ? describe : describe.skip)("daemon close path", function () {
  this.timeout(60000);
  afterEach(() => closeClients());
  after(() => stopAllDaemons());

  it("answers 413 to a 2 MB /api/v1/emit body the client is still sending (no ECONNRESET)", async () => {
    const d = await startDaemon();
    for (let i = 0; i < 5; i++) {
      const r = await bigEmit(d, 2 * 1024 * 1024);
      assert.deepEqual(r, { status: 413 }, `attempt ${i}`);
    }
  });

  it("closes a WebSocket with 1009 on a message over max_payload sent while the peer still sends", async () => {
    const d = await startDaemon({ SIO_ENGINE_MAX_PAYLOAD: "1000" });
    const codes = [];
    for (let i = 0; i < 5; i++) {
      const ws = new WebSocket(`ws://127.0.0.1:${d.port}/socket.io/?EIO=4&transport=websocket`);
      const closed = new Promise((resolve) => ws.on("close", (code) => resolve(code)));
      ws.on("error", () => {});
      await once(ws, "open");
      // the server closes on the first frame's header, 8 MB still to come
      for (let k = 0; k < 4; k++) ws.send(`4${"x".repeat(2 * 1024 * 1024)}`);
      codes.push(await closed);
    }
    assert.deepEqual(codes, [1009, 1009, 1009, 1009, 1009]);
  });

  it("rate-limit disconnect reaches the client: connection.error, io server disconnect, no reconnect", async () => {
    const d = await startDaemon({ SIO_LIMITS_EVENTS_PER_MINUTE: "6", SIO_LIMITS_EVENTS_BURST: "3" });
    const { socket } = await connectAs(d, token("flooder"), { transports: ["websocket"] });
    const errP = once(socket, "connection.error");
    const discP = once(socket, "disconnect");
    let reconnects = 0;
    socket.io.on("reconnect_attempt", () => reconnects++);
    // keeps sending while the server closes it
    const big = "y".repeat(500);
    for (let i = 0; i < 400; i++) socket.emit("ping", big);
    const [env] = await errP;
    assert.equal(env.data.code, "rate_limited");
    const [reason] = await discP;
    assert.equal(reason, "io server disconnect");
    await sleep(1500);
    assert.equal(reconnects, 0);
    assert.equal(socket.connected, false);
  });

  it("releases the fds of 200 non-reading clients within close_timeout_ms", async () => {
    const CLOSE_MS = 1000;
    const d = await startDaemon({
      SIO_LIMITS_CLOSE_TIMEOUT_MS: String(CLOSE_MS),
      SIO_LIMITS_MAX_BUFFERED_BYTES: "65536",
    });
    const fd0 = fdCount(d.pid);
    const N = 200;
    const clients = [];
    for (let i = 0; i < N; i++) clients.push(await stuckClient(d, `stuck${i}`));
    assert.ok(fdCount(d.pid) >= fd0 + N);
    const data = "z".repeat(256 * 1024);
    const t0 = Date.now();
    let lastPublish = t0;
    // publish until every client is a slow consumer (its session ended)
    await until(
      async () => {
        const r = await publish(d, { rooms: ["global"], event: "project.updated", data: { s: data } });
        lastPublish = Date.now();
        assert.equal(r.status, 202);
        const m = await metrics(d);
        return metric(m, "sio_limit_hits_total", { limit: "slow_consumer" }) >= N;
      },
      30000,
      "200 slow consumers",
    );
    const tSlow = Date.now();
    await until(() => fdCount(d.pid) <= fd0 + 2, CLOSE_MS + 2000, "fds released");
    const released = Date.now() - tSlow;
    const m = await metrics(d);
    console.log(
      `      200 stuck clients: slow after ${tSlow - t0} ms, fds released ` +
        `${released} ms later (close_timeout_ms ${CLOSE_MS}); ` +
        `close timeouts ${metric(m, "sio_close_timeouts_total")}`,
    );
    assert.ok(Date.now() - lastPublish <= CLOSE_MS + 1000, "released within close_timeout_ms");
    assert.ok(metric(m, "sio_close_timeouts_total") >= N, "counted in /metrics");
    for (const ws of clients) ws.terminate();
  });

  it("a SIGTERM drain with stuck clients exits within drain_timeout_ms + close_timeout_ms", async () => {
    const DRAIN_MS = 1000;
    const CLOSE_MS = 1000;
    const d = await startDaemon({
      SIO_SERVER_DRAIN_TIMEOUT_MS: String(DRAIN_MS),
      SIO_LIMITS_CLOSE_TIMEOUT_MS: String(CLOSE_MS),
      SIO_LIMITS_MAX_BUFFERED_BYTES: "65536",
    });
    // quiet: sessions alive, not reading; slow: not reading, and their
    // sessions ended as slow consumers, their closes waiting on a flush
    // that never completes
    const N = 10;
    const clients = [];
    for (let i = 0; i < N; i++) clients.push(await stuckClient(d, `quiet${i}`));
    for (let i = 0; i < N; i++) clients.push(await stuckClient(d, `slow${i}`));
    const data = "w".repeat(256 * 1024);
    await until(
      async () => {
        const rooms = [];
        for (let i = 0; i < N; i++) rooms.push(`user:slow${i}`);
        await publish(d, { rooms, event: "project.updated", data: { s: data } });
        const m = await metrics(d);
        return metric(m, "sio_limit_hits_total", { limit: "slow_consumer" }) >= N;
      },
      30000,
      "slow consumers",
    );
    const t0 = Date.now();
    d.signal("SIGTERM");
    const ex = await d.waitExit(DRAIN_MS + CLOSE_MS + 3000);
    const took = Date.now() - t0;
    console.log(`      drain with ${2 * N} stuck clients: exit after ${took} ms (bound ${DRAIN_MS + CLOSE_MS} ms)`);
    assert.equal(ex.code, 0);
    // slack for exit itself (ASan builds, a loaded CI machine)
    assert.ok(took <= DRAIN_MS + CLOSE_MS + 1000, `exited after ${took} ms`);
    for (const ws of clients) ws.terminate();
  });

  it("a second SIGTERM during a drain with stuck clients exits at once", async () => {
    const d = await startDaemon({
      SIO_SERVER_DRAIN_TIMEOUT_MS: "20000",
      SIO_LIMITS_CLOSE_TIMEOUT_MS: "20000",
      SIO_LIMITS_MAX_BUFFERED_BYTES: "65536",
    });
    const N = 5;
    const clients = [];
    for (let i = 0; i < N; i++) clients.push(await stuckClient(d, `quiet${i}`));
    for (let i = 0; i < N; i++) clients.push(await stuckClient(d, `slow${i}`));
    const rooms = [];
    for (let i = 0; i < N; i++) rooms.push(`user:slow${i}`);
    const data = "w".repeat(256 * 1024);
    await until(
      async () => {
        await publish(d, { rooms, event: "project.updated", data: { s: data } });
        const m = await metrics(d);
        return metric(m, "sio_limit_hits_total", { limit: "slow_consumer" }) >= N;
      },
      30000,
      "slow consumers",
    );
    d.signal("SIGTERM");
    await d.waitStderr(/draining/, 5000);
    const t0 = Date.now();
    d.signal("SIGTERM");
    const ex = await d.waitExit(3000);
    const took = Date.now() - t0;
    console.log(`      second SIGTERM: exit after ${took} ms (drain and close bounds 20000 ms)`);
    assert.equal(ex.code, 0);
    for (const ws of clients) ws.terminate();
  });
});
