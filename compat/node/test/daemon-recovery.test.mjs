// The daemon's connection state recovery with the stock socket.io-client
// (issue 9 items 1, 7, 8): a client replaying the same old pid/offset many
// times after more than 16 missed packets cannot crash the daemon; another
// user presenting a pid gets nothing of that session; and recovery is off
// by default (no pid in the CONNECT reply, one argument per event).
import assert from "node:assert/strict";
import {
  startDaemon, stopAllDaemons, closeClients, client, token, publish, once,
  absent, ack, request, sleep, daemonPath,
} from "./daemon-harness.mjs";

function recorder(socket) {
  const rec = { all: [] };
  socket.onAny((event, ...args) => rec.all.push({ event, args }));
  rec.of = (event) => rec.all.filter((e) => e.event === event);
  return rec;
}

// A client that presents pid/offset as socket.io-client does after a lost
// connection (it keeps both in _pid and _lastOffset and adds them to the
// CONNECT payload).
async function reconnectWith(d, tok, pid, offset) {
  const socket = client(d, {
    transports: ["websocket"],
    auth: { token: tok },
    autoConnect: false,
  });
  socket._pid = pid;
  socket._lastOffset = offset;
  const rec = recorder(socket);
  const est = once(socket, "connection.established");
  socket.connect();
  await once(socket, "connect");
  const [env] = await est;
  return { socket, rec, established: env };
}

// Connects, subscribes to room, receives one published event: the pid and
// the offset a later reconnection presents.
async function firstSession(d, tok, room) {
  const socket = client(d, { transports: ["websocket"], auth: { token: tok } });
  await once(socket, "connect");
  assert.equal((await ack(socket, "subscribe", { room })).ok, true);
  const got = once(socket, "issue.updated");
  assert.equal((await publish(d, { rooms: [room], event: "issue.updated", data: { n: 0 } })).status, 202);
  await got;
  assert.ok(socket._pid, "recovery on: the CONNECT reply has a pid");
  assert.ok(socket._lastOffset, "recovery on: events carry an offset");
  const out = { id: socket.id, pid: socket._pid, offset: socket._lastOffset };
  const disc = once(socket, "disconnect");
  socket.io.engine.close(); // as if the network dropped
  await disc;
  socket.disconnect();
  return out;
}

(daemonPath() ? describe : describe.skip)("daemon: connection state recovery", function () {
  this.timeout(60000);
  afterEach(() => closeClients());
  after(() => stopAllDaemons());

  describe("recovery.enabled = true", function () {
    let d;
    before(async () => {
      d = await startDaemon({ SIO_RECOVERY_ENABLED: "true" });
    });

    it("30 reconnections with the same old pid/offset after 20 missed packets: one recovery, then fresh sessions, daemon alive", async () => {
      const tok = token("rec-replay", { projects: ["1"] });
      const first = await firstSession(d, tok, "project:1");
      for (let i = 1; i <= 20; i++) {
        const r = await publish(d, { rooms: ["project:1"], event: "issue.updated", data: { n: i } });
        assert.equal(r.status, 202);
      }
      for (let round = 0; round < 30; round++) {
        const { socket, rec } = await reconnectWith(d, tok, first.pid, first.offset);
        await sleep(round === 0 ? 300 : 50);
        if (round === 0) {
          assert.equal(socket.recovered, true, "the first replay recovers");
          assert.equal(socket.id, first.id);
          assert.equal(socket._pid, first.pid, "the same pid, as the reference");
          assert.deepEqual(rec.of("issue.updated").map((e) => e.args[0].data.n),
            Array.from({ length: 20 }, (_, i) => i + 1));
        } else {
          assert.equal(socket.recovered, false, `replay ${round} gets a fresh session`);
          assert.notEqual(socket.id, first.id);
          assert.equal(rec.of("issue.updated").length, 0);
        }
        const disc = once(socket, "disconnect");
        socket.io.engine.close();
        await disc;
        socket.disconnect();
      }
      assert.equal(d.child.exitCode, null, "the daemon is alive");
      assert.equal((await request(`${d.url}/health`)).status, 200);
    });

    it("user B presenting user A's pid/offset: not recovered, no A events, not in A's rooms; A still recovers", async () => {
      const tokA = token("rec-alice", { projects: ["5"] });
      const a = await firstSession(d, tokA, "project:5");
      assert.equal((await publish(d, { rooms: ["project:5"], event: "issue.updated", data: { n: 1 } })).status, 202);
      assert.equal((await publish(d, { rooms: ["user:rec-alice"], event: "issue.updated", data: { n: 2 } })).status, 202);
      const b = await reconnectWith(d, token("rec-mallory", { projects: ["6"] }), a.pid, a.offset);
      assert.equal(b.socket.recovered, false);
      assert.notEqual(b.socket.id, a.id);
      assert.deepEqual([...b.established.data.rooms].sort(), ["global", "user:rec-mallory"]);
      assert.equal(await absent(b.socket, "issue.updated", 300), true, "no event of A's");
      // B is not in A's rooms: a new event to them does not reach B
      assert.equal((await publish(d, { rooms: ["project:5", "user:rec-alice"], event: "issue.updated", data: { n: 3 } })).status, 202);
      assert.equal(await absent(b.socket, "issue.updated", 300), true, "not in A's rooms");
      const a2 = await reconnectWith(d, tokA, a.pid, a.offset);
      await sleep(300);
      assert.equal(a2.socket.recovered, true, "the session was A's to keep");
      assert.equal(a2.socket.id, a.id);
      assert.deepEqual(a2.rec.of("issue.updated").map((e) => e.args[0].data.n), [1, 2, 3]);
    });

    it("a token with fewer projects now: the dropped project's room is not restored and its missed events are not replayed", async () => {
      const a = await firstSession(d, token("rec-shrink", { projects: ["7", "8"] }), "project:7");
      assert.equal((await publish(d, { rooms: ["project:7"], event: "issue.updated", data: { n: 1 } })).status, 202);
      assert.equal((await publish(d, { rooms: ["global"], event: "issue.updated", data: { n: 2 } })).status, 202);
      const r = await reconnectWith(d, token("rec-shrink", { projects: ["8"] }), a.pid, a.offset);
      await sleep(300);
      assert.equal(r.socket.recovered, true);
      assert.deepEqual(r.rec.of("issue.updated").map((e) => e.args[0].data.n), [2]);
      assert.ok(!r.established.data.rooms.includes("project:7"), r.established.data.rooms);
    });
  });

  describe("default configuration", function () {
    let d;
    before(async () => {
      d = await startDaemon({ SIO_RECOVERY_ENABLED: null });
    });

    it("recovery is off: the CONNECT reply has no pid and events carry exactly one argument", async () => {
      const socket = client(d, { transports: ["websocket"], auth: { token: token("rec-default", { projects: ["3"] }) } });
      const rec = recorder(socket);
      await once(socket, "connect");
      assert.equal(socket._pid, undefined, "no pid in the CONNECT reply");
      assert.equal((await ack(socket, "subscribe", { room: "project:3" })).ok, true);
      const got = once(socket, "issue.updated");
      assert.equal((await publish(d, { rooms: ["project:3"], event: "issue.updated", data: { n: 1 } })).status, 202);
      const args = await got;
      assert.equal(args.length, 1, "one argument: the envelope, no offset");
      for (const e of rec.all) assert.equal(e.args.length, 1, `${e.event}: one argument`);
      assert.equal(socket._lastOffset, undefined);
    });
  });
});
