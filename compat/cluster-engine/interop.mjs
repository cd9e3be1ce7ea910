// The real @socket.io/cluster-engine RedisEngine (compiled by run.sh from a
// checkout of the socket.io monorepo: the package is not on the npm
// registry this project installs from) and a sio-server daemon on one
// redis-server: Engine.IO requests and upgrades crossing both ways. Prints
// "N passed, M failed" and exits non-zero on a failure.
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { startDaemon, stopAllDaemons, request, token, sleep } from "../node/test/daemon-harness.mjs";
import { startRedis } from "../node/test/redis-harness.mjs";

// socket.io, redis and ws from compat/node's node_modules; the engine from
// run.sh's build
const nodeRequire = createRequire(new URL("../node/package.json", import.meta.url));
const { createClient } = nodeRequire("redis");
const { Server } = nodeRequire("socket.io");
const WebSocket = nodeRequire("ws");
const { RedisEngine } = createRequire(import.meta.url)(`${process.env.CLUSTER_ENGINE_DIST}/index.js`);

const redis = await startRedis();
const pub = createClient({ url: redis.url }); const sub = pub.duplicate();
await Promise.all([pub.connect(), sub.connect()]);
const engine = new RedisEngine(pub, sub, { pingInterval: 400, pingTimeout: 1500 });
const httpServer = createServer((req, res) => res.writeHead(404).end());
engine.attach(httpServer, { path: "/socket.io/" });
const io = new Server();
io.bind(engine);
io.on("connection", (s) => { s.emit("hello", "from node"); s.on("ping", (cb) => cb && cb("pong-node")); });
await new Promise((r) => httpServer.listen(0, "127.0.0.1", r));
const node = { url: `http://127.0.0.1:${httpServer.address().port}` };
const d = await startDaemon({ SIO_REDIS_URL: redis.url, SIO_SERVER_ID: "c", SIO_ENGINE_PING_INTERVAL_MS: "400", SIO_ENGINE_PING_TIMEOUT_MS: "1500" });
await d.waitStderr(/redis: connected/, 5000);
const CT = { "Content-Type": "text/plain;charset=UTF-8" };
const poll = (x, sid) => `${x.url}/socket.io/?EIO=4&transport=polling&sid=${sid}`;
const hs = async (x) => JSON.parse((await request(`${x.url}/socket.io/?EIO=4&transport=polling`)).body.slice(1)).sid;
let ok = 0, bad = 0;
const check = (what, cond, extra = "") => { if (cond) { ok++; console.log("ok  ", what); } else { bad++; console.log("FAIL", what, extra); } };

// 1. Node owns, C forwards
{
  const sid = await hs(node);
  const p = await request(poll(d, sid), { method: "POST", headers: CT, body: "40" });
  check("POST to C for a Node session: ok", p.status === 200 && p.body === "ok", `${p.status} ${p.body}`);
  let got = "";
  for (let i = 0; i < 4 && !/hello/.test(got); i++) got += (await request(poll(d, sid))).body + "|";
  check("GET on C carries Node's CONNECT reply and event", /40\{"sid"/.test(got) && /42\["hello","from node"\]/.test(got), got);
}
// 2. C owns, Node forwards
{
  const sid = await hs(d);
  const p = await request(poll(node, sid), { method: "POST", headers: CT, body: `40${JSON.stringify({ token: token("ce-user") })}` });
  check("POST to Node for a C session: ok", p.status === 200 && p.body === "ok", `${p.status} ${p.body}`);
  let got = "";
  for (let i = 0; i < 4 && !/connection\.established/.test(got); i++) got += (await request(poll(node, sid))).body + "|";
  check("GET on Node carries C's CONNECT reply and established", /40\{"sid"/.test(got) && /connection\.established/.test(got), got);
}
// 3. upgrade on C of a Node session (Node holds it 300 ms): C takes it over?
async function upgrade(x, sid) {
  const ws = new WebSocket(`${x.url.replace("http", "ws")}/socket.io/?EIO=4&transport=websocket&sid=${sid}`);
  const frames = [];
  ws.on("message", (m) => frames.push(m.toString()));
  await new Promise((res, rej) => { ws.once("open", res); ws.once("error", rej); ws.once("unexpected-response", (q, r) => rej(new Error("HTTP " + r.statusCode))); });
  ws.send("2probe");
  for (let i = 0; i < 100 && !frames.includes("3probe"); i++) await sleep(10);
  return { ws, frames };
}
{
  const sid = await hs(node);
  await request(poll(node, sid), { method: "POST", headers: CT, body: "40" });
  const { ws, frames } = await upgrade(d, sid);
  check("probe on C of a Node session answered", frames.includes("3probe"), JSON.stringify(frames));
  ws.send("5");
  for (let i = 0; i < 100 && !frames.some((f) => f.startsWith("40")); i++) await sleep(10);
  // taken over: sio-server's Socket.IO layer answers the CONNECT Node
  // received, and refuses it, as it must, for want of a token
  check("after 5, C answers the CONNECT Node received (taken over)", frames.some((f) => f.startsWith("44{") && f.includes("missing_token")), JSON.stringify(frames));
  ws.close();
}
// 4. upgrade on Node of a C session within the hold: Node takes it over
{
  const sid = await hs(d);
  await request(poll(d, sid), { method: "POST", headers: CT, body: "40" });
  const { ws, frames } = await upgrade(node, sid);
  check("probe on Node of a C session answered", frames.includes("3probe"), JSON.stringify(frames));
  ws.send("5");
  for (let i = 0; i < 100 && !frames.some((f) => f.startsWith("40")); i++) await sleep(10);
  check("after 5, Node's socket.io answers the CONNECT C received", frames.some((f) => f.startsWith("40{")), JSON.stringify(frames));
  ws.close();
}
// 5. upgrade on Node of a C session after C connected it: proxied through Node
{
  const sid = await hs(d);
  await request(poll(d, sid), { method: "POST", headers: CT, body: `40${JSON.stringify({ token: token("ce-user2") })}` });
  let got = "";
  for (let i = 0; i < 4 && !/connection\.established/.test(got); i++) got += (await request(poll(d, sid))).body;
  const { ws, frames } = await upgrade(node, sid);
  ws.send("5");
  await sleep(200);
  ws.send('421["ping"]');
  for (let i = 0; i < 100 && !frames.some((f) => f.startsWith("431")); i++) await sleep(10);
  check("proxied through Node: C's ack comes back", frames.some((f) => f.startsWith("431")), JSON.stringify(frames));
  ws.close();
}
console.log(`${ok} passed, ${bad} failed`);
await stopAllDaemons();
io.close(); httpServer.close();
await pub.quit(); await sub.quit();
await redis.stop();
process.exit(bad ? 1 : 0);
