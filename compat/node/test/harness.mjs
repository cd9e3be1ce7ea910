// Test harness: starts the server under test, connects stock clients and
// waits for events with deadlines, so that a missing event fails the test
// with a message instead of hanging it.
//
// The server is the program named by SIO_COMPAT_SERVER (see README.md):
// normally the compiled tests/e2e/sio_compat_server, or a .mjs/.js file
// (reference/compat-server.mjs) that is run with this Node. It is started
// on port 0 and prints "LISTENING <port>" once it listens.

import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { io } from "socket.io-client";

const START_TIMEOUT_MS = 10000;
const STOP_TIMEOUT_MS = 5000;

export function serverCommand() {
  const value = process.env.SIO_COMPAT_SERVER;
  if (!value) {
    throw new Error(
      "SIO_COMPAT_SERVER is not set: point it at the built " +
        "tests/e2e/sio_compat_server (see compat/node/README.md)",
    );
  }
  const file = path.resolve(value);
  if (!existsSync(file)) {
    throw new Error(`SIO_COMPAT_SERVER=${value}: ${file} does not exist`);
  }
  if (/\.[cm]?js$/.test(file)) return [process.execPath, [file]];
  return [file, []];
}

// A running server: { port, url, pid, stderr(), stop() }.
class ServerProcess {
  constructor(child) {
    this.child = child;
    this.pid = child.pid;
    this.port = 0;
    this.url = "";
    this.err = "";
    this.exit = null;
    this.exited = new Promise((resolve) => {
      child.once("exit", (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
    });
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (chunk) => {
      this.err += chunk;
      if (process.env.SIO_COMPAT_VERBOSE) process.stderr.write(chunk);
    });
  }

  stderr() {
    return this.err;
  }

  // Sends SIGTERM to the server's PID and waits for it to exit (SIGKILL
  // after a grace period). Resolves with { code, signal }.
  async stop() {
    if (this.exit) return this.exit;
    this.child.kill("SIGTERM");
    let timer;
    const grace = new Promise((resolve) => {
      timer = setTimeout(resolve, STOP_TIMEOUT_MS, null);
    });
    const result = await Promise.race([this.exited, grace]);
    clearTimeout(timer);
    if (result) return result;
    this.child.kill("SIGKILL");
    await this.exited;
    return { code: null, signal: "SIGKILL", forced: true };
  }
}

// Starts the server with extra environment variables (PORT defaults to 0).
export async function startServer(env = {}) {
  const [cmd, args] = serverCommand();
  const child = spawn(cmd, args, {
    env: { ...process.env, PORT: "0", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const server = new ServerProcess(child);
  child.stdout.setEncoding("utf8");

  let out = "";
  let timer;
  try {
    server.port = await new Promise((resolve, reject) => {
      timer = setTimeout(
        () => reject(new Error("server did not print LISTENING in time")),
        START_TIMEOUT_MS,
      );
      child.once("error", reject);
      server.exited.then(({ code, signal }) =>
        reject(
          new Error(
            `server exited (code ${code}, signal ${signal}) before ` +
              `listening:\n${server.stderr()}`,
          ),
        ),
      );
      child.stdout.on("data", (chunk) => {
        out += chunk;
        const m = /^LISTENING (\d+)$/m.exec(out);
        if (m) resolve(Number(m[1]));
      });
    });
  } catch (err) {
    clearTimeout(timer);
    await server.stop();
    throw err;
  }
  clearTimeout(timer);
  server.url = `http://127.0.0.1:${server.port}`;
  return server;
}

// Every client made through track() is closed by closeAll(), which the
// suites call in afterEach.
const clients = new Set();

export function track(socket) {
  clients.add(socket);
  return socket;
}

export function closeAll() {
  for (const s of clients) {
    if (typeof s.disconnect === "function") s.disconnect();
    else s.close();
  }
  clients.clear();
}

// A new client (own Manager, no reconnection unless asked) for url + nsp.
export function client(url, opts = {}, factory = io) {
  return track(factory(url, { forceNew: true, reconnection: false, ...opts }));
}

// Resolves with the arguments of the next `event` on emitter, or rejects
// after ms.
export function once(emitter, event, ms = 5000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, handler);
      reject(new Error(`timed out after ${ms} ms waiting for "${event}"`));
    }, ms);
    function handler(...args) {
      clearTimeout(timer);
      resolve(args);
    }
    emitter.once(event, handler);
  });
}

// Resolves with the args of the first of the events named, as
// { event, args }; rejects after ms.
export function first(emitter, events, ms = 5000) {
  return new Promise((resolve, reject) => {
    const handlers = new Map();
    const done = () => {
      clearTimeout(timer);
      for (const [ev, h] of handlers) emitter.off(ev, h);
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`timed out after ${ms} ms waiting for ${events}`));
    }, ms);
    for (const ev of events) {
      const h = (...args) => {
        done();
        resolve({ event: ev, args });
      };
      handlers.set(ev, h);
      emitter.on(ev, h);
    }
  });
}

// Emits with an acknowledgement callback; resolves with all the ack's
// arguments (emitWithAck only keeps the first one).
export function ack(socket, event, ...args) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no ack for "${event}" within 5000 ms`)),
      5000,
    );
    socket.emit(event, ...args, (...res) => {
      clearTimeout(timer);
      resolve(res);
    });
  });
}

// Connects a client and waits for both "connect" and the server's
// "welcome"; rejects with the connect_error when refused.
export async function open(url, opts = {}, factory = io) {
  const socket = client(url, opts, factory);
  const welcome = once(socket, "welcome");
  welcome.catch(() => {});
  const r = await first(socket, ["connect", "connect_error"]);
  if (r.event === "connect_error") throw r.args[0];
  const [w] = await welcome;
  return { socket, welcome: w };
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export const TRANSPORTS = [
  { name: "websocket", opts: { transports: ["websocket"] } },
  { name: "polling", opts: { transports: ["polling"] } },
];

// Polls the async predicate until it returns true; rejects after ms.
export async function eventually(predicate, ms = 3000, what = "condition") {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await predicate()) return;
    if (Date.now() > deadline) throw new Error(`${what} not met in ${ms} ms`);
    await sleep(25);
  }
}

// Stops server and checks that it shut down cleanly: exit status 0 (the C
// servers exit 1 when uv_loop_close() finds handles left open).
export async function stopClean(server) {
  if (!server) return;
  const exit = await server.stop();
  if (exit.code !== 0) {
    throw new Error(
      `server exited with code ${exit.code}, signal ${exit.signal}:\n` +
        server.stderr(),
    );
  }
}
