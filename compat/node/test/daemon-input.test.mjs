// Bad input at the daemon's entry points, end to end (issue 9): what a
// backend publishes through POST /api/v1/emit is relayed to every client of
// a room, so the daemon must refuse whatever those clients' own JSON.parse
// would refuse (SPEC §3) — one such body used to reach every client and
// drop them all with a parse error.

import assert from "node:assert/strict";
import {
  absent,
  closeClients,
  connectAs,
  daemonPath,
  metric,
  metrics,
  once,
  publish,
  startDaemon,
  stopAllDaemons,
  token,
} from "./daemon-harness.mjs";

const HAVE_DAEMON = !!daemonPath();

// Bodies json-c's lenient tokener accepted; each is JSON no browser parses.
const POISON = [
  '{"n":1.}',
  '{"n":.5}',
  '{"n":01}',
  '{"n":NaN}',
  '{"n":-Infinity}',
  '{"a":[1,]}',
  '{"a":1,}',
  "{'a':1}",
  '{"s":"tab\there"}',
  '{"a":1/*c*/}',
];

(HAVE_DAEMON ? describe : describe.skip)("POST /api/v1/emit parses as strictly as JSON.parse", function () {
  this.timeout(30000);
  let d;
  before(async () => {
    d = await startDaemon();
  });
  after(async () => {
    closeClients();
    await stopAllDaemons();
  });

  it("answers 400 to a body JSON.parse refuses and relays nothing of it", async () => {
    const { socket } = await connectAs(d, token("poison-target"));
    const before = metric(await metrics(d), "sio_publish_rejected_total", { reason: "bad_request" });
    const received = [];
    socket.on("project.updated", (env) => received.push(env));
    const dropped = absent(socket, "disconnect", 1500);
    for (const data of POISON) {
      const body = `{"rooms":["global"],"event":"project.updated","data":${data}}`;
      // the premise: a client could not read this
      assert.throws(() => JSON.parse(body), SyntaxError, data);
      const r = await publish(d, body);
      assert.equal(r.status, 400, `${data}: ${r.status} ${r.body}`);
      assert.match(r.json.error, /not valid JSON/, data);
    }
    assert.equal(await dropped, true, "the client was dropped");
    assert.equal(received.length, 0, `relayed: ${JSON.stringify(received)}`);
    const after = metric(await metrics(d), "sio_publish_rejected_total", { reason: "bad_request" });
    assert.equal(after - before, POISON.length);
    // the same client still gets what is valid, numbers as written
    const ev = once(socket, "project.updated");
    const ok = await publish(d, '{"rooms":["global"],"event":"project.updated","data":{"n":1.0,"e":-2E+2,"u":"\\u00e9"}}');
    assert.equal(ok.status, 202, ok.body);
    const [env] = await ev;
    assert.deepEqual(env.data, { n: 1, e: -200, u: "é" });
    assert.equal(socket.connected, true);
  });

  it("counts a wrong API key in sio_publish_rejected_total{reason=\"unauthorized\"}", async () => {
    const before = metric(await metrics(d), "sio_publish_rejected_total", { reason: "unauthorized" });
    const r = await publish(d, { rooms: ["global"], event: "pr.closed" }, "wrong-key");
    assert.equal(r.status, 401);
    const after = metric(await metrics(d), "sio_publish_rejected_total", { reason: "unauthorized" });
    assert.equal(after - before, 1);
  });
});
