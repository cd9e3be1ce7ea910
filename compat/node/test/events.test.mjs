// Events, binary attachments and acknowledgements in both directions, over
// each transport.
import assert from "node:assert/strict";
import {
  TRANSPORTS,
  ack,
  closeAll,
  once,
  open,
  sleep,
  startServer,
  stopClean,
} from "./harness.mjs";

function bytes(...values) {
  return Buffer.from(values);
}

function assertBuffer(value, expected, what) {
  assert.ok(Buffer.isBuffer(value), `${what}: not a Buffer: ${value}`);
  assert.ok(value.equals(expected), `${what}: ${value.toString("hex")}`);
}

describe("events and acks", function () {
  let server;

  before(async function () {
    server = await startServer();
  });
  afterEach(closeAll);
  after(async function () {
    await stopClean(server);
  });

  for (const { name, opts } of TRANSPORTS) {
    describe(name, function () {
      let socket;

      beforeEach(async function () {
        ({ socket } = await open(server.url, opts));
        assert.equal(socket.io.engine.transport.name, name);
      });

      it("echoes JSON arguments unchanged", async function () {
        const args = [
          1,
          "2",
          { 3: [true, false, null] },
          [1.5, -7, "ü€😀"],
          "",
          { nested: { deep: { list: [{}, []] } } },
        ];
        const echo = once(socket, "echo");
        socket.emit("echo", ...args);
        assert.deepEqual(await echo, args);
      });

      it("echoes an event without arguments", async function () {
        const echo = once(socket, "echo");
        socket.emit("echo");
        assert.deepEqual(await echo, []);
      });

      it("sends binary to the server and gets it back (Buffer)", async function () {
        const echo = once(socket, "echo");
        socket.emit("echo", bytes(1, 2, 3), "text", bytes(4, 5, 6));
        const [a, text, b] = await echo;
        assertBuffer(a, bytes(1, 2, 3), "first attachment");
        assert.equal(text, "text");
        assertBuffer(b, bytes(4, 5, 6), "second attachment");
      });

      it("sends an ArrayBuffer and nested binary", async function () {
        const big = Buffer.alloc(100000);
        for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
        const ab = Uint8Array.from([9, 8, 7, 0, 255]).buffer;
        const echo = once(socket, "echo");
        socket.emit("echo", { ab, list: [bytes(0), { big }] }, bytes());
        const [obj, empty] = await echo;
        assertBuffer(obj.ab, bytes(9, 8, 7, 0, 255), "ArrayBuffer");
        assertBuffer(obj.list[0], bytes(0), "one byte");
        assertBuffer(obj.list[1].big, big, "100 kB");
        assertBuffer(empty, bytes(), "empty");
      });

      it("gets an ack answered by the server with the same args", async function () {
        const res = await ack(socket, "echo-ack", 1, "two", { three: [false] });
        assert.deepEqual(res, [1, "two", { three: [false] }]);
      });

      it("gets a binary ack from the server", async function () {
        const res = await ack(socket, "echo-ack", bytes(1, 2), { b: bytes(3) });
        assert.equal(res.length, 2);
        assertBuffer(res[0], bytes(1, 2), "ack attachment");
        assertBuffer(res[1].b, bytes(3), "nested ack attachment");
      });

      it("emitWithAck with a timeout resolves with the first arg", async function () {
        const v = await socket.timeout(3000).emitWithAck("echo-ack", "x", 2);
        assert.equal(v, "x");
      });

      it("many acks in flight are matched to their ids", async function () {
        const all = [];
        for (let i = 0; i < 100; i++) all.push(ack(socket, "echo-ack", i));
        const res = await Promise.all(all);
        assert.deepEqual(
          res,
          Array.from({ length: 100 }, (_, i) => [i]),
        );
      });

      it("server asks for an ack and the client answers", async function () {
        socket.on("question", (...args) => {
          const cb = args.pop();
          assert.equal(typeof cb, "function");
          cb("yes", bytes(9, 8), { n: args[0] });
        });
        const answer = once(socket, "answer");
        const accepted = await ack(socket, "ask-me", {
          timeout: 3000,
          args: [42],
        });
        assert.deepEqual(accepted, [true]);
        const [a] = await answer;
        assert.equal(a.status, "ok");
        assert.equal(a.args.length, 3);
        assert.equal(a.args[0], "yes");
        assertBuffer(a.args[1], bytes(9, 8), "binary in client ack");
        assert.deepEqual(a.args[2], { n: 42 });
      });

      it("server asks for an ack without a timeout", async function () {
        const question = once(socket, "question");
        const answer = once(socket, "answer");
        socket.emit("ask-me", { timeout: 0, args: ["q", bytes(5)] });
        const args = await question;
        const cb = args.pop();
        assert.equal(args[0], "q");
        assertBuffer(args[1], bytes(5), "binary in server question");
        await sleep(200);
        cb();
        const [a] = await answer;
        assert.deepEqual(a, { status: "ok", args: [] });
      });

      it("server's ack times out when the client does not answer", async function () {
        let late;
        socket.on("question", (...args) => {
          const cb = args.pop();
          late = setTimeout(() => cb("too late"), 700);
        });
        const answers = [];
        socket.on("answer", (a) => answers.push(a));
        const t0 = Date.now();
        const answer = once(socket, "answer", 5000);
        socket.emit("ask-me", { timeout: 300 });
        const [a] = await answer;
        const elapsed = Date.now() - t0;
        assert.deepEqual(a, { status: "timeout", args: null });
        assert.ok(elapsed >= 250, `timed out after only ${elapsed} ms`);
        assert.ok(elapsed < 3000, `timed out after ${elapsed} ms`);
        // The late answer must be ignored: no second "answer".
        await sleep(800);
        clearTimeout(late);
        assert.equal(answers.length, 1);
        // And the connection is still fine.
        assert.deepEqual(await ack(socket, "echo-ack", "ok"), ["ok"]);
      });

      it("a pending server ack is dropped when the client leaves", async function () {
        const question = once(socket, "question");
        socket.emit("ask-me", { timeout: 1000, args: ["never answered"] });
        await question;
        socket.disconnect();
        // The server cancels the ack silently and keeps serving others.
        const { socket: other } = await open(server.url, opts);
        await sleep(1200);
        assert.deepEqual(await ack(other, "echo-ack", "alive"), ["alive"]);
      });
    });
  }
});
