// A private redis-server for the Redis adapter suites: loopback only, a
// free port, a temporary directory, no persistence; stopped by PID.

import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
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
