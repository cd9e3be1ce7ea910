// Transports: WebSocket only, long-polling only, the polling -> WebSocket
// upgrade, server-side disconnects and reconnection by the io Manager.
import assert from "node:assert/strict";
import {
  ack,
  client,
  closeAll,
  first,
  once,
  open,
  sleep,
  startServer,
  stopClean,
  track,
} from "./harness.mjs";

describe("transports", function () {
  let server;

  before(async function () {
    server = await startServer();
  });
  afterEach(closeAll);
  after(async function () {
    await stopClean(server);
  });

  it("connects WebSocket-only and exchanges events", async function () {
    const { socket, welcome } = await open(server.url, {
      transports: ["websocket"],
    });
    assert.equal(socket.io.engine.transport.name, "websocket");
    assert.equal(welcome.transport, "websocket");
    assert.equal(welcome.id, socket.id);
    assert.equal(welcome.nsp, "/");
    const echo = once(socket, "echo");
    socket.emit("echo", "over websocket", 1);
    assert.deepEqual(await echo, ["over websocket", 1]);
    assert.deepEqual(await ack(socket, "transport"), ["websocket"]);
  });

  it("connects polling-only, never upgrades, keeps order", async function () {
    const { socket, welcome } = await open(server.url, {
      transports: ["polling"],
    });
    assert.equal(socket.io.engine.transport.name, "polling");
    assert.equal(welcome.transport, "polling");
    // Many packets at once travel in \x1e-separated payloads both ways.
    const got = [];
    const all = new Promise((resolve) => {
      socket.on("echo", (i) => {
        got.push(i);
        if (got.length === 50) resolve();
      });
    });
    for (let i = 0; i < 50; i++) socket.emit("echo", i);
    await Promise.race([
      all,
      sleep(5000).then(() => {
        throw new Error(`only ${got.length}/50 echoes`);
      }),
    ]);
    assert.deepEqual(
      got,
      Array.from({ length: 50 }, (_, i) => i),
    );
    await sleep(300);
    assert.equal(socket.io.engine.transport.name, "polling");
    assert.deepEqual(await ack(socket, "transport"), ["polling"]);
  });

  it("upgrades from polling to WebSocket without losing events", async function () {
    const socket = client(server.url);
    const engine = socket.io.engine;
    const upgraded = once(engine, "upgrade");
    const welcome = once(socket, "welcome");
    await once(socket, "connect");
    const [w] = await welcome;
    assert.equal(w.transport, "polling");

    // Events emitted while the probe is in flight must all arrive, once,
    // in order.
    const got = [];
    socket.on("echo", (i) => got.push(i));
    for (let i = 0; i < 30; i++) socket.emit("echo", i);

    const [transport] = await upgraded;
    assert.equal(transport.name, "websocket");
    assert.equal(engine.transport.name, "websocket");
    assert.deepEqual(await ack(socket, "transport"), ["websocket"]);

    for (let i = 30; i < 40; i++) socket.emit("echo", i);
    const deadline = Date.now() + 5000;
    while (got.length < 40 && Date.now() < deadline) await sleep(20);
    assert.deepEqual(
      got,
      Array.from({ length: 40 }, (_, i) => i),
    );
  });

  it("server namespace disconnect: no automatic reconnection, manual reconnect works", async function () {
    const { socket } = await open(server.url, {
      transports: ["websocket"],
      reconnection: true,
      reconnectionDelay: 50,
      reconnectionDelayMax: 100,
    });
    const firstId = socket.id;
    const disconnected = once(socket, "disconnect");
    assert.deepEqual(await ack(socket, "disconnect-me", { close: false }), [
      true,
    ]);
    const [reason] = await disconnected;
    assert.equal(reason, "io server disconnect");
    assert.equal(socket.connected, false);
    assert.equal(socket.active, false);

    // The client must not come back by itself after a server disconnect.
    let reconnected = false;
    socket.once("connect", () => {
      reconnected = true;
    });
    await sleep(400);
    assert.equal(reconnected, false);

    const welcome = once(socket, "welcome");
    socket.connect();
    await once(socket, "connect");
    const [w] = await welcome;
    assert.notEqual(socket.id, firstId);
    assert.equal(w.id, socket.id);
    const echo = once(socket, "echo");
    socket.emit("echo", "back");
    assert.deepEqual(await echo, ["back"]);
  });

  it("server disconnect closing the transport ends the session", async function () {
    for (const transports of [["websocket"], ["polling"]]) {
      const { socket } = await open(server.url, { transports });
      const disconnected = once(socket, "disconnect");
      const engineClosed = once(socket.io, "close");
      socket.emit("disconnect-me", { close: true });
      const [reason] = await disconnected;
      assert.equal(reason, "io server disconnect", transports[0]);
      const [engineReason] = await engineClosed;
      assert.match(engineReason, /^(transport close|forced close)$/);
      assert.equal(socket.active, false);
    }
  });

  it("a namespace disconnect leaves the other namespace of the connection up", async function () {
    const { socket: main } = await open(server.url, {
      transports: ["websocket"],
    });
    // A second namespace on the same Manager: one Engine.IO session.
    const adminSock = track(main.io.socket("/admin"));
    const welcome = once(adminSock, "welcome");
    await once(adminSock, "connect");
    assert.equal((await welcome)[0].nsp, "/admin");

    const gone = once(adminSock, "disconnect");
    adminSock.emit("disconnect-me", { close: false });
    assert.deepEqual(await gone, ["io server disconnect", undefined]);

    assert.equal(main.connected, true);
    const echo = once(main, "echo");
    main.emit("echo", "still here");
    assert.deepEqual(await echo, ["still here"]);
  });
});

describe("reconnection", function () {
  let servers = [];

  afterEach(async function () {
    closeAll();
    for (const s of servers) await stopClean(s);
    servers = [];
  });

  for (const transports of [
    ["websocket"],
    ["polling"],
    ["polling", "websocket"],
  ]) {
    it(`the Manager reconnects after the server restarts (${transports.join(
      "+",
    )})`, async function () {
      const a = await startServer();
      servers.push(a);
      const { socket } = await open(a.url, {
        transports,
        reconnection: true,
        reconnectionDelay: 100,
        reconnectionDelayMax: 200,
        randomizationFactor: 0,
      });
      const firstId = socket.id;
      // Stop the server once the transport is settled, not mid-upgrade.
      if (transports.length > 1) {
        if (socket.io.engine.transport.name !== "websocket")
          await once(socket.io.engine, "upgrade");
      }
      // With polling, give the client's next GET time to reach the server,
      // which then answers it with the close packet: a graceful close.
      await sleep(200);
      const disconnected = once(socket, "disconnect");

      // SIGTERM: the server closes cleanly ("server shutting down"), which
      // the client sees as the transport closing, so it reconnects.
      const exit = await a.stop();
      assert.deepEqual(
        { code: exit.code, signal: exit.signal },
        { code: 0, signal: null },
        `server did not exit cleanly:\n${a.stderr()}`,
      );
      const [reason] = await disconnected;
      assert.equal(reason, "transport close");
      assert.equal(socket.active, true);

      const attempt = once(socket.io, "reconnect_attempt");
      await attempt;
      const b = await startServer({ PORT: String(a.port) });
      servers.push(b);
      assert.equal(b.port, a.port);

      const welcome = once(socket, "welcome", 8000);
      const r = await first(socket.io, ["reconnect", "reconnect_failed"], 8000);
      assert.equal(r.event, "reconnect");
      const [w] = await welcome;
      assert.equal(socket.connected, true);
      assert.notEqual(socket.id, firstId);
      assert.equal(w.id, socket.id);
      const echo = once(socket, "echo");
      socket.emit("echo", "after reconnect");
      assert.deepEqual(await echo, ["after reconnect"]);
    });
  }
});
