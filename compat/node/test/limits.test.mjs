// maxPayload: a server started with a small limit (1000 bytes) advertises
// it, accepts packets under it and drops a client that sends more.
import assert from "node:assert/strict";
import WebSocket from "ws";
import {
  TRANSPORTS,
  closeAll,
  first,
  once,
  open,
  sleep,
  startServer,
  stopClean,
} from "./harness.mjs";

const LIMIT = 1000;

describe("maxPayload", function () {
  let server;

  before(async function () {
    server = await startServer({ SIO_MAX_PAYLOAD: String(LIMIT) });
  });
  afterEach(closeAll);
  after(async function () {
    await stopClean(server);
  });

  async function handshake() {
    const res = await fetch(`${server.url}/socket.io/?EIO=4&transport=polling`);
    assert.equal(res.status, 200);
    const body = await res.text();
    assert.equal(body[0], "0");
    return JSON.parse(body.slice(1));
  }

  it("is advertised in the Engine.IO handshake", async function () {
    const hs = await handshake();
    assert.equal(hs.maxPayload, LIMIT);
    assert.deepEqual(hs.upgrades, ["websocket"]);
  });

  for (const { name, opts } of TRANSPORTS) {
    it(`lets packets under the limit through (${name})`, async function () {
      const { socket } = await open(server.url, opts);
      const text = "a".repeat(LIMIT - 100);
      const echo = once(socket, "echo");
      socket.emit("echo", text);
      assert.deepEqual(await echo, [text]);
    });

    it(`disconnects a client that sends more (${name})`, async function () {
      const { socket: bystander } = await open(server.url, opts);
      const { socket } = await open(server.url, opts);
      let echoed = false;
      socket.on("echo", () => {
        echoed = true;
      });
      const gone = once(socket, "disconnect");
      socket.emit("echo", "b".repeat(LIMIT * 5));
      const [reason] = await gone;
      assert.match(reason, /^transport (close|error)$/);
      assert.equal(echoed, false);
      // The other clients are not affected.
      const echo = once(bystander, "echo");
      bystander.emit("echo", "fine");
      assert.deepEqual(await echo, ["fine"]);
    });
  }

  // The reference answers 413 Payload Too Large and leaves the session to
  // the client (which, as above, gives up on a failed POST).
  it("answers an oversized polling POST with 413", async function () {
    const { sid } = await handshake();
    const url = `${server.url}/socket.io/?EIO=4&transport=polling&sid=${sid}`;
    const post = await fetch(url, {
      method: "POST",
      body: "4" + "c".repeat(LIMIT * 2),
      headers: { "Content-Type": "text/plain;charset=UTF-8" },
    });
    assert.equal(post.status, 413);
    await post.text();
  });

  it("closes a raw WebSocket that sends an oversized frame", async function () {
    const ws = new WebSocket(
      `${server.url.replace("http", "ws")}/socket.io/?EIO=4&transport=websocket`,
    );
    const messages = [];
    ws.on("message", (data, isBinary) =>
      messages.push(isBinary ? data : data.toString()),
    );
    try {
      await once(ws, "open");
      ws.send("40");
      const deadline = Date.now() + 3000;
      while (messages.length < 3 && Date.now() < deadline) await sleep(10);
      assert.match(messages[0], /^0\{/);
      assert.match(messages[1], /^40\{"sid":/);
      assert.match(messages[2], /^42\["welcome",/);
      ws.send(`42["echo","${"d".repeat(LIMIT * 3)}"]`);
      const r = await first(ws, ["close", "error"], 5000);
      assert.ok(r.event === "close" || r.event === "error");
      assert.ok(
        !messages.some((m) => String(m).startsWith('42["echo"')),
        "the oversized packet was delivered",
      );
    } finally {
      ws.terminate();
    }
  });
});
