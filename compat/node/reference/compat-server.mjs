// The handler contract of tests/e2e/sio_compat_server.c, implemented with
// the Node reference server (socket.io 4.8). It exists to check the suites
// themselves: `npm run test:reference` runs them against it, so an
// expectation that the reference does not meet is a bug in the test, not in
// sio-server. Same command line and environment as the C server; see the
// comment at the top of sio_compat_server.c for the contract.

import { createServer } from "node:http";
import { Server } from "socket.io";

// With SIO_REDIS_URL: @socket.io/redis-adapter 8 on that Redis.
let adapter;
const redisClients = [];
if (process.env.SIO_REDIS_URL) {
  const { createClient } = await import("redis");
  const { createAdapter } = await import("@socket.io/redis-adapter");
  const pub = createClient({ url: process.env.SIO_REDIS_URL });
  const sub = pub.duplicate();
  pub.on("error", () => {});
  sub.on("error", () => {});
  await Promise.all([pub.connect(), sub.connect()]);
  redisClients.push(pub, sub);
  adapter = createAdapter(pub, sub, {
    key: process.env.SIO_REDIS_KEY || "socket.io",
  });
}
const serverName = process.env.SIO_SERVER_NAME || "sio";

function envNumber(name, fallback) {
  const v = process.env[name];
  return v ? Number(v) : fallback;
}

const port = Number(process.argv[2] ?? process.env.PORT ?? 0);
const host = process.env.HOST || "127.0.0.1";
const transports = [];
const wanted = process.env.SIO_TRANSPORTS || "polling,websocket";
if (wanted.includes("polling")) transports.push("polling");
if (wanted.includes("websocket")) transports.push("websocket");

const httpServer = createServer();
const io = new Server(httpServer, {
  maxHttpBufferSize: envNumber("SIO_MAX_PAYLOAD", 1e6),
  pingInterval: envNumber("SIO_PING_INTERVAL", 25000),
  pingTimeout: envNumber("SIO_PING_TIMEOUT", 20000),
  connectTimeout: envNumber("SIO_CONNECT_TIMEOUT", 45000),
  transports,
  cors: { origin: "*" },
  ...(adapter ? { adapter } : {}),
  ...(envNumber("SIO_RECOVERY", 0) > 0
    ? { connectionStateRecovery: {
          maxDisconnectionDuration: envNumber("SIO_RECOVERY", 0),
          skipMiddlewares: true } }
    : {}),
});

function toList(v) {
  if (v === undefined || v === null) return [];
  return Array.isArray(v) ? v : [v];
}

function setup(nsp) {
  nsp.on("connection", (socket) => {
    socket.emit("welcome", {
      id: socket.id,
      nsp: nsp.name,
      auth: socket.handshake.auth,
      transport: socket.conn.transport.name,
      recovered: socket.recovered,
    });

    socket.on("echo", (...args) => socket.emit("echo", ...args));

    socket.on("echo-ack", (...args) => {
      const cb = args.pop();
      if (typeof cb === "function") cb(...args);
    });

    socket.on("ask-me", (req, cb) => {
      const args = Array.isArray(req?.args) ? req.args : [];
      const answer = (status, res) => {
        if (socket.connected) socket.emit("answer", { status, args: res });
      };
      if (req?.timeout) {
        socket
          .timeout(req.timeout)
          .emit("question", ...args, (err, ...res) =>
            err ? answer("timeout", null) : answer("ok", res),
          );
      } else {
        socket.emit("question", ...args, (...res) => answer("ok", res));
      }
      if (typeof cb === "function") cb(true);
    });

    socket.on("disconnect-me", (req, cb) => {
      if (typeof req === "function") [cb, req] = [req, {}];
      if (typeof cb === "function") cb(true);
      socket.disconnect(Boolean(req?.close));
    });

    socket.on("join", (room, cb) => {
      socket.join(room);
      cb?.(socket.rooms.has(room));
    });

    socket.on("leave", (room, cb) => {
      const had = socket.rooms.has(room);
      socket.leave(room);
      cb?.(had);
    });

    socket.on("rooms", (cb) => cb([...socket.rooms]));

    socket.on("broadcast", async (req, cb) => {
      const except = toList(req.except);
      if (req.excludeSelf) except.push(socket.id);
      const rooms = toList(req.rooms);
      const target = () => {
        let op = nsp.to(rooms);
        if (except.length) op = op.except(except);
        return op;
      };
      const count = (await target().local.fetchSockets()).length;
      const op = req.volatile ? target().volatile : target();
      op.emit(req.event ?? "broadcast", ...(req.args ?? []));
      cb?.(count);
    });

    socket.on("handshake", (req, cb) => {
      const query = {};
      const headers = {};
      for (const n of toList(req?.query))
        query[n] = socket.handshake.query[n] ?? null;
      for (const n of toList(req?.headers))
        headers[n] = socket.handshake.headers[n.toLowerCase()] ?? null;
      cb({
        id: socket.id,
        nsp: nsp.name,
        transport: socket.conn.transport.name,
        address: socket.handshake.address,
        auth: socket.handshake.auth,
        query,
        headers,
      });
    });

    socket.on("transport", (cb) => cb(socket.conn.transport.name));
    socket.on("count", (cb) => cb(nsp.sockets.size));

    // cluster calls
    const select = (req) => {
      let op = nsp.in(toList(req?.rooms));
      const except = toList(req?.except);
      if (except.length) op = op.except(except);
      return req?.local ? op.local : op;
    };
    const status = (err) =>
      err ? (/timeout/.test(err.message) ? "TIMEOUT" : "IO") : "ok";
    socket.on("set-data", (d, cb) => {
      socket.data = d;
      cb?.(true);
    });
    socket.on("fetch", async (req, cb) => {
      try {
        const socks = await select(req).fetchSockets();
        cb({
          status: "ok",
          sockets: socks.map((s) => ({
            id: s.id,
            rooms: [...s.rooms],
            data: s.data,
            local: nsp.sockets.has(s.id),
          })),
        });
      } catch (err) {
        cb({ status: status(err), sockets: [] });
      }
    });
    socket.on("sockets-join", (req, cb) => {
      select(req).socketsJoin(toList(req?.join));
      cb?.(true);
    });
    socket.on("sockets-leave", (req, cb) => {
      select(req).socketsLeave(toList(req?.leave));
      cb?.(true);
    });
    socket.on("disconnect-sockets", (req, cb) => {
      cb?.(true);
      select(req).disconnectSockets(!!req?.close);
    });
    socket.on("all-rooms", async (cb) => {
      const rooms = await nsp.adapter.allRooms();
      cb({ status: "ok", rooms: [...rooms] });
    });
    socket.on("server-count", async (cb) => {
      cb({ status: "ok", count: await nsp.adapter.serverCount() });
    });
    socket.on("server-side-emit", async (req, cb) => {
      const args = req?.args ?? [];
      if (!req?.ack) {
        nsp.serverSideEmit(req.event, ...args);
        return cb?.(true);
      }
      try {
        const responses = await nsp.serverSideEmitWithAck(req.event, ...args);
        cb({ status: "ok", responses });
      } catch (err) {
        cb({ status: status(err), responses: err.responses ?? [] });
      }
    });
    socket.on("broadcast-ack", async (req, cb) => {
      try {
        const responses = await select(req)
          .timeout(req.timeout ?? 2000)
          .emitWithAck(req.event, ...(req.args ?? []));
        cb({ status: "ok", responses });
      } catch (err) {
        cb({ status: status(err), responses: err.responses ?? [] });
      }
    });
  });

  // Another server's serverSideEmit, shown to this server's clients and,
  // when asked, answered (socket.io has no catch-all for these).
  const onServerSideEmit = nsp._onServerSideEmit.bind(nsp);
  nsp._onServerSideEmit = (args) => {
    const ackFn = typeof args[args.length - 1] === "function" ? args.pop() : null;
    const [event, ...rest] = args;
    nsp.local.emit("server-event", { event, args: rest });
    if (ackFn) ackFn({ from: serverName, event, args: rest });
    onServerSideEmit([event, ...rest]);
  };
}

setup(io.of("/"));
setup(io.of("/admin"));
const priv = io.of("/private");
priv.use((socket, next) => {
  if (socket.handshake.auth?.token === "secret") return next();
  const err = new Error("unauthorized");
  err.data = { code: "invalid_token" };
  next(err);
});
setup(priv);

let closing = false;
function shutdown() {
  if (closing) return;
  closing = true;
  io.close(async () => {
    for (const c of redisClients) await c.quit().catch(() => {});
    process.exit(0);
  });
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);

httpServer.listen(port, host, () => {
  process.stdout.write(`LISTENING ${httpServer.address().port}\n`);
});
