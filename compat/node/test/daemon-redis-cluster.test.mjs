// sio-server with redis.adapter = sharded (issue 10): on a 3-master Redis
// Cluster (redis+cluster://n1,n2,n3) beside a Node socket.io server using
// @socket.io/redis-adapter's createShardedAdapter over node-redis
// createCluster, the two are one fleet: broadcasts and room broadcasts
// cross both ways (room channels are per room: the adapter's default
// "dynamic" subscription mode), fetchSockets and serverCount span both,
// and a numbered stream survives the migration of the channels' slots
// between masters (what was lost is printed). The same protocol on a
// standalone Redis 7. Needs SIO_DAEMON, redis-server and redis-cli;
// skipped otherwise.
import assert from "node:assert/strict";
import {
  absent, ack, closeClients, connectAs, daemonPath, once, publish, request, sleep,
  startDaemon, stopAllDaemons, token,
} from "./daemon-harness.mjs";
import {
  haveRedisCli, haveRedisServer, redisCli, startCluster, startRedis,
} from "./redis-harness.mjs";
import {
  closePeerClients, clusterPair, eventually, missing, peerClient, redisOptions, redisPair,
  startNodePeer,
} from "./node-peer.mjs";

const ready = daemonPath() && haveRedisServer() && haveRedisCli();

function envelope(type, data) {
  return { event_id: crypto.randomUUID(), type, timestamp: new Date().toISOString(), data };
}

// Starts the daemon and waits for /health redis.connected; resolves with
// { d } or { error } so that each test reports the start-up failure.
async function startConnected(env) {
  let d;
  try {
    d = await startDaemon(env);
    await eventually(async () => (await request(`${d.url}/health`)).json.redis.connected, 8000,
      "/health redis.connected");
    return { d };
  } catch (error) {
    if (d) error.message += `\n${d.stderr()}`;
    return { error };
  }
}

async function crossBoth(d, peer, roomReady) {
  const { socket: onDaemon } = await connectAs(d, token("alice"));
  const onPeer = await peerClient(peer);
  // Both servers subscribe a room's channel when its first local member
  // joins, asynchronously (in Node as here): publishing before both are in
  // place would test that race, not delivery.
  if (roomReady) await roomReady("global");
  const toPeer = once(onPeer, "project.updated", 5000);
  const res = await publish(d, { rooms: ["global"], event: "project.updated", data: { from: "daemon" } });
  assert.equal(res.status, 202);
  const [got] = await toPeer;
  assert.equal(got.event_id, res.json.event_id);
  assert.deepEqual(got.data, { from: "daemon" });
  const toDaemon = once(onDaemon, "project.updated", 5000);
  const env = envelope("project.updated", { from: "peer" });
  peer.io.to("global").emit("project.updated", env);
  assert.deepEqual((await toDaemon)[0], env);
  // to every socket: the namespace's own channel, not a room's
  const toAll = once(onDaemon, "project.updated", 5000);
  const env2 = envelope("project.updated", { from: "peer, to all" });
  peer.io.emit("project.updated", env2);
  assert.deepEqual((await toAll)[0], env2);
}

// The fleet checks shared by the cluster suite and the classic control:
// ctx.daemon() and ctx.peer.
function fleetTests(ctx) {
  it(`connects: /health ok, and the peer counts two servers (${ctx.counted})`, async () => {
    const d = ctx.daemon();
    assert.equal((await request(`${d.url}/health`)).json.status, "ok");
    await eventually(async () => (await ctx.peer.io.of("/").adapter.serverCount()) === 2, 5000,
      "serverCount 2");
  });

  it("broadcasts cross both ways", async () => {
    await crossBoth(ctx.daemon(), ctx.peer, ctx.roomReady);
  });

  it("room broadcasts reach the room's members on both servers and nobody else", async () => {
    const d = ctx.daemon();
    const { socket: alice } = await connectAs(d, token("alice", { projects: ["7", "8"] }));
    const { socket: bob } = await connectAs(d, token("bob", { projects: ["8"] }));
    assert.equal((await ack(alice, "subscribe", { room: "project:7" })).ok, true);
    assert.equal((await ack(bob, "subscribe", { room: "project:8" })).ok, true);
    const member = await peerClient(ctx.peer, ["project:7"]);
    const other = await peerClient(ctx.peer, ["project:8"]);
    await sleep(200); // the peer's per-room SSUBSCRIBE (dynamic mode)

    let a = once(alice, "project.updated", 5000);
    let m = once(member, "project.updated", 5000);
    let notBob = absent(bob, "project.updated", 1000);
    let notOther = absent(other, "project.updated", 1000);
    const res = await publish(d, { rooms: ["project:7"], event: "project.updated", data: { p: 7 } });
    assert.equal(res.status, 202);
    assert.equal((await a)[0].event_id, res.json.event_id);
    assert.equal((await m)[0].event_id, res.json.event_id);
    assert.equal(await notBob, true);
    assert.equal(await notOther, true);

    a = once(alice, "project.updated", 5000);
    notBob = absent(bob, "project.updated", 1000);
    const env = envelope("project.updated", { p: "7 from the peer" });
    ctx.peer.io.to("project:7").emit("project.updated", env);
    assert.deepEqual((await a)[0], env);
    assert.equal(await notBob, true);

    // a room only the daemon's socket is in
    const b8 = once(bob, "project.updated", 5000);
    const o8 = once(other, "project.updated", 5000);
    ctx.peer.io.to("project:8").emit("project.updated", envelope("project.updated", { p: 8 }));
    await Promise.all([b8, o8]);
  });

  it("fetchSockets and serverCount span both servers", async () => {
    const d = ctx.daemon();
    const { socket: alice } = await connectAs(d, token("alice", { projects: ["7"] }));
    await ack(alice, "subscribe", { room: "project:7" });
    const { socket: carol } = await connectAs(d, token("carol"));
    const member = await peerClient(ctx.peer, ["project:7"]);
    const all = (await ctx.peer.io.fetchSockets()).map((s) => s.id).sort();
    assert.deepEqual(all, [alice.id, carol.id, member.id].sort());
    const inRoom = await ctx.peer.io.in("project:7").fetchSockets();
    assert.deepEqual(inRoom.map((s) => s.id).sort(), [alice.id, member.id].sort());
    const remote = inRoom.find((s) => s.id === alice.id);
    assert.ok(remote.rooms.has("project:7") && remote.rooms.has("user:alice"), [...remote.rooms].join());
    assert.equal(await ctx.peer.io.of("/").adapter.serverCount(), 2);
  });
}

(ready ? describe : describe.skip)("sio-server with the sharded adapter on a 3-master Redis Cluster", function () {
  this.timeout(60000);
  let cluster;
  let peer;
  let started;
  const daemon = () => {
    if (started.error) throw started.error;
    return started.d;
  };
  const ctx = { daemon, counted: "SHARDNUMSUB on every master" };
  // both servers subscribed to the room's channel, on the master owning it
  ctx.roomReady = async (room) => {
    const chan = `socket.io#/#${room}#`;
    const node = await cluster.owner(await cluster.keyslot(chan));
    await eventually(async () =>
      /(^|\n)2\s*$/.test(await cluster.cli(node, "PUBSUB", "SHARDNUMSUB", chan)), 5000,
    `two subscribers on ${chan}`);
  };

  before(async () => {
    cluster = await startCluster();
    peer = await startNodePeer(await clusterPair(cluster.rootNodes), { adapter: "sharded" });
    ctx.peer = peer;
    started = await startConnected({
      SIO_REDIS_URL: cluster.url, SIO_REDIS_ADAPTER: "sharded", SIO_SERVER_ID: "cluster-a",
    });
  });
  afterEach(() => {
    closeClients();
    closePeerClients();
  });
  after(async () => {
    await stopAllDaemons();
    if (peer) await peer.close();
    if (cluster) await cluster.stop();
  });

  fleetTests(ctx);

  it("a numbered stream both ways survives the migration of the channels' slots", async () => {
    const d = daemon();
    const { socket: onDaemon } = await connectAs(d, token("dave", { projects: ["7"] }));
    await ack(onDaemon, "subscribe", { room: "project:7" });
    const onPeer = await peerClient(peer, ["project:7"]);
    await sleep(200);
    const got = { dGlobal: new Map(), dRoom: new Map(), pGlobal: new Map(), pRoom: new Map() };
    onPeer.on("project.updated", (ev) => {
      if (ev.data?.dg !== undefined) got.dGlobal.set(ev.data.dg, Date.now());
      if (ev.data?.dr !== undefined) got.dRoom.set(ev.data.dr, Date.now());
    });
    onDaemon.on("project.updated", (ev) => {
      if (ev.data?.pg !== undefined) got.pGlobal.set(ev.data.pg, Date.now());
      if (ev.data?.pr !== undefined) got.pRoom.set(ev.data.pr, Date.now());
    });
    // the channels in use: the namespace's (the peer's io.emit, requests),
    // and one per public room in "dynamic" mode (the daemon's global
    // publishes, both sides' project:7 ones)
    const channels = ["socket.io#/#", "socket.io#/#global#", "socket.io#/#project:7#"];
    const slots = [];
    for (const c of channels) slots.push(await cluster.keyslot(c));
    const sentAt = [];
    const failed = [];
    let stop = false;
    const stream = (async () => {
      for (let n = 0; !stop; n++) {
        sentAt[n] = Date.now();
        for (const [rooms, key] of [[["global"], "dg"], [["project:7"], "dr"]]) {
          publish(d, { rooms, event: "project.updated", data: { [key]: n } })
            .then((r) => r.status === 202 || failed.push([n, r.status]))
            .catch((e) => failed.push([n, e.message]));
        }
        peer.io.emit("project.updated", envelope("project.updated", { pg: n }));
        peer.io.to("project:7").emit("project.updated", envelope("project.updated", { pr: n }));
        await sleep(10);
      }
    })();
    await sleep(800);
    const t0 = Date.now();
    const moved = await cluster.migrateSlots(slots);
    const t1 = Date.now();
    await sleep(500);
    const moved2 = await cluster.migrateSlots(slots);
    const t2 = Date.now();
    await sleep(2500);
    stop = true;
    await stream;
    await sleep(1000);

    const n = sentAt.length;
    const lost = Object.fromEntries(Object.entries(got).map(([k, m]) => [k, missing(n, m)]));
    console.log(`      cluster stream: ${n} sent per kind; slots ${slots.join(", ")} ` +
      `(${channels.join(" ")}) moved ` +
      `${moved.map((x) => `${x.from}->${x.to}`).join(" ")} at ${t0 - sentAt[0]}-${t1 - sentAt[0]} ms, ` +
      `${moved2.map((x) => `${x.from}->${x.to}`).join(" ")} at ${t1 + 500 - sentAt[0]}-${t2 - sentAt[0]} ms`);
    console.log(`      lost daemon->peer global [${lost.dGlobal}], room [${lost.dRoom}]; ` +
      `peer->daemon global [${lost.pGlobal}], room [${lost.pRoom}]; failed publishes ${failed.length}`);

    assert.equal(d.exit, null, `the daemon exited\n${d.stderr()}`);
    assert.deepEqual(failed, []);
    // nothing lost before the first move or once the daemon had 1 s to follow the last
    const keys = [...Array(n).keys()];
    for (const [kind, m] of Object.entries(got)) {
      const outside = keys.filter((k) => (sentAt[k] < t0 || sentAt[k] > t2 + 1000) && !m.has(k));
      assert.deepEqual(outside, [], `${kind}: lost outside the migrations`);
      assert.ok(keys.filter((k) => sentAt[k] > t2 + 1000).length > 20, "the stream ran after the moves");
    }
    assert.equal((await request(`${d.url}/health`)).json.status, "ok");
  });
});

(ready ? describe : describe.skip)("sio-server with the sharded adapter on a standalone Redis 7", function () {
  this.timeout(30000);
  let redis;
  let peer;
  let started;

  before(async () => {
    redis = await startRedis();
    peer = await startNodePeer(await redisPair(redisOptions(redis.url)), { adapter: "sharded" });
    started = await startConnected({ SIO_REDIS_URL: redis.url, SIO_REDIS_ADAPTER: "sharded" });
  });
  afterEach(() => {
    closeClients();
    closePeerClients();
  });
  after(async () => {
    await stopAllDaemons();
    if (peer) await peer.close();
    if (redis) await redis.stop();
  });

  it("speaks createShardedAdapter's protocol: broadcasts both ways, serverCount 2", async () => {
    if (started.error) throw started.error;
    await crossBoth(started.d, peer, async (room) => {
      const chan = `socket.io#/#${room}#`;
      await eventually(async () => /(^|\n)2\s*$/.test(
        await redisCli(["-u", redis.url, "PUBSUB", "SHARDNUMSUB", chan])), 5000,
      `two subscribers on ${chan}`);
    });
    assert.equal(await peer.io.of("/").adapter.serverCount(), 2);
  });
});

// The control: the same fleet checks with the classic adapter on a
// standalone Redis (what the driver already speaks), so that a failure
// above is the sharded adapter's or the cluster driver's.
(ready ? describe : describe.skip)("sio-server with the classic adapter beside createAdapter (control)", function () {
  this.timeout(30000);
  let redis;
  let started;
  const ctx = {
    daemon: () => {
      if (started.error) throw started.error;
      return started.d;
    },
    counted: "PUBSUB NUMSUB",
  };

  before(async () => {
    redis = await startRedis();
    ctx.peer = await startNodePeer(await redisPair(redisOptions(redis.url)));
    started = await startConnected({ SIO_REDIS_URL: redis.url });
  });
  afterEach(() => {
    closeClients();
    closePeerClients();
  });
  after(async () => {
    await stopAllDaemons();
    if (ctx.peer) await ctx.peer.close();
    if (redis) await redis.stop();
  });

  fleetTests(ctx);
});
