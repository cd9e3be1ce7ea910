// A server-initiated close of a long-polling session (issue 9 item 5):
// the stock socket.io-client on transports ["polling"] must still receive
// what was queued before the close — connection.error and the Socket.IO
// DISCONNECT, so its disconnect reason is "io server disconnect" — as with
// the reference server, which lets the queue out on the next GETs. Before
// the fix the queue was freed with the session and the next GET got 400
// "Session ID unknown" (the client saw "transport error").
// Needs SIO_DAEMON; skipped otherwise.

import assert from "node:assert/strict";
import {
  closeClients,
  connect,
  daemonPath,
  once,
  request,
  startDaemon,
  stopAllDaemons,
  token,
} from "./daemon-harness.mjs";

(daemonPath() ? describe : describe.skip)("sio-server daemon: polling close", function () {
  this.timeout(20000);
  let d;
  before(async () => {
    d = await startDaemon({
      SIO_LIMITS_EVENTS_PER_MINUTE: "6",
      SIO_LIMITS_EVENTS_BURST: "3",
    });
  });
  afterEach(closeClients);
  after(async () => {
    closeClients();
    await stopAllDaemons();
  });

  it("delivers connection.error and DISCONNECT of a rate-limit close over polling", async () => {
    const { socket } = await connect(d, {
      transports: ["polling"],
      auth: { token: token("poller") },
    });
    assert.equal(socket.io.engine.transport.name, "polling");
    const sid = socket.io.engine.id;
    const errP = once(socket, "connection.error");
    const discP = once(socket, "disconnect");
    // past the burst: 3 taken, then 4 rejected > burst closes the socket
    for (let i = 0; i < 8; i++) socket.emit("ping");
    const [env] = await errP;
    assert.equal(env.type, "connection.error");
    assert.equal(env.data.code, "rate_limited");
    const [reason] = await discP;
    assert.equal(reason, "io server disconnect");
    // the client told the server it left: the sid is gone
    let r;
    for (let i = 0; i < 50; i++) {
      r = await request(`${d.url}/socket.io/?EIO=4&transport=polling&sid=${sid}`);
      if (r.status === 400) break;
      await new Promise((res) => setTimeout(res, 20));
    }
    assert.equal(r.status, 400);
    assert.match(r.body, /Session ID unknown/);
  });
});
