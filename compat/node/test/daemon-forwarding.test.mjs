// Sticky-free Engine.IO (SPEC §2, engine.forwarding): two daemons on one
// redis-server; a request for a session the other instance owns is carried
// to its owner over Redis in the messages of @socket.io/cluster-engine's
// RedisEngine, and answered as if it had gone there. Driven with raw
// Engine.IO requests aimed at each instance on purpose (the balancer suites
// in compat/lb drive the stock client through nginx and HAProxy), and a
// peer on the bus that speaks the protocol with @socket.io/msgpack's
// encoder, as the Node engine does.
import assert from "node:assert/strict";
import http from "node:http";
import { encode, decode } from "@msgpack/msgpack";
import { createClient } from "redis";
import WebSocket from "ws";
import {
  API_KEY, daemonPath, metric, metrics, publish, request, sleep, startDaemon,
  stopAllDaemons, token,
} from "./daemon-harness.mjs";
import { haveRedisServer, startRedis } from "./redis-harness.mjs";

const why = !daemonPath()
  ? "SIO_DAEMON is not set"
  : !haveRedisServer()
    ? "redis-server not found"
    : null;

const CT = { "Content-Type": "text/plain;charset=UTF-8" };
let seq = 0;
const uniq = () => `${process.pid}-${++seq}`;

async function waitFor(cond, ms, what) {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms: ${what}`);
    await sleep(25);
  }
}

const poll = (d, sid) => `${d.url}/socket.io/?EIO=4&transport=polling&sid=${sid}`;

async function handshake(d) {
  const r = await request(`${d.url}/socket.io/?EIO=4&transport=polling`);
  assert.equal(r.status, 200, r.body);
  return JSON.parse(r.body.slice(1)).sid;
}

// GETs on d until the payloads so far match re; resolves with them.
async function pollUntil(d, sid, re, tries = 5) {
  let got = "";
  for (let i = 0; i < tries && !re.test(got); i++) {
    const r = await request(poll(d, sid));
    assert.equal(r.status, 200, r.body);
    got += (got ? "\x1e" : "") + r.body;
  }
  assert.match(got, re);
  return got;
}

const forwarded = async (d, outcome) =>
  metric(await metrics(d), "sio_forwarded_total", { outcome });
const sockets = async (d) => metric(await metrics(d), "sio_sockets", { namespace: "/" });

// A WebSocket upgrade of sid on d: resolves once "3probe" came back, with
// the socket and the text frames received after it.
function probe(d, sid) {
  const ws = new WebSocket(`${d.url.replace("http", "ws")}/socket.io/?EIO=4&transport=websocket&sid=${sid}`);
  const frames = [];
  ws.frames = frames;
  ws.on("message", (data, binary) => frames.push(binary ? data : data.toString()));
  return new Promise((resolve, reject) => {
    ws.once("error", reject);
    ws.once("unexpected-response", (req, res) => reject(new Error(`upgrade: HTTP ${res.statusCode}`)));
    ws.once("open", () => ws.send("2probe"));
    const check = setInterval(() => {
      if (frames[0] === "3probe") {
        clearInterval(check);
        frames.shift();
        resolve(ws);
      }
    }, 5);
    ws.once("close", () => {
      clearInterval(check);
      reject(new Error("closed before 3probe"));
    });
  });
}

async function frame(ws, match, ms = 3000) {
  await waitFor(() => ws.frames.some((f) => match.test(f)), ms, `a frame matching ${match} (got ${JSON.stringify(ws.frames)})`);
  const i = ws.frames.findIndex((f) => match.test(f));
  return ws.frames.splice(i, 1)[0];
}

(why ? describe.skip : describe)(`daemon: sticky-free forwarding between instances${why ? ` (skipped: ${why})` : ""}`, function () {
  this.timeout(20000);
  let redis, a, b, bus;

  before(async () => {
    redis = await startRedis();
    const env = {
      SIO_REDIS_URL: redis.url,
      SIO_ENGINE_PING_INTERVAL_MS: "400",
      SIO_ENGINE_PING_TIMEOUT_MS: "1500",
    };
    a = await startDaemon({ ...env, SIO_SERVER_ID: "fw-a" });
    b = await startDaemon({ ...env, SIO_SERVER_ID: "fw-b" });
    for (const d of [a, b]) await d.waitStderr(/redis: connected/, 5000);
    bus = createClient({ url: redis.url });
    await bus.connect();
  });

  after(async () => {
    if (bus) await bus.quit().catch(() => {});
    await stopAllDaemons();
    if (redis) await redis.stop();
  });

  it("a POST and a GET for A's session, sent to B, reach A: the CONNECT is answered through B", async () => {
    const sid = await handshake(a);
    const carried = await forwarded(b, "carried");
    const post = await request(poll(b, sid), {
      method: "POST", headers: CT, body: `40${JSON.stringify({ token: token(`fw-${uniq()}`) })}`,
    });
    assert.equal(post.status, 200, post.body);
    assert.equal(post.body, "ok");
    const got = await pollUntil(b, sid, /42\["connection\.established",\{.*"server_id":"fw-a"/s);
    assert.match(got, /^40\{"sid":"[^"]+"/);
    assert.equal(await forwarded(b, "carried"), carried + 2);
    assert.ok((await forwarded(a, "served")) >= 2);
    await request(poll(a, sid), { method: "POST", headers: CT, body: "1" });
  });

  it("an upgrade on B while A holds the new session's open: B takes the session over, with the CONNECT A received", async () => {
    const sid = await handshake(a);
    const before = { taken: await forwarded(b, "taken_over"), handed: await forwarded(a, "handed_over") };
    const post = await request(poll(a, sid), {
      method: "POST", headers: CT, body: `40${JSON.stringify({ token: token(`fw-${uniq()}`) })}`,
    });
    assert.equal(post.body, "ok");
    const ws = await probe(b, sid);
    ws.send("5");
    const connect = await frame(ws, /^40/);
    assert.match(connect, /^40\{"sid":"/);
    const est = await frame(ws, /^42\["connection\.established"/);
    assert.match(est, /"server_id":"fw-b"/, "the session now lives on B");
    ws.send('421["ping"]');
    assert.match(await frame(ws, /^431/), /^431\[/);
    assert.equal(await forwarded(b, "taken_over"), before.taken + 1);
    assert.equal(await forwarded(a, "handed_over"), before.handed + 1);
    // A forgot it: B refuses a polling request for a WebSocket session
    const get = await request(poll(a, sid));
    assert.equal(get.status, 400);
    ws.close();
  });

  it("an upgrade on B after A connected the session: B proxies it; A's events, acks and the close cross Redis", async () => {
    const user = `fw-${uniq()}`;
    const room = `project:fw-${uniq()}`;
    const sid = await handshake(a);
    await request(poll(a, sid), {
      method: "POST", headers: CT, body: `40${JSON.stringify({ token: token(user, { projects: ["*"] }) })}`,
    });
    await pollUntil(a, sid, /"server_id":"fw-a"/); // after the hold: connected on A
    const proxied = await forwarded(b, "proxied");
    const socketsOnA = await sockets(a);
    const ws = await probe(b, sid);
    ws.send("5");
    await waitFor(async () => (await forwarded(b, "proxied")) === proxied + 1, 3000, "B proxies");
    ws.send(`421${JSON.stringify(["subscribe", { room }])}`);
    assert.deepEqual(JSON.parse((await frame(ws, /^431/)).slice(3)), [{ ok: true, rooms: [room] }]);
    const res = await publish(a, { rooms: [room], event: "project.updated", data: { n: 1 } });
    assert.equal(res.status, 202, res.body);
    const ev = JSON.parse((await frame(ws, /^42\["project\.updated"/)).slice(2));
    assert.deepEqual(ev[1].data, { n: 1 });
    // pings from A come through B, and the pongs go back: still connected
    await frame(ws, /^2$/);
    ws.send("3");
    await sleep(900);
    assert.equal(await sockets(a), socketsOnA);
    ws.close();
    await waitFor(async () => (await sockets(a)) === socketsOnA - 1, 3000, "A ends the session when B's WebSocket closes");
  });

  it("a GET carried to A whose client goes away ends the session on A, as a dropped poll does", async () => {
    const sid = await handshake(a);
    await request(poll(a, sid), {
      method: "POST", headers: CT, body: `40${JSON.stringify({ token: token(`fw-${uniq()}`) })}`,
    });
    await pollUntil(a, sid, /connection\.established/);
    await pollUntil(a, sid, /(^|\x1e)2($|\x1e)/); // a ping: the next is 400 ms away
    await request(poll(a, sid), { method: "POST", headers: CT, body: "3" });
    const n = await sockets(a);
    const req = http.get(poll(b, sid)); // waits on B for A's output
    req.on("error", () => {});
    await sleep(100);
    req.destroy();
    const t0 = Date.now();
    await waitFor(async () => (await sockets(a)) === n - 1, 3000, "the session closed on A");
    assert.ok(Date.now() - t0 < 1000, `closed ${Date.now() - t0} ms after, not by the ping timeout (1500 ms)`);
  });

  it("a sid nobody owns: HTTP 400 {code:1} from each instance after the 1 s answer deadline, and a WebSocket upgrade 400", async () => {
    const unknown = await forwarded(b, "unknown");
    const t0 = Date.now();
    const r = await request(poll(b, "ZZZZZZZZZZZZZZZZZZZZ"));
    assert.equal(r.status, 400);
    assert.deepEqual(r.json, { code: 1, message: "Session ID unknown" });
    assert.ok(Date.now() - t0 >= 900);
    await assert.rejects(probe(b, "YYYYYYYYYYYYYYYYYYYY"), /HTTP 400/);
    assert.equal(await forwarded(b, "unknown"), unknown + 2);
    // a sid of another length is not asked about: at once
    const t1 = Date.now();
    const short = await request(poll(b, "short"));
    assert.equal(short.status, 400);
    assert.ok(Date.now() - t1 < 500);
  });

  it("garbage and foreign messages on the engine.io# channels are counted or ignored; nothing breaks", async () => {
    const bad = await forwarded(a, "bad_message");
    await bus.publish("engine.io#", Buffer.from([0xc1, 0xff, 0x00]));
    await bus.publish("engine.io#", Buffer.from(encode([1, 2, 3])));
    await bus.publish("engine.io#", Buffer.from(encode({ senderId: "abcdef", type: 9, data: {}, _source: "_eio" })));
    // another program's message (no _source "_eio"): ignored, not counted
    await bus.publish("engine.io#", Buffer.from(encode({ senderId: "abcdef", type: 0, requestId: 1, data: { sid: "x".repeat(20), transportName: "polling", type: "read" } })));
    // a DRAIN for a sid nobody reads, and a CLOSE for one nobody has
    await bus.publish("engine.io#", Buffer.from(encode({ senderId: "abcdef", recipientId: "zzzzzz", type: 2, data: { sid: "q".repeat(20), packets: [{ type: "message", data: "x" }] }, _source: "_eio" })));
    await waitFor(async () => (await forwarded(a, "bad_message")) >= bad + 3, 3000, "three bad messages counted");
    // still forwarding
    const sid = await handshake(a);
    const r = await request(poll(b, sid), { method: "POST", headers: CT, body: "1" });
    assert.equal(r.body, "ok");
  });

  it("speaks @socket.io/cluster-engine's messages: a peer on the bus that takes a lock on A's session gets its output as a DRAIN and closes it", async () => {
    const sid = await handshake(a);
    const peer = "c0ffee";
    const inbox = [];
    const sub = bus.duplicate();
    await sub.connect();
    await sub.subscribe(`engine.io#${peer}#`, (msg) => inbox.push(decode(msg)), true);
    const send = (m) => bus.publish(m.recipientId ? `engine.io#${m.recipientId}#` : "engine.io#",
      Buffer.from(encode({ ...m, _source: "_eio" })));
    await send({ requestId: 7, senderId: peer, type: 0, data: { sid, transportName: "polling", type: "read" } });
    await waitFor(() => inbox.length >= 2, 3000, "lock answer and drain");
    const [ans, drain] = inbox;
    assert.equal(ans.type, 1);
    assert.equal(ans.requestId, 7);
    assert.equal(ans.recipientId, peer);
    assert.equal(ans.data.success, true);
    assert.equal(ans._source, "_eio");
    assert.match(ans.senderId, /^[0-9a-f]{6}$/);
    assert.equal(drain.type, 2);
    assert.equal(drain.data.sid, sid);
    assert.deepEqual(drain.data.packets.map((p) => p.type), ["ping"], "A's heartbeat, drained to the peer");
    // a second reader while one waits is refused, as overlapping polls are
    await send({ requestId: 8, senderId: peer, type: 0, data: { sid, transportName: "websocket", type: "read" } });
    await waitFor(() => inbox.length >= 3, 3000, "the upgrade lock answer");
    assert.equal(inbox[2].requestId, 8);
    assert.equal(inbox[2].data.success, true, "an upgrade through the peer may start");
    await send({ requestId: 9, senderId: peer, recipientId: ans.senderId, type: 4, data: { sid, success: false } });
    await send({ senderId: peer, recipientId: ans.senderId, type: 6, data: { sid, reason: "transport close" } });
    await waitFor(async () => (await request(poll(a, sid))).status === 400, 3000, "the session closed on A");
    // a POST the peer could not parse comes as engine.io-parser's error
    // packet: the owner closes the session, as a Node owner does
    const sid2 = await handshake(a);
    await request(poll(a, sid2), {
      method: "POST", headers: CT, body: `40${JSON.stringify({ token: token(`fw-${uniq()}`) })}`,
    });
    await pollUntil(a, sid2, /connection\.established/);
    const n = await sockets(a);
    const t0 = Date.now();
    await send({ senderId: peer, recipientId: ans.senderId, type: 3, data: { sid: sid2, packet: { type: "error", data: "parser error" } } });
    await waitFor(async () => (await sockets(a)) === n - 1, 3000, "the session closed on A");
    assert.ok(Date.now() - t0 < 1000, `closed ${Date.now() - t0} ms after: by the error packet, not by its ping timeout`);
    await sub.quit();
  });

  it("the owner dies: a GET waiting on B for it is answered with a close packet within pingInterval + pingTimeout", async () => {
    const c = await startDaemon({ SIO_REDIS_URL: redis.url, SIO_SERVER_ID: "fw-c", SIO_ENGINE_PING_INTERVAL_MS: "400", SIO_ENGINE_PING_TIMEOUT_MS: "1500" });
    await c.waitStderr(/redis: connected/, 5000);
    const sid = await handshake(c);
    const first = await request(poll(b, sid)); // the ping, carried
    assert.equal(first.body, "2");
    const pending = request(poll(b, sid));
    await sleep(100);
    c.child.kill("SIGKILL");
    const t0 = Date.now();
    const r = await pending;
    assert.equal(r.status, 200);
    assert.equal(r.body, "1");
    assert.ok(Date.now() - t0 < 3500, `answered after ${Date.now() - t0} ms`);
  });

  it("Redis killed and back on its port: forwarding is refused at once while it is down, and works again once the instances reconnect", async () => {
    const port = redis.port;
    await bus.quit().catch(() => {});
    bus = null;
    const sid = await handshake(a);
    const old = redis;
    process.kill(old.pid, "SIGKILL");
    await sleep(200);
    await old.stop(); // reaped, its directory removed
    const t0 = Date.now();
    const down = await request(poll(b, sid), { method: "POST", headers: CT, body: "6" });
    assert.equal(down.status, 400, "no bus: the sid is unknown here");
    assert.ok(Date.now() - t0 < 500, "at once, not after the answer deadline");
    const from = [a.err.length, b.err.length];
    redis = await startRedis({ port });
    await a.waitStderr(/redis: connected/, 5000, from[0]);
    await b.waitStderr(/redis: connected/, 5000, from[1]);
    const sid2 = await handshake(a); // the first one's heartbeat may be over
    await waitFor(async () => (await request(poll(b, sid2), { method: "POST", headers: CT, body: "6" })).status === 200,
      5000, "B carries A's sessions again");
    bus = createClient({ url: redis.url });
    await bus.connect();
  });

  it("with engine.forwarding = false an instance does not ask: the other's sid is unknown at once", async () => {
    const d = await startDaemon({ SIO_REDIS_URL: redis.url, SIO_SERVER_ID: "fw-off", SIO_ENGINE_FORWARDING: "false" });
    await d.waitStderr(/redis: connected/, 5000);
    const sid = await handshake(a);
    const t0 = Date.now();
    const r = await request(poll(d, sid), { method: "POST", headers: CT, body: "1" });
    assert.equal(r.status, 400);
    assert.ok(Date.now() - t0 < 500);
    assert.equal(await forwarded(d, "carried"), 0);
  });
});
