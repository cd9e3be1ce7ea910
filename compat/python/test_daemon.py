#!/usr/bin/python3
"""The sio-server daemon with Debian's python3-socketio client.

Starts the daemon named by SIO_DAEMON (or the first argument) on a free
127.0.0.1 port with an HS256 secret and a publish API key, then, on each
transport: connects with a JWT signed here, gets connection.established,
subscribes to a project room, and receives an event published through
POST /api/v1/emit (urllib), which a socket outside the room does not get.
Also: replay from the last event id with one-argument handlers, on one
instance and across two on a private redis-server; the refusals
(missing/invalid token), a forbidden subscribe and the ping ack.

Run with /usr/bin/python3 (python3-socketio, python3-requests for polling,
python3-websocket for WebSocket). Prints one line per test and a closing
"N passed, M failed"; exits non-zero when a test failed.
"""

import base64
import hashlib
import hmac
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.request

SECRET = "python-test-secret-0123456789abcdef-0123456789"
API_KEY = "python-test-api-key-42"
UUID_V4 = re.compile(
    r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")

try:
    import socketio  # noqa: E402
except ImportError as exc:  # pragma: no cover
    print("python3-socketio is missing (%s): run with /usr/bin/python3 on "
          "Debian with python3-socketio, python3-requests and "
          "python3-websocket installed" % exc)
    print("0 passed, 1 failed")
    sys.exit(1)


# ------------------------------------------------------------------ helpers

def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def make_token(sub, secret=SECRET, **claims):
    now = int(time.time())
    payload = {"sub": sub, "iat": now, "exp": now + 600}
    payload.update(claims)
    head = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64url(json.dumps(payload).encode())
    signing_input = ("%s.%s" % (head, body)).encode("ascii")
    sig = hmac.new(secret.encode(), signing_input, hashlib.sha256).digest()
    return "%s.%s.%s" % (head, body, b64url(sig))


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Daemon:
    def __init__(self, path, extra_env=None):
        self.path = path
        self.extra_env = extra_env or {}
        self.proc = None
        self.port = 0
        self.url = ""
        self.errfile = tempfile.TemporaryFile(mode="w+")

    def start(self):
        env = {k: v for k, v in os.environ.items()
               if not re.match(r"^SIO_(SERVER|ENGINE|AUTH|REDIS|API|CORS|"
                               r"LIMITS|RECOVERY|REPLAY|TLS|LOG|METRICS)_", k)}
        for _ in range(3):
            self.port = free_port()
            env.update({
                "SIO_SERVER_LISTEN": "127.0.0.1:%d" % self.port,
                "SIO_AUTH_SECRET": SECRET,
                "SIO_API_KEY": API_KEY,
                "SIO_LIMITS_HANDSHAKES_PER_IP_PER_S": "0",
            })
            env.update(self.extra_env)
            self.errfile.seek(0)
            self.errfile.truncate()
            self.proc = subprocess.Popen(
                [self.path], env=env, stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=self.errfile)
            want = "listening on 127.0.0.1:%d" % self.port
            deadline = time.time() + 10
            while time.time() < deadline:
                if want in self.stderr():
                    self.url = "http://127.0.0.1:%d" % self.port
                    return
                if self.proc.poll() is not None:
                    break
                time.sleep(0.02)
            self.stop()
            if "cannot listen" not in self.stderr():
                break
        raise RuntimeError("the daemon did not start:\n" + self.stderr())

    def stderr(self):
        self.errfile.flush()
        self.errfile.seek(0)
        return self.errfile.read()

    def stop(self):
        """SIGTERM by PID; returns the exit status (SIGKILL after 5 s)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def publish(d, body, key=API_KEY):
    data = json.dumps(body).encode()
    req = urllib.request.Request(
        d.url + "/api/v1/emit", data=data, method="POST",
        headers={"Content-Type": "application/json",
                 "Authorization": "Bearer " + key})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, json.loads(resp.read().decode())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read().decode() or "null")


class Client:
    """A python-socketio client that records every event it receives.

    Its handler takes exactly one argument, as an ordinary application's
    `def on_event(env)` does: an extra argument (the recovery offset, which
    the daemon appends only when recovery is enabled) makes python-socketio
    raise TypeError in it and the event is never recorded. Clients of a
    daemon with recovery enabled pass all_args=True to record every
    argument instead."""

    def __init__(self, all_args=False):
        self.sio = socketio.Client(reconnection=False)
        self.events = []
        self.cond = threading.Condition()
        self.connect_error = None
        self.sio.on("*", self._all if all_args else self._any)
        self.sio.on("connect_error", self._connect_error)

    def _record(self, event, value):
        with self.cond:
            self.events.append((event, value))
            self.cond.notify_all()

    def _any(self, event, env):
        self._record(event, env)

    def _all(self, event, *args):
        self._record(event, list(args))

    def _connect_error(self, *args):
        with self.cond:
            self.connect_error = args[0] if args else None
            self.cond.notify_all()

    def connect(self, d, transport, token=None, wait_timeout=5, **auth):
        if token:
            auth["token"] = token
        self.sio.connect(d.url, auth=auth or None,
                         transports=[transport], wait_timeout=wait_timeout)

    def wait_event(self, name, timeout=5):
        deadline = time.time() + timeout
        with self.cond:
            while True:
                for ev, env in self.events:
                    if ev == name:
                        return env
                left = deadline - time.time()
                if left <= 0:
                    raise AssertionError("no %r event within %ss (got %r)"
                                         % (name, timeout,
                                            [e for e, _ in self.events]))
                self.cond.wait(left)

    def got(self, name):
        with self.cond:
            return [env for ev, env in self.events if ev == name]

    def close(self):
        try:
            self.sio.disconnect()
        except Exception:  # noqa: BLE001
            pass


def check_envelope(env, typ):
    assert sorted(env) == ["data", "event_id", "timestamp", "type"], env
    assert UUID_V4.match(env["event_id"]), env
    assert env["type"] == typ, env
    assert re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$",
                    env["timestamp"]), env


# -------------------------------------------------------------------- tests

def make_tests(d):
    clients = []

    def new_client():
        c = Client()
        clients.append(c)
        return c

    def receive_published_event(transport):
        member = new_client()
        member.connect(d, transport, make_token("py-" + transport,
                                                projects=["42"]))
        est = member.wait_event("connection.established")
        check_envelope(est, "connection.established")
        assert est["data"]["user_id"] == "py-" + transport, est
        assert est["data"]["sid"] == member.sio.get_sid("/"), est
        assert sorted(est["data"]["rooms"]) == \
            ["global", "user:py-" + transport], est
        res = member.sio.call("subscribe", {"room": "project:42"}, timeout=5)
        assert res == {"ok": True, "rooms": ["project:42"]}, res
        outsider = new_client()
        outsider.connect(d, transport, make_token("py-out-" + transport,
                                                  projects=["42"]))
        outsider.wait_event("connection.established")
        data = {"project_id": "42", "name": "from python", "n": [1, 2]}
        status, body = publish(d, {"rooms": ["project:42"],
                                   "event": "project.updated", "data": data})
        assert status == 202, (status, body)
        assert UUID_V4.match(body["event_id"]), body
        env = member.wait_event("project.updated")
        check_envelope(env, "project.updated")
        assert env["event_id"] == body["event_id"], (env, body)
        assert env["data"] == data, env
        time.sleep(0.3)
        assert outsider.got("project.updated") == [], \
            "a socket outside the room got the event"

    def refused(token, code):
        c = new_client()
        try:
            # a refused CONNECT makes connect() wait out wait_timeout
            c.connect(d, "websocket", token, wait_timeout=1)
        except socketio.exceptions.ConnectionError:
            pass
        else:
            raise AssertionError("connected, but should be refused")
        assert c.connect_error == {"message": "unauthorized",
                                   "data": {"code": code}}, c.connect_error

    def forbidden_and_ping():
        c = new_client()
        c.connect(d, "websocket", make_token("py-acks", projects=["1"]))
        res = c.sio.call("subscribe", {"room": "project:2"}, timeout=5)
        assert res["ok"] is False and res["error"]["code"] == "forbidden", res
        res = c.sio.call("subscribe", {"rooms": []}, timeout=5)
        assert res["ok"] is False and \
            res["error"]["code"] == "bad_request", res
        before = time.time() * 1000
        res = c.sio.call("ping", timeout=5)
        assert res["pong"] is True, res
        assert abs(res["ts"] - before) < 5000, res
        res = c.sio.call("unsubscribe", {"room": "user:py-acks"}, timeout=5)
        assert res["ok"] is False and res["error"]["code"] == "forbidden", res

    def fixed_arity_handler_with_defaults():
        # the daemon's defaults: recovery off, so an event carries exactly
        # its envelope and a one-argument handler gets it
        got = []
        cond = threading.Condition()
        c = new_client()

        @c.sio.on("project.updated")
        def on_event(env):
            with cond:
                got.append(env)
                cond.notify_all()

        c.connect(d, "websocket", make_token("py-arity", projects=["7"]))
        est = c.wait_event("connection.established")
        check_envelope(est, "connection.established")
        res = c.sio.call("subscribe", {"room": "project:7"}, timeout=5)
        assert res == {"ok": True, "rooms": ["project:7"]}, res
        status, body = publish(d, {"rooms": ["project:7"],
                                   "event": "project.updated",
                                   "data": {"n": 1}})
        assert status == 202, (status, body)
        with cond:
            deadline = time.time() + 5
            while not got and time.time() < deadline:
                cond.wait(deadline - time.time())
        assert got, "the one-argument handler never got project.updated"
        check_envelope(got[0], "project.updated")
        assert got[0]["event_id"] == body["event_id"], got

    def replay_with_one_argument_handlers():
        # SPEC 3: reconnect with last_event_id, get global, user: and (via
        # subscribe since) project: events missed, in order, each through
        # an ordinary def on_event(env) handler
        tok = make_token("py-replay", projects=["11"])
        first = new_client()
        first.connect(d, "websocket", tok)
        first.wait_event("connection.established")
        res = first.sio.call("subscribe", {"room": "project:11"}, timeout=5)
        assert res["ok"] is True, res
        status, body = publish(d, {"rooms": ["project:11"],
                                   "event": "project.updated",
                                   "data": {"n": 0}})
        assert status == 202, (status, body)
        last_id = first.wait_event("project.updated")["event_id"]
        first.close()
        sent = []
        for n, room in enumerate(["global", "user:py-replay", "project:11",
                                  "user:py-someone-else", "global",
                                  "project:11", "user:py-replay"], 1):
            status, body = publish(d, {"rooms": [room],
                                       "event": "issue.updated",
                                       "data": {"n": n}})
            assert status == 202, (status, body)
            sent.append((room, n))
        got = []
        cond = threading.Condition()
        c = new_client()

        @c.sio.on("issue.updated")
        def on_event(env):
            with cond:
                got.append(env["data"]["n"])
                cond.notify_all()

        c.connect(d, "websocket", tok, last_event_id=last_id)
        est = c.wait_event("connection.established")
        auto = [n for room, n in sent
                if room in ("global", "user:py-replay")]
        assert est["data"]["replayed"] == len(auto), est
        assert est["data"]["complete"] is True, est
        with cond:
            deadline = time.time() + 5
            while len(got) < len(auto) and time.time() < deadline:
                cond.wait(deadline - time.time())
        assert got == auto, (got, auto)
        res = c.sio.call("subscribe", {"room": "project:11",
                                       "since": last_id}, timeout=5)
        proj = [n for room, n in sent if room == "project:11"]
        assert res["ok"] is True and res["replayed"] == len(proj) and \
            res["complete"] is True, res
        assert got == auto + proj, "project events before the ack: %r" % got

    def cleanup():
        for c in clients:
            c.close()
        del clients[:]

    tests = [
        ("websocket: connect with a token, subscribe, receive a published "
         "event (not a non-member)",
         lambda: receive_published_event("websocket")),
        ("polling: connect with a token, subscribe, receive a published "
         "event (not a non-member)",
         lambda: receive_published_event("polling")),
        ("a connection without a token is refused with missing_token",
         lambda: refused(None, "missing_token")),
        ("a token signed with another secret is refused with invalid_token",
         lambda: refused(make_token("x", secret="another-secret-" * 3),
                         "invalid_token")),
        ("an expired token is refused with token_expired",
         lambda: refused(make_token("x", exp=int(time.time()) - 3600),
                         "token_expired")),
        ("subscribe forbidden / bad_request, own user: room kept, ping ack",
         forbidden_and_ping),
        ("defaults: a fixed-arity def on_event(env) handler gets the event "
         "(no trailing recovery offset)",
         fixed_arity_handler_with_defaults),
        ("replay: reconnect with last_event_id, one-argument handlers get "
         "the missed global, user: and subscribed project: events in order",
         replay_with_one_argument_handlers),
    ]
    return tests, cleanup


def make_recovery_tests(d):
    """Against a daemon started with recovery.enabled = true."""
    clients = []

    def offset_appended():
        c = Client(all_args=True)
        clients.append(c)
        c.connect(d, "websocket", make_token("py-rec", projects=["9"]))
        c.wait_event("connection.established")
        res = c.sio.call("subscribe", {"room": "project:9"}, timeout=5)
        assert res == {"ok": True, "rooms": ["project:9"]}, res
        status, body = publish(d, {"rooms": ["project:9"],
                                   "event": "project.updated",
                                   "data": {"n": 2}})
        assert status == 202, (status, body)
        args = c.wait_event("project.updated")
        # opted in: the envelope, then the offset a JS client recovers with
        assert len(args) == 2, args
        check_envelope(args[0], "project.updated")
        assert isinstance(args[1], str) and args[1], args

    def cleanup():
        for c in clients:
            c.close()
        del clients[:]

    return [("recovery enabled: events carry the envelope and a trailing "
             "offset", offset_appended)], cleanup


class RedisServer(object):
    """A private redis-server on a free loopback port, stopped by PID."""

    def __init__(self):
        self.port = free_port()
        self.url = "redis://127.0.0.1:%d" % self.port
        self.proc = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port),
             "--save", "", "--appendonly", "no"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("redis-server did not start")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def make_cluster_replay_tests(a, b):
    """Two daemons on one redis-server, replay.max_age_s = 2."""
    clients = []

    def one_arg_client():
        c = Client()
        c.got_n = []
        c.got_cond = threading.Condition()

        @c.sio.on("issue.updated")
        def on_event(env):
            with c.got_cond:
                c.got_n.append(env["data"]["n"])
                c.got_cond.notify_all()

        clients.append(c)
        return c

    def wait_n(c, count):
        with c.got_cond:
            deadline = time.time() + 5
            while len(c.got_n) < count and time.time() < deadline:
                c.got_cond.wait(deadline - time.time())
        return list(c.got_n)

    def another_instance():
        tok = make_token("py-fleet", projects=["21"])
        first = one_arg_client()
        first.connect(a, "websocket", tok)
        first.wait_event("connection.established")
        res = first.sio.call("subscribe", {"room": "project:21"}, timeout=5)
        assert res["ok"] is True, res
        status, body = publish(a, {"rooms": ["project:21"],
                                   "event": "issue.updated",
                                   "data": {"n": 0}})
        assert status == 202, (status, body)
        assert wait_n(first, 1) == [0]
        last_id = body["event_id"]
        first.close()
        sent = []
        for n, (d, room) in enumerate([
                (a, "user:py-fleet"), (b, "global"), (a, "project:21"),
                (a, "user:py-stranger"), (b, "user:py-fleet"),
                (a, "project:21"), (a, "global")], 1):
            status, body = publish(d, {"rooms": [room],
                                       "event": "issue.updated",
                                       "data": {"n": n}})
            assert status == 202, (status, body)
            sent.append((room, n))
            # through Redis to the other instance before the next: two
            # publishes racing on two instances have no one order
            time.sleep(0.1)
        time.sleep(0.2)
        c = one_arg_client()
        c.connect(b, "websocket", tok, last_event_id=last_id)
        est = c.wait_event("connection.established")
        assert est["data"]["server_id"] != a.server_id, est
        auto = [n for room, n in sent if room in ("global", "user:py-fleet")]
        assert est["data"]["replayed"] == len(auto), est
        assert est["data"]["complete"] is True, est
        assert wait_n(c, len(auto)) == auto, c.got_n
        res = c.sio.call("subscribe", {"room": "project:21",
                                       "since": last_id}, timeout=5)
        proj = [n for room, n in sent if room == "project:21"]
        assert res["ok"] is True and res["replayed"] == len(proj), res
        assert list(c.got_n) == auto + proj, c.got_n
        c.close()
        # once the id has aged out (max_age_s = 2): complete false
        time.sleep(2.5)
        late = one_arg_client()
        late.connect(b, "websocket", tok, last_event_id=last_id)
        est = late.wait_event("connection.established")
        assert est["data"]["complete"] is False, est
        assert est["data"]["replayed"] == 0, est

    def cleanup():
        for c in clients:
            c.close()
        del clients[:]

    return [("replay on another instance: one-argument handlers get the "
             "missed global, user: and project: events in order; "
             "complete false once aged out", another_instance)], cleanup


def run_cluster(path):
    if not shutil.which("redis-server"):
        print("skip the two-instance tests: redis-server is not installed")
        return 0, 0
    redis = RedisServer()
    passed = failed = 0
    daemons = []
    try:
        for name in ("py-a", "py-b"):
            d = Daemon(path, {"SIO_REDIS_URL": redis.url,
                              "SIO_SERVER_ID": name,
                              "SIO_REPLAY_MAX_AGE_S": "2"})
            d.server_id = name
            d.start()
            daemons.append(d)
        deadline = time.time() + 10
        while time.time() < deadline and not all(
                "redis: connected" in d.stderr() for d in daemons):
            time.sleep(0.05)
        p, f = run_tests(*make_cluster_replay_tests(*daemons))
        passed += p
        failed += f
    except Exception as exc:  # noqa: BLE001
        print("FAIL start two daemons on redis: %s" % exc)
        failed += 1
    finally:
        for d in daemons:
            p, f = stop_daemon(d)
            passed += p
            failed += f
        redis.stop()
    return passed, failed


def run_tests(tests, cleanup):
    passed = failed = 0
    for name, fn in tests:
        t0 = time.time()
        try:
            fn()
            passed += 1
            print("ok   %s (%.0f ms)" % (name, (time.time() - t0) * 1000))
        except Exception:  # noqa: BLE001
            failed += 1
            print("FAIL %s" % name)
            traceback.print_exc(file=sys.stdout)
        finally:
            cleanup()
    return passed, failed


def stop_daemon(d):
    status = d.stop()
    if status != 0:
        print("FAIL the daemon exited with status %r:\n%s"
              % (status, d.stderr()))
        return 0, 1
    print("ok   the daemon stopped cleanly on SIGTERM (exit 0)")
    return 1, 0


def main():
    path = os.environ.get("SIO_DAEMON") or (sys.argv[1] if len(sys.argv) > 1
                                            else "")
    if not path:
        print("SIO_DAEMON is not set: point it at the built sio-server "
              "(or pass the path as the first argument)")
        print("0 passed, 1 failed")
        return 1
    path = os.path.abspath(path)
    passed = failed = 0
    for extra, make in (({}, make_tests),
                        ({"SIO_RECOVERY_ENABLED": "true"},
                         make_recovery_tests)):
        d = Daemon(path, extra)
        try:
            d.start()
        except Exception as exc:  # noqa: BLE001
            print("FAIL start the daemon %r: %s" % (extra, exc))
            failed += 1
            continue
        try:
            p, f = run_tests(*make(d))
            passed += p
            failed += f
        finally:
            p, f = stop_daemon(d)
            passed += p
            failed += f
    p, f = run_cluster(path)
    passed += p
    failed += f
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
