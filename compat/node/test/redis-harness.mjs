// A private redis-server for the Redis adapter suites: loopback only, a
// free port, a temporary directory, no persistence; stopped by PID.

import { execFile, spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

export function haveRedisServer() {
  const r = spawnSync("redis-server", ["--version"], { stdio: "ignore" });
  return r.status === 0;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function canConnect(port) {
  return new Promise((resolve) => {
    const c = net.connect(port, "127.0.0.1", () => {
      c.end();
      resolve(true);
    });
    c.on("error", () => resolve(false));
  });
}

// Resolves with { port, url, stop() } once redis-server accepts
// connections.
export async function startRedis(opts = {}) {
  const port = opts.port || (await freePort());
  const dir = mkdtempSync(path.join(os.tmpdir(), "sio-compat-redis-"));
  const child = spawn(
    "redis-server",
    ["--bind", "127.0.0.1", "--port", String(port), "--save", "",
      "--appendonly", "no", "--dir", dir],
    { stdio: "ignore" },
  );
  const exited = new Promise((resolve) => child.once("exit", resolve));
  for (let i = 0; i < 200; i++) {
    if (await canConnect(port)) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  if (!(await canConnect(port))) {
    child.kill("SIGKILL");
    throw new Error("redis-server did not start");
  }
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    pid: child.pid,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ------------------------------------------------------------ topologies
//
// Real Redis topologies for the adapter suites, all on 127.0.0.1 on free
// ports: TLS (certificates made here with the openssl CLI), an ACL user,
// a Sentinel group, a Redis Cluster. Every start waits, bounded in time,
// until the processes answer; every stop() kills exactly the PIDs it
// started (SIGTERM, then SIGKILL after STOP_GRACE_MS) and removes its
// temporary directory.

const START_MS = 10000;
const STOP_GRACE_MS = 3000;
const CLI_MS = 5000;

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

function onPath(cmd) {
  return spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
}

export function haveOpenssl() {
  return onPath("openssl");
}

export function haveRedisCli() {
  return onPath("redis-cli");
}

// Sentinel mode: redis-sentinel is redis-server under another name; Debian
// ships the name in its own package, so redis-server --sentinel stands in.
export function sentinelCommand() {
  if (onPath("redis-sentinel")) return { cmd: "redis-sentinel", args: [] };
  if (haveRedisServer()) return { cmd: "redis-server", args: ["--sentinel"] };
  return null;
}

export function haveRedisSentinel() {
  return sentinelCommand() !== null && haveRedisCli();
}

// Every process started here and still running when this process exits
// (a test run stopped half-way, mocha --exit) is killed by PID then.
// So are the temporary directories still there.
const live = new Set();
const dirs = new Set();
process.on("exit", () => {
  for (const child of live) {
    try {
      child.kill("SIGKILL");
    } catch {
      /* already gone */
    }
  }
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(prefix) {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  dirs.add(dir);
  return dir;
}

function removeDir(dir) {
  rmSync(dir, { recursive: true, force: true });
  dirs.delete(dir);
}

// Spawns one process and tracks it; stop() is idempotent.
function track(cmd, args, opts = {}) {
  const child = spawn(cmd, args, { stdio: ["ignore", "ignore", "pipe"], ...opts });
  live.add(child);
  child.once("exit", () => live.delete(child));
  let err = "";
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (c) => {
    if (err.length < 20000) err += c;
  });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  return {
    child,
    pid: child.pid,
    stderr: () => err,
    alive: () => child.exitCode === null && child.signalCode === null,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const t = setTimeout(() => child.kill("SIGKILL"), STOP_GRACE_MS);
      await exited;
      clearTimeout(t);
    },
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGKILL");
      await exited;
    },
  };
}

export { freePort };

// Runs redis-cli with args (bounded in time); resolves with its trimmed
// stdout (raw mode: an error reply comes back as its text), rejects when
// redis-cli fails or times out.
export function redisCli(args, { timeout = CLI_MS } = {}) {
  return new Promise((resolve, reject) => {
    execFile("redis-cli", args, { timeout, encoding: "utf8" }, (err, stdout, stderr) => {
      if (err) reject(new Error(`redis-cli ${args.join(" ")}: ${err.message} ${stderr}`));
      else resolve(stdout.trim());
    });
  });
}

async function waitUntil(what, fn, ms = START_MS, every = 50) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`${what}: not within ${ms} ms${last ? `: ${last.message}` : ""}`);
    }
    await sleep(every);
  }
}

// ---------------------------------------------------------- certificates

function openssl(args, cwd) {
  const r = spawnSync("openssl", args, { cwd, encoding: "utf8", timeout: 10000 });
  if (r.status !== 0) throw new Error(`openssl ${args.join(" ")}: ${r.stderr}`);
}

function newCa(dir, name) {
  openssl(["req", "-x509", "-new", "-nodes", "-newkey", "ec",
    "-pkeyopt", "ec_paramgen_curve:prime256v1", "-keyout", `${name}.key`,
    "-out", `${name}.crt`, "-days", "2", "-subj", `/CN=sio-test ${name}`], dir);
}

function newCert(dir, name, ca, cn, ext) {
  writeFileSync(path.join(dir, `${name}.ext`), ext);
  openssl(["req", "-new", "-nodes", "-newkey", "ec",
    "-pkeyopt", "ec_paramgen_curve:prime256v1", "-keyout", `${name}.key`,
    "-out", `${name}.csr`, "-subj", `/CN=${cn}`], dir);
  openssl(["x509", "-req", "-in", `${name}.csr`, "-CA", `${ca}.crt`,
    "-CAkey", `${ca}.key`, "-CAcreateserial", "-out", `${name}.crt`,
    "-days", "2", "-extfile", `${name}.ext`], dir);
}

// Makes in dir: a CA (ca.crt), a server certificate it signed for
// subjectAltName san (default 127.0.0.1 and localhost), a client
// certificate (clientAuth), and an unrelated CA (other-ca.crt) for
// wrong-CA tests. Returns the absolute paths.
export function makeCerts(dir, { san = "IP:127.0.0.1,DNS:localhost" } = {}) {
  newCa(dir, "ca");
  newCa(dir, "other-ca");
  newCert(dir, "server", "ca", "localhost",
    `subjectAltName=${san}\nextendedKeyUsage=serverAuth\n`);
  newCert(dir, "client", "ca", "sio-test-client", "extendedKeyUsage=clientAuth\n");
  const p = (f) => path.join(dir, f);
  return {
    dir,
    ca: p("ca.crt"),
    otherCa: p("other-ca.crt"),
    serverCert: p("server.crt"),
    serverKey: p("server.key"),
    clientCert: p("client.crt"),
    clientKey: p("client.key"),
  };
}

// -------------------------------------------------- one redis-server

// The ACL user of { acl: true }: pub/sub on every channel and the
// connection, introspection and cluster-topology commands the adapters
// and clients send; no key access. The default user keeps every right
// behind ADMIN_PASSWORD (the harness's own redis-cli calls use it).
export const ACL_USER = "sio";
export const ACL_PASSWORD = "sio-acl-pass-4e1d";
export const ADMIN_PASSWORD = "admin-pass-9b2c";
const ACL_RULES = [
  "on", `>${ACL_PASSWORD}`, "resetchannels", "&*", "resetkeys", "-@all",
  "+@pubsub", "+@connection", "+info", "+cluster|slots", "+cluster|shards",
  "+cluster|nodes", "+cluster|info", "+cluster|myid", "+command", "+acl|whoami",
];

// Starts one redis-server. opts:
//   tls: false | { authClients: bool, certs?: makeCerts() result, san? }
//   acl: true adds ACL_USER and password-protects the default user
//   unixSocket: true also listens on dir/redis.sock
//   args: extra redis-server arguments
//   port: fixed port (the TLS port under tls)
// Resolves with { port, host, url, urlAs(user, pass), unixUrl, certs,
// user, password, pid, proc, cli(...args), stop() }.
export async function startRedisServer(opts = {}) {
  const dir = tempDir("sio-compat-redis-");
  let proc;
  try {
    const port = opts.port || (await freePort());
    const tls = opts.tls || null;
    const certs = tls ? tls.certs || makeCerts(dir, { san: tls.san }) : null;
    const args = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
      "--dir", dir];
    if (tls) {
      args.push("--port", "0", "--tls-port", String(port),
        "--tls-cert-file", certs.serverCert, "--tls-key-file", certs.serverKey,
        "--tls-ca-cert-file", certs.ca,
        "--tls-auth-clients", tls.authClients ? "yes" : "no");
    } else {
      args.push("--port", String(port));
    }
    const sock = path.join(dir, "redis.sock");
    if (opts.unixSocket) args.push("--unixsocket", sock, "--unixsocketperm", "700");
    if (opts.acl) {
      args.push("--user", "default", "on", `>${ADMIN_PASSWORD}`, "~*", "&*", "+@all");
      args.push("--user", ACL_USER, ...ACL_RULES);
    }
    args.push(...(opts.args || []));
    proc = track("redis-server", args);
    const cliBase = ["-h", "127.0.0.1", "-p", String(port)];
    if (tls) {
      cliBase.push("--tls", "--cacert", certs.ca);
      if (tls.authClients) cliBase.push("--cert", certs.clientCert, "--key", certs.clientKey);
    }
    if (opts.acl) cliBase.push("--no-auth-warning", "-a", ADMIN_PASSWORD);
    const cli = (...a) => redisCli([...cliBase, ...a]);
    await waitUntil("redis-server answering PING", async () => {
      if (!proc.alive()) throw new Error(`redis-server exited: ${proc.stderr()}`);
      return (await cli("PING")) === "PONG";
    });
    const scheme = tls ? "rediss" : "redis";
    return {
      port,
      host: "127.0.0.1",
      url: `${scheme}://127.0.0.1:${port}`,
      urlAs: (user, pass) =>
        `${scheme}://${encodeURIComponent(user)}:${encodeURIComponent(pass)}@127.0.0.1:${port}`,
      unixUrl: opts.unixSocket ? `unix://${sock}` : null,
      certs,
      user: opts.acl ? ACL_USER : null,
      password: opts.acl ? ACL_PASSWORD : null,
      pid: proc.pid,
      proc,
      cli,
      async stop() {
        await proc.stop();
        removeDir(dir);
      },
    };
  } catch (e) {
    if (proc) await proc.kill();
    removeDir(dir);
    throw e;
  }
}

// A TLS redis-server (--port 0 --tls-port P), with or without
// --tls-auth-clients yes, optionally with the ACL user.
export function startTlsRedis({ authClients = false, acl = false, san, args } = {}) {
  return startRedisServer({ tls: { authClients, san }, acl, args });
}

// A plain redis-server with the ACL user (default user password-protected).
export function startAclRedis(opts = {}) {
  return startRedisServer({ ...opts, acl: true });
}

// ---------------------------------------------------------------- Sentinel

// Parses redis-cli's raw output of a flat key/value array reply.
function pairs(text) {
  const lines = text.split("\n");
  const o = {};
  for (let i = 0; i + 1 < lines.length; i += 2) o[lines[i]] = lines[i + 1];
  return o;
}

// One master, one replica (--replicaof), three sentinels monitoring it with
// quorum 2, down-after-milliseconds downAfterMs and failover-timeout
// failoverTimeoutMs. Resolves once every sentinel knows the replica and the
// two other sentinels, and the replica's link is up. Returns:
//   masterName, url (redis+sentinel://s1,s2,s3/masterName),
//   sentinels [{ port, pid }], nodes [{ port, pid }] (0: first master),
//   master() -> { host, port } as the sentinels say now,
//   failover() sends SENTINEL FAILOVER to one sentinel, resolves with
//     { from, at } (the master before, the time it was sent),
//   waitForNewMaster(fromPort, ms) -> { host, port, switchAt, agreedAt }:
//     switchAt is when the first +switch-master was seen, agreedAt when
//     all three sentinels name the new master,
//   switches: every +switch-master seen [{ at, from, to, sentinel }],
//   followMaster() -> { port, url, close() }: a proxy to the current master
//     for clients without Sentinel support,
//   stop().
export async function startSentinelGroup({
  masterName = "sio-master", downAfterMs = 500, failoverTimeoutMs = 3000,
} = {}) {
  const sc = sentinelCommand();
  if (!sc) throw new Error("neither redis-sentinel nor redis-server is installed");
  const dir = tempDir("sio-compat-sentinel-");
  const procs = [];
  const watchers = [];
  const switches = [];
  const nodes = [];
  const sentinels = [];
  const proxies = [];
  const stopAll = async () => {
    for (const p of proxies) p.close();
    for (const w of watchers) w.kill("SIGKILL");
    await Promise.all(procs.map((p) => p.stop()));
    removeDir(dir);
  };
  try {
    const mport = await freePort();
    const rport = await freePort();
    for (const [port, extra] of [[mport, []], [rport, ["--replicaof", "127.0.0.1", String(mport)]]]) {
      const d = path.join(dir, `node-${port}`);
      mkdirSync(d);
      const p = track("redis-server", ["--bind", "127.0.0.1", "--port", String(port),
        "--save", "", "--appendonly", "no", "--dir", d, ...extra]);
      procs.push(p);
      nodes.push({ port, pid: p.pid, proc: p });
    }
    await waitUntil("replica in sync", async () =>
      /master_link_status:up/.test(await redisCli(["-p", String(rport), "INFO", "replication"])));
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      const conf = path.join(dir, `sentinel-${port}.conf`);
      writeFileSync(conf, [
        `port ${port}`, "bind 127.0.0.1", `dir ${dir}`,
        `sentinel monitor ${masterName} 127.0.0.1 ${mport} 2`,
        `sentinel down-after-milliseconds ${masterName} ${downAfterMs}`,
        `sentinel failover-timeout ${masterName} ${failoverTimeoutMs}`,
        `sentinel parallel-syncs ${masterName} 1`, "",
      ].join("\n"));
      const p = track(sc.cmd, [conf, ...sc.args]);
      procs.push(p);
      sentinels.push({ port, pid: p.pid, proc: p });
    }
    const scli = (s, ...a) => redisCli(["-p", String(s.port), ...a]);
    await waitUntil("sentinels see the replica and each other", async () => {
      for (const s of sentinels) {
        if (!s.proc.alive()) throw new Error(`sentinel exited: ${s.proc.stderr()}`);
        const reps = await scli(s, "SENTINEL", "REPLICAS", masterName);
        if (!reps.includes(String(rport)) || /s_down|disconnected/.test(reps)) return false;
        const peers = await scli(s, "SENTINEL", "SENTINELS", masterName);
        if ((peers.match(/^name$/gm) || []).length < 2) return false;
      }
      return true;
    }, 30000, 200);
    // +switch-master as published by each sentinel, with the time seen
    for (const s of sentinels) {
      const w = spawn("redis-cli", ["-p", String(s.port), "--no-raw", "SUBSCRIBE", "+switch-master"],
        { stdio: ["ignore", "pipe", "ignore"] });
      watchers.push(w);
      live.add(w);
      w.once("exit", () => live.delete(w));
      w.stdout.setEncoding("utf8");
      let buf = "";
      w.stdout.on("data", (c) => {
        buf += c;
        const lines = buf.split("\n");
        buf = lines.pop();
        for (const line of lines) {
          const m = /"(\S+) (\S+) (\d+) (\S+) (\d+)"/.exec(line);
          if (m) {
            switches.push({ at: Date.now(), sentinel: s.port, name: m[1],
              from: Number(m[3]), to: Number(m[5]) });
          }
        }
      });
    }
    await sleep(200); // the SUBSCRIBEs in place
    const masterBy = async (s) => {
      const out = await scli(s, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", masterName);
      const [host, port] = out.split("\n");
      return { host, port: Number(port) };
    };
    return {
      masterName,
      url: `redis+sentinel://${sentinels.map((s) => `127.0.0.1:${s.port}`).join(",")}/${masterName}`,
      sentinels,
      nodes,
      switches,
      master: () => masterBy(sentinels[0]),
      masterInfo: async () => pairs(await scli(sentinels[0], "SENTINEL", "MASTER", masterName)),
      async failover() {
        const from = await masterBy(sentinels[0]);
        const at = Date.now();
        const r = await scli(sentinels[0], "SENTINEL", "FAILOVER", masterName);
        if (r !== "OK") throw new Error(`SENTINEL FAILOVER: ${r}`);
        return { from, at };
      },
      async waitForNewMaster(fromPort, ms = 15000) {
        const sw = await waitUntil("+switch-master", () =>
          switches.find((x) => x.from === fromPort && x.name === masterName), ms, 10);
        const to = sw.to;
        await waitUntil("all sentinels name the new master", async () => {
          for (const s of sentinels) if ((await masterBy(s)).port !== to) return false;
          return true;
        }, ms, 50);
        const agreedAt = Date.now();
        // the new master takes writes (the promoted replica left read-only)
        await waitUntil("new master is a master", async () =>
          /role:master/.test(await redisCli(["-p", String(to), "INFO", "replication"])), ms);
        return { host: "127.0.0.1", port: to, switchAt: sw.at, agreedAt };
      },
      // A loopback TCP proxy to the current master that drops every
      // connection on +switch-master and sends new ones to the new master:
      // a sentinel-following stand-in for clients without Sentinel
      // support (node-redis 4 then reconnects and resubscribes).
      async followMaster() {
        let target = (await masterBy(sentinels[0])).port;
        const pairs = new Set();
        let handled = switches.length;
        const timer = setInterval(() => {
          for (; handled < switches.length; handled++) {
            const sw = switches[handled];
            if (sw.name !== masterName || sw.to === target) continue;
            target = sw.to;
            for (const [a, b] of pairs) {
              a.destroy();
              b.destroy();
            }
            pairs.clear();
          }
        }, 5);
        const srv = net.createServer((a) => {
          const b = net.connect(target, "127.0.0.1");
          const pair = [a, b];
          pairs.add(pair);
          const drop = () => {
            pairs.delete(pair);
            a.destroy();
            b.destroy();
          };
          a.on("error", drop).on("close", drop);
          b.on("error", drop).on("close", drop);
          a.pipe(b);
          b.pipe(a);
        });
        await new Promise((r) => srv.listen(0, "127.0.0.1", r));
        const follower = {
          port: srv.address().port,
          url: `redis://127.0.0.1:${srv.address().port}`,
          target: () => target,
          close() {
            clearInterval(timer);
            for (const [a, b] of pairs) {
              a.destroy();
              b.destroy();
            }
            return new Promise((r) => srv.close(r));
          },
        };
        proxies.push(follower);
        return follower;
      },
      stop: stopAll,
    };
  } catch (e) {
    await stopAll();
    throw e;
  }
}

// ----------------------------------------------------------------- Cluster

// A Redis Cluster of `masters` masters (no replicas) made with
// redis-cli --cluster create; resolves once every node reports
// cluster_state:ok and agrees on the slots. Returns:
//   url (redis+cluster://n1,n2,n3), rootNodes ([{ url }] for node-redis
//   createCluster), nodes [{ port, busPort, pid, id }],
//   keyslot(name) -> the slot of a channel or key,
//   owner(slot) -> the node serving it,
//   migrateSlots(slots, toIndex?) moves each slot to another master
//     (IMPORTING/MIGRATING, the keys if any, then NODE on every node) and
//     resolves once every node agrees: [{ slot, from, to }],
//   stop().
export async function startCluster({ masters = 3, nodeTimeoutMs = 2000 } = {}) {
  const dir = tempDir("sio-compat-cluster-");
  const nodes = [];
  const stopAll = async () => {
    await Promise.all(nodes.map((n) => n.proc.stop()));
    removeDir(dir);
  };
  try {
    for (let i = 0; i < masters; i++) {
      const port = await freePort();
      const busPort = await freePort();
      const d = path.join(dir, `node-${port}`);
      mkdirSync(d);
      const proc = track("redis-server", ["--bind", "127.0.0.1", "--port", String(port),
        "--cluster-enabled", "yes", "--cluster-port", String(busPort),
        "--cluster-config-file", path.join(d, "nodes.conf"),
        "--cluster-node-timeout", String(nodeTimeoutMs),
        "--save", "", "--appendonly", "no", "--dir", d]);
      nodes.push({ port, busPort, pid: proc.pid, proc });
    }
    const cli = (n, ...a) => redisCli(["-h", "127.0.0.1", "-p", String(n.port), ...a]);
    for (const n of nodes) {
      await waitUntil(`cluster node ${n.port} answering`, async () => {
        if (!n.proc.alive()) throw new Error(`redis-server exited: ${n.proc.stderr()}`);
        return (await cli(n, "PING")) === "PONG";
      });
      n.id = await cli(n, "CLUSTER", "MYID");
    }
    await redisCli(["--cluster", "create", ...nodes.map((n) => `127.0.0.1:${n.port}`),
      "--cluster-replicas", "0", "--cluster-yes"], { timeout: 30000 });
    const slotsOf = async (n) => {
      // CLUSTER SHARDS would be neater; CLUSTER NODES is in every 7.0
      const text = await cli(n, "CLUSTER", "NODES");
      const map = new Map();
      for (const line of text.split("\n")) {
        const f = line.split(" ");
        if (f.length < 9 || !f[2].includes("master")) continue;
        for (const r of f.slice(8)) {
          if (r.startsWith("[")) continue; // migrating/importing marks
          const [a, b] = r.split("-").map(Number);
          for (let s = a; s <= (b ?? a); s++) map.set(s, f[0]);
        }
      }
      return map;
    };
    const agreed = async (check) => {
      for (const n of nodes) {
        if (!/cluster_state:ok/.test(await cli(n, "CLUSTER", "INFO"))) return false;
        if (check && !(await check(await slotsOf(n)))) return false;
      }
      return true;
    };
    await waitUntil("cluster_state:ok on every node", () => agreed((m) => m.size === 16384), 30000, 100);
    const byId = (id) => nodes.find((n) => n.id === id);
    const keyslot = async (name) => Number(await cli(nodes[0], "CLUSTER", "KEYSLOT", name));
    const owner = async (slot) => byId((await slotsOf(nodes[0])).get(slot));
    return {
      url: `redis+cluster://${nodes.map((n) => `127.0.0.1:${n.port}`).join(",")}`,
      rootNodes: nodes.map((n) => ({ url: `redis://127.0.0.1:${n.port}` })),
      nodes,
      cli,
      keyslot,
      owner,
      async migrateSlots(slots, toIndex) {
        const moved = [];
        for (const slot of slots) {
          const from = await owner(slot);
          const to = toIndex !== undefined ? nodes[toIndex] : nodes[(nodes.indexOf(from) + 1) % nodes.length];
          if (to === from) continue;
          await cli(to, "CLUSTER", "SETSLOT", String(slot), "IMPORTING", from.id);
          await cli(from, "CLUSTER", "SETSLOT", String(slot), "MIGRATING", to.id);
          for (;;) {
            const keys = (await cli(from, "CLUSTER", "GETKEYSINSLOT", String(slot), "100"))
              .split("\n").filter(Boolean);
            if (!keys.length) break;
            await cli(from, "MIGRATE", "127.0.0.1", String(to.port), "", "0", "5000", "KEYS", ...keys);
          }
          // the new owner first, then the old one, then the rest
          for (const n of [to, from, ...nodes.filter((x) => x !== to && x !== from)])
            await cli(n, "CLUSTER", "SETSLOT", String(slot), "NODE", to.id);
          moved.push({ slot, from: from.port, to: to.port });
        }
        await waitUntil("every node agrees on the moved slots", () =>
          agreed((m) => moved.every((x) => m.get(x.slot) === nodes.find((n) => n.port === x.to).id)),
        10000, 50);
        return moved;
      },
      stop: stopAll,
    };
  } catch (e) {
    await stopAll();
    throw e;
  }
}
