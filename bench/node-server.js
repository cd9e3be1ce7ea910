// node-server.js: the reference server bench/compare measures sio-server
// against. socket.io 4.8 with its defaults (what a user would run), and the
// same handler contract as bench_server.c:
//
//   namespace "/", no auth, WebSocket and polling on /socket.io/;
//   "bcast" (payload)       -> broadcast the payload to every client of "/"
//                              (the sender included) as "bcast";
//   "echo"  (payload, ack)  -> ack with the same payload.
//
// Usage: node node-server.js [port]   (0 or absent: a free port)
// Listens on 127.0.0.1 only and prints "LISTENING <port>" once ready.
// SIGTERM/SIGINT close it.
"use strict";

const http = require("node:http");
const { Server } = require("socket.io");

const port = Number(process.argv[2] || process.env.PORT || 0);
const httpServer = http.createServer();
// The HTTP server would otherwise drop idle keep-alive polling connections
// and cap headers timing at its defaults; engine.io manages its own
// timeouts (pingInterval/pingTimeout) for both transports.
httpServer.keepAliveTimeout = 0;
httpServer.requestTimeout = 0;
httpServer.headersTimeout = 0;
const io = new Server(httpServer, { serveClient: false });

io.on("connection", (socket) => {
  socket.on("bcast", (payload) => {
    io.emit("bcast", payload);
  });
  socket.on("echo", (payload, ack) => {
    if (typeof ack === "function") ack(payload);
  });
});

httpServer.listen(port, "127.0.0.1", () => {
  process.stdout.write(`LISTENING ${httpServer.address().port}\n`);
});

// A benchmark ends its server with SIGTERM; close promptly without waiting
// for every client to say goodbye.
for (const sig of ["SIGTERM", "SIGINT"]) {
  process.on(sig, () => {
    io.close();
    process.exit(0);
  });
}
