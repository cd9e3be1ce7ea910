// redis.adapter = streams (issue 11 item 1): connection state recovery
// across the fleet, with two sio-server instances and a Node socket.io
// server using @socket.io/redis-streams-adapter 0.3 on one redis-server.
// A stock socket.io-client drops its transport on one instance while 50
// events are published, and resumes on another: socket.recovered, the
// same id, every missed event once and in order. The same after its
// instance is drained (SIGTERM) and after it is killed (SIGKILL, once the
// periodic copy of its session was made).
import assert from "node:assert/strict";
import http from "node:http";
import { Server } from "socket.io";
import { createClient } from "redis";
import { createAdapter } from "@socket.io/redis-streams-adapter";
import {
  startDaemon, stopAllDaemons, closeClients, client, token, publish, once,
  ack, sleep, daemonPath, freePort,
} from "./daemon-harness.mjs";
import { haveRedisServer, startRedis } from "./redis-harness.mjs";

const withRedis = daemonPath() && haveRedisServer();
const MAX_DISCONNECTION_MS = 60000;

// The Node peer: the reference server with the streams adapter and
// recovery, joining the daemon's automatic rooms and binding the session
// to the user as the daemon does (socket.data.owner), so that a session
// either kind of server made resumes on the other for the same user only.
async function startNodePeer(redisUrl) {
  const redis = createClient({ url: redisUrl });
  redis.on("error", () => {});
  await redis.connect();
  const httpServer = http.createServer();
  const io = new Server(httpServer, {
    adapter: createAdapter(redis),
    connectionStateRecovery: { maxDisconnectionDuration: MAX_DISCONNECTION_MS },
  });
  io.use((socket, next) => {
    try {
      const payload = socket.handshake.auth.token.split(".")[1];
      socket.data.owner = JSON.parse(Buffer.from(payload, "base64url")).sub;
      next();
    } catch {
      next(new Error("unauthorized"));
    }
  });
  io.on("connection", (socket) => {
    if (!socket.recovered) socket.join(["global", `user:${socket.data.owner}`]);
  });
  const port = await freePort();
  await new Promise((r) => httpServer.listen(port, "127.0.0.1", r));
  return {
    io,
    url: `http://127.0.0.1:${port}`,
    async close() {
      io.close();
      await redis.quit().catch(() => {});
    },
  };
}

function recorder(socket) {
  const rec = { all: [] };
  socket.onAny((event, ...args) => rec.all.push({ event, args }));
  rec.of = (event) => rec.all.filter((e) => e.event === event);
  return rec;
}

// Connects to target (a daemon, or a Node peer's { url }) and waits for
// one published event: the session a reconnection presents.
async function firstSession(target, tok, publishVia) {
  const socket = client(target, { transports: ["websocket"], auth: { token: tok }, reconnection: false });
  await once(socket, "connect");
  const got = once(socket, "issue.updated");
  await emit(publishVia, 0);
  await got;
  assert.ok(socket._pid, "recovery on: the CONNECT reply has a pid");
  assert.match(socket._lastOffset, /^\d+-\d+$/, "the offset is the stream entry id");
  return { socket, id: socket.id, pid: socket._pid, offset: socket._lastOffset };
}

function dropTransport(s) {
  const disc = once(s.socket, "disconnect");
  s.socket.io.engine.close(); // as if the network dropped
  return disc;
}

// Presents pid/offset as socket.io-client does after a lost connection.
async function resume(target, tok, first) {
  const socket = client(target, { transports: ["websocket"], auth: { token: tok }, autoConnect: false, reconnection: false });
  socket._pid = first.pid;
  socket._lastOffset = first.offset;
  const rec = recorder(socket);
  socket.connect();
  await once(socket, "connect");
  return { socket, rec };
}

async function emit(d, n, rooms = ["global"]) {
  const r = await publish(d, { rooms, event: "issue.updated", data: { n } });
  assert.equal(r.status, 202, r.body);
}

async function waitFor(pred, ms = 5000) {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) return false;
    await sleep(20);
  }
  return true;
}

// The 50 events 1..50, once each, in order (each with its offset).
async function assertGotAll(rec) {
  assert.ok(await waitFor(() => rec.of("issue.updated").length >= 50), `got ${rec.of("issue.updated").length} of 50`);
  const ns = rec.of("issue.updated").map((e) => e.args[0].data.n);
  assert.deepEqual(ns.slice(0, 50), Array.from({ length: 50 }, (_, i) => i + 1));
  for (const e of rec.of("issue.updated")) assert.match(e.args[1], /^\d+-\d+$/);
}

async function publishFifty(d, user) {
  for (let n = 1; n <= 50; n++) await emit(d, n, n % 2 ? ["global"] : [`user:${user}`]);
}

(withRedis ? describe : describe.skip)("daemon: redis.adapter = streams, recovery across instances and with Node peers", function () {
  this.timeout(90000);
  let redis, a, b, node;
  const env = () => ({
    SIO_REDIS_URL: redis.url,
    SIO_REDIS_ADAPTER: "streams",
    SIO_RECOVERY_ENABLED: "true",
    SIO_RECOVERY_PERSIST_INTERVAL_MS: "200",
  });
  const startInstance = async (id, extra = {}) => {
    const d = await startDaemon({ ...env(), SIO_SERVER_ID: id, ...extra });
    await d.waitStderr(/streams: connected/, 5000);
    return d;
  };
  before(async () => {
    redis = await startRedis();
    a = await startInstance("streams-a");
    b = await startInstance("streams-b");
    node = await startNodePeer(redis.url);
    await sleep(200); // every reader found the stream's end
  });
  afterEach(() => closeClients());
  after(async () => {
    if (node) await node.close();
    await stopAllDaemons();
    if (redis) await redis.stop();
  });

  it("drops on A, 50 events published through B, resumes on B: recovered, same id, all 50 in order", async () => {
    const tok = token("st-1");
    const first = await firstSession(a, tok, b);
    await dropTransport(first);
    await publishFifty(b, "st-1");
    const again = await resume(b, tok, first);
    assert.equal(again.socket.recovered, true);
    assert.equal(again.socket.id, first.id);
    await assertGotAll(again.rec);
  });

  it("drops on A, resumes on the Node streams-adapter peer: recovered, all 50 in order", async () => {
    const tok = token("st-2");
    const first = await firstSession(a, tok, a);
    await dropTransport(first);
    await publishFifty(b, "st-2");
    await sleep(100);
    const again = await resume(node, tok, first);
    assert.equal(again.socket.recovered, true);
    assert.equal(again.socket.id, first.id);
    await assertGotAll(again.rec);
  });

  it("drops on the Node peer, resumes on B: recovered, all 50 in order; another user with that pid gets nothing", async () => {
    const tok = token("st-3");
    const first = await firstSession(node, tok, a);
    await dropTransport(first);
    await sleep(100); // the peer's SET of the session
    await publishFifty(a, "st-3");
    const thief = await resume(b, token("st-mallory"), first);
    assert.equal(thief.socket.recovered, false);
    assert.notEqual(thief.socket.id, first.id);
    await sleep(200);
    assert.equal(thief.rec.of("issue.updated").filter((e) => e.args[0].data.n % 2 === 0).length, 0,
      "none of st-3's own events");
    const again = await resume(b, tok, first);
    assert.equal(again.socket.recovered, true, "the attempt did not spend the session");
    await assertGotAll(again.rec);
  });

  it("A drained with SIGTERM, then killed mid-drain: its client resumes on B with every event since (the drain's copy)", async () => {
    // no periodic copy within the test (the first would come after 10 s):
    // only the one made when the drain starts can bring the session back
    const c = await startInstance("streams-c", { SIO_RECOVERY_PERSIST_INTERVAL_MS: "3600000" });
    const tok = token("st-4");
    const first = await firstSession(c, tok, b);
    first.socket.on("connection.error", () => {});
    c.signal("SIGTERM");
    await c.waitStderr(/draining/, 5000);
    await sleep(100);
    await c.kill(); // before its sockets were closed
    await publishFifty(b, "st-4");
    first.socket.disconnect();
    const again = await resume(b, tok, first);
    assert.equal(again.socket.recovered, true);
    await assertGotAll(again.rec);
  });

  it("A killed with SIGKILL after the periodic copy: the client resumes on B with every event since (rooms as of the copy)", async () => {
    const c = await startInstance("streams-d");
    const tok = token("st-5", { projects: ["9"] });
    const first = await firstSession(c, tok, b);
    assert.equal((await ack(first.socket, "subscribe", { room: "project:9" })).ok, true);
    await sleep(600); // > recovery.persist_interval_ms: the copy has the room
    await c.kill();
    await publishFifty(b, "st-5");
    await emit(b, 51, ["project:9"]);
    first.socket.disconnect();
    const again = await resume(b, tok, first);
    assert.equal(again.socket.recovered, true);
    await assertGotAll(again.rec);
    assert.ok(await waitFor(() => again.rec.of("issue.updated").some((e) => e.args[0].data.n === 51)),
      "the room joined before the copy came back");
  });
});
