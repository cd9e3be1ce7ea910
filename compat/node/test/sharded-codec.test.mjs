// The sharded Redis adapter protocol (createShardedAdapter of
// @socket.io/redis-adapter >= 8.2) between Node and libsio's codec
// (src/adapter/sio_redis_msg.c), on a private redis-server 7:
//
// - what the installed Node adapter publishes for each operation still has
//   the shape of the golden vectors the C unit tests check
//   (tests/data/redis/sharded_vectors.txt);
// - libsio re-encodes every captured message byte for byte
//   (tests/e2e/sio_sharded_codec reencode);
// - a live Node server acts on what libsio's encoder writes: broadcasts
//   (namespace and room channels), socketsJoin, serverSideEmit with an
//   acknowledgement and fetchSockets, whose answers come back on our
//   response channel and decode with our codec.
//
// Skipped without redis-server; the codec parts are skipped unless
// SIO_SHARDED_CODEC names the built tests/e2e/sio_sharded_codec.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import notepack from "notepack.io";
import { createClient } from "redis";
import { Server } from "socket.io";
import { io as ioc } from "socket.io-client";
import { createShardedAdapter } from "@socket.io/redis-adapter";
import { captureSharded } from "./sharded-capture.mjs";
import { haveRedisServer, startRedis } from "./redis-harness.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const vectorsFile = path.resolve(here, "../../../tests/data/redis/sharded_vectors.txt");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function codecPath() {
  const value = process.env.SIO_SHARDED_CODEC;
  if (!value) return null;
  const file = path.resolve(value);
  if (!existsSync(file)) throw new Error(`SIO_SHARDED_CODEC=${value}: no such file`);
  return file;
}

function codec(...args) {
  return execFileSync(codecPath(), args, { encoding: "utf8" }).trim();
}

function decodeNode(buf) {
  return buf[0] === 0x7b ? JSON.parse(buf.toString()) : notepack.decode(buf);
}

// A message reduced to what does not change between captures: the type,
// the channel kind, the encoding, and the key structure.
function shape(channel, hex, uids) {
  const buf = Buffer.from(hex, "hex");
  const m = decodeNode(buf);
  let kind = "namespace";
  if (uids.some((u) => channel.endsWith(`#${u}#`))) kind = "response";
  else if (channel.split("#").length > 3) kind = "room";
  const keys = (o) => (o && typeof o === "object" && !Array.isArray(o) &&
    !Buffer.isBuffer(o) ? Object.keys(o) : null);
  return JSON.stringify([m.type, kind, buf[0] === 0x7b ? "json" : "msgpack",
    keys(m), keys(m.data), m.nsp]);
}

function committedVectors() {
  const lines = readFileSync(vectorsFile, "utf8").split("\n");
  const out = [];
  for (const line of lines) {
    if (!line || line.startsWith("#")) continue;
    const [step, channel, , hex] = line.split("\t");
    out.push({ step, channel, hex });
  }
  return out;
}

function uidsOf(records) {
  const uids = new Set();
  for (const r of records) {
    const m = decodeNode(Buffer.from(r.hex, "hex"));
    if (m.uid) uids.add(m.uid);
  }
  return [...uids];
}

(haveRedisServer() ? describe : describe.skip)("sharded adapter codec", function () {
  this.timeout(30000);
  let redis;
  let live;

  before(async () => {
    redis = await startRedis();
    live = await captureSharded(redis.url);
  });

  after(async () => {
    if (redis) await redis.stop();
  });

  it("Node still publishes what the golden vectors hold", () => {
    const committed = committedVectors();
    const liveUids = uidsOf(live.records);
    const oldUids = uidsOf(committed);
    const a = live.records.map((r) => `${r.step} ${shape(r.channel, r.hex, liveUids)}`);
    const b = committed.map((r) => `${r.step} ${shape(r.channel, r.hex, oldUids)}`);
    assert.deepEqual(a, b);
  });

  (codecPath() ? it : it.skip)("libsio re-encodes every message byte for byte", () => {
    const input = live.lines.join("\n") + "\n";
    const out = execFileSync(codecPath(), ["reencode"], { input, encoding: "utf8" })
      .trim().split("\n");
    assert.equal(out.length, live.records.length);
    out.forEach((line, i) => {
      const [step, hex] = line.split("\t");
      assert.equal(step, live.records[i].step);
      assert.equal(hex, live.records[i].hex, `${step} on ${live.records[i].channel}`);
    });
  });

  (codecPath() ? describe : describe.skip)("a Node server acting on libsio's bytes", () => {
    const uid = "c0ffee00c0ffee00"; // a libsio peer that is not running
    let io;
    let pub;
    let sub;
    let spy; // subscribed to our response channel
    let out; // publishes our bytes
    let client;
    let socket;
    const answers = [];

    before(async () => {
      pub = createClient({ url: redis.url });
      sub = pub.duplicate();
      spy = pub.duplicate();
      out = pub.duplicate();
      for (const c of [pub, sub, spy, out]) c.on("error", () => {});
      await Promise.all([pub.connect(), sub.connect(), spy.connect(),
        out.connect()]);
      const httpServer = http.createServer();
      io = new Server(httpServer, { adapter: createShardedAdapter(pub, sub) });
      await new Promise((r) => httpServer.listen(0, "127.0.0.1", r));
      io.on("connection", (s) => {
        socket = s;
        s.join("room1");
        s.data = { user: "n1" };
      });
      io.on("ping-all", (n, cb) => cb({ pong: n }));
      // our response channel: what the Node server answers us
      await spy.sSubscribe(`socket.io#/#${uid}#`, (msg) => answers.push(msg), true);
      client = ioc(`http://127.0.0.1:${httpServer.address().port}`,
        { transports: ["websocket"] });
      await new Promise((r) => client.on("connect", r));
      await sleep(100);
    });

    after(async () => {
      client?.close();
      io?.close();
      await sleep(50);
      for (const c of [pub, sub, spy, out]) await c?.quit().catch(() => {});
    });

    async function spublish(channel, hex) {
      await out.sPublish(channel, Buffer.from(hex, "hex"));
    }

    function waitFor(emitter, event) {
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no ${event}`)), 3000);
        emitter.once(event, (...args) => {
          clearTimeout(t);
          resolve(args);
        });
      });
    }

    it("delivers a broadcast to everyone (JSON) and to a room (msgpack)", async () => {
      let got = waitFor(client, "hello");
      await spublish("socket.io#/#", codec("bcast", uid, "/", "", "hello", '[1,{"k":"v"}]'));
      assert.deepEqual(await got, [1, { k: "v" }]);
      got = waitFor(client, "bin");
      await spublish("socket.io#/#room1#",
        codec("bcast", uid, "/", "room1", "bin", '["bin:0102ff","x"]'));
      const [buf, x] = await got;
      assert.deepEqual([...buf], [1, 2, 255]);
      assert.equal(x, "x");
    });

    it("applies socketsJoin", async () => {
      await spublish("socket.io#/#", codec("join", uid, "/", "room1", "j7,j8"));
      await sleep(100);
      assert.ok(socket.rooms.has("j7") && socket.rooms.has("j8"));
    });

    it("answers serverSideEmit with an acknowledgement", async () => {
      answers.length = 0;
      await spublish("socket.io#/#", codec("sse", uid, "/", "r1d", "ping-all", "[5]"));
      await sleep(200);
      assert.equal(answers.length, 1);
      const d = JSON.parse(codec("decode", answers[0].toString("hex")));
      assert.equal(d.type, 10);
      assert.equal(d.requestId, "r1d");
      assert.deepEqual(d.message.data.packet, { pong: 5 });
      assert.equal(d.uid, io.of("/").adapter.uid);
    });

    it("answers fetchSockets on our response channel", async () => {
      answers.length = 0;
      await spublish("socket.io#/#", codec("fetch", uid, "/", "f1", "room1"));
      await sleep(200);
      assert.equal(answers.length, 1);
      const d = JSON.parse(codec("decode", answers[0].toString("hex")));
      assert.equal(d.type, 8);
      assert.equal(d.requestId, "f1");
      const [s] = d.message.data.sockets;
      assert.equal(s.id, socket.id);
      assert.deepEqual(s.data, { user: "n1" });
      assert.ok(s.rooms.includes("room1"));
    });

    it("counts a libsio subscriber in serverCount (PUBSUB SHARDNUMSUB)", async () => {
      const other = pub.duplicate();
      other.on("error", () => {});
      await other.connect();
      await other.sSubscribe("socket.io#/#", () => {});
      assert.equal(await io.of("/").adapter.serverCount(), 2);
      await other.quit();
    });
  });
});
