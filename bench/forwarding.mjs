// bench/forwarding.mjs: what a forwarded long-polling request costs next to
// a sticky one (issue 12), in one run on this machine.
//
// Starts a private redis-server and two sio-server daemons on it (auth
// none, forwarding on, takeover 0), on 127.0.0.1 and free ports. A
// polling session is opened on A and connected to "/"; then R round trips
// of POST `42N["ping"]` + GET (the ack `43N[...]`) are made with one
// keep-alive connection each for the POST and the GET:
//   sticky     every request to A, the owner
//   forwarded  every request to B, which carries it to A over Redis
// interleaved in rounds so that background noise falls on both alike.
// Reported per mode: median wall time per round trip, and CPU time of A, B
// and redis-server together per round trip (from /proc/<pid>/stat), and
// the forwarded/sticky ratios.
//
// Usage: SIO_DAEMON=build/sio-server node bench/forwarding.mjs [--trips N] [--rounds R]
// Bounded: N (default 2000) round trips per mode and round, R (default 3)
// rounds; every process started here is stopped by its PID at the end.
import { readFileSync } from "node:fs";
import http from "node:http";
import { startDaemon, stopAllDaemons } from "../compat/node/test/daemon-harness.mjs";
import { startRedis } from "../compat/node/test/redis-harness.mjs";

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const TRIPS = opt("--trips", 2000);
const ROUNDS = opt("--rounds", 3);
const TICK = 100; // clock ticks per second (getconf CLK_TCK on Linux)

function cpuMs(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8");
  const rest = f.slice(f.lastIndexOf(")") + 2).split(" ");
  return ((Number(rest[11]) + Number(rest[12])) * 1000) / TICK;
}

function req(agent, port, method, path, body) {
  return new Promise((resolve, reject) => {
    const r = http.request({ host: "127.0.0.1", port, method, path, agent,
      headers: body ? { "Content-Type": "text/plain;charset=UTF-8", "Content-Length": Buffer.byteLength(body) } : {} },
    (res) => {
      let data = "";
      res.setEncoding("utf8");
      res.on("data", (c) => (data += c));
      res.on("end", () => resolve({ status: res.statusCode, body: data }));
    });
    r.on("error", reject);
    if (body) r.write(body);
    r.end();
  });
}

async function session(owner) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const hs = await req(agent, owner.port, "GET", "/socket.io/?EIO=4&transport=polling");
  const sid = JSON.parse(hs.body.slice(1)).sid;
  const path = `/socket.io/?EIO=4&transport=polling&sid=${sid}`;
  await req(agent, owner.port, "POST", path, "40");
  let got = "";
  while (!/connection\.established/.test(got)) got += (await req(agent, owner.port, "GET", path)).body;
  return { path, post: agent, get: new http.Agent({ keepAlive: true, maxSockets: 1 }) };
}

async function trips(s, port, n) {
  for (let i = 0; i < n; i++) {
    const id = (i % 1000) + 1;
    const p = await req(s.post, port, "POST", s.path, `42${id}["ping"]`);
    if (p.body !== "ok") throw new Error(`POST: ${p.status} ${p.body}`);
    let body = "";
    while (!body.includes(`43${id}[`)) {
      const g = await req(s.get, port, "GET", s.path);
      if (g.status !== 200) throw new Error(`GET: ${g.status} ${g.body}`);
      body += g.body;
    }
  }
}

const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];

const redis = await startRedis();
const env = {
  SIO_REDIS_URL: redis.url,
  SIO_AUTH_MODE: "none",
  SIO_ENGINE_TAKEOVER_MS: "0",
  SIO_LIMITS_EVENTS_PER_MINUTE: "1000000",
  SIO_LIMITS_EVENTS_BURST: "1000000",
};
const a = await startDaemon({ ...env, SIO_SERVER_ID: "bench-a" });
const b = await startDaemon({ ...env, SIO_SERVER_ID: "bench-b" });
await a.waitStderr(/redis: connected|listening/, 5000);
await b.waitStderr(/redis: connected|listening/, 5000);
await new Promise((r) => setTimeout(r, 300));
const pids = [a.pid, b.pid, redis.pid ?? redis.child?.pid].filter(Boolean);
const res = { sticky: { wall: [], cpu: [] }, forwarded: { wall: [], cpu: [] } };
try {
  for (let round = 0; round < ROUNDS; round++) {
    for (const [mode, port] of [["sticky", a.port], ["forwarded", b.port]]) {
      const s = await session(a);
      await trips(s, port, 50); // warm up
      const c0 = pids.reduce((t, p) => t + cpuMs(p), 0);
      const t0 = process.hrtime.bigint();
      await trips(s, port, TRIPS);
      const wall = Number(process.hrtime.bigint() - t0) / 1e3 / TRIPS;
      const cpu = ((pids.reduce((t, p) => t + cpuMs(p), 0) - c0) * 1000) / TRIPS;
      res[mode].wall.push(wall);
      res[mode].cpu.push(cpu);
      s.post.destroy();
      s.get.destroy();
    }
  }
} finally {
  await stopAllDaemons();
  await redis.stop();
}
const m = (mode, k) => median(res[mode][k]);
console.log(`forwarding bench: ${TRIPS} round trips (POST + GET) x ${ROUNDS} rounds; medians`);
console.log(`mode       wall us/trip   CPU us/trip (A+B+redis)`);
for (const mode of ["sticky", "forwarded"])
  console.log(`${mode.padEnd(10)} ${m(mode, "wall").toFixed(0).padStart(12)} ${m(mode, "cpu").toFixed(0).padStart(14)}`);
console.log(`ratio forwarded/sticky: wall x${(m("forwarded", "wall") / m("sticky", "wall")).toFixed(2)}, CPU x${(m("forwarded", "cpu") / m("sticky", "cpu")).toFixed(2)}`);
console.log(`redis pid counted: ${pids.length === 3 ? "yes" : "no"}`);
