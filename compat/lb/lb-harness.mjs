// Helpers for lb.test.mjs: write an nginx or HAProxy configuration for two
// sio-server backends into a temporary directory, start the real balancer
// on a free loopback port in the foreground, and stop it by PID.
//
// nginx:   nginx -p <dir> -c <dir>/nginx.conf -e <dir>/error.log -g 'daemon off;'
//          (pid file, logs and temp paths inside <dir>; workers run as root
//          when the suite runs as root, since <dir> is private to root)
// HAProxy: haproxy -f <dir>/haproxy.cfg -db   (foreground, no daemon mode)

import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

const START_TIMEOUT_MS = 5000;
const STOP_TIMEOUT_MS = 5000;

// The balancer binaries: $NGINX / $HAPROXY when set (set to "" to skip
// that balancer's tests), else the Debian paths, else PATH.
function findBinary(name, envVar) {
  const candidates = [];
  if (envVar in process.env) {
    if (process.env[envVar]) candidates.push(process.env[envVar]);
  } else {
    candidates.push(`/usr/sbin/${name}`, `/usr/local/sbin/${name}`, name);
  }
  for (const c of candidates) {
    const r = spawnSync(c, ["-v"], { stdio: "ignore" });
    if (!r.error && r.status === 0) return c;
  }
  return null;
}

export const NGINX = findBinary("nginx", "NGINX");
export const HAPROXY = findBinary("haproxy", "HAPROXY");

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

function canConnect(port) {
  return new Promise((resolve) => {
    const c = net.connect(port, "127.0.0.1", () => {
      c.end();
      resolve(true);
    });
    c.on("error", () => resolve(false));
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A running balancer: { kind, port, url, pid, dir, config, log(), stop() }.
class Balancer {
  constructor(kind, child, port, dir, config) {
    this.kind = kind;
    this.child = child;
    this.pid = child.pid;
    this.port = port;
    this.url = `http://127.0.0.1:${port}`;
    this.dir = dir;
    this.config = config;
    this.out = "";
    this.exit = null;
    this.exited = new Promise((resolve) => {
      child.once("exit", (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
    });
    for (const s of [child.stdout, child.stderr]) {
      s.setEncoding("utf8");
      s.on("data", (c) => {
        this.out += c;
        if (process.env.SIO_LB_VERBOSE) process.stderr.write(c);
      });
    }
  }

  // stdout/stderr plus, for nginx, its error log.
  log() {
    let text = this.out;
    const file = path.join(this.dir, "error.log");
    if (existsSync(file)) text += readFileSync(file, "utf8");
    return text;
  }

  // SIGTERM by PID (nginx: fast shutdown, the master stops its workers;
  // HAProxy: immediate stop), SIGKILL after a grace period. The temp dir
  // is removed.
  async stop() {
    if (!this.exit) {
      this.child.kill("SIGTERM");
      let timer;
      const t = new Promise((resolve) => {
        timer = setTimeout(resolve, STOP_TIMEOUT_MS, "timeout");
      });
      const r = await Promise.race([this.exited, t]);
      clearTimeout(timer);
      if (r === "timeout") {
        this.child.kill("SIGKILL");
        await this.exited;
      }
    }
    const file = path.join(this.dir, "error.log");
    if (process.env.SIO_LB_VERBOSE && existsSync(file)) {
      process.stderr.write(readFileSync(file, "utf8"));
    }
    rmSync(this.dir, { recursive: true, force: true });
    return this.exit;
  }
}

const running = new Set();

export async function stopAllBalancers() {
  const all = [...running];
  running.clear();
  await Promise.all(all.map((b) => b.stop()));
}

async function launch(kind, makeConfig, makeArgv) {
  let lastErr;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const dir = mkdtempSync(path.join(os.tmpdir(), `sio-lb-${kind}-`));
    const config = makeConfig(port, dir);
    const file = path.join(dir, kind === "nginx" ? "nginx.conf" : "haproxy.cfg");
    writeFileSync(file, config);
    const [bin, argv] = makeArgv(file, dir);
    const child = spawn(bin, argv, { stdio: ["ignore", "pipe", "pipe"] });
    const b = new Balancer(kind, child, port, dir, config);
    running.add(b);
    const deadline = Date.now() + START_TIMEOUT_MS;
    let up = false;
    while (!b.exit && Date.now() < deadline) {
      if (await canConnect(port)) {
        up = true;
        break;
      }
      await sleep(25);
    }
    if (up && !b.exit) return b;
    const log = b.log();
    lastErr = new Error(`${kind} did not start on port ${port}:\n${log}\n--- config:\n${config}`);
    running.delete(b);
    await b.stop();
    // the port was taken in between: retry on another one
    if (!/in use|cannot bind/i.test(log)) break;
  }
  throw lastErr;
}

// ------------------------------------------------------------------ nginx

// The stickiness of examples/nginx/sio-server.conf.
export const NGINX_EXAMPLE_STICKY = ["hash $remote_addr consistent;"];

// The configuration of examples/nginx/sio-server.conf with, for the test,
// plain HTTP on a loopback port, the pid file, logs and temp paths in dir,
// and an X-Upstream response header naming the instance that answered.
// sticky: the stickiness lines of the upstream block (the example's by
// default; [] leaves nginx's round robin).
export function nginxConfig({ port, dir, backends, sticky = NGINX_EXAMPLE_STICKY, workerConnections = 1024 }) {
  const asRoot = typeof process.getuid === "function" && process.getuid() === 0;
  return `# generated by compat/lb/lb-harness.mjs from examples/nginx/sio-server.conf
${asRoot ? "user root;\n" : ""}worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;

events {
    worker_connections ${workerConnections};
}

http {
    log_format upstream '$remote_addr "$request" $status $body_bytes_sent -> $upstream_addr';
    access_log ${dir}/access.log upstream;
    client_body_temp_path ${dir}/client_body;
    proxy_temp_path ${dir}/proxy;
    fastcgi_temp_path ${dir}/fastcgi;
    uwsgi_temp_path ${dir}/uwsgi;
    scgi_temp_path ${dir}/scgi;

    upstream sio_servers {
${sticky.map((l) => `        ${l}\n`).join("")}
${backends.map((b) => `        server ${b} max_fails=3 fail_timeout=10s;\n`).join("")}
        keepalive 64;
    }

    map $http_upgrade $sio_connection {
        default upgrade;
        ''      '';
    }

    server {
        listen 127.0.0.1:${port};

        location /socket.io/ {
            proxy_pass http://sio_servers;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $sio_connection;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_read_timeout 75s;
            proxy_send_timeout 75s;
            proxy_buffering off;
            client_max_body_size 2m;
            add_header X-Upstream $upstream_addr always;
        }

        location = /api/v1/emit {
            allow 10.0.0.0/8;
            deny all;
            proxy_pass http://sio_servers;
            proxy_http_version 1.1;
            proxy_set_header Connection '';
            proxy_set_header X-Forwarded-For $remote_addr;
        }
        location = /health {
            proxy_pass http://sio_servers;
            proxy_http_version 1.1;
            proxy_set_header Connection '';
            add_header X-Upstream $upstream_addr always;
        }
        location = /metrics {
            deny all;
        }
    }
}
`;
}

export function startNginx(opts) {
  if (!NGINX) throw new Error("nginx not found");
  return launch(
    "nginx",
    (port, dir) => nginxConfig({ ...opts, port, dir }),
    (file, dir) => [
      NGINX,
      ["-p", `${dir}/`, "-c", file, "-e", `${dir}/error.log`, "-g", "daemon off;"],
    ],
  );
}

// ---------------------------------------------------------------- HAProxy

// The stickiness of examples/haproxy/haproxy.cfg.
export const HAPROXY_EXAMPLE_STICKY = [
  "balance leastconn",
  "cookie SERVERID insert indirect nocache httponly secure",
];

// The configuration of examples/haproxy/haproxy.cfg with, for the test,
// plain HTTP on a loopback port, no syslog (requests logged to stdout with
// SIO_LB_VERBOSE=1), and an X-Upstream response header naming the instance
// that answered. sticky: the stickiness lines of the backend (the
// example's by default; ["balance roundrobin"] for none).
export function haproxyConfig({ port, backends, sticky = HAPROXY_EXAMPLE_STICKY }) {
  const verbose = !!process.env.SIO_LB_VERBOSE;
  return `# generated by compat/lb/lb-harness.mjs from examples/haproxy/haproxy.cfg
global
    maxconn 4096
${verbose ? "    log stdout format raw local0\n" : ""}
defaults
    mode http
${verbose ? "    log global\n    option httplog\n" : ""}    option dontlognull
    timeout connect 5s
    timeout client 75s
    timeout server 75s
    timeout tunnel 1h
    timeout http-request 10s
    timeout http-keep-alive 10s

frontend realtime
    bind 127.0.0.1:${port}
    http-request del-header X-Forwarded-For
    option forwardfor
    http-request set-header X-Forwarded-Proto https if { ssl_fc }
    http-request deny if { path /api/v1/emit } !{ src 10.0.0.0/8 }
    http-request deny if { path /metrics }
    default_backend sio_servers

backend sio_servers
${sticky.map((l) => `    ${l}\n`).join("")}
    option httpchk GET /ready
    http-check expect status 200
    default-server check inter 2s fall 2 rise 2 maxconn 50000
    http-response set-header X-Upstream %si:%sp

${backends.map((b, i) => `    server s${i + 1} ${b} cookie s${i + 1}\n`).join("")}`;
}

export function startHaproxy(opts) {
  if (!HAPROXY) throw new Error("haproxy not found");
  return launch(
    "haproxy",
    (port) => haproxyConfig({ ...opts, port }),
    (file) => [HAPROXY, ["-f", file, "-db"]],
  );
}
