// Node socket.io peers for the Redis topology suites: a socket.io 4.8
// server on a free loopback port with @socket.io/redis-adapter's
// createAdapter or createShardedAdapter over node-redis 4 clients, and
// stock socket.io-client sockets connected to it. A peer's sockets join
// "global" and the rooms named in their auth payload ({ rooms: [...] }),
// as the daemon's clients join theirs, so that one broadcast to a room
// reaches the members on both kinds of server.

import { readFileSync } from "node:fs";
import http from "node:http";
import { Server } from "socket.io";
import { io as ioc } from "socket.io-client";
import { createClient, createCluster } from "redis";
import { createAdapter, createShardedAdapter } from "@socket.io/redis-adapter";

// node-redis client options for one Redis: url (redis:// or rediss://),
// ACL user and password, TLS files (paths) and the name to check.
export function redisOptions(url, { user, password, ca, cert, key, servername } = {}) {
  const o = { url, socket: { reconnectStrategy: (n) => Math.min(50 * (n + 1), 500) } };
  if (user) o.username = user;
  if (password) o.password = password;
  if (url.startsWith("rediss:")) {
    o.socket.tls = true;
    if (ca) o.socket.ca = readFileSync(ca);
    if (cert) o.socket.cert = readFileSync(cert);
    if (key) o.socket.key = readFileSync(key);
    if (servername) o.socket.servername = servername;
  }
  return o;
}

// A connected publisher/subscriber pair.
export async function redisPair(options) {
  const pub = createClient(options);
  const sub = pub.duplicate();
  const errors = [];
  for (const c of [pub, sub]) c.on("error", (e) => errors.push(e));
  await Promise.all([pub.connect(), sub.connect()]);
  return { pub, sub, errors, quit: () => quitAll([pub, sub]) };
}

// node-redis 4.7 drops a sharded subscription when its slot migrates: a
// node client emits "sharded-channel-moved" on the server's SUNSUBSCRIBE,
// the cluster listens for "server-sunsubscribe", and nobody resubscribes
// (redis/node-redis#3311, fixed upstream in #3313 after 4.x). The peers
// stand for a fixed client, so the event is also emitted under the name
// the cluster waits for.
function followShardedMoves() {
  let proto = Object.getPrototypeOf(createClient());
  while (proto && !Object.prototype.hasOwnProperty.call(proto, "extendPubSubChannelListeners"))
    proto = Object.getPrototypeOf(proto);
  if (!proto || proto.sioFollowsShardedMoves) return;
  const emit = proto.emit;
  proto.emit = function (name, ...args) {
    if (name === "sharded-channel-moved" && this.listenerCount("server-sunsubscribe"))
      emit.call(this, "server-sunsubscribe", ...args);
    return emit.call(this, name, ...args);
  };
  proto.sioFollowsShardedMoves = true;
}

// A connected pair of node-redis cluster clients.
export async function clusterPair(rootNodes) {
  followShardedMoves();
  const pub = createCluster({ rootNodes });
  const sub = createCluster({ rootNodes });
  const errors = [];
  for (const c of [pub, sub]) c.on("error", (e) => errors.push(e));
  await Promise.all([pub.connect(), sub.connect()]);
  return { pub, sub, errors, quit: () => quitAll([pub, sub]) };
}

// QUIT lets pending replies arrive (a DISCONNECT would reject commands
// the adapter did not await); a client already gone is disconnected.
async function quitAll(clients) {
  await Promise.all(clients.map((c) => c.quit().catch(() => c.disconnect().catch(() => {}))));
}

// Starts a socket.io server; adapter: "classic" or "sharded" over the
// pair's clients. Resolves with { io, port, url, close() }.
export async function startNodePeer(pair, { adapter = "classic", key = "socket.io" } = {}) {
  const httpServer = http.createServer();
  const factory = adapter === "sharded"
    ? createShardedAdapter(pair.pub, pair.sub, { channelPrefix: key })
    : createAdapter(pair.pub, pair.sub, { key, requestsTimeout: 3000 });
  const io = new Server(httpServer, { adapter: factory });
  io.on("connection", (s) => {
    s.join("global");
    for (const r of s.handshake.auth?.rooms || []) s.join(r);
    s.on("join", (room, cb) => {
      s.join(room);
      if (typeof cb === "function") cb(true);
    });
  });
  await new Promise((r) => httpServer.listen(0, "127.0.0.1", r));
  const port = httpServer.address().port;
  return {
    io,
    port,
    url: `http://127.0.0.1:${port}`,
    async close() {
      io.local.disconnectSockets(true);
      await new Promise((r) => io.close(() => r()));
      await pair.quit();
    },
  };
}

const sockets = new Set();

// A socket.io-client socket on a Node peer, connected.
export async function peerClient(peer, rooms = []) {
  const s = ioc(peer.url, { forceNew: true, reconnection: false, transports: ["websocket"],
    auth: { rooms } });
  sockets.add(s);
  await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error("peer client: connect timed out")), 5000);
    s.once("connect", () => {
      clearTimeout(t);
      resolve();
    });
    s.once("connect_error", (e) => {
      clearTimeout(t);
      reject(e);
    });
  });
  return s;
}

export function closePeerClients() {
  for (const s of sockets) s.disconnect();
  sockets.clear();
}

// Resolves when fn() is truthy, polling; rejects after ms.
export async function eventually(fn, ms = 5000, what = "condition") {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

// Numbered-stream bookkeeping: which of 0..n-1 were not received, as
// ranges ("12-15, 40").
export function missing(n, got) {
  const out = [];
  let start = null;
  for (let k = 0; k <= n; k++) {
    const miss = k < n && !got.has(k);
    if (miss && start === null) start = k;
    if (!miss && start !== null) {
      out.push(start === k - 1 ? `${start}` : `${start}-${k - 1}`);
      start = null;
    }
  }
  return out;
}
