// Helpers for daemon.test.mjs: start the sio-server daemon (the program
// named by SIO_DAEMON) on a free loopback port with environment-variable
// configuration, sign JWTs with node's crypto, make plain HTTP requests and
// read /metrics.
//
// The daemon logs "listening on ADDR" (the configured address) on stderr,
// so a free port is picked here first (bind port 0, read it, close it) and
// passed as SIO_SERVER_LISTEN=127.0.0.1:<port>; when another process takes
// it in between, the start is retried on a new port.

import { spawn, spawnSync } from "node:child_process";
import crypto from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { io } from "socket.io-client";

const START_TIMEOUT_MS = 10000;
const STOP_TIMEOUT_MS = 5000;

export const SECRET = "daemon-test-secret-0123456789abcdef-0123456789";
export const API_KEY = "daemon-test-api-key-7f3c9a";

// Absolute path of the daemon, or null when SIO_DAEMON is unset.
export function daemonPath() {
  const value = process.env.SIO_DAEMON;
  if (!value) return null;
  const file = path.resolve(value);
  if (!existsSync(file)) {
    throw new Error(`SIO_DAEMON=${value}: ${file} does not exist`);
  }
  return file;
}

// The environment the daemon starts from: this process's, without any
// daemon configuration variable a developer may have exported.
const CONFIG_VAR =
  /^SIO_(SERVER|ENGINE|AUTH|REDIS|API|CORS|LIMITS|RECOVERY|TLS|LOG|METRICS)_/;
function baseEnv() {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!CONFIG_VAR.test(k)) env[k] = v;
  }
  return env;
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// A running daemon: { port, url, pid, stdout(), stderr(), stop(), ... }.
export class Daemon {
  constructor(child, port, scheme) {
    this.child = child;
    this.pid = child.pid;
    this.port = port;
    this.url = `${scheme}://127.0.0.1:${port}`;
    this.out = "";
    this.err = "";
    this.exit = null;
    this.exited = new Promise((resolve) => {
      child.once("exit", (code, signal) => {
        this.exit = { code, signal, at: Date.now() };
        resolve(this.exit);
      });
    });
    child.stdout.setEncoding("utf8");
    child.stderr.setEncoding("utf8");
    child.stdout.on("data", (c) => {
      this.out += c;
    });
    child.stderr.on("data", (c) => {
      this.err += c;
      if (process.env.SIO_DAEMON_VERBOSE) process.stderr.write(c);
    });
  }

  stdout() {
    return this.out;
  }

  stderr() {
    return this.err;
  }

  signal(sig) {
    if (!this.exit) process.kill(this.pid, sig);
  }

  // Resolves with the match of re in stderr (from offset `from`), polling.
  async waitStderr(re, ms = 5000, from = 0) {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = re.exec(this.err.slice(from));
      if (m) return m;
      if (this.exit) {
        throw new Error(`daemon exited before stderr matched ${re}:\n${this.err}`);
      }
      if (Date.now() > deadline) {
        throw new Error(`stderr did not match ${re} in ${ms} ms:\n${this.err}`);
      }
      await sleep(20);
    }
  }

  async waitStdout(re, ms = 5000) {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = re.exec(this.out);
      if (m) return m;
      if (Date.now() > deadline) {
        throw new Error(`stdout did not match ${re} in ${ms} ms:\n${this.out}`);
      }
      await sleep(20);
    }
  }

  // Resolves with { code, signal } within ms, or rejects.
  async waitExit(ms) {
    let timer;
    const t = new Promise((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`daemon did not exit within ${ms} ms`)),
        ms,
      );
    });
    try {
      return await Promise.race([this.exited, t]);
    } finally {
      clearTimeout(timer);
    }
  }

  // SIGTERM by PID, SIGKILL after a grace period. Resolves with the exit.
  async stop() {
    if (this.exit) return this.exit;
    this.child.kill("SIGTERM");
    try {
      return await this.waitExit(STOP_TIMEOUT_MS);
    } catch {
      this.child.kill("SIGKILL");
      await this.exited;
      return { ...this.exit, forced: true };
    }
  }

  // Kills at once (SIGKILL) and waits: for daemons whose exit is not under
  // test when a test failed half-way.
  async kill() {
    if (this.exit) return this.exit;
    this.child.kill("SIGKILL");
    return this.exited;
  }
}

// Every daemon started is stopped by stopAllDaemons() (the suite's after
// hooks), whatever happened to the test that started it.
const running = new Set();

export async function stopAllDaemons() {
  const all = [...running];
  running.clear();
  await Promise.all(all.map((d) => d.stop()));
}

// SIO_TEST_THREADS=N runs every daemon with server.threads = N (unless a
// test sets SIO_SERVER_THREADS itself), so CI can rerun every suite on
// several loops. Daemons given a Redis (SIO_REDIS_URL) keep one loop: with
// Redis each loop is still an instance of the fleet of its own (one Redis
// adapter for the whole process is not built yet), so the fleet suites'
// server counts and their Redis-down delivery between a daemon's own
// clients would not hold.
function threadsEnv(env) {
  const n = process.env.SIO_TEST_THREADS;
  return n && !env.SIO_REDIS_URL ? { SIO_SERVER_THREADS: n } : {};
}

// Starts the daemon with the given environment (on top of the defaults
// below, which any key may override; a value of null removes the
// variable) and extra command-line arguments. Resolves once it logs
// "listening on 127.0.0.1:<port>".
//
// Defaults: HS256 with SECRET, API key API_KEY, no per-IP handshake limit
// (the suite makes many connections from 127.0.0.1), log level info,
// server.threads from SIO_TEST_THREADS.
export async function startDaemon(env = {}, args = [], opts = {}) {
  const file = daemonPath();
  if (!file) throw new Error("SIO_DAEMON is not set");
  const scheme = opts.tls ? "https" : "http";
  let lastErr;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = opts.port || (await freePort());
    const full = {
      ...baseEnv(),
      SIO_SERVER_LISTEN: `127.0.0.1:${port}`,
      SIO_AUTH_SECRET: SECRET,
      SIO_API_KEY: API_KEY,
      SIO_LIMITS_HANDSHAKES_PER_IP_PER_S: "0",
      ...threadsEnv(env),
      ...env,
    };
    for (const k of Object.keys(full)) if (full[k] === null) delete full[k];
    const child = spawn(file, args, {
      env: full,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const d = new Daemon(child, port, scheme);
    running.add(d);
    try {
      await d.waitStderr(
        new RegExp(`listening on 127\\.0\\.0\\.1:${port}\\b`),
        START_TIMEOUT_MS,
      );
      d.listenedAt = Date.now();
      return d;
    } catch (err) {
      lastErr = err;
      await d.stop();
      running.delete(d);
      // another process took the port in between: try a new one
      if (!/cannot listen/.test(d.stderr()) || opts.port) break;
    }
  }
  throw lastErr;
}

// Runs the daemon to completion (for --help, --version, --check-config).
export function runDaemonSync(args, env = {}) {
  const full = { ...baseEnv(), ...env };
  for (const k of Object.keys(full)) if (full[k] === null) delete full[k];
  const r = spawnSync(daemonPath(), args, {
    env: full,
    encoding: "utf8",
    timeout: 10000,
  });
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

// ------------------------------------------------------------------ JWT

function b64url(buf) {
  return Buffer.from(buf)
    .toString("base64")
    .replace(/=+$/, "")
    .replace(/\+/g, "-")
    .replace(/\//g, "_");
}

export function b64json(obj) {
  return b64url(Buffer.from(JSON.stringify(obj)));
}

export function nowS() {
  return Math.floor(Date.now() / 1000);
}

// Signs claims as a compact JWS. alg: HS256/384/512 (key: secret string or
// Buffer), RS256/384/512 and ES256/384/512 (key: private KeyObject or PEM),
// or "none" (no signature). header: extra or overriding header members.
// Unless claims has its own, exp is set 10 minutes ahead (null removes it).
export function signJwt(claims, { alg = "HS256", key = SECRET, header = {} } = {}) {
  const payload = { iat: nowS(), exp: nowS() + 600, ...claims };
  for (const k of Object.keys(payload)) if (payload[k] === null) delete payload[k];
  const head = b64json({ alg, typ: "JWT", ...header });
  const input = `${head}.${b64json(payload)}`;
  const bits = alg.slice(2);
  let sig;
  if (alg === "none") {
    sig = Buffer.alloc(0);
  } else if (alg.startsWith("HS")) {
    sig = crypto.createHmac(`sha${bits}`, key).update(input).digest();
  } else if (alg.startsWith("RS")) {
    sig = crypto.sign(`sha${bits}`, Buffer.from(input), key);
  } else if (alg.startsWith("ES")) {
    sig = crypto.sign(`sha${bits}`, Buffer.from(input), {
      key,
      dsaEncoding: "ieee-p1363",
    });
  } else {
    throw new Error(`signJwt: unsupported alg ${alg}`);
  }
  return `${input}.${b64url(sig)}`;
}

// A token for user sub with the given extra claims, signed with SECRET.
export function token(sub, extra = {}, opts = {}) {
  return signJwt({ sub, ...extra }, opts);
}

// ----------------------------------------------------------------- HTTP

// One HTTP(S) request; resolves with { status, headers, body, json }.
// opts: method, headers, body (string/Buffer or object sent as JSON),
// agent, timeout. TLS certificates are not verified (self-signed).
export function request(url, opts = {}) {
  const u = new URL(url);
  const mod = u.protocol === "https:" ? https : http;
  let body = opts.body;
  const headers = { ...(opts.headers || {}) };
  if (body !== undefined && typeof body === "object" && !Buffer.isBuffer(body)) {
    body = JSON.stringify(body);
    if (!Object.keys(headers).some((h) => h.toLowerCase() === "content-type")) {
      headers["Content-Type"] = "application/json";
    }
  }
  return new Promise((resolve, reject) => {
    const req = mod.request(
      u,
      {
        method: opts.method || "GET",
        headers,
        agent: opts.agent === undefined ? false : opts.agent,
        rejectUnauthorized: false,
        timeout: opts.timeout || 5000,
      },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let json;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode, headers: res.headers, body: text, json });
        });
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`${url}: timed out`)));
    req.on("error", reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

// POST /api/v1/emit with the given body (object, or raw string) and key.
export function publish(d, body, key = API_KEY, extraHeaders = {}) {
  const headers = { ...extraHeaders };
  if (key !== null) headers.Authorization = `Bearer ${key}`;
  return request(`${d.url}/api/v1/emit`, {
    method: "POST",
    headers,
    body: typeof body === "string" ? body : body,
  });
}

// Parses the Prometheus text exposition into a Map of
// 'name{label="v",...}' (as written) -> number, plus TYPE lines in .types.
export function parseMetrics(text) {
  const values = new Map();
  const types = new Map();
  for (const line of text.split("\n")) {
    if (!line) continue;
    let m = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (m) {
      types.set(m[1], m[2]);
      continue;
    }
    if (line.startsWith("#")) continue;
    m = /^([^\s{]+(?:\{.*\})?) (\S+)(?: -?\d+)?$/.exec(line);
    if (m) values.set(m[1], Number(m[2]));
  }
  values.types = types;
  return values;
}

export async function metrics(d) {
  const r = await request(`${d.url}/metrics`);
  if (r.status !== 200) throw new Error(`/metrics: HTTP ${r.status}`);
  const m = parseMetrics(r.body);
  m.raw = r.body;
  m.contentType = r.headers["content-type"];
  return m;
}

// The value of one series (0 when absent).
export function metric(m, name, labels) {
  const key = labels
    ? `${name}{${Object.entries(labels)
        .map(([k, v]) => `${k}="${v}"`)
        .join(",")}}`
    : name;
  return m.get(key) ?? 0;
}

// ------------------------------------------------------------- clients

const clients = new Set();

export function track(s) {
  clients.add(s);
  return s;
}

export function closeClients() {
  for (const s of clients) {
    try {
      if (typeof s.disconnect === "function") s.disconnect();
      else if (typeof s.terminate === "function") s.terminate();
      else if (typeof s.destroy === "function") s.destroy();
      else s.close();
    } catch {
      /* already closed */
    }
  }
  clients.clear();
}

// A socket.io-client socket (own Manager, no reconnection unless asked).
export function client(d, opts = {}) {
  return track(
    io(d.url, {
      forceNew: true,
      reconnection: false,
      rejectUnauthorized: false,
      timeout: 5000,
      ...opts,
    }),
  );
}

// Resolves with the arguments of the next `event`, or rejects after ms.
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

// Resolves true when `event` does NOT fire within ms (false if it does).
export function absent(emitter, event, ms) {
  return new Promise((resolve) => {
    const handler = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      emitter.off(event, handler);
      resolve(true);
    }, ms);
    emitter.once(event, handler);
  });
}

// Connects and waits for "connect" and the server's connection.established;
// resolves with { socket, established } or rejects with the connect_error
// (err.message, err.data).
export async function connect(d, opts = {}) {
  const socket = client(d, opts);
  const est = once(socket, "connection.established", 5000);
  est.catch(() => {});
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("connect timed out")), 6000);
    socket.once("connect", () => {
      clearTimeout(timer);
      resolve();
    });
    socket.once("connect_error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
  const [established] = await est;
  return { socket, established };
}

// Connects with the token in the auth payload.
export function connectAs(d, tok, opts = {}) {
  return connect(d, { transports: ["websocket"], auth: { token: tok }, ...opts });
}

// Resolves with the connect_error (expects the connection to be refused).
export async function refused(d, opts = {}) {
  const socket = client(d, opts);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error("neither connect nor connect_error in 6 s")),
      6000,
    );
    socket.once("connect", () => {
      clearTimeout(timer);
      reject(new Error("connected, but the connection should be refused"));
    });
    socket.once("connect_error", (err) => {
      clearTimeout(timer);
      resolve(err);
    });
  });
}

// Emits with an ack; resolves with the ack's first argument.
export function ack(socket, event, ...args) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no ack for "${event}" within 5000 ms`)),
      5000,
    );
    socket.emit(event, ...args, (res) => {
      clearTimeout(timer);
      resolve(res);
    });
  });
}

// ------------------------------------------------------------ temp dirs

const tempDirs = new Set();

export function tempDir() {
  const dir = mkdtempSync(path.join(os.tmpdir(), "sio-daemon-test-"));
  tempDirs.add(dir);
  return dir;
}

export function removeTempDirs() {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

export const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
export const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/;
