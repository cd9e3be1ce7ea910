// Redis faults under two sio-server daemons (issue 9 item 6, SPEC §4
// Redis): a real redis-server is killed (SIGKILL) and restarted on the same
// port 5 times while instance A publishes a stream (POST /api/v1/emit,
// ~100/s) to clients on A and on B. No daemon crashes; clients on A get
// every event (local delivery does not depend on Redis); clients on B get
// events again within 1 s of each restart. The counts are printed. Also:
// redis.connect_timeout_ms ends an attempt on a Redis that never answers.
// Needs SIO_DAEMON and redis-server; skipped otherwise.
import assert from "node:assert/strict";
import net from "node:net";
import {
  closeClients, connectAs, daemonPath, publish, sleep, startDaemon,
  stopAllDaemons, token,
} from "./daemon-harness.mjs";
import { haveRedisServer, startRedis } from "./redis-harness.mjs";

const ready = daemonPath() && (await haveRedisServer());
const CYCLES = 5;
const PERIOD_MS = 10; // ~100 events/s

(ready ? describe : describe.skip)("sio-server daemons and Redis faults", function () {
  this.timeout(60000);
  let redis;

  afterEach(() => closeClients());
  after(async () => {
    await stopAllDaemons();
    if (redis) await redis.stop();
  });

  it("survives 5 Redis kill/restarts during a publish stream: local delivery uninterrupted, cross-instance back within 1 s", async () => {
    redis = await startRedis();
    const env = { SIO_REDIS_URL: redis.url };
    const a = await startDaemon({ ...env, SIO_SERVER_ID: "fault-a" });
    const b = await startDaemon({ ...env, SIO_SERVER_ID: "fault-b" });
    for (const d of [a, b]) await d.waitStderr(/redis: connected/, 5000);
    const socks = {
      a: [await connectAs(a, token("la1")), await connectAs(a, token("la2"))],
      b: [await connectAs(b, token("rb1")), await connectAs(b, token("rb2"))],
    };
    // per client: Map n -> receive time
    const got = { a: [new Map(), new Map()], b: [new Map(), new Map()] };
    for (const side of ["a", "b"]) {
      socks[side].forEach(({ socket }, i) =>
        socket.on("project.updated", (ev) => {
          if (!got[side][i].has(ev.data.n)) got[side][i].set(ev.data.n, Date.now());
        }),
      );
    }
    const sentAt = new Map(); // n -> time published (202)
    const failed = [];
    let n = 0;
    let stopping = false;
    const stream = (async () => {
      while (!stopping) {
        const k = n++;
        const t = Date.now();
        publish(a, { rooms: ["global"], event: "project.updated", data: { n: k } })
          .then((r) => (r.status === 202 ? sentAt.set(k, t) : failed.push([k, r.status])))
          .catch((e) => failed.push([k, e.message]));
        await sleep(PERIOD_MS);
      }
    })();

    const outages = [];
    await sleep(500);
    for (let c = 0; c < CYCLES; c++) {
      const port = redis.port;
      const tKill = Date.now();
      process.kill(redis.pid, "SIGKILL");
      await redis.stop();
      await sleep(500);
      redis = await startRedis({ port });
      const tUp = Date.now();
      // cross-instance delivery back: B receives an event published after tUp
      let back = null;
      while (Date.now() - tUp < 3000 && back === null) {
        await sleep(10);
        for (const [k, tr] of got.b[0]) {
          const ts = sentAt.get(k);
          if (ts !== undefined && ts >= tUp && (back === null || tr < back)) back = tr;
        }
      }
      outages.push({ tKill, tUp, back });
      await sleep(400);
    }
    stopping = true;
    await stream;
    await sleep(1000); // the last requests and deliveries

    const published = sentAt.size;
    const perOutage = outages.map(({ tKill, tUp, back }) => {
      let lost = 0;
      for (const [k, ts] of sentAt)
        if (ts >= tKill && ts <= (back ?? tUp + 3000) && !got.b[0].has(k)) lost++;
      return { recover_ms: back === null ? null : back - tUp, lost_remote: lost };
    });
    const lostLocal = got.a.map((m) => [...sentAt.keys()].filter((k) => !m.has(k)).length);
    console.log(
      `      redis faults: published ${published} (failed ${failed.length}), ` +
        `received on A ${got.a.map((m) => m.size).join("/")}, ` +
        `on B ${got.b.map((m) => m.size).join("/")}, lost locally ${lostLocal.join("/")}`,
    );
    perOutage.forEach((o, i) =>
      console.log(`      restart ${i + 1}: cross-instance back after ${o.recover_ms} ms, ` +
        `${o.lost_remote} events lost on B during the outage`),
    );

    assert.equal(a.exit, null, `daemon A exited: ${JSON.stringify(a.exit)}\n${a.stderr()}`);
    assert.equal(b.exit, null, `daemon B exited: ${JSON.stringify(b.exit)}\n${b.stderr()}`);
    assert.deepEqual(failed, [], "every publish accepted (202) while Redis is down too");
    assert.deepEqual(lostLocal, [0, 0], "clients on A got every event");
    for (const [i, o] of perOutage.entries()) {
      assert.notEqual(o.recover_ms, null, `restart ${i + 1}: B never received again`);
      assert.ok(o.recover_ms < 1000, `restart ${i + 1}: back after ${o.recover_ms} ms`);
    }
    // after the last restart nothing more is lost across
    const tail = [...sentAt].filter(([, ts]) => ts > outages[CYCLES - 1].back + 100);
    assert.ok(tail.length > 10);
    assert.equal(tail.filter(([k]) => !got.b[1].has(k)).length, 0);
  });

  it("redis.connect_timeout_ms ends an attempt on a Redis that never answers", async () => {
    const held = [];
    const hole = net.createServer((s) => {
      const t0 = Date.now();
      s.on("data", () => {}); // reads the PING, never answers
      s.on("close", () => held.push(Date.now() - t0));
    });
    await new Promise((r) => hole.listen(0, "127.0.0.1", r));
    try {
      const d = await startDaemon({
        SIO_REDIS_URL: `redis://127.0.0.1:${hole.address().port}`,
        SIO_REDIS_CONNECT_TIMEOUT_MS: "300",
      });
      const deadline = Date.now() + 5000;
      while (held.length < 2 && Date.now() < deadline) await sleep(20);
      console.log(`      blackholed attempts closed by the daemon after ${held.join(", ")} ms`);
      assert.ok(held.length >= 2, "the daemon gave up on its attempts");
      for (const ms of held) assert.ok(ms >= 250 && ms < 800, `closed after ${ms} ms`);
      assert.equal(d.exit, null);
    } finally {
      hole.close();
    }
  });
});
