// Captures golden vectors of the socket.io Redis adapter protocol for
// tests/test_sio_redis_msg.c: every message that @socket.io/redis-adapter 8
// and @socket.io/redis-emitter 5 publish, as the bytes Redis delivered.
// Not part of the build; regenerate with:
//
//   mkdir -p /tmp/redisref && cd /tmp/redisref && npm init -y >/dev/null &&
//   npm install @socket.io/redis-adapter@8 @socket.io/redis-emitter@5 \
//     socket.io@4.8 socket.io-client@4.8 redis@4
//   NODE_PATH=/tmp/redisref/node_modules node \
//     tests/data/redis/capture_vectors.js > tests/data/redis/vectors.txt
//
// It starts a private redis-server (loopback, a free port, a temp dir),
// two socket.io servers A and B with the Redis adapter, a client on each,
// and a sniffer connection in PSUBSCRIBE "*"; then performs each operation
// and writes every message published while that step ran.
//
// Line format (TAB-separated): step name, channel, encoding ("msgpack" or
// "json", from the first byte as the adapter decides), hex of the message.
// Lines starting with '#' are comments; a JSON message is also shown as a
// comment line just before it for the reader.
"use strict";
const { spawn } = require("child_process");
const fs = require("fs");
const net = require("net");
const os = require("os");
const path = require("path");
const http = require("http");
const { Server } = require("socket.io");
const { io: ioc } = require("socket.io-client");
const { createClient } = require("redis");
const { createAdapter } = require("@socket.io/redis-adapter");
const { Emitter } = require("@socket.io/redis-emitter");

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function version(name) {
  let d = path.dirname(require.resolve(name));
  for (;;) {
    const p = path.join(d, "package.json");
    if (fs.existsSync(p)) {
      const j = JSON.parse(fs.readFileSync(p));
      if (j.name === name && j.version) return j.version;
    }
    d = path.dirname(d);
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function startRedis() {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "redis-vectors-"));
  const child = spawn("redis-server", ["--port", String(port), "--bind",
    "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir],
    { stdio: "ignore" });
  for (let i = 0; i < 100; i++) {
    await sleep(50);
    const ok = await new Promise((resolve) => {
      const c = net.connect(port, "127.0.0.1", () => { c.end(); resolve(true); });
      c.on("error", () => resolve(false));
    });
    if (ok) return { child, port, dir };
  }
  throw new Error("redis-server did not start");
}

async function main() {
  const redis = await startRedis();
  const url = `redis://127.0.0.1:${redis.port}`;
  const out = [];
  let step = "setup";
  const print = (s) => out.push(s);

  print(`# @socket.io/redis-adapter ${version("@socket.io/redis-adapter")}, ` +
    `@socket.io/redis-emitter ${version("@socket.io/redis-emitter")}, ` +
    `socket.io ${version("socket.io")}, notepack.io ${version("notepack.io")}, ` +
    `node ${process.version}`);
  print("# step\tchannel\tencoding\thex");

  const sniffer = createClient({ url });
  await sniffer.connect();
  await sniffer.pSubscribe("*", (msg, channel) => {
    const enc = msg[0] === 0x7b ? "json" : "msgpack";
    if (enc === "json") print(`# ${msg.toString()}`);
    print(`${step}\t${channel.toString()}\t${enc}\t${msg.toString("hex")}`);
  }, true);

  const clients = [];
  async function server() {
    const pub = createClient({ url });
    const sub = pub.duplicate();
    await Promise.all([pub.connect(), sub.connect()]);
    clients.push(pub, sub);
    const httpServer = http.createServer();
    const io = new Server(httpServer, { adapter: createAdapter(pub, sub) });
    await new Promise((r) => httpServer.listen(0, "127.0.0.1", r));
    io.port = httpServer.address().port;
    io.of("/admin");
    return io;
  }
  const A = await server();
  const B = await server();
  let lastSocketA;
  A.on("connection", (s) => {
    lastSocketA = s;
    s.join("r1");
  });
  B.on("connection", (s) => {
    s.join("r1");
    s.data = { user: "u1" };
  });
  B.on("sse-ack", (n, cb) => cb({ got: n }));
  B.on("sse", () => {});
  B.of("/admin").on("connection", () => {});

  const ca = ioc(`http://127.0.0.1:${A.port}`, { transports: ["websocket"] });
  const cb = ioc(`http://127.0.0.1:${B.port}`, { transports: ["websocket"] });
  cb.on("q", (n, ack) => ack("answer"));
  cb.on("qb", (ack) => ack(Buffer.from([9, 8])));
  ca.on("q", (n, ack) => ack("local"));
  ca.on("qb", (ack) => ack(Buffer.from([7])));
  await Promise.all([new Promise((r) => ca.on("connect", r)),
    new Promise((r) => cb.on("connect", r))]);
  await sleep(200);

  const steps = [
    ["bcast_all", () => A.emit("hello", "world", 42, { a: [true, null, 1.5], s: "é" })],
    ["bcast_room", () => A.to("room1").emit("ev", -1)],
    ["bcast_rooms_except", () => A.to(["a", "b"]).except(["c", "d"]).emit("ev2", {})],
    ["bcast_volatile", () => A.volatile.emit("v", 1)],
    ["bcast_compress", () => A.compress(false).emit("c")],
    ["bcast_binary", () => A.emit("bin", Buffer.from([1, 2, 3]),
      { x: Buffer.alloc(0), y: [Buffer.from("ab")] })],
    ["bcast_nsp", () => A.of("/admin").emit("adm", "x")],
    ["bcast_socket_broadcast", () => lastSocketA.broadcast.emit("sb", 1)],
    ["bcast_socket_to", () => lastSocketA.to("r1").emit("st", null)],
    ["bcast_numbers", () => A.emit("nums", 0, 127, 128, 255, 256, 65535, 65536,
      4294967295, 4294967296, -1, -32, -33, -128, -129, -32768, -32769,
      -2147483648, -2147483649, 9007199254740991, -9007199254740991, 0.5, -0.25,
      2 ** 60, -(2 ** 60), 1.0, -0)],
    ["bcast_sizes", () => A.emit("sizes", "x".repeat(31), "x".repeat(32),
      "y".repeat(255), "y".repeat(256), "z".repeat(70000),
      Array.from({ length: 16 }, (_, i) => i),
      Object.fromEntries(Array.from({ length: 16 }, (_, i) => ["k" + i, i])),
      Buffer.alloc(300, 1), { "2": "b", "1": "a", x: "c" })],
    ["sockets_join", () => A.socketsJoin("j1")],
    ["sockets_join_opts", () => A.in("r1").except("x").socketsJoin(["j2", "j3"])],
    ["sockets_leave", () => A.in("r1").socketsLeave("j2")],
    ["disconnect_sockets", () => A.in("nobody").disconnectSockets(true)],
    ["disconnect_sockets_noclose", () => A.in("nobody").except("r1").disconnectSockets()],
    ["fetch_sockets", () => A.in("r1").fetchSockets()],
    ["all_rooms", () => A.of("/").adapter.allRooms()],
    ["server_side_emit", () => A.serverSideEmit("sse", 1, "two")],
    ["server_side_emit_ack", () => new Promise((r) =>
      A.serverSideEmit("sse-ack", 3, (err, res) => r(res)))],
    ["broadcast_ack", () => A.timeout(2000).emitWithAck("q", 7)],
    ["broadcast_ack_binary", () => A.to("r1").timeout(2000).emitWithAck("qb")],
  ];
  const emitter = new Emitter(clients[0]);
  steps.push(
    ["emitter_emit", () => emitter.emit("e1", 1)],
    ["emitter_to", () => emitter.to("room1").emit("e2")],
    ["emitter_to_except", () => emitter.to("r1").to("r2").except("r3").emit("e3", { k: "v" })],
    ["emitter_volatile", () => emitter.volatile.emit("e4")],
    ["emitter_compress", () => emitter.compress(true).emit("e4c")],
    ["emitter_nsp", () => emitter.of("/admin").emit("e5", [1])],
    ["emitter_nsp_noslash", () => emitter.of("admin").to("r1").emit("e6")],
    ["emitter_binary", () => emitter.emit("e7", Buffer.from("hi"))],
    ["emitter_sockets_join", () => emitter.in("r1").socketsJoin("r9")],
    ["emitter_sockets_leave", () => emitter.socketsLeave(["r9", "r8"])],
    ["emitter_disconnect", () => emitter.in("nobody").disconnectSockets()],
    ["emitter_disconnect_close", () => emitter.in("nobody").disconnectSockets(true)],
    ["emitter_server_side_emit", () => emitter.serverSideEmit("e8", { a: 1 })],
  );
  for (const [name, fn] of steps) {
    step = name;
    await fn();
    await sleep(150);
  }
  step = "teardown";
  ca.close();
  cb.close();
  A.close();
  B.close();
  await sleep(100);
  await sniffer.quit();
  for (const c of clients) await c.quit().catch(() => {});
  redis.child.kill("SIGTERM");
  await new Promise((r) => redis.child.once("exit", r));
  fs.rmSync(redis.dir, { recursive: true, force: true });
  process.stdout.write(out.join("\n") + "\n");
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
