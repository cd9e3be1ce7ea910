// Drives two Node socket.io servers with createShardedAdapter
// (@socket.io/redis-adapter >= 8.2) on one Redis 7 through every operation
// of the sharded protocol, and records every SPUBLISH the adapters make,
// channel and bytes as handed to the Redis client (a sniffer subscribed to
// the namespace channel would count in PUBSUB SHARDNUMSUB, the adapter's
// serverCount, and change what is published).
//
// Used by sharded-codec.test.mjs, and as a script to regenerate the golden
// vectors of tests/test_sio_redis_msg.c:
//   cd compat/node && node test/sharded-capture.mjs \
//     > ../../tests/data/redis/sharded_vectors.txt
// Line format as tests/data/redis/vectors.txt: step, channel, encoding
// ("json" when the first byte is '{', else "msgpack"), hex; '#' comments.

import { createRequire } from "node:module";
import http from "node:http";
import { Server } from "socket.io";
import { io as ioc } from "socket.io-client";
import { createClient } from "redis";
import { createShardedAdapter } from "@socket.io/redis-adapter";
import { startRedis } from "./redis-harness.mjs";

const require = createRequire(import.meta.url);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function version(name) {
  return require(`${name}/package.json`).version;
}

// Resolves with { lines: [...], records: [{step, channel, hex}], uids }.
export async function captureSharded(url) {
  const lines = [];
  const records = [];
  let step = "setup";
  lines.push(`# @socket.io/redis-adapter ${version("@socket.io/redis-adapter")} ` +
    `(createShardedAdapter, subscriptionMode dynamic), socket.io ` +
    `${version("socket.io")}, socket.io-adapter ${version("socket.io-adapter")}, ` +
    `notepack.io ${version("notepack.io")}, node ${process.version}`);
  lines.push("# step\tchannel\tencoding\thex");

  const conns = [];
  async function server() {
    const pub = createClient({ url });
    const sub = pub.duplicate();
    pub.on("error", () => {});
    sub.on("error", () => {});
    await Promise.all([pub.connect(), sub.connect()]);
    conns.push(pub, sub);
    // record the bytes exactly as the adapter hands them to SPUBLISH
    const sPublish = pub.sPublish.bind(pub);
    pub.sPublish = (channel, payload) => {
      const msg = Buffer.from(payload);
      const enc = msg[0] === 0x7b ? "json" : "msgpack";
      if (enc === "json") lines.push(`# ${msg.toString()}`);
      const hex = msg.toString("hex");
      lines.push(`${step}\t${channel}\t${enc}\t${hex}`);
      records.push({ step, channel, hex });
      return sPublish(channel, payload);
    };
    const httpServer = http.createServer();
    const io = new Server(httpServer, {
      adapter: createShardedAdapter(pub, sub),
    });
    await new Promise((r) => httpServer.listen(0, "127.0.0.1", r));
    io.port = httpServer.address().port;
    io.of("/admin");
    return io;
  }
  const A = await server();
  const B = await server();
  const uidA = A.of("/").adapter.uid;
  const uidB = B.of("/").adapter.uid;
  let socketB;
  B.on("connection", (s) => {
    socketB = s;
    s.join(["room1", "r1"]);
    s.data = { user: "u1" };
  });
  B.on("sse-ack", (n, cb) => cb({ got: n }));
  B.on("sse", () => {});

  const cb = ioc(`http://127.0.0.1:${B.port}`, { transports: ["websocket"] });
  cb.on("q", (n, ack) => ack("answer"));
  cb.on("qb", (ack) => ack(Buffer.from([9, 8])));
  await new Promise((r) => cb.on("connect", r));
  await sleep(100);


  const steps = [
    ["bcast_all", () => A.emit("hello", "world", 42, { a: [true, null, 1.5], s: "é/" })],
    ["bcast_room", () => A.to("room1").emit("ev", -1)],
    ["bcast_rooms_except", () => A.to(["a", "b"]).except(["c", "d"]).emit("ev2", {})],
    ["bcast_volatile", () => A.volatile.emit("v", 1)],
    ["bcast_binary", () => A.emit("bin", Buffer.from([1, 2, 3]),
      { x: Buffer.alloc(0), y: [Buffer.from("ab")] })],
    ["bcast_room_binary", () => A.to("room1").emit("rb", Buffer.from([9]))],
    ["bcast_socket_id", () => A.to(socketB.id).emit("dm", 1)],
    ["bcast_nsp", () => A.of("/admin").emit("adm", "x")],
    ["sockets_join", () => A.socketsJoin("j1")],
    ["sockets_join_opts", () => A.in("r1").except("x").socketsJoin(["j2", "j3"])],
    ["sockets_leave", () => A.in("r1").socketsLeave("j2")],
    ["disconnect_sockets", () => A.in("nobody").disconnectSockets(true)],
    ["disconnect_sockets_noclose", () => A.in("nobody").except("r1").disconnectSockets()],
    ["fetch_sockets", () => A.in("r1").fetchSockets()],
    ["server_side_emit", () => A.serverSideEmit("sse", 1, "two")],
    ["server_side_emit_ack", () => A.serverSideEmitWithAck("sse-ack", 3)],
    ["broadcast_ack", () => A.timeout(2000).emitWithAck("q", 7)],
    ["broadcast_ack_binary", () => A.to("r1").timeout(2000).emitWithAck("qb")],
  ];
  for (const [name, fn] of steps) {
    step = name;
    await fn();
    await sleep(150);
  }
  step = "teardown";
  cb.close();
  A.close();
  B.close();
  await sleep(100);
  for (const c of conns) await c.quit().catch(() => {});
  return { lines, records, uids: [uidA, uidB] };
}

// As a script: capture on a private redis-server and print the vectors.
if (import.meta.url === `file://${process.argv[1]}`) {
  const redis = await startRedis();
  try {
    const { lines } = await captureSharded(redis.url);
    process.stdout.write(lines.join("\n") + "\n");
  } finally {
    await redis.stop();
  }
  process.exit(0);
}
