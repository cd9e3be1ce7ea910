// Replay from the last event id on one daemon (SPEC §3, issue 11 item 2):
// the stock socket.io-client reconnects with auth {last_event_id} (or
// ?last_event_id=) and gets, right after connection.established, what its
// automatic rooms missed, in publish order, before anything newer; a
// subscribe with "since" replays that room before its ack. "replayed" and
// "complete" say whether the client must refetch. Nothing is appended to
// the events (one argument each), a foreign id never yields another user's
// events, and the history is bounded and counted in /metrics.
import assert from "node:assert/strict";
import {
  startDaemon, stopAllDaemons, closeClients, client, token, publish, once,
  ack, sleep, daemonPath, metrics, metric,
} from "./daemon-harness.mjs";
import { haveRedisServer, startRedis } from "./redis-harness.mjs";
import { createClient } from "redis";
import { Emitter } from "@socket.io/redis-emitter";
import { randomUUID } from "node:crypto";

// Every event a socket receives, in order, with its arguments.
function recorder(socket) {
  const rec = { all: [] };
  socket.onAny((event, ...args) => rec.all.push({ event, args }));
  rec.names = () => rec.all.map((e) => e.event);
  rec.ns = () => rec.all.filter((e) => e.event === "issue.updated").map((e) => e.args[0].data.n);
  return rec;
}

async function emit(d, rooms, n) {
  const r = await publish(d, { rooms, event: "issue.updated", data: { n } });
  assert.equal(r.status, 202, r.body);
  return r.json.event_id;
}

// Connects (recording from the first packet); resolves after
// connection.established with its envelope.
async function connectRec(d, tok, opts = {}) {
  const socket = client(d, { transports: ["websocket"], ...opts, auth: { token: tok, ...(opts.auth || {}) } });
  const rec = recorder(socket);
  const est = once(socket, "connection.established");
  await once(socket, "connect");
  const [env] = await est;
  return { socket, rec, established: env };
}

async function waitFor(pred, ms = 3000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (pred()) return;
    await sleep(20);
  }
  assert.ok(pred(), "condition not met in time");
}

(daemonPath() ? describe : describe.skip)("daemon: replay from the last event id", function () {
  this.timeout(60000);
  afterEach(() => closeClients());
  after(() => stopAllDaemons());

  describe("defaults (in memory, replay.enabled = true)", function () {
    let d;
    before(async () => {
      d = await startDaemon({});
    });

    it("auth.last_event_id: the automatic rooms' missed events right after connection.established, in order, one argument each", async () => {
      const tok = token("rp-a");
      const first = await connectRec(d, tok);
      const last = once(first.socket, "issue.updated");
      const id0 = await emit(d, ["global"], 0);
      const [env0] = await last;
      assert.equal(env0.event_id, id0);
      first.socket.disconnect();
      await emit(d, ["global"], 1);
      await emit(d, ["user:rp-a"], 2);
      await emit(d, ["user:rp-other"], 99); // not this user's
      await emit(d, ["project:7"], 98); // a room it is not in
      await emit(d, ["global", "user:rp-a"], 3); // two rooms: once
      const again = await connectRec(d, tok, { auth: { last_event_id: id0 } });
      assert.equal(again.established.data.replayed, 3);
      assert.equal(again.established.data.complete, true);
      await waitFor(() => again.rec.ns().length >= 3);
      const live = once(again.socket, "issue.updated");
      await emit(d, ["global"], 4);
      await live;
      await sleep(100);
      assert.deepEqual(again.rec.names(), ["connection.established", "issue.updated",
        "issue.updated", "issue.updated", "issue.updated"]);
      assert.deepEqual(again.rec.ns(), [1, 2, 3, 4]);
      for (const e of again.rec.all) assert.equal(e.args.length, 1, "nothing appended to the event");
    });

    it("?last_event_id= in the query works like the auth field", async () => {
      const tok = token("rp-q");
      const id0 = await emit(d, ["user:rp-q"], 0);
      await emit(d, ["user:rp-q"], 1);
      const c = await connectRec(d, tok, { query: { last_event_id: id0 } });
      assert.equal(c.established.data.replayed, 1);
      assert.equal(c.established.data.complete, true);
      await waitFor(() => c.rec.ns().length === 1);
      assert.deepEqual(c.rec.ns(), [1]);
    });

    it("an unknown id: nothing replayed, complete false (refetch); no id: no replay fields", async () => {
      const tok = token("rp-u");
      await emit(d, ["user:rp-u"], 1);
      const c = await connectRec(d, tok, { auth: { last_event_id: "00000000-0000-4000-8000-000000000000" } });
      assert.equal(c.established.data.replayed, 0);
      assert.equal(c.established.data.complete, false);
      const plain = await connectRec(d, tok);
      assert.equal("replayed" in plain.established.data, false);
      assert.equal("complete" in plain.established.data, false);
      await sleep(200);
      assert.deepEqual(c.rec.ns(), []);
      assert.deepEqual(plain.rec.ns(), []);
    });

    it("bad ids on every entry point are answered, never crash: a number, an empty string, 10 kB, a NUL", async () => {
      const tok = token("rp-bad");
      for (const bad of [42, "", "x".repeat(10000), { a: 1 }]) {
        const c = await connectRec(d, tok, { auth: { last_event_id: bad } });
        assert.equal(c.established.data.replayed, 0, JSON.stringify(bad).slice(0, 20));
        assert.equal(c.established.data.complete, false);
        c.socket.disconnect();
      }
      const q = await connectRec(d, tok, { query: { last_event_id: "a\u0000b" } });
      assert.equal(q.established.data.complete, false);
      for (const bad of [42, "", "y".repeat(200), ["a"]]) {
        const res = await ack(q.socket, "subscribe", { room: "global", since: bad });
        assert.equal(res.ok, false);
        assert.equal(res.error.code, "bad_request");
      }
      assert.equal((await ack(q.socket, "ping", {})).pong, true);
    });

    it("a foreign id never yields another user's events", async () => {
      const victim = token("rp-victim");
      const v = await connectRec(d, victim);
      const got = once(v.socket, "issue.updated");
      const secret0 = await emit(d, ["user:rp-victim"], 0);
      await got;
      await emit(d, ["user:rp-victim"], 1);
      await emit(d, ["global"], 2);
      await emit(d, ["user:rp-victim"], 3);
      const thief = await connectRec(d, token("rp-thief"), { auth: { last_event_id: secret0 } });
      await sleep(300);
      assert.deepEqual(thief.rec.ns(), [2], "only the shared global event after that id");
      assert.equal(thief.established.data.replayed, 1);
      // nor through subscribe: the victim's room is refused, nothing replayed
      const res = await ack(thief.socket, "subscribe", { room: "user:rp-victim", since: secret0 });
      assert.equal(res.ok, false);
      assert.equal(res.error.code, "forbidden");
      await sleep(200);
      assert.deepEqual(thief.rec.ns(), [2]);
    });

    it("subscribe with since: the room's missed events before the ack, then the ack says replayed/complete", async () => {
      const tok = token("rp-s", { projects: ["5"] });
      const first = await connectRec(d, tok);
      assert.equal((await ack(first.socket, "subscribe", { room: "project:5" })).ok, true);
      const got = once(first.socket, "issue.updated");
      const id0 = await emit(d, ["project:5"], 0);
      await got;
      first.socket.disconnect();
      for (let i = 1; i <= 5; i++) await emit(d, ["project:5"], i);
      const c = await connectRec(d, tok);
      let acked = null;
      const res = await new Promise((resolve) => {
        c.socket.emit("subscribe", { room: "project:5", since: id0 }, (r) => {
          acked = c.rec.ns().slice();
          resolve(r);
        });
      });
      assert.equal(res.ok, true);
      assert.deepEqual(res.rooms, ["project:5"]);
      assert.equal(res.replayed, 5);
      assert.equal(res.complete, true);
      assert.deepEqual(acked, [1, 2, 3, 4, 5], "every missed event arrived before the ack");
      // a subscribe without since has no replay fields
      const plain = await ack(c.socket, "subscribe", { room: "project:5" });
      assert.equal("replayed" in plain, false);
    });

    it("/metrics counts the history and the replays", async () => {
      const before = await metrics(d);
      const tok = token("rp-m");
      const id0 = await emit(d, ["user:rp-m"], 0);
      await emit(d, ["user:rp-m"], 1);
      await connectRec(d, tok, { auth: { last_event_id: id0 } });
      await connectRec(d, tok, { auth: { last_event_id: "unknown-id" } });
      await sleep(100);
      const m = await metrics(d);
      assert.equal(m.types.get("sio_replay_events"), "gauge");
      assert.ok(metric(m, "sio_replay_events") >= 2);
      assert.ok(metric(m, "sio_replay_bytes") > 0);
      assert.equal(metric(m, "sio_replays_total", { complete: "true" }) -
        metric(before, "sio_replays_total", { complete: "true" }), 1);
      assert.equal(metric(m, "sio_replays_total", { complete: "false" }) -
        metric(before, "sio_replays_total", { complete: "false" }), 1);
      assert.ok(metric(m, "sio_replayed_events_total") - metric(before, "sio_replayed_events_total") >= 1);
    });
  });

  describe("bounds", function () {
    it("replay.max_events = 3: an id pushed out by newer events gives complete false", async () => {
      const d = await startDaemon({ SIO_REPLAY_MAX_EVENTS: "3" });
      const tok = token("rp-b");
      const id0 = await emit(d, ["user:rp-b"], 0);
      const id1 = await emit(d, ["user:rp-b"], 1);
      for (let i = 2; i <= 5; i++) await emit(d, ["user:rp-b"], i);
      const old = await connectRec(d, tok, { auth: { last_event_id: id0 } });
      assert.equal(old.established.data.complete, false);
      assert.equal(old.established.data.replayed, 0);
      const m = await metrics(d);
      assert.equal(metric(m, "sio_replay_events"), 3, "at most max_events per room");
      void id1;
    });

    it("replay.max_age_s = 1: an aged-out id gives complete false", async () => {
      const d = await startDaemon({ SIO_REPLAY_MAX_AGE_S: "1" });
      const tok = token("rp-age");
      const id0 = await emit(d, ["user:rp-age"], 0);
      await emit(d, ["user:rp-age"], 1);
      const fresh = await connectRec(d, tok, { auth: { last_event_id: id0 } });
      assert.equal(fresh.established.data.replayed, 1);
      assert.equal(fresh.established.data.complete, true);
      await sleep(1300);
      const aged = await connectRec(d, tok, { auth: { last_event_id: id0 } });
      assert.equal(aged.established.data.replayed, 0);
      assert.equal(aged.established.data.complete, false);
      assert.equal(metric(await metrics(d), "sio_replay_events"), 0, "expired events are dropped");
    });

    it("replay.enabled = false: nothing kept, a last_event_id gets complete false", async () => {
      const d = await startDaemon({ SIO_REPLAY_ENABLED: "false" });
      const tok = token("rp-off", { projects: ["1"] });
      const id0 = await emit(d, ["user:rp-off"], 0);
      await emit(d, ["user:rp-off"], 1);
      const c = await connectRec(d, tok, { auth: { last_event_id: id0 } });
      assert.equal(c.established.data.replayed, 0);
      assert.equal(c.established.data.complete, false);
      const res = await ack(c.socket, "subscribe", { room: "project:1", since: id0 });
      assert.equal(res.ok, true);
      assert.equal(res.complete, false);
      await sleep(200);
      assert.deepEqual(c.rec.ns(), []);
      assert.equal(metric(await metrics(d), "sio_replay_events"), 0);
    });
  });
});

const withRedis = daemonPath() && (await haveRedisServer());

// Two daemons on one redis-server (the classic adapter): the history is
// the fleet's, in Redis (every instance offers every room's events it
// receives, members there or not; each is kept once), so a client that
// reconnects to the other instance, or to one started after the events,
// misses nothing, whether they came through the HTTP API of either
// instance or from a backend's emitter.
(withRedis ? describe : describe.skip)("daemon: replay across two instances (classic adapter)", function () {
  this.timeout(60000);
  let redis, a, b, em, emitter;
  before(async () => {
    redis = await startRedis();
    const env = { SIO_REDIS_URL: redis.url };
    a = await startDaemon({ ...env, SIO_SERVER_ID: "replay-a" });
    b = await startDaemon({ ...env, SIO_SERVER_ID: "replay-b" });
    for (const d of [a, b]) await d.waitStderr(/redis: connected/, 5000);
    em = createClient({ url: redis.url });
    em.on("error", () => {}); // the last test stops Redis under it
    await em.connect();
    emitter = new Emitter(em);
  });
  afterEach(() => closeClients());
  after(async () => {
    if (em) await em.disconnect().catch(() => {});
    await stopAllDaemons();
    if (redis) await redis.stop();
  });

  it("disconnect from A, events for the user's room via A's API and an emitter, reconnect to B with last_event_id: every one, in order, complete", async () => {
    const tok = token("rpc-u", { projects: ["3"] });
    const first = await connectRec(a, tok);
    const got = once(first.socket, "issue.updated");
    const id0 = await emit(a, ["user:rpc-u"], 0);
    await got;
    first.socket.disconnect();
    await emit(a, ["user:rpc-u"], 1); // nobody of rpc-u is on B
    const envelope = (n) => ({
      event_id: randomUUID(), type: "issue.updated",
      timestamp: new Date().toISOString(), data: { n },
    });
    emitter.to("user:rpc-u").emit("issue.updated", envelope(2));
    // the emitter's PUBLISH is done once its connection answers a PING;
    // give the instances a moment to take it before publishing the next
    // (otherwise 3 and 2 race: both orders are "publish order")
    await em.ping();
    await sleep(150);
    await emit(b, ["global"], 3);
    emitter.to("project:3").emit("issue.updated", envelope(97)); // not auto
    await emit(a, ["user:rpc-u"], 4);
    await sleep(300); // the emitter's messages reach both instances
    const again = await connectRec(b, tok, { auth: { last_event_id: id0 } });
    assert.equal(again.established.data.server_id, "replay-b");
    await waitFor(() => again.rec.ns().length >= 4);
    await sleep(100);
    assert.deepEqual(again.rec.ns(), [1, 2, 3, 4]);
    assert.equal(again.established.data.replayed, 4);
    assert.equal(again.established.data.complete, true);
    // and subscribe since on B replays the project room's emitter event
    const res = await ack(again.socket, "subscribe", { room: "project:3", since: id0 });
    assert.equal(res.ok, true);
    assert.equal(res.replayed, 1);
    assert.deepEqual(again.rec.ns(), [1, 2, 3, 4, 97]);
    // kept in Redis, once, not in the instances' memory
    const len = await em.xLen("socket.io-history{/}:r:user:rpc-u");
    assert.equal(len, 4, "e0, 1, 2 and 4, each once though both instances offered them");
    assert.equal(metric(await metrics(b), "sio_replay_events"), 0);
  });

  it("12 subscribes with since while Redis is paused: 8 wait for their read, the other 4 are answered at once with complete false, and the socket stays", async () => {
    const projects = Array.from({ length: 12 }, (_, i) => String(100 + i));
    const tok = token("rpc-many", { projects });
    const c = await connectRec(a, tok);
    const id0 = await emit(a, ["user:rpc-many"], 0);
    await waitFor(() => c.rec.ns().length === 1);
    await em.sendCommand(["CLIENT", "PAUSE", "700", "ALL"]);
    const t0 = Date.now();
    const order = [];
    const acks = projects.map((p) => ack(c.socket, "subscribe", { room: `project:${p}`, since: id0 })
      .then((r) => { order.push(r.complete); return { r, ms: Date.now() - t0 }; }));
    const got = await Promise.all(acks);
    for (const { r } of got) assert.equal(r.ok, true);
    const refused = got.filter(({ r }) => r.complete === false);
    const served = got.filter(({ r }) => r.complete === true);
    assert.equal(served.length, 8, "at most 8 replays wait per socket");
    assert.equal(refused.length, 4);
    for (const { r } of refused) assert.equal(r.replayed, 0);
    assert.deepEqual(order.slice(0, 4), [false, false, false, false], "the refused are answered first, without waiting for Redis");
    assert.equal(c.socket.connected, true);
    assert.equal((await ack(c.socket, "subscribe", { room: "project:100", since: id0 })).complete, true, "and later ones are served again");
  });

  it("an instance started after the events serves them from Redis", async () => {
    const tok = token("rpc-late");
    const first = await connectRec(a, tok);
    const got = once(first.socket, "issue.updated");
    const id0 = await emit(a, ["user:rpc-late"], 0);
    await got;
    first.socket.disconnect();
    await emit(a, ["user:rpc-late"], 1);
    await emit(a, ["user:rpc-late"], 2);
    const c = await startDaemon({ SIO_REDIS_URL: redis.url, SIO_SERVER_ID: "replay-c" });
    await c.waitStderr(/redis: connected/, 5000);
    const again = await connectRec(c, tok, { auth: { last_event_id: id0 } });
    assert.equal(again.established.data.replayed, 2);
    assert.equal(again.established.data.complete, true);
    await waitFor(() => again.rec.ns().length >= 2);
    assert.deepEqual(again.rec.ns(), [1, 2]);
  });

  // last: it stops the shared redis-server
  it("Redis down: the client still connects, is told complete false (refetch), and live events still arrive", async () => {
    const tok = token("rpc-down");
    const first = await connectRec(b, tok);
    const got = once(first.socket, "issue.updated");
    const id0 = await emit(b, ["user:rpc-down"], 0);
    await got;
    first.socket.disconnect();
    await redis.stop();
    redis = null;
    await sleep(300);
    const again = await connectRec(b, tok, { auth: { last_event_id: id0 } });
    assert.equal(again.established.data.replayed, 0);
    assert.equal(again.established.data.complete, false);
    const live = once(again.socket, "issue.updated");
    await emit(b, ["user:rpc-down"], 1); // local delivery goes on
    const [env] = await live;
    assert.equal(env.data.n, 1);
    assert.equal(metric(await metrics(b), "sio_replays_total", { complete: "false" }) >= 1, true);
  });
});

// The same fleet history with the sharded and the streams adapters (Redis
// 7 sharded pub/sub on one Redis; the stream): the instance that
// publishes an event keeps it in Redis, so a client that reconnects to
// another instance gets every missed event, in order, complete, though
// nobody of that user was on the publishing instance.
for (const adapter of ["sharded", "streams"]) {
  (withRedis ? describe : describe.skip)(`daemon: replay across two instances (${adapter} adapter)`, function () {
    this.timeout(60000);
    let redis, a, b, rc;
    before(async () => {
      redis = await startRedis();
      const env = { SIO_REDIS_URL: redis.url, SIO_REDIS_ADAPTER: adapter };
      a = await startDaemon({ ...env, SIO_SERVER_ID: `replay-${adapter}-a` });
      b = await startDaemon({ ...env, SIO_SERVER_ID: `replay-${adapter}-b` });
      for (const d of [a, b]) await d.waitStderr(new RegExp(`${adapter}: connected`), 5000);
      rc = createClient({ url: redis.url });
      rc.on("error", () => {});
      await rc.connect();
    });
    afterEach(() => closeClients());
    after(async () => {
      if (rc) await rc.disconnect().catch(() => {});
      await stopAllDaemons();
      if (redis) await redis.stop();
    });

    it("disconnect from A, events through A's and B's APIs, reconnect to B with last_event_id: every one, in order, complete; subscribe since too", async () => {
      const tok = token(`rps-${adapter}`, { projects: ["5"] });
      const user = `user:rps-${adapter}`;
      const first = await connectRec(a, tok);
      const got = once(first.socket, "issue.updated");
      const id0 = await emit(a, [user], 0);
      await got;
      first.socket.disconnect();
      await emit(a, [user], 1);
      await emit(b, ["global"], 2);
      await emit(a, ["project:5"], 97); // not an automatic room
      await emit(a, [user], 3);
      const again = await connectRec(b, tok, { auth: { last_event_id: id0 } });
      await waitFor(() => again.rec.ns().length >= 3);
      await sleep(100);
      assert.deepEqual(again.rec.ns(), [1, 2, 3]);
      assert.equal(again.established.data.replayed, 3);
      assert.equal(again.established.data.complete, true);
      const res = await ack(again.socket, "subscribe", { room: "project:5", since: id0 });
      assert.equal(res.ok, true);
      assert.equal(res.replayed, 1);
      assert.equal(res.complete, true);
      assert.deepEqual(again.rec.ns(), [1, 2, 3, 97]);
      assert.equal(await rc.xLen(`socket.io-history{/}:r:${user}`), 3, "e0, 1 and 3, each once");
    });
  });
}
