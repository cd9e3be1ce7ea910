// Two sio-server daemons on one private redis-server (SPEC §4 Redis):
// an event published on one instance reaches the subscribers of the other,
// rooms are respected across instances, /health reports the cluster total
// and "degraded" while Redis is down, and delivery comes back after Redis
// restarts. Needs SIO_DAEMON and redis-server; skipped otherwise.
import assert from "node:assert/strict";
import {
  ack, closeClients, connectAs, daemonPath, once, absent, publish, request,
  sleep, startDaemon, stopAllDaemons, token, metrics, metric,
} from "./daemon-harness.mjs";
import { haveRedisServer, startRedis } from "./redis-harness.mjs";

const ready = daemonPath() && (await haveRedisServer());

(ready ? describe : describe.skip)("sio-server daemons sharing Redis", function () {
  this.timeout(30000);
  let redis, a, b;

  before(async () => {
    redis = await startRedis();
    const env = { SIO_REDIS_URL: redis.url };
    a = await startDaemon({ ...env, SIO_SERVER_ID: "instance-a" });
    b = await startDaemon({ ...env, SIO_SERVER_ID: "instance-b" });
    // both adapters connected
    for (const d of [a, b])
      await d.waitStderr(/redis: connected/, 5000);
  });

  afterEach(() => closeClients());
  after(async () => {
    await stopAllDaemons();
    if (redis) await redis.stop();
  });

  it("delivers an event published on one instance to members on the other, and only to them", async () => {
    const { socket: member } = await connectAs(b, token("alice", { projects: ["7"] }));
    const { socket: other } = await connectAs(b, token("bob", { projects: ["8"] }));
    const { socket: local } = await connectAs(a, token("carol", { projects: ["7"] }));
    assert.deepEqual((await ack(member, "subscribe", { room: "project:7" })).ok, true);
    assert.deepEqual((await ack(other, "subscribe", { room: "project:8" })).ok, true);
    assert.deepEqual((await ack(local, "subscribe", { room: "project:7" })).ok, true);
    const got = once(member, "project.updated", 5000);
    const gotLocal = once(local, "project.updated", 5000);
    const notOther = absent(other, "project.updated", 1500);
    const res = await publish(a, { rooms: ["project:7"], event: "project.updated", data: { project_id: "7" } });
    assert.equal(res.status, 202);
    const [env] = await got;
    assert.equal(env.event_id, res.json.event_id);
    assert.deepEqual(env.data, { project_id: "7" });
    assert.equal((await gotLocal)[0].event_id, res.json.event_id);
    assert.equal(await notOther, true);
  });

  it("user: rooms span instances (all devices of a user)", async () => {
    const { socket: phone } = await connectAs(a, token("dave"));
    const { socket: laptop } = await connectAs(b, token("dave"));
    const p = once(phone, "ai.suggestion", 5000);
    const l = once(laptop, "ai.suggestion", 5000);
    const res = await publish(b, { rooms: ["user:dave"], event: "ai.suggestion", data: { text: "hi" } });
    assert.equal(res.status, 202);
    await Promise.all([p, l]);
  });

  it("reports the cluster total in /health and Redis state in /metrics", async () => {
    await connectAs(a, token("erin"));
    await connectAs(b, token("frank"));
    await connectAs(b, token("grace"));
    let health;
    for (let i = 0; i < 30; i++) {
      health = (await request(`${a.url}/health`)).json;
      if (health.connections.total === 3) break;
      await sleep(500);
    }
    assert.equal(health.status, "ok");
    assert.equal(health.redis.connected, true);
    assert.equal(health.connections.local, 1);
    assert.equal(health.connections.total, 3);
    const m = await metrics(a);
    assert.equal(metric(m, "sio_redis_connected"), 1);
    assert.ok(metric(m, "sio_redis_messages_total", { direction: "out" }) > 0);
    // the round trip of the publisher's PING: measured, and plausible on loopback
    const lat = metric(m, "sio_redis_latency_seconds");
    assert.ok(lat > 0 && lat < 1, `sio_redis_latency_seconds ${lat}`);
  });

  it("keeps local delivery while Redis is down, reports degraded, and resumes cross-instance delivery after it returns", async () => {
    const { socket: onA } = await connectAs(a, token("heidi", { projects: ["*"] }));
    const { socket: onB } = await connectAs(b, token("ivan", { projects: ["*"] }));
    await ack(onA, "subscribe", { room: "project:9" });
    await ack(onB, "subscribe", { room: "project:9" });
    const port = redis.port;
    await redis.stop();
    let health;
    for (let i = 0; i < 20; i++) {
      health = await request(`${a.url}/health`);
      if (health.json.status === "degraded") break;
      await sleep(250);
    }
    assert.equal(health.status, 200);
    assert.equal(health.json.status, "degraded");
    assert.equal(health.json.redis.connected, false);
    const local = once(onA, "project.updated", 3000);
    const res = await publish(a, { rooms: ["project:9"], event: "project.updated", data: { n: 1 } });
    assert.equal(res.status, 202);
    await local;
    redis = await startRedis({ port });
    for (const d of [a, b]) {
      let up = false;
      for (let i = 0; i < 40 && !up; i++) {
        up = (await request(`${d.url}/health`)).json.redis.connected;
        if (!up) await sleep(250);
      }
      assert.equal(up, true, "the adapter reconnected within 10 s");
    }
    const remote = once(onB, "project.updated", 5000);
    const res2 = await publish(a, { rooms: ["project:9"], event: "project.updated", data: { n: 2 } });
    assert.equal(res2.status, 202);
    const [env] = await remote;
    assert.deepEqual(env.data, { n: 2 });
    assert.equal((await request(`${a.url}/health`)).json.status, "ok");
  });
});
