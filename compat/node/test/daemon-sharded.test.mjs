// The sharded Redis adapter protocol on a Redis Cluster (three masters,
// redis-cluster-harness.mjs):
//
// 1. Node peers alone: two socket.io servers with createShardedAdapter on
//    node-redis cluster clients: a room broadcast crosses servers, and
//    serverCount (PUBSUB SHARDNUMSUB summed over the masters) sees both.
//    This checks the harness and the reference's behaviour on a cluster;
//    runs whenever redis-server 7 and redis-cli are installed.
// 2. A mixed fleet: the sio-server daemon with the sharded adapter beside a
//    Node sharded peer. SKIPPED for now: it needs the daemon's Redis Cluster
//    driver (sio_redis with spublish/shardnumsub and redis+cluster:// URLs)
//    and the setting that selects the sharded protocol
//    (sio_redis_config.adapter = SIO_REDIS_ADAPTER_SHARDED, assumed here as
//    SIO_REDIS_ADAPTER=sharded), which are not in this tree yet; the
//    sharded protocol itself (src/adapter/sio_adapter_sharded.c) is tested
//    by tests/test_sio_adapter_sharded.c and sharded-codec.test.mjs. Turn
//    the describe.skip below into the `ready ?` form once they land.

import assert from "node:assert/strict";
import http from "node:http";
import { Server } from "socket.io";
import { io as ioc } from "socket.io-client";
import { createCluster } from "redis";
import { createShardedAdapter } from "@socket.io/redis-adapter";
import {
  ack, closeClients, connectAs, daemonPath, once, publish, startDaemon,
  stopAllDaemons, token,
} from "./daemon-harness.mjs";
import { haveRedisCluster, startRedisCluster } from "./redis-cluster-harness.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A Node socket.io server with the sharded adapter on the cluster.
async function nodePeer(cluster) {
  const pub = createCluster({ rootNodes: cluster.rootNodes });
  const sub = pub.duplicate();
  pub.on("error", () => {});
  sub.on("error", () => {});
  await Promise.all([pub.connect(), sub.connect()]);
  const httpServer = http.createServer();
  const io = new Server(httpServer, { adapter: createShardedAdapter(pub, sub) });
  await new Promise((r) => httpServer.listen(0, "127.0.0.1", r));
  io.port = httpServer.address().port;
  io.stop = async () => {
    io.close();
    await sleep(50);
    await pub.quit().catch(() => {});
    await sub.quit().catch(() => {});
  };
  return io;
}

function nodeClient(io) {
  const c = ioc(`http://127.0.0.1:${io.port}`, { transports: ["websocket"] });
  return new Promise((resolve, reject) => {
    c.once("connect", () => resolve(c));
    c.once("connect_error", reject);
  });
}

(haveRedisCluster() ? describe : describe.skip)("Node sharded peers on a Redis Cluster", function () {
  this.timeout(30000);
  let cluster, a, b, ca, cb;

  before(async () => {
    cluster = await startRedisCluster();
    a = await nodePeer(cluster);
    b = await nodePeer(cluster);
    b.on("connection", (s) => s.join("game"));
    ca = await nodeClient(a);
    cb = await nodeClient(b);
    await sleep(200); // the room channel's SSUBSCRIBE reaches its shard
  });

  after(async () => {
    ca?.close();
    cb?.close();
    await a?.stop();
    await b?.stop();
    await cluster?.stop();
  });

  it("delivers a room broadcast from one server to the other's members", async () => {
    const got = once(cb, "round", 5000);
    a.to("game").emit("round", 1);
    assert.deepEqual(await got, [1]);
  });

  it("counts both servers (SHARDNUMSUB over the masters)", async () => {
    assert.equal(await a.of("/").adapter.serverCount(), 2);
  });

  it("fetches the other server's sockets", async () => {
    const sockets = await a.in("game").fetchSockets();
    assert.equal(sockets.length, 1);
    assert.ok(sockets[0].rooms.has("game"));
  });
});

// See the header: needs the daemon's Redis Cluster driver.
describe.skip("sio-server daemon beside a Node sharded peer on a Redis Cluster " +
  "(needs the sharded Redis driver and SIO_REDIS_ADAPTER=sharded)", function () {
  this.timeout(30000);
  let cluster, peer, daemon, peerClient;

  before(async () => {
    assert.ok(daemonPath(), "SIO_DAEMON");
    cluster = await startRedisCluster();
    daemon = await startDaemon({ SIO_REDIS_URL: cluster.url, SIO_REDIS_ADAPTER: "sharded" });
    await daemon.waitStderr(/sharded: connected/, 5000);
    peer = await nodePeer(cluster);
    peer.on("connection", (s) => s.join("project:7"));
    peerClient = await nodeClient(peer);
    await sleep(200);
  });

  afterEach(() => closeClients());
  after(async () => {
    peerClient?.close();
    await stopAllDaemons();
    await peer?.stop();
    await cluster?.stop();
  });

  it("an event published on the daemon reaches the Node peer's room members", async () => {
    const got = once(peerClient, "project.updated", 5000);
    const res = await publish(daemon, { rooms: ["project:7"], event: "project.updated",
      data: { project_id: "7" } });
    assert.equal(res.status, 202);
    const [env] = await got;
    assert.deepEqual(env.data, { project_id: "7" });
  });

  it("a Node room broadcast reaches the daemon's subscribers", async () => {
    const { socket } = await connectAs(daemon, token("alice", { projects: ["7"] }));
    assert.equal((await ack(socket, "subscribe", { room: "project:7" })).ok, true);
    await sleep(200);
    const got = once(socket, "from-node", 5000);
    peer.to("project:7").emit("from-node", { n: 1 });
    assert.deepEqual((await got)[0], { n: 1 });
  });

  it("serverCount and fetchSockets span the daemon and the peer", async () => {
    const { socket } = await connectAs(daemon, token("bob", { projects: ["7"] }));
    await ack(socket, "subscribe", { room: "project:7" });
    assert.equal(await peer.of("/").adapter.serverCount(), 2);
    const sockets = await peer.in("project:7").fetchSockets();
    assert.equal(sockets.length, 2);
  });
});
