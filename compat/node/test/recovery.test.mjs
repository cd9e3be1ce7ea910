// Connection state recovery (socket.io >= 4.6) with the stock client: the
// CONNECT reply carries a pid, events carry offsets, and a client whose
// transport dropped gets its id, rooms and missed events back on
// reconnection (socket.recovered). Against sio_compat_server with
// SIO_RECOVERY; the same file passes against the Node reference server.
import assert from "node:assert/strict";
import { io } from "socket.io-client";
import {
  startServer, stopClean, track, once, ack, closeAll, sleep, TRANSPORTS,
} from "./harness.mjs";

function recoverable(url, opts) {
  return track(io(url, { forceNew: true, reconnectionDelay: 50,
                         reconnectionDelayMax: 100, ...opts }));
}

describe("connection state recovery", function () {
  this.timeout(15000);
  let server;
  before(async () => {
    server = await startServer({ SIO_RECOVERY: "60000" });
  });
  afterEach(() => closeAll());
  after(async () => stopClean(server));

  for (const t of TRANSPORTS) {
    it(`restores id, rooms and missed events after a dropped transport (${t.name})`, async () => {
      const a = recoverable(server.url, t.opts);
      const [w1] = await once(a, "welcome");
      assert.equal(w1.recovered, false);
      const id = a.id;
      assert.deepEqual(await ack(a, "join", "room-r"), [true]);
      // an event before the drop records the client's offset
      const sender = recoverable(server.url, { transports: ["websocket"] });
      await once(sender, "welcome");
      const got1 = once(a, "news");
      await ack(sender, "broadcast", { event: "news", args: [1], rooms: ["room-r"] });
      assert.equal((await got1)[0], 1);
      // drop the transport, publish while away
      const disc = once(a, "disconnect");
      a.io.engine.close();
      await disc;
      await ack(sender, "broadcast", { event: "news", args: [2], rooms: ["room-r"] });
      await ack(sender, "broadcast", { event: "news", args: [3], rooms: ["elsewhere"] });
      await ack(sender, "broadcast", { event: "news", args: [4], rooms: ["room-r"] });
      const seen = [];
      a.on("news", (n) => seen.push(n));
      const [w2] = await once(a, "welcome", 8000);
      assert.equal(a.recovered, true);
      assert.equal(w2.recovered, true);
      assert.equal(a.id, id);
      await sleep(200);
      assert.deepEqual(seen, [2, 4]);
      // the room membership came back too
      const got5 = once(a, "news");
      await ack(sender, "broadcast", { event: "news", args: [5], rooms: ["room-r"] });
      assert.equal((await got5)[0], 5);
    });
  }

  it("starts a new session when the pid is unknown (server restarted)", async () => {
    const a = recoverable(server.url, { transports: ["websocket"] });
    await once(a, "welcome");
    const id = a.id;
    await stopClean(server);
    const port = server.port;
    server = await startServer({ SIO_RECOVERY: "60000", PORT: String(port) });
    const [w] = await once(a, "welcome", 10000);
    assert.equal(w.recovered, false);
    assert.equal(a.recovered, false);
    assert.notEqual(a.id, id);
  });

  it("does not recover after a client-side disconnect()", async () => {
    const a = recoverable(server.url, { transports: ["websocket"] });
    await once(a, "welcome");
    const id = a.id;
    a.disconnect();
    a.connect();
    const [w] = await once(a, "welcome");
    assert.equal(w.recovered, false);
    assert.notEqual(a.id, id);
  });
});
