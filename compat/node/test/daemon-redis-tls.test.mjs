// sio-server on a TLS Redis with an ACL user (issue 10): the daemon,
// configured with a rediss:// URL carrying the ACL user's credentials,
// redis.tls_ca_file and a client certificate (the Redis runs with
// tls-auth-clients yes), joins a fleet with a Node socket.io server using
// @socket.io/redis-adapter's createAdapter over TLS: broadcasts cross both
// ways. A wrong CA, a wrong server name, a wrong password or a missing
// client certificate leave the daemon running with /health "degraded" and
// a log line that says why (never the password); --check-config reports a
// missing TLS file. Needs SIO_DAEMON, redis-server, redis-cli and openssl;
// skipped otherwise.
import assert from "node:assert/strict";
import {
  closeClients, connectAs, daemonPath, once, publish, request, runDaemonSync,
  sleep, startDaemon, stopAllDaemons, token,
} from "./daemon-harness.mjs";
import {
  ACL_PASSWORD, ACL_USER, haveOpenssl, haveRedisCli, haveRedisServer, startAclRedis,
  startTlsRedis,
} from "./redis-harness.mjs";
import {
  closePeerClients, eventually, peerClient, redisOptions, redisPair, startNodePeer,
} from "./node-peer.mjs";

const ready = daemonPath() && haveRedisServer() && haveRedisCli() && haveOpenssl();

function envelope(type, data) {
  return { event_id: crypto.randomUUID(), type, timestamp: new Date().toISOString(), data };
}

async function health(d) {
  return (await request(`${d.url}/health`)).json;
}

// Resolves with /health once redis.connected is `want`, or rejects.
async function healthWhen(d, want, ms = 8000) {
  let h;
  await eventually(async () => {
    h = await health(d);
    return h.redis.connected === want;
  }, ms, `/health redis.connected ${want}`).catch((e) => {
    throw new Error(`${e.message}; last /health ${JSON.stringify(h)}\n${d.stderr()}`);
  });
  return h;
}

// The daemon keeps running, degraded, with a log line matching why; the
// password is never in its output.
async function staysDegraded(d, why) {
  await sleep(2000);
  const h = await health(d);
  assert.equal(d.exit, null, `the daemon exited: ${JSON.stringify(d.exit)}\n${d.stderr()}`);
  assert.equal(h.status, "degraded", JSON.stringify(h));
  assert.equal(h.redis.connected, false);
  assert.match(d.stderr(), why, "a log line says why");
  for (const secret of [ACL_PASSWORD, "not-the-password"])
    assert.ok(!d.stderr().includes(secret) && !d.stdout().includes(secret), "password logged");
}

// Both directions between a daemon and the Node peer, and fetchSockets.
async function crossBoth(d, peer) {
  const { socket: onDaemon } = await connectAs(d, token("alice"));
  const onPeer = await peerClient(peer);
  await eventually(async () => (await peer.io.of("/").adapter.serverCount()) === 2, 5000,
    "the peer counts the daemon");

  const toPeer = once(onPeer, "project.updated", 5000);
  const res = await publish(d, { rooms: ["global"], event: "project.updated", data: { from: "daemon" } });
  assert.equal(res.status, 202);
  const [got] = await toPeer;
  assert.equal(got.event_id, res.json.event_id);
  assert.deepEqual(got.data, { from: "daemon" });

  const toDaemon = once(onDaemon, "project.updated", 5000);
  const env = envelope("project.updated", { from: "peer" });
  peer.io.to("global").emit("project.updated", env);
  assert.deepEqual((await toDaemon)[0], env);

  const sockets = await peer.io.fetchSockets();
  assert.ok(sockets.some((s) => s.id === onDaemon.id), "fetchSockets sees the daemon's socket");
}

// The ACL part alone, over plain TCP (what the driver did before TLS).
(ready ? describe : describe.skip)("sio-server on a Redis with an ACL user (no TLS)", function () {
  this.timeout(30000);
  let r;
  let peer;

  before(async () => {
    r = await startAclRedis();
    peer = await startNodePeer(await redisPair(redisOptions(r.url, {
      user: ACL_USER, password: ACL_PASSWORD,
    })));
  });
  afterEach(async () => {
    closeClients();
    closePeerClients();
    await stopAllDaemons();
  });
  after(async () => {
    if (peer) await peer.close();
    if (r) await r.stop();
  });

  it("joins the fleet as the ACL user: broadcasts cross both ways", async () => {
    const d = await startDaemon({ SIO_REDIS_URL: r.urlAs(ACL_USER, ACL_PASSWORD) });
    assert.equal((await healthWhen(d, true)).status, "ok");
    await crossBoth(d, peer);
  });

  it("a wrong password: degraded, the refusal logged without the password, no crash", async () => {
    const d = await startDaemon({ SIO_REDIS_URL: r.urlAs(ACL_USER, "not-the-password") });
    await staysDegraded(d, /redis.*(WRONGPASS|password|auth)/i);
  });
});

(ready ? describe : describe.skip)("sio-server on a TLS Redis with an ACL user", function () {
  this.timeout(40000);
  let r;
  let peer;

  const daemonEnv = (over = {}) => ({
    SIO_REDIS_URL: r.urlAs(ACL_USER, ACL_PASSWORD),
    SIO_REDIS_TLS_CA_FILE: r.certs.ca,
    SIO_REDIS_TLS_CERT_FILE: r.certs.clientCert,
    SIO_REDIS_TLS_KEY_FILE: r.certs.clientKey,
    ...over,
  });

  before(async () => {
    r = await startTlsRedis({ authClients: true, acl: true });
    peer = await startNodePeer(await redisPair(redisOptions(r.url, {
      user: ACL_USER, password: ACL_PASSWORD, ca: r.certs.ca,
      cert: r.certs.clientCert, key: r.certs.clientKey,
    })));
  });
  afterEach(async () => {
    closeClients();
    closePeerClients();
    await stopAllDaemons();
  });
  after(async () => {
    if (peer) await peer.close();
    if (r) await r.stop();
  });

  it("joins the fleet over TLS with the CA, a client certificate and the ACL user: broadcasts cross both ways", async () => {
    const d = await startDaemon(daemonEnv({ SIO_SERVER_ID: "tls-a" }));
    const h = await healthWhen(d, true);
    assert.equal(h.status, "ok");
    await crossBoth(d, peer);
  });

  it("a CA that did not sign the server's certificate: degraded, a TLS verification error logged, no crash", async () => {
    const d = await startDaemon(daemonEnv({ SIO_REDIS_TLS_CA_FILE: r.certs.otherCa }));
    await staysDegraded(d, /redis.*(certificate|verif)/i);
  });

  it("a server certificate for another name: degraded, the name mismatch logged, no crash", async () => {
    const other = await startTlsRedis({ authClients: false, acl: true, san: "DNS:redis.invalid" });
    try {
      const d = await startDaemon(daemonEnv({
        SIO_REDIS_URL: other.urlAs(ACL_USER, ACL_PASSWORD),
        SIO_REDIS_TLS_CA_FILE: other.certs.ca,
      }));
      await staysDegraded(d, /redis.*(name|host|certificate|verif)/i);
    } finally {
      await other.stop();
    }
  });

  it("a wrong password: degraded, the refusal logged without the password, no crash", async () => {
    const d = await startDaemon(daemonEnv({ SIO_REDIS_URL: r.urlAs(ACL_USER, "not-the-password") }));
    await staysDegraded(d, /redis.*(WRONGPASS|password|auth)/i);
  });

  it("no client certificate where the Redis requires one: degraded, no crash", async () => {
    const d = await startDaemon(daemonEnv({
      SIO_REDIS_TLS_CERT_FILE: null, SIO_REDIS_TLS_KEY_FILE: null,
    }));
    await staysDegraded(d, /redis.*(TLS|SSL|handshake|certificate|closed|reset)/i);
  });

  it("--check-config reports a missing TLS file and masks the password", () => {
    const out = runDaemonSync(["--check-config"], {
      SIO_AUTH_MODE: "none",
      SIO_REDIS_URL: r.urlAs(ACL_USER, ACL_PASSWORD),
      SIO_REDIS_TLS_CA_FILE: "/nonexistent/ca.pem",
    });
    assert.equal(out.code, 1, out.stderr);
    assert.match(out.stderr, /error: redis\.tls_ca_file: cannot read \/nonexistent\/ca\.pem: No such file or directory \(from SIO_REDIS_TLS_CA_FILE\)/);
    assert.ok(!out.stderr.includes(ACL_PASSWORD) && !out.stdout.includes(ACL_PASSWORD));
    const ok = runDaemonSync(["--check-config"], { SIO_AUTH_MODE: "none", ...daemonEnv() });
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, new RegExp(`redis\\.url = rediss://${ACL_USER}:\\*\\*\\*@127\\.0\\.0\\.1:${r.port}`));
    assert.ok(!ok.stdout.includes(ACL_PASSWORD));
  });
});
