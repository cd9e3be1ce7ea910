// publisher.js: the backend side of bench/compare's daemon cases. It
// publishes each broadcast sio-bench asks for with @socket.io/redis-emitter,
// the way a backend talks to a sio-server cluster (or to a Node socket.io
// app with @socket.io/redis-adapter), so both servers get the same message
// from the same Redis.
//
// Usage: node publisher.js REDIS_URL   (redis://host:port or unix:///path)
// Prints "READY" on stdout once connected to Redis; then reads lines
// "SEQ T PAD" from stdin (sio-bench --publisher) and for each emits to room
// "global"
//   workflow.progress {event_id, type, timestamp, data: {s: SEQ, t: T, p?}}
// (p: PAD 'x' characters, absent when PAD is 0). Exits at the end of stdin
// or on SIGTERM.
"use strict";

const crypto = require("node:crypto");
const readline = require("node:readline");
const { createClient } = require("redis");
const { Emitter } = require("@socket.io/redis-emitter");

// redis 4 takes a unix socket as { socket: { path } }, not as a URL.
function redisOptions(url) {
  if (url.startsWith("unix://")) return { socket: { path: url.slice(7) } };
  return { url };
}

async function main() {
  const url = process.argv[2];
  if (!url) {
    process.stderr.write("usage: node publisher.js REDIS_URL\n");
    process.exit(2);
  }
  const redis = createClient(redisOptions(url));
  redis.on("error", (err) => {
    process.stderr.write(`publisher: redis: ${err.message}\n`);
    process.exit(1);
  });
  await redis.connect();
  const emitter = new Emitter(redis);
  const pads = new Map(); // padding strings by length, made once
  const rl = readline.createInterface({ input: process.stdin });
  rl.on("line", (line) => {
    const [s, t, pad] = line.split(" ").map(Number);
    if (!Number.isSafeInteger(s) || !Number.isSafeInteger(t)) return;
    const data = { s, t };
    if (pad > 0) {
      if (!pads.has(pad)) pads.set(pad, "x".repeat(pad));
      data.p = pads.get(pad);
    }
    emitter.to("global").emit("workflow.progress", {
      event_id: crypto.randomUUID(),
      type: "workflow.progress",
      timestamp: new Date().toISOString(),
      data,
    });
  });
  rl.on("close", () => {
    redis.quit().finally(() => process.exit(0));
  });
  process.stdout.write("READY\n");
}

process.on("SIGTERM", () => process.exit(0));
main().catch((err) => {
  process.stderr.write(`publisher: ${err.message}\n`);
  process.exit(1);
});
