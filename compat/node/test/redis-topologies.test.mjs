// The Redis topologies of redis-harness.mjs, proved with Node alone (no
// sio-server): two socket.io 4.8 servers with @socket.io/redis-adapter 8
// over node-redis 4 see each other's broadcasts on a TLS Redis with an ACL
// user and client certificates; with createShardedAdapter on a 3-master
// Redis Cluster, also while the channels' slots migrate; and the Sentinel
// group fails over on demand, the sentinels agreeing on the new master
// (node-redis 4 has no Sentinel client: peers reach the master through the
// harness's following proxy). Skipped when redis-server, redis-cli or
// openssl is missing.
import assert from "node:assert/strict";
import { createClient } from "redis";
import {
  ACL_PASSWORD, ACL_USER, haveOpenssl, haveRedisCli, haveRedisSentinel,
  haveRedisServer, redisCli, startCluster, startRedisServer,
  startSentinelGroup, startTlsRedis,
} from "./redis-harness.mjs";
import {
  closePeerClients, clusterPair, eventually, missing, peerClient, redisOptions,
  redisPair, startNodePeer,
} from "./node-peer.mjs";

const base = haveRedisServer() && haveRedisCli();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function recv(socket, event, ms = 3000) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no "${event}" within ${ms} ms`)), ms);
    socket.once(event, (...a) => {
      clearTimeout(t);
      resolve(a);
    });
  });
}

function none(socket, event, ms = 500) {
  return new Promise((resolve) => {
    let seen = false;
    const h = () => (seen = true);
    socket.on(event, h);
    setTimeout(() => {
      socket.off(event, h);
      resolve(!seen);
    }, ms);
  });
}

// Connection failures of node-redis: the first error, with no retry.
async function connectError(options) {
  const c = createClient({ ...options, socket: { ...options.socket, reconnectStrategy: false } });
  let err = null;
  c.on("error", (e) => (err ??= e));
  try {
    await c.connect();
    await c.ping();
  } catch (e) {
    err ??= e;
  }
  await c.disconnect().catch(() => {});
  return err;
}

// Two peers A and B, a client on each; both directions and a room.
async function crossBroadcasts(a, b) {
  const ca = await peerClient(a, ["room:1"]);
  const cb = await peerClient(b);
  const gotB = recv(cb, "hello");
  a.io.emit("hello", "from-a");
  assert.deepEqual(await gotB, ["from-a"]);
  const gotA = recv(ca, "hello");
  b.io.emit("hello", "from-b");
  assert.deepEqual(await gotA, ["from-b"]);
  const inRoom = recv(ca, "room-event");
  const notB = none(cb, "room-event");
  b.io.to("room:1").emit("room-event", 1);
  assert.deepEqual(await inRoom, [1]);
  assert.equal(await notB, true);
  const all = await a.io.fetchSockets();
  assert.deepEqual(all.map((s) => s.id).sort(), [ca.id, cb.id].sort());
  assert.equal(await a.io.of("/").adapter.serverCount(), 2);
  return { ca, cb };
}

(base && haveOpenssl() ? describe : describe.skip)("redis harness: TLS and ACL", function () {
  this.timeout(30000);
  let r;
  const peers = [];

  before(async () => {
    r = await startTlsRedis({ authClients: true, acl: true });
  });
  afterEach(() => closePeerClients());
  after(async () => {
    for (const p of peers) await p.close();
    if (r) await r.stop();
  });

  const opts = () => ({ user: ACL_USER, password: ACL_PASSWORD, ca: r.certs.ca,
    cert: r.certs.clientCert, key: r.certs.clientKey });

  it("two Node servers with createAdapter over TLS, client certificates and the ACL user see each other's broadcasts", async () => {
    for (let i = 0; i < 2; i++)
      peers.push(await startNodePeer(await redisPair(redisOptions(r.url, opts()))));
    await crossBroadcasts(peers[0], peers[1]);
  });

  it("the server enforces what the daemon's negative tests rely on", async () => {
    const o = opts();
    const e1 = await connectError(redisOptions(r.url, { ...o, ca: r.certs.otherCa }));
    assert.match(String(e1?.message), /certificate|self.signed|verify/i, "a wrong CA is refused");
    const e2 = await connectError(redisOptions(r.url, { ...o, password: "wrong" }));
    assert.match(String(e2?.message), /WRONGPASS/, "a wrong password is refused");
    const e3 = await connectError(redisOptions(r.url, { ...o, cert: undefined, key: undefined }));
    assert.ok(e3, "no client certificate: refused under tls-auth-clients yes");
    const e4 = await connectError(redisOptions(r.url.replace("127.0.0.1", "localhost"),
      { ...o, servername: "redis.invalid" }));
    assert.match(String(e4?.message), /altnames|hostname|certificate/i, "a wrong server name is refused");
    // the ACL user has pub/sub, no keys; the default user needs its password
    const c = createClient(redisOptions(r.url, o));
    c.on("error", () => {});
    await c.connect();
    assert.equal(await c.sendCommand(["ACL", "WHOAMI"]).catch((e) => e.message), ACL_USER);
    await assert.rejects(c.get("k"), /NOPERM/);
    assert.equal(await c.publish("ch", "x"), 0);
    await c.disconnect();
    const anon = await connectError(redisOptions(r.url, { ...o, user: undefined, password: undefined }));
    assert.match(String(anon?.message), /NOAUTH|WRONGPASS|NOPERM/);
  });

  it("serves TLS without client certificates too, and a unix socket", async () => {
    const plainTls = await startTlsRedis({ authClients: false });
    try {
      const c = createClient(redisOptions(plainTls.url, { ca: plainTls.certs.ca }));
      c.on("error", () => {});
      await c.connect();
      assert.equal(await c.ping(), "PONG");
      await c.disconnect();
    } finally {
      await plainTls.stop();
    }
    const ux = await startRedisServer({ unixSocket: true });
    try {
      assert.match(ux.unixUrl, /^unix:\/\/\/.*redis\.sock$/);
      const c = createClient({ socket: { path: ux.unixUrl.slice(7) } });
      c.on("error", () => {});
      await c.connect();
      assert.equal(await c.ping(), "PONG");
      await c.disconnect();
    } finally {
      await ux.stop();
    }
  });
});

(base ? describe : describe.skip)("redis harness: a 3-master Redis Cluster with createShardedAdapter", function () {
  this.timeout(60000);
  let cluster;
  let a;
  let b;

  before(async () => {
    cluster = await startCluster();
    a = await startNodePeer(await clusterPair(cluster.rootNodes), { adapter: "sharded" });
    b = await startNodePeer(await clusterPair(cluster.rootNodes), { adapter: "sharded" });
  });
  afterEach(() => closePeerClients());
  after(async () => {
    for (const p of [a, b]) if (p) await p.close();
    if (cluster) await cluster.stop();
  });

  it("has three masters sharing the 16384 slots", async () => {
    assert.equal(cluster.nodes.length, 3);
    const owners = new Set();
    for (const slot of [0, 8000, 16383]) owners.add((await cluster.owner(slot)).port);
    assert.equal(owners.size, 3);
    assert.match(cluster.url, /^redis\+cluster:\/\/127\.0\.0\.1:\d+,127\.0\.0\.1:\d+,127\.0\.0\.1:\d+$/);
  });

  it("two servers see each other's broadcasts, room broadcasts, sockets and count", async () => {
    await crossBroadcasts(a, b);
  });

  it("delivers a numbered stream while the channels' slots migrate between masters", async () => {
    const ca = await peerClient(a, ["room:1"]);
    const cb = await peerClient(b, ["room:1"]);
    const got = { all: new Map(), room: new Map() };
    cb.on("n", (k) => got.all.set(k, Date.now()));
    cb.on("rn", (k) => got.room.set(k, Date.now()));
    void ca;
    const slots = [await cluster.keyslot("socket.io#/#"), await cluster.keyslot("socket.io#/#room:1#")];
    let n = 0;
    let stop = false;
    const sentAt = [];
    const stream = (async () => {
      while (!stop) {
        sentAt[n] = Date.now();
        a.io.emit("n", n);
        a.io.to("room:1").emit("rn", n);
        n++;
        await sleep(5);
      }
    })();
    await sleep(500);
    const t0 = Date.now();
    const moved = await cluster.migrateSlots(slots);
    const t1 = Date.now();
    await sleep(300);
    const moved2 = await cluster.migrateSlots(slots); // and on to the third master
    const t2 = Date.now();
    await sleep(2000);
    stop = true;
    await stream;
    await sleep(500);
    const lostAll = missing(n, got.all);
    const lostRoom = missing(n, got.room);
    console.log(`      sharded stream: ${n} sent; slots ${slots.join(", ")} moved ` +
      `${moved.map((m) => `${m.from}->${m.to}`).join(" ")} in ${t1 - t0} ms, then ` +
      `${moved2.map((m) => `${m.from}->${m.to}`).join(" ")} in ${t2 - t1 - 300} ms; ` +
      `lost (global) [${lostAll.join(", ")}], lost (room) [${lostRoom.join(", ")}]`);
    // nothing lost outside the migrations, every message after the last
    const late = [...Array(n).keys()].filter((k) => sentAt[k] > t2 + 700);
    assert.ok(late.length > 50);
    assert.deepEqual(late.filter((k) => !got.all.has(k) || !got.room.has(k)), []);
    const early = [...Array(n).keys()].filter((k) => sentAt[k] < t0);
    assert.deepEqual(early.filter((k) => !got.all.has(k) || !got.room.has(k)), []);
    // both servers resubscribed on the channel's new owner (serverCount
    // itself over-counts after a move: node-redis 4.7's rediscover lists
    // a master twice in .masters, and the adapter sums over that list)
    const owner = await cluster.owner(slots[0]);
    const numsub = await cluster.cli(owner, "PUBSUB", "SHARDNUMSUB", "socket.io#/#");
    assert.equal(numsub.split("\n")[1], "2");
  });
});

(base && haveRedisSentinel() ? describe : describe.skip)("redis harness: a Sentinel group", function () {
  this.timeout(60000);
  let g;
  const peers = [];
  const followers = [];

  before(async () => {
    g = await startSentinelGroup();
  });
  afterEach(() => closePeerClients());
  after(async () => {
    for (const p of peers) await p.close();
    for (const f of followers) await f.close();
    if (g) await g.stop();
  });

  it("fails over on demand: the replica becomes master, the old master its replica, the sentinels agree", async () => {
    const before = await g.master();
    assert.equal(before.port, g.nodes[0].port);
    assert.match(g.url, /^redis\+sentinel:\/\/(127\.0\.0\.1:\d+,){2}127\.0\.0\.1:\d+\/sio-master$/);
    for (let i = 0; i < 2; i++) {
      const f = await g.followMaster();
      followers.push(f);
      peers.push(await startNodePeer(await redisPair(redisOptions(f.url))));
    }
    await crossBroadcasts(peers[0], peers[1]);

    const f = await g.failover();
    const nm = await g.waitForNewMaster(f.from.port, 15000);
    console.log(`      failover: +switch-master ${nm.switchAt - f.at} ms after SENTINEL FAILOVER, ` +
      `all sentinels agreed after ${nm.agreedAt - f.at} ms`);
    assert.equal(nm.port, g.nodes[1].port);
    assert.deepEqual(g.switches.filter((s) => s.from === f.from.port).map((s) => s.to),
      [nm.port, nm.port, nm.port]);
    await eventually(async () => {
      const info = await redisCli(["-p", String(f.from.port), "INFO", "replication"]);
      return /role:slave/.test(info) && new RegExp(`master_port:${nm.port}`).test(info);
    }, 30000, "the old master replicating the new one");

    // the peers, through the following proxies, are on the new master
    for (const p of followers) assert.equal(p.target(), nm.port);
    await eventually(async () => {
      const n = await redisCli(["-p", String(nm.port), "PUBSUB", "NUMSUB", "socket.io-request#/#"]);
      return n.endsWith("\n2");
    }, 5000, "both peers resubscribed on the new master");
    closePeerClients();
    await eventually(async () => (await peers[0].io.fetchSockets()).length === 0, 3000, "clients gone");
    await crossBroadcasts(peers[0], peers[1]);
  });
});
