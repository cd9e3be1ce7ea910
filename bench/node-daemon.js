// node-daemon.js: what a team would write in Node instead of running the
// sio-server daemon, for bench/compare's daemon cases: socket.io 4.8 with
// @socket.io/redis-adapter 8 on redis 4, and the daemon's behaviour on the
// path being measured:
//
//   every connection presents an HS256 JWT in the CONNECT auth payload
//   {token}; a middleware checks alg, signature (node:crypto, compared with
//   timingSafeEqual), exp (30 s leeway, as the daemon) and sub, and refuses
//   with "unauthorized" {code} as the daemon does;
//   the socket joins "global" and "user:<sub>" and gets connection.established
//   with the daemon's envelope {event_id, type, timestamp, data};
//   broadcasts come from backends through Redis (@socket.io/redis-emitter).
//
// Usage: SIO_AUTH_SECRET=... node node-daemon.js PORT REDIS_URL
//   PORT 0: a free port; REDIS_URL redis://host:port or unix:///path.
// Listens on 127.0.0.1 only and prints "LISTENING <port>" once ready (the
// adapter connected). SIGTERM/SIGINT close it.
"use strict";

const crypto = require("node:crypto");
const http = require("node:http");
const os = require("node:os");
const { Server } = require("socket.io");
const { createAdapter } = require("@socket.io/redis-adapter");
const { createClient } = require("redis");

const port = Number(process.argv[2] || 0);
const redisUrl = process.argv[3];
const secret = process.env.SIO_AUTH_SECRET;
const LEEWAY_S = 30;
const serverId = `${os.hostname()}-${process.pid}`;
if (!redisUrl || !secret) {
  process.stderr.write(
    "usage: SIO_AUTH_SECRET=... node node-daemon.js PORT REDIS_URL\n",
  );
  process.exit(2);
}

function redisOptions(url) {
  if (url.startsWith("unix://")) return { socket: { path: url.slice(7) } };
  return { url };
}

function b64urlJson(part) {
  return JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
}

// The claims of a valid token, or throws an Error whose code is the
// daemon's CONNECT_ERROR code.
function verify(token) {
  const fail = (code) => Object.assign(new Error(code), { code });
  if (typeof token !== "string" || !token) throw fail("missing_token");
  const parts = token.split(".");
  if (parts.length !== 3) throw fail("invalid_token");
  let header, claims;
  try {
    header = b64urlJson(parts[0]);
    claims = b64urlJson(parts[1]);
  } catch {
    throw fail("invalid_token");
  }
  if (!header || header.alg !== "HS256") throw fail("invalid_token");
  const want = crypto
    .createHmac("sha256", secret)
    .update(`${parts[0]}.${parts[1]}`)
    .digest();
  const got = Buffer.from(parts[2], "base64url");
  if (got.length !== want.length || !crypto.timingSafeEqual(got, want)) {
    throw fail("invalid_token");
  }
  if (!claims || typeof claims !== "object") throw fail("invalid_token");
  if (typeof claims.exp !== "number") throw fail("invalid_token");
  if (claims.exp + LEEWAY_S <= Date.now() / 1000) throw fail("token_expired");
  if (typeof claims.sub !== "string" || !claims.sub) {
    throw fail("invalid_token");
  }
  return claims;
}

function envelope(type, data) {
  return {
    event_id: crypto.randomUUID(),
    type,
    timestamp: new Date().toISOString(),
    data,
  };
}

async function main() {
  const pub = createClient(redisOptions(redisUrl));
  const sub = pub.duplicate();
  for (const c of [pub, sub]) {
    c.on("error", (err) => process.stderr.write(`redis: ${err.message}\n`));
  }
  await Promise.all([pub.connect(), sub.connect()]);

  const httpServer = http.createServer();
  // As node-server.js: engine.io manages its own timeouts.
  httpServer.keepAliveTimeout = 0;
  httpServer.requestTimeout = 0;
  httpServer.headersTimeout = 0;
  const io = new Server(httpServer, {
    serveClient: false,
    adapter: createAdapter(pub, sub),
  });

  io.use((socket, next) => {
    try {
      socket.data.user = verify(socket.handshake.auth && socket.handshake.auth.token).sub;
      next();
    } catch (err) {
      const e = new Error("unauthorized");
      e.data = { code: err.code || "invalid_token" };
      next(e);
    }
  });

  io.on("connection", (socket) => {
    const user = socket.data.user;
    const rooms = ["global", `user:${user}`];
    socket.join(rooms);
    socket.emit(
      "connection.established",
      envelope("connection.established", {
        sid: socket.id,
        user_id: user,
        rooms,
        server_id: serverId,
      }),
    );
  });

  httpServer.listen(port, "127.0.0.1", () => {
    process.stdout.write(`LISTENING ${httpServer.address().port}\n`);
  });

  for (const sig of ["SIGTERM", "SIGINT"]) {
    process.on(sig, () => {
      io.close();
      process.exit(0);
    });
  }
}

main().catch((err) => {
  process.stderr.write(`node-daemon: ${err.message}\n`);
  process.exit(1);
});
