// 500 concurrent clients, each exchanging events and acks: none lost,
// none duplicated, each client's echoes in order.
import assert from "node:assert/strict";
import {
  ack,
  client,
  closeAll,
  eventually,
  startServer,
  stopClean,
} from "./harness.mjs";

const CLIENTS = 500;
const POLLING_CLIENTS = 50; // the rest use WebSocket only
const EVENTS = 20;

describe(`${CLIENTS} concurrent clients`, function () {
  this.timeout(30000);
  let server;

  before(async function () {
    server = await startServer();
  });
  after(async function () {
    closeAll();
    await stopClean(server);
  });

  it(`each emits ${EVENTS} events and gets every echo back`, async function () {
    const t0 = Date.now();
    const sockets = [];
    const connected = [];
    for (let i = 0; i < CLIENTS; i++) {
      const transports = i < POLLING_CLIENTS ? ["polling"] : ["websocket"];
      const s = client(server.url, { transports, query: { n: String(i) } });
      sockets.push(s);
      connected.push(
        new Promise((resolve, reject) => {
          s.once("welcome", resolve);
          s.once("connect_error", reject);
        }),
      );
    }
    await Promise.all(connected);
    const tConnected = Date.now() - t0;

    await eventually(
      async () => (await ack(sockets[0], "count"))[0] === CLIENTS,
      5000,
      `${CLIENTS} sockets counted by the server`,
    );

    const received = sockets.map(() => []);
    const done = sockets.map(
      (s, i) =>
        new Promise((resolve) => {
          s.on("echo", (who, seq, pad) => {
            received[i].push([who, seq, pad.length]);
            if (received[i].length === EVENTS) resolve();
          });
        }),
    );
    const acks = [];
    for (let seq = 0; seq < EVENTS; seq++) {
      for (let i = 0; i < CLIENTS; i++) {
        sockets[i].emit("echo", i, seq, "x".repeat(seq * 10));
      }
    }
    for (let i = 0; i < CLIENTS; i++) acks.push(ack(sockets[i], "echo-ack", i));

    let timer;
    const deadline = new Promise((_, reject) => {
      timer = setTimeout(() => {
        const missing = received.reduce((n, r) => n + (EVENTS - r.length), 0);
        reject(new Error(`${missing} of ${CLIENTS * EVENTS} echoes missing`));
      }, 20000);
    });
    try {
      await Promise.race([Promise.all([...done, ...acks]), deadline]);
    } finally {
      clearTimeout(timer);
    }
    const ackResults = await Promise.all(acks);

    for (let i = 0; i < CLIENTS; i++) {
      assert.deepEqual(
        received[i],
        Array.from({ length: EVENTS }, (_, seq) => [i, seq, seq * 10]),
        `client ${i}`,
      );
      assert.deepEqual(ackResults[i], [i]);
    }
    const total = Date.now() - t0;
    console.log(
      `      ${CLIENTS} clients connected in ${tConnected} ms, ` +
        `${CLIENTS * EVENTS} echoes + ${CLIENTS} acks in ${total} ms`,
    );
  });
});
