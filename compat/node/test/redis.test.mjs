// The Redis adapter protocol across implementations: sio-server (the
// compat server with SIO_REDIS_URL) beside a Node socket.io 4.8 server
// using @socket.io/redis-adapter 8, and @socket.io/redis-emitter 5, all on
// one private redis-server. Clients are the stock socket.io-client.
//
// Skipped when redis-server is not installed. The Node peer runs in this
// process; its handlers mirror the compat server's ("join", "rooms",
// "set-data", "welcome" on connection).

import assert from "node:assert/strict";
import http from "node:http";
import { Server } from "socket.io";
import { createAdapter } from "@socket.io/redis-adapter";
import { Emitter } from "@socket.io/redis-emitter";
import { createClient } from "redis";
import {
  ack,
  closeAll,
  eventually,
  once,
  open,
  sleep,
  startServer,
  stopClean,
} from "./harness.mjs";
import { haveRedisServer, startRedis } from "./redis-harness.mjs";

// Resolves true when event did not arrive on socket within ms.
function absent(socket, event, ms = 300) {
  return new Promise((resolve) => {
    let seen = false;
    const h = () => {
      seen = true;
    };
    socket.on(event, h);
    setTimeout(() => {
      socket.off(event, h);
      resolve(!seen);
    }, ms);
  });
}

const sorted = (a) => [...a].sort();

describe("Redis adapter: sio-server, a Node socket.io server and the emitter", function () {
  this.timeout(20000);
  let redis;
  let sio;
  let node;
  let nodeHttp;
  let nodeUrl;
  const redisClients = [];
  let emitter;

  before(async function () {
    if (!haveRedisServer()) this.skip();
    redis = await startRedis();
    sio = await startServer({ SIO_REDIS_URL: redis.url });
    const pub = createClient({ url: redis.url });
    const sub = pub.duplicate();
    const em = pub.duplicate();
    pub.on("error", () => {});
    sub.on("error", () => {});
    em.on("error", () => {});
    await Promise.all([pub.connect(), sub.connect(), em.connect()]);
    redisClients.push(pub, sub, em);
    nodeHttp = http.createServer();
    node = new Server(nodeHttp, {
      adapter: createAdapter(pub, sub, { requestsTimeout: 3000 }),
    });
    const onConnection = (s) => {
      s.on("join", (room, cb) => {
        s.join(room);
        if (typeof cb === "function") cb(true);
      });
      s.on("rooms", (cb) => cb([...s.rooms]));
      s.on("set-data", (d, cb) => {
        s.data = d;
        cb(true);
      });
      s.emit("welcome", { id: s.id, nsp: s.nsp.name });
    };
    node.on("connection", onConnection);
    node.of("/admin").on("connection", onConnection);
    await new Promise((r) => nodeHttp.listen(0, "127.0.0.1", r));
    nodeUrl = `http://127.0.0.1:${nodeHttp.address().port}`;
    emitter = new Emitter(em);
    await eventually(
      async () =>
        (await node.of("/").adapter.serverCount()) === 2 &&
        (await node.of("/admin").adapter.serverCount()) === 2,
      5000,
      "both servers subscribed",
    );
  });

  afterEach(() => closeAll());

  after(async function () {
    if (node) {
      node.close();
      node.disconnectSockets(true);
    }
    for (const c of redisClients) await c.quit().catch(() => {});
    if (sio) await stopClean(sio);
    if (redis) await redis.stop();
  });

  async function joined(url, ...rooms) {
    const { socket } = await open(url, { transports: ["websocket"] });
    for (const r of rooms) assert.equal((await ack(socket, "join", r))[0], true);
    return socket;
  }

  it("broadcasts both ways, to rooms, with except", async () => {
    const a = await joined(sio.url, "r");
    const a2 = await joined(sio.url, "r", "x");
    const b = await joined(nodeUrl, "r");
    const b2 = await joined(nodeUrl, "r", "x");
    const c = await joined(nodeUrl);

    // Node -> sio-server
    let got = once(a, "from-node");
    let notA2 = absent(a2, "from-node");
    node.to("r").except("x").emit("from-node", 1, { k: "v" });
    assert.deepEqual(await got, [1, { k: "v" }]);
    assert.equal(await notA2, true);

    // sio-server -> Node
    got = once(b, "from-sio");
    const notB2 = absent(b2, "from-sio");
    const notC = absent(c, "from-sio");
    const [count] = await ack(a, "broadcast", {
      event: "from-sio",
      args: [2, "two"],
      rooms: ["r"],
      except: ["x"],
    });
    assert.equal(count, 1); // a itself, locally
    assert.deepEqual(await got, [2, "two"]);
    assert.equal(await notB2, true);
    assert.equal(await notC, true);

    // everyone, from both sides
    const all = [a, a2, b, b2, c].map((s) => once(s, "all"));
    node.emit("all", "n");
    assert.equal((await Promise.all(all)).length, 5);
    const all2 = [a, a2, b, b2, c].map((s) => once(s, "all2"));
    await ack(a2, "broadcast", { event: "all2" });
    assert.equal((await Promise.all(all2)).length, 5);
  });

  it("carries binary arguments both ways and keeps namespaces apart", async () => {
    const a = await joined(sio.url);
    const b = await joined(nodeUrl);
    let got = once(a, "bin");
    node.emit("bin", Buffer.from([1, 2, 3]), { nested: Buffer.from("hi") });
    const [buf, obj] = await got;
    assert.deepEqual(Buffer.from(buf), Buffer.from([1, 2, 3]));
    assert.deepEqual(Buffer.from(obj.nested), Buffer.from("hi"));

    got = once(b, "bin2");
    await ack(a, "broadcast", { event: "bin2", args: [Buffer.from([9, 8])] });
    const [buf2] = await got;
    assert.deepEqual(Buffer.from(buf2), Buffer.from([9, 8]));

    const { socket: adminSio } = await open(`${sio.url}/admin`, {
      transports: ["websocket"],
    });
    got = once(adminSio, "adm");
    const notMain = absent(a, "adm");
    node.of("/admin").emit("adm", "x");
    assert.deepEqual(await got, ["x"]);
    assert.equal(await notMain, true);
  });

  it("fetchSockets sees the sockets of both servers", async () => {
    const a = await joined(sio.url, "team");
    await ack(a, "set-data", { user: "alice" });
    const b = await joined(nodeUrl, "team");
    await ack(b, "set-data", { user: "bob" });
    await joined(nodeUrl); // not in the team

    const socks = await node.in("team").fetchSockets();
    assert.deepEqual(sorted(socks.map((s) => s.id)), sorted([a.id, b.id]));
    const remote = socks.find((s) => s.id === a.id);
    assert.deepEqual(remote.data, { user: "alice" });
    assert.ok(remote.rooms.has("team") && remote.rooms.has(a.id));
    assert.equal(remote.handshake.address, "127.0.0.1");
    assert.equal(remote.handshake.query.EIO, "4");

    const [res] = await ack(a, "fetch", { rooms: ["team"] });
    assert.equal(res.status, "ok");
    assert.deepEqual(sorted(res.sockets.map((s) => s.id)), sorted([a.id, b.id]));
    const fromNode = res.sockets.find((s) => s.id === b.id);
    assert.equal(fromNode.local, false);
    assert.deepEqual(fromNode.data, { user: "bob" });
    assert.ok(fromNode.rooms.includes("team"));
    assert.equal(res.sockets.find((s) => s.id === a.id).local, true);
  });

  it("serverSideEmit both ways, with acknowledgements", async () => {
    const a = await joined(sio.url);
    let got = once(a, "server-event");
    node.serverSideEmit("hello", 1, "two");
    assert.deepEqual(await got, [{ event: "hello", args: [1, "two"] }]);

    const answers = await node.serverSideEmitWithAck("ping", 5);
    assert.deepEqual(answers, [{ from: "sio", event: "ping", args: [5] }]);

    const heard = new Promise((resolve) => node.once("sio-hello", (...args) => resolve(args)));
    assert.deepEqual(
      await ack(a, "server-side-emit", { event: "sio-hello", args: [7, { k: 1 }] }),
      [true],
    );
    assert.deepEqual(await heard, [7, { k: 1 }]);

    node.on("sio-ask", (n, cb) => cb({ node: n * 2 }));
    const [res] = await ack(a, "server-side-emit", {
      event: "sio-ask",
      args: [3],
      ack: true,
    });
    assert.deepEqual(res, { status: "ok", responses: [{ node: 6 }] });
    node.removeAllListeners("sio-ask");
  });

  it("socketsJoin and socketsLeave across servers", async () => {
    const a = await joined(sio.url, "crew");
    const b = await joined(nodeUrl, "crew");
    node.in("crew").socketsJoin(["by-node"]);
    await eventually(
      async () => (await ack(a, "rooms"))[0].includes("by-node"),
      3000,
      "sio socket in by-node",
    );
    assert.ok(node.of("/").sockets.get(b.id).rooms.has("by-node"));

    await ack(a, "sockets-join", { rooms: ["crew"], join: ["by-sio"] });
    await eventually(
      () => node.of("/").sockets.get(b.id).rooms.has("by-sio"),
      3000,
      "node socket in by-sio",
    );
    assert.ok((await ack(a, "rooms"))[0].includes("by-sio"));

    await ack(a, "sockets-leave", { rooms: ["crew"], leave: ["by-node"] });
    await eventually(
      () => !node.of("/").sockets.get(b.id).rooms.has("by-node"),
      3000,
      "node socket out of by-node",
    );
    node.in("crew").socketsLeave("by-sio");
    await eventually(
      async () => !(await ack(a, "rooms"))[0].includes("by-sio"),
      3000,
      "sio socket out of by-sio",
    );
  });

  it("disconnectSockets across servers", async () => {
    const a = await joined(sio.url, "kick");
    const keep = await joined(sio.url);
    const b = await joined(nodeUrl, "kick2");
    let gone = once(a, "disconnect");
    node.in("kick").disconnectSockets();
    assert.equal((await gone)[0], "io server disconnect");
    assert.equal(keep.connected, true);

    gone = once(b, "disconnect");
    await ack(keep, "disconnect-sockets", { rooms: ["kick2"] });
    assert.equal((await gone)[0], "io server disconnect");
    assert.equal(keep.connected, true);
  });

  it("serverCount and allRooms", async () => {
    const a = await joined(sio.url, "only-on-sio");
    const b = await joined(nodeUrl, "only-on-node");
    assert.deepEqual((await ack(a, "server-count"))[0], { status: "ok", count: 2 });
    assert.equal(await node.of("/").adapter.serverCount(), 2);
    const rooms = await node.of("/").adapter.allRooms();
    assert.ok(rooms.has("only-on-sio") && rooms.has(a.id) && rooms.has(b.id));
    const [res] = await ack(a, "all-rooms");
    assert.equal(res.status, "ok");
    assert.ok(res.rooms.includes("only-on-node") && res.rooms.includes(a.id));
    assert.equal(new Set(res.rooms).size, res.rooms.length);
  });

  it("broadcasts with acknowledgements both ways", async () => {
    const a = await joined(sio.url);
    const b = await joined(nodeUrl);
    a.on("q", (n, cb) => cb(`a${n}`));
    b.on("q", (n, cb) => cb(`b${n}`));
    const answers = await node.timeout(3000).emitWithAck("q", 1);
    assert.deepEqual(sorted(answers), ["a1", "b1"]);
    const [res] = await ack(a, "broadcast-ack", {
      event: "q",
      args: [2],
      timeout: 3000,
    });
    assert.equal(res.status, "ok");
    assert.deepEqual(sorted(res.responses), ["a2", "b2"]);
  });

  it("the emitter reaches exactly the right clients", async () => {
    const a = await joined(sio.url, "project:1");
    const b = await joined(nodeUrl, "project:1");
    const c = await joined(sio.url, "project:2");
    const d = await joined(sio.url, "project:1", "muted");
    const envelope = {
      event_id: "6f1c0b9e-4a51-4f7e-9d3a-0c2b7a1d5e10",
      type: "project.updated",
      timestamp: "2024-01-02T03:04:05.678Z",
      data: { id: 1, name: "x" },
    };
    const got = [a, b].map((s) => once(s, "project.updated"));
    const nots = [c, d].map((s) => absent(s, "project.updated"));
    emitter.to("project:1").except("muted").emit("project.updated", envelope);
    for (const g of await Promise.all(got)) assert.deepEqual(g, [envelope]);
    assert.deepEqual(await Promise.all(nots), [true, true]);

    const { socket: adminSio } = await open(`${sio.url}/admin`, {
      transports: ["websocket"],
    });
    const adm = once(adminSio, "adm");
    const notMain = absent(a, "adm");
    emitter.of("/admin").emit("adm", Buffer.from([5]));
    assert.deepEqual(Buffer.from((await adm)[0]), Buffer.from([5]));
    assert.equal(await notMain, true);

    emitter.in("project:1").socketsJoin("bulk");
    await eventually(
      async () => (await ack(a, "rooms"))[0].includes("bulk"),
      3000,
      "joined bulk",
    );
    assert.equal((await ack(c, "rooms"))[0].includes("bulk"), false);

    const ev = once(a, "server-event");
    emitter.serverSideEmit("from-emitter", { n: 1 });
    assert.deepEqual(await ev, [{ event: "from-emitter", args: [{ n: 1 }] }]);

    const gone = once(c, "disconnect");
    emitter.in("project:2").disconnectSockets();
    assert.equal((await gone)[0], "io server disconnect");
    await sleep(50);
    assert.equal(a.connected && b.connected && d.connected, true);
  });
});
