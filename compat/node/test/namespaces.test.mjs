// Namespaces, the CONNECT auth payload and its refusal, handshake facts,
// rooms and broadcasts.
import assert from "node:assert/strict";
import { Manager } from "socket.io-client";
import {
  TRANSPORTS,
  ack,
  client,
  closeAll,
  eventually,
  first,
  once,
  open,
  startServer,
  stopClean,
  track,
} from "./harness.mjs";

describe("namespaces and auth", function () {
  let server;

  before(async function () {
    server = await startServer();
  });
  afterEach(closeAll);
  after(async function () {
    await stopClean(server);
  });

  it("multiplexes / and /admin over one connection", async function () {
    const manager = track(new Manager(server.url, { reconnection: false }));
    const main = track(manager.socket("/"));
    const admin = track(manager.socket("/admin"));
    const wMain = once(main, "welcome");
    const wAdmin = once(admin, "welcome");
    const [m] = await wMain;
    const [a] = await wAdmin;
    assert.equal(m.nsp, "/");
    assert.equal(a.nsp, "/admin");
    assert.equal(main.io, admin.io);
    assert.equal(m.id, main.id);
    assert.equal(a.id, admin.id);
    assert.notEqual(main.id, admin.id);

    const e1 = once(main, "echo");
    const e2 = once(admin, "echo");
    main.emit("echo", "to main");
    admin.emit("echo", "to admin");
    assert.deepEqual(await e1, ["to main"]);
    assert.deepEqual(await e2, ["to admin"]);
    const [hs] = await ack(admin, "handshake", {});
    assert.equal(hs.nsp, "/admin");
    assert.equal(hs.id, admin.id);
  });

  it("refuses an unknown namespace with 'Invalid namespace'", async function () {
    const socket = client(`${server.url}/nope`);
    const r = await first(socket, ["connect", "connect_error"]);
    assert.equal(r.event, "connect_error");
    assert.equal(r.args[0].message, "Invalid namespace");
    assert.equal(socket.connected, false);
  });

  it("an unknown namespace does not break the others on the connection", async function () {
    const manager = track(new Manager(server.url, { reconnection: false }));
    const bad = track(manager.socket("/nope"));
    const good = track(manager.socket("/"));
    const [err] = await once(bad, "connect_error");
    assert.equal(err.message, "Invalid namespace");
    await once(good, "welcome");
    assert.deepEqual(await ack(good, "echo-ack", 1), [1]);
  });

  for (const { name, opts } of TRANSPORTS) {
    it(`echoes the auth payload (${name})`, async function () {
      const auth = { token: "abc", n: 2, nested: { ok: true } };
      const { socket, welcome } = await open(server.url, { ...opts, auth });
      assert.deepEqual(welcome.auth, auth);
      const [hs] = await ack(socket, "handshake", {});
      assert.deepEqual(hs.auth, auth);
    });

    it(`reports {} when no auth payload is sent (${name})`, async function () {
      const { welcome } = await open(server.url, opts);
      assert.deepEqual(welcome.auth, {});
    });

    it(`accepts the right token on /private (${name})`, async function () {
      const { socket, welcome } = await open(`${server.url}/private`, {
        ...opts,
        auth: { token: "secret" },
      });
      assert.equal(welcome.nsp, "/private");
      assert.deepEqual(welcome.auth, { token: "secret" });
      assert.deepEqual(await ack(socket, "echo-ack", "in"), ["in"]);
    });

    it(`refuses a wrong or missing token on /private (${name})`, async function () {
      for (const auth of [{ token: "wrong" }, undefined, { token: 1 }]) {
        const socket = client(`${server.url}/private`, { ...opts, auth });
        const r = await first(socket, ["connect", "connect_error"]);
        assert.equal(r.event, "connect_error", JSON.stringify(auth));
        const [err] = r.args;
        assert.equal(err.message, "unauthorized");
        assert.deepEqual(err.data, { code: "invalid_token" });
        assert.equal(socket.connected, false);
      }
    });

    it(`exposes the handshake query and headers (${name})`, async function () {
      const { socket } = await open(server.url, {
        ...opts,
        query: { foo: "bar baz", ü: "é&=" },
        extraHeaders: { "X-Compat-Test": "yes-42" },
      });
      const [hs] = await ack(socket, "handshake", {
        query: ["foo", "ü", "missing", "EIO", "transport"],
        headers: ["x-compat-test", "X-COMPAT-TEST", "x-absent"],
      });
      assert.deepEqual(hs.query, {
        foo: "bar baz",
        ü: "é&=",
        missing: null,
        EIO: "4",
        transport: name,
      });
      assert.deepEqual(hs.headers, {
        "x-compat-test": "yes-42",
        "X-COMPAT-TEST": "yes-42",
        "x-absent": null,
      });
      assert.equal(hs.id, socket.id);
      assert.equal(hs.transport, name);
      assert.match(hs.address, /127\.0\.0\.1$/);
    });
  }
});

describe("rooms and broadcast", function () {
  let server;

  before(async function () {
    server = await startServer();
  });
  afterEach(closeAll);
  after(async function () {
    await stopClean(server);
  });

  // Records every "news" and "sentinel" a socket receives, in order.
  function recorder(socket) {
    const log = [];
    socket.on("news", (...args) => log.push(["news", ...args]));
    socket.on("sentinel", (...args) => log.push(["sentinel", ...args]));
    return log;
  }

  // A broadcast to everyone is queued behind anything sent before on each
  // connection: once it arrived everywhere, earlier ones did or never will.
  async function settle(from, socks, logs, tag) {
    const arrived = socks.map((s) => once(s, "sentinel"));
    await ack(from, "broadcast", { event: "sentinel", args: [tag] });
    await Promise.all(arrived);
    return logs.map((log) => log.filter((e) => e[0] === "news"));
  }

  it("joins, lists, leaves rooms", async function () {
    const { socket } = await open(server.url, { transports: ["websocket"] });
    assert.deepEqual(await ack(socket, "rooms"), [[socket.id]]);
    assert.deepEqual(await ack(socket, "join", "r1"), [true]);
    assert.deepEqual(await ack(socket, "join", "r1"), [true]);
    assert.deepEqual(await ack(socket, "join", "r2"), [true]);
    const [rooms] = await ack(socket, "rooms");
    assert.deepEqual(rooms.sort(), [socket.id, "r1", "r2"].sort());
    assert.deepEqual(await ack(socket, "leave", "r1"), [true]);
    assert.deepEqual(await ack(socket, "leave", "r1"), [false]);
    const [after] = await ack(socket, "rooms");
    assert.deepEqual(after.sort(), [socket.id, "r2"].sort());
  });

  it("broadcasts to rooms, with except, across transports", async function () {
    const a = (await open(server.url, { transports: ["websocket"] })).socket;
    const b = (await open(server.url, { transports: ["polling"] })).socket;
    const c = (await open(server.url)).socket;
    const socks = [a, b, c];
    const logs = socks.map(recorder);
    await ack(a, "join", "r1");
    await ack(b, "join", "r1");
    await ack(b, "join", "r2");

    // To r1: a and b.
    let [n] = await ack(c, "broadcast", {
      event: "news",
      rooms: ["r1"],
      args: [1, { x: "y" }],
    });
    assert.equal(n, 2);
    let got = await settle(c, socks, logs, "s1");
    assert.deepEqual(got[0], [["news", 1, { x: "y" }]]);
    assert.deepEqual(got[1], [["news", 1, { x: "y" }]]);
    assert.deepEqual(got[2], []);

    // To r1 except r2: only a.
    [n] = await ack(c, "broadcast", {
      event: "news",
      rooms: "r1",
      except: ["r2"],
      args: [2],
    });
    assert.equal(n, 1);
    got = await settle(c, socks, logs, "s2");
    assert.equal(got[0].length, 2);
    assert.deepEqual(got[0][1], ["news", 2]);
    assert.equal(got[1].length, 1);
    assert.equal(got[2].length, 0);

    // To everyone but the sender, with binary (once the sockets of earlier
    // tests are gone, the namespace holds exactly a, b and c).
    await eventually(
      async () => (await ack(a, "count"))[0] === 3,
      3000,
      "3 sockets in /",
    );
    [n] = await ack(a, "broadcast", {
      event: "news",
      excludeSelf: true,
      args: [Buffer.from([7, 7, 7])],
    });
    assert.equal(n, 2);
    got = await settle(a, socks, logs, "s3");
    assert.equal(got[0].length, 2);
    for (const i of [1, 2]) {
      const last = got[i][got[i].length - 1];
      assert.equal(last[0], "news");
      assert.ok(Buffer.isBuffer(last[1]));
      assert.ok(last[1].equals(Buffer.from([7, 7, 7])));
    }

    // To a socket's own id room.
    [n] = await ack(a, "broadcast", {
      event: "news",
      rooms: [b.id],
      args: ["direct"],
    });
    assert.equal(n, 1);
    got = await settle(a, socks, logs, "s4");
    assert.deepEqual(got[1][got[1].length - 1], ["news", "direct"]);
    assert.equal(got[0].length, 2);
    assert.equal(got[2].length, 1);

    // After leaving r1, a gets nothing sent to r1.
    await ack(a, "leave", "r1");
    [n] = await ack(c, "broadcast", {
      event: "news",
      rooms: ["r1"],
      args: [5],
    });
    assert.equal(n, 1);
    got = await settle(c, socks, logs, "s5");
    assert.equal(got[0].length, 2);
    assert.deepEqual(got[1][got[1].length - 1], ["news", 5]);
  });

  it("keeps broadcasts inside their namespace", async function () {
    const main = (await open(server.url)).socket;
    const admin = (await open(`${server.url}/admin`)).socket;
    const admin2 = (await open(`${server.url}/admin`)).socket;
    let leaked = 0;
    main.on("news", () => leaked++);
    const got = once(admin2, "news");
    const [n] = await ack(admin, "broadcast", { event: "news", args: ["adm"] });
    assert.equal(n, 2);
    assert.deepEqual(await got, ["adm"]);
    assert.deepEqual(await ack(admin, "count"), [2]);
    // main is connected to "/" on the same server: a "/" broadcast that
    // reaches it proves the "/admin" one had its chance and did not.
    const mainGot = once(main, "sentinel");
    await ack(main, "broadcast", { event: "sentinel", rooms: [main.id] });
    await mainGot;
    assert.equal(leaked, 0);
  });

  it("rooms are per namespace and emptied on disconnect", async function () {
    const a = (await open(server.url)).socket;
    const adminA = (await open(`${server.url}/admin`)).socket;
    await ack(a, "join", "shared");
    let [n] = await ack(adminA, "broadcast", {
      event: "news",
      rooms: ["shared"],
    });
    assert.equal(n, 0);
    const b = (await open(server.url)).socket;
    [n] = await ack(b, "broadcast", { event: "news", rooms: ["shared"] });
    assert.equal(n, 1);
    a.disconnect();
    await eventually(
      async () =>
        (await ack(b, "broadcast", { event: "news", rooms: ["shared"] }))[0] ===
        0,
      3000,
      "room emptied after disconnect",
    );
  });
});
