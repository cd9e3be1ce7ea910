// A private Redis Cluster for the sharded adapter suites: three masters
// (no replicas) on loopback, free ports, one temporary directory each, no
// persistence; joined with `redis-cli --cluster create`; stopped by PID.

import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function haveRedisCluster() {
  const s = spawnSync("redis-server", ["--version"], { encoding: "utf8" });
  const c = spawnSync("redis-cli", ["--version"], { stdio: "ignore" });
  // sharded pub/sub (SPUBLISH, SSUBSCRIBE) is Redis 7
  const m = /v=(\d+)\./.exec(s.stdout || "");
  return s.status === 0 && c.status === 0 && m && Number(m[1]) >= 7;
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

function cli(port, ...args) {
  const r = spawnSync("redis-cli", ["-h", "127.0.0.1", "-p", String(port), ...args],
    { encoding: "utf8" });
  return r.status === 0 ? r.stdout : "";
}

// Resolves with { ports, rootNodes, url (redis+cluster://...), stop() }
// once every node reports cluster_state:ok.
export async function startRedisCluster(n = 3) {
  const nodes = [];
  const stopAll = async () => {
    for (const node of nodes) {
      if (node.child.exitCode === null && node.child.signalCode === null) {
        node.child.kill("SIGTERM");
        await node.exited;
      }
      rmSync(node.dir, { recursive: true, force: true });
    }
  };
  try {
    for (let i = 0; i < n; i++) {
      // cluster bus port = port + 10000: keep both free and below 65536
      let port;
      do port = await freePort(); while (port > 55000);
      const dir = mkdtempSync(path.join(os.tmpdir(), "sio-compat-cluster-"));
      const child = spawn("redis-server", ["--bind", "127.0.0.1", "--port",
        String(port), "--cluster-enabled", "yes", "--cluster-config-file",
        "nodes.conf", "--save", "", "--appendonly", "no", "--dir", dir],
      { stdio: "ignore" });
      const exited = new Promise((resolve) => child.once("exit", resolve));
      nodes.push({ port, dir, child, exited });
    }
    for (const node of nodes) {
      for (let i = 0; i < 200 && !cli(node.port, "PING").includes("PONG"); i++)
        await sleep(25);
    }
    const r = spawnSync("redis-cli", ["--cluster", "create",
      ...nodes.map((x) => `127.0.0.1:${x.port}`), "--cluster-replicas", "0",
      "--cluster-yes"], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`cluster create failed: ${r.stdout}${r.stderr}`);
    for (let i = 0; i < 400; i++) {
      if (nodes.every((x) => cli(x.port, "CLUSTER", "INFO").includes("cluster_state:ok")))
        break;
      await sleep(25);
    }
    if (!nodes.every((x) => cli(x.port, "CLUSTER", "INFO").includes("cluster_state:ok")))
      throw new Error("cluster did not become ok");
  } catch (e) {
    await stopAll();
    throw e;
  }
  const ports = nodes.map((x) => x.port);
  return {
    ports,
    pids: nodes.map((x) => x.child.pid),
    rootNodes: ports.map((p) => ({ url: `redis://127.0.0.1:${p}` })),
    url: `redis+cluster://${ports.map((p) => `127.0.0.1:${p}`).join(",")}`,
    stop: stopAll,
  };
}
