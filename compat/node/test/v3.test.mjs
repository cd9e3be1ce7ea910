// The socket.io-client v3 line (installed as "socket.io-client-v3") against
// the same server: connect, events, binary, acks both ways, auth refusal.
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import {
  TRANSPORTS,
  ack,
  client,
  closeAll,
  first,
  once,
  open,
  startServer,
  stopClean,
} from "./harness.mjs";

const require = createRequire(import.meta.url);
const v3 = require("socket.io-client-v3");
const ioV3 = v3.io ?? v3.default ?? v3;
const V3_VERSION = require("socket.io-client-v3/package.json").version;

describe(`socket.io-client v3 (${V3_VERSION})`, function () {
  let server;

  before(async function () {
    assert.match(V3_VERSION, /^3\./);
    server = await startServer();
  });
  afterEach(closeAll);
  after(async function () {
    await stopClean(server);
  });

  for (const { name, opts } of TRANSPORTS) {
    describe(name, function () {
      it("connects, emits and gets an ack", async function () {
        const { socket, welcome } = await open(
          server.url,
          { ...opts, auth: { v: 3 } },
          ioV3,
        );
        assert.equal(welcome.id, socket.id);
        assert.equal(welcome.transport, name);
        assert.deepEqual(welcome.auth, { v: 3 });
        const echo = once(socket, "echo");
        socket.emit("echo", "hello from v3", { n: 1 });
        assert.deepEqual(await echo, ["hello from v3", { n: 1 }]);
        assert.deepEqual(await ack(socket, "echo-ack", 1, "2", [3]), [
          1,
          "2",
          [3],
        ]);
      });

      it("sends and receives binary", async function () {
        const { socket } = await open(server.url, opts, ioV3);
        const echo = once(socket, "echo");
        socket.emit("echo", Buffer.from([1, 2, 3]), { b: Buffer.from([4]) });
        const [a, o] = await echo;
        assert.ok(Buffer.isBuffer(a) && a.equals(Buffer.from([1, 2, 3])));
        assert.ok(Buffer.isBuffer(o.b) && o.b.equals(Buffer.from([4])));
      });

      it("answers the server's ack request", async function () {
        const { socket } = await open(server.url, opts, ioV3);
        socket.on("question", (x, cb) => cb(x * 2));
        const answer = once(socket, "answer");
        socket.emit("ask-me", { timeout: 2000, args: [21] });
        assert.deepEqual(await answer, [{ status: "ok", args: [42] }]);
      });

      it("gets the CONNECT_ERROR data when refused", async function () {
        const socket = client(
          `${server.url}/private`,
          { ...opts, auth: { token: "nope" } },
          ioV3,
        );
        const r = await first(socket, ["connect", "connect_error"]);
        assert.equal(r.event, "connect_error");
        assert.equal(r.args[0].message, "unauthorized");
        assert.deepEqual(r.args[0].data, { code: "invalid_token" });
      });
    });
  }

  it("upgrades from polling to WebSocket", async function () {
    const socket = client(server.url, {}, ioV3);
    const upgraded = once(socket.io.engine, "upgrade");
    await once(socket, "connect");
    const [transport] = await upgraded;
    assert.equal(transport.name, "websocket");
    assert.deepEqual(await ack(socket, "transport"), ["websocket"]);
  });
});
