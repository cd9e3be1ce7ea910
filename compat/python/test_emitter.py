#!/usr/bin/python3
"""sio_emitter.py against sio-server, with Debian's python3-socketio client.

First checks, without any server, that the module writes the very bytes
@socket.io/redis-emitter 5 writes (the captures in
tests/data/redis/vectors.txt). Then starts a private redis-server
(loopback, free port, temporary directory) and the libsio compat server
named by SIO_COMPAT_SERVER (or the first argument) with SIO_REDIS_URL,
connects python-socketio clients to it, and checks that each emit reaches
exactly the clients it targets: rooms, except, several rooms, namespaces,
binary, volatile; and the requests: socketsJoin, socketsLeave,
disconnectSockets and serverSideEmit.

Run with /usr/bin/python3 (python3-socketio, python3-websocket,
python3-redis, python3-msgpack). Prints one line per test and a closing
"N passed, M failed"; exits non-zero when a test failed, 77 (skip) when
redis-server is not installed.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ in the source tree

try:
    import socketio  # noqa: E402
    from sio_emitter import Emitter  # noqa: E402
except ImportError as exc:  # pragma: no cover
    print("a module is missing (%s): run with /usr/bin/python3 on Debian "
          "with python3-socketio, python3-websocket, python3-redis and "
          "python3-msgpack installed" % exc)
    print("0 passed, 1 failed")
    sys.exit(1)

VECTORS = os.path.join(HERE, "..", "..", "tests", "data", "redis",
                       "vectors.txt")
ENVELOPE = {
    "event_id": "6f1c0b9e-4a51-4f7e-9d3a-0c2b7a1d5e10",
    "type": "project.updated",
    "timestamp": "2024-01-02T03:04:05.678Z",
    "data": {"id": 1, "name": "x"},
}


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, timeout=5.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return True
        except OSError:
            time.sleep(0.02)
    return False


class Redis(object):
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="sio-py-redis-")
        self.port = free_port()
        self.proc = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port),
             "--save", "", "--appendonly", "no", "--dir", self.dir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait_port(self.port):
            self.stop()
            raise RuntimeError("redis-server did not start")
        self.url = "redis://127.0.0.1:%d" % self.port

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


class Server(object):
    """The compat server, stopped by PID with SIGTERM."""

    def __init__(self, path, redis_url):
        env = dict(os.environ, PORT="0", SIO_REDIS_URL=redis_url)
        self.proc = subprocess.Popen([path], env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        line = self.proc.stdout.readline().decode()
        if not line.startswith("LISTENING "):
            self.stop()
            raise RuntimeError("server did not start: %r %s" %
                               (line, self.proc.stderr.read().decode()))
        self.url = "http://127.0.0.1:%d" % int(line.split()[1])

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                return self.proc.wait()
        return self.proc.returncode


class Client(object):
    """A python-socketio client recording every event per namespace."""

    def __init__(self, url, namespaces=("/",)):
        self.sio = socketio.Client(reconnection=False)
        self.events = []
        self.disconnected = threading.Event()
        self.cond = threading.Condition()
        for nsp in namespaces:
            self.sio.on("*", self._recorder(nsp), namespace=nsp)
        self.sio.on("disconnect", self.disconnected.set)
        self.sio.connect(url, transports=["websocket"],
                         namespaces=list(namespaces), wait_timeout=5)

    def _recorder(self, nsp):
        def record(event, *args):
            with self.cond:
                self.events.append((nsp, event, list(args)))
                self.cond.notify_all()
        return record

    def call(self, event, *args, namespace="/"):
        return self.sio.call(event, args if len(args) != 1 else args[0],
                             namespace=namespace, timeout=5)

    def join(self, *rooms):
        for r in rooms:
            assert self.call("join", r) is True

    def wait(self, event, nsp="/", timeout=5.0):
        deadline = time.time() + timeout
        with self.cond:
            while True:
                for n, e, args in self.events:
                    if e == event and n == nsp:
                        return args
                left = deadline - time.time()
                if left <= 0:
                    raise AssertionError("no %r on %s within %ss (got %r)" %
                                         (event, nsp, timeout, self.events))
                self.cond.wait(left)

    def got(self, event, nsp="/"):
        with self.cond:
            return [a for n, e, a in self.events if e == event and n == nsp]

    def close(self):
        try:
            self.sio.disconnect()
        except Exception:  # noqa: BLE001
            pass


class FakeRedis(object):
    def __init__(self):
        self.published = []

    def publish(self, channel, msg):
        if isinstance(msg, str):
            msg = msg.encode()
        self.published.append((channel, msg))


def load_vectors():
    out = {}
    with open(VECTORS) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            step, channel, _, hexed = line.rstrip("\n").split("\t")
            out.setdefault(step, []).append((channel, bytes.fromhex(hexed)))
    return out


# ------------------------------------------------------------------- tests

def test_same_bytes_as_node_emitter():
    """the module writes the Node emitter's bytes"""
    v = load_vectors()
    fake = FakeRedis()
    e = Emitter(fake)
    cases = [
        ("emitter_emit", lambda: e.emit("e1", 1)),
        ("emitter_to", lambda: e.to("room1").emit("e2")),
        ("emitter_to_except",
         lambda: e.to("r1").to("r2").except_("r3").emit("e3", {"k": "v"})),
        ("emitter_volatile", lambda: e.volatile.emit("e4")),
        ("emitter_compress", lambda: e.compress(True).emit("e4c")),
        ("emitter_nsp", lambda: e.of("/admin").emit("e5", [1])),
        ("emitter_nsp_noslash", lambda: e.of("admin").to("r1").emit("e6")),
        ("emitter_binary", lambda: e.emit("e7", b"hi")),
        ("emitter_sockets_join", lambda: e.in_("r1").sockets_join("r9")),
        ("emitter_sockets_leave", lambda: e.sockets_leave(["r9", "r8"])),
        ("emitter_disconnect", lambda: e.in_("nobody").disconnect_sockets()),
        ("emitter_disconnect_close",
         lambda: e.in_("nobody").disconnect_sockets(True)),
        ("emitter_server_side_emit",
         lambda: e.server_side_emit("e8", {"a": 1})),
    ]
    for step, fn in cases:
        fake.published.clear()
        fn()
        assert fake.published == v[step], (step, fake.published, v[step])


def make_tests(server):
    def to_except_in_namespaces():
        """to / except_ / in_ several rooms / of(nsp) reach exactly"""
        a = Client(server.url)
        b = Client(server.url)
        c = Client(server.url, namespaces=("/", "/admin"))
        try:
            a.join("project:1")
            b.join("project:1", "muted")
            c.join("project:2")
            em = Emitter(server.redis_url)
            em.to("project:1").emit("project.updated", ENVELOPE)
            assert a.wait("project.updated") == [ENVELOPE]
            assert b.wait("project.updated") == [ENVELOPE]
            em.to("project:1").except_("muted").emit("only-a", 1)
            assert a.wait("only-a") == [1]
            em.in_(["project:1", "project:2"]).except_("muted").emit("ac", 2)
            assert a.wait("ac") == [2]
            assert c.wait("ac") == [2]
            em.of("/admin").emit("adm", {"x": [1, 2.5, None, True]})
            assert c.wait("adm", "/admin") == [{"x": [1, 2.5, None, True]}]
            em.emit("everyone", "hi")
            for cl in (a, b, c):
                assert cl.wait("everyone") == ["hi"]
            time.sleep(0.3)
            assert b.got("only-a") == [] and c.got("only-a") == []
            assert b.got("ac") == []
            assert c.got("project.updated") == []
            assert a.got("adm", "/admin") == [] and c.got("adm") == []
            em.close()
        finally:
            for cl in (a, b, c):
                cl.close()

    def binary_and_volatile():
        """bytes arrive as binary, volatile is delivered when writable"""
        a = Client(server.url)
        try:
            a.join("bin")
            em = Emitter(server.redis_url)
            em.to("bin").emit("blob", b"\x00\x01\xff", {"n": b"x"})
            assert a.wait("blob") == [b"\x00\x01\xff", {"n": b"x"}]
            em.to("bin").volatile.emit("vol", 3)
            assert a.wait("vol") == [3]
            em.close()
        finally:
            a.close()

    def requests():
        """sockets_join, sockets_leave, server_side_emit, disconnect"""
        a = Client(server.url)
        k = Client(server.url)
        try:
            a.join("team")
            k.join("kick")
            em = Emitter(server.redis_url)
            em.in_("team").sockets_join(["extra", "more"])
            deadline = time.time() + 5
            while "more" not in a.call("rooms") and time.time() < deadline:
                time.sleep(0.05)
            assert "extra" in a.call("rooms")
            assert "extra" not in k.call("rooms")
            em.in_("team").sockets_leave("extra")
            deadline = time.time() + 5
            while "extra" in a.call("rooms") and time.time() < deadline:
                time.sleep(0.05)
            assert "extra" not in a.call("rooms")
            em.server_side_emit("reload", {"what": "config"})
            assert a.wait("server-event") == [
                {"event": "reload", "args": [{"what": "config"}]}]
            em.in_("kick").disconnect_sockets()
            assert k.disconnected.wait(5)
            time.sleep(0.2)
            assert a.sio.connected
            em.close()
        finally:
            a.close()
            k.close()

    return [to_except_in_namespaces, binary_and_volatile, requests]


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else \
        os.environ.get("SIO_COMPAT_SERVER")
    passed = failed = 0

    def run(test):
        nonlocal passed, failed
        name = (test.__doc__ or test.__name__).strip().split("\n")[0]
        try:
            test()
            passed += 1
            print("ok   %s" % name)
        except Exception:  # noqa: BLE001
            failed += 1
            print("FAIL %s" % name)
            traceback.print_exc()

    run(test_same_bytes_as_node_emitter)
    if not path:
        print("SIO_COMPAT_SERVER is not set: point it at the built "
              "tests/e2e/sio_compat_server")
        failed += 1
    elif not shutil.which("redis-server"):
        print("skipped: redis-server is not installed")
        print("%d passed, %d failed" % (passed, failed))
        sys.exit(77 if failed == 0 else 1)
    else:
        redis_proc = Redis()
        server = None
        try:
            server = Server(path, redis_proc.url)
            server.redis_url = redis_proc.url
            for test in make_tests(server):
                run(test)
        finally:
            if server is not None:
                code = server.stop()
                if code != 0:
                    print("FAIL server exit status %s" % code)
                    failed += 1
            redis_proc.stop()
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
