#!/usr/bin/python3
# python-server.py: python-socketio on uvicorn, the Python stack bench/compare
# measures sio-server against beside Node (bench/node-server.js). Debian 12's
# packages only (python3-socketio 5.7, python3-engineio 4.3, python3-uvicorn
# 0.17; run it with /usr/bin/python3), python-socketio's defaults (what a
# user would run: ping 25 s / 20 s, async_handlers), and the same handler
# contract as node-server.js and bench_server.c:
#
#   namespace "/", no auth, WebSocket and polling on /socket.io/;
#   "bcast" (payload)       -> broadcast the payload to every client of "/"
#                              (the sender included) as "bcast";
#   "echo"  (payload, ack)  -> ack with the same payload.
#
# uvicorn runs one worker, its logging quiet (warnings only, no access log),
# with the protocols Debian's python3-uvicorn depends on and nothing else:
# h11 for HTTP, wsproto for WebSocket, the stock asyncio loop (uvloop,
# httptools and websockets are not its dependencies; naming them here keeps
# the figures independent of what else is installed).
#
# Usage: /usr/bin/python3 python-server.py [port]   (0 or absent: a free port)
# Listens on 127.0.0.1 only and prints "LISTENING <port>" once ready.
# SIGTERM/SIGINT end it at once.
import asyncio
import os
import signal
import sys

import socketio
import uvicorn

port = int(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("PORT", 0))

sio = socketio.AsyncServer(async_mode="asgi")


@sio.on("bcast")
async def bcast(sid, payload):
    await sio.emit("bcast", payload)  # no "to": every client of "/"


@sio.on("echo")
async def echo(sid, payload):
    return payload  # a handler's return value is its ack


engine = socketio.ASGIApp(sio, socketio_path="socket.io")


async def app(scope, receive, send):
    """python-engineio hands uvicorn its polling responses without a
    Content-Length, and h11 then sends them chunked; Node's engine.io sets
    Content-Length, and sio-bench's polling client reads only that. Each
    response body is sent in one piece, so the header is added here and
    the bytes on the wire are Node's."""
    if scope["type"] != "http":
        return await engine(scope, receive, send)
    start = None

    async def sized_send(msg):
        nonlocal start
        if msg["type"] == "http.response.start":
            start = msg  # held until the body's length is known
            return
        if msg["type"] == "http.response.body" and start is not None:
            body = msg.get("body") or b""
            if not msg.get("more_body"):
                start = dict(start, headers=list(start.get("headers", [])) +
                             [(b"content-length", str(len(body)).encode())])
            await send(start)
            start = None
        await send(msg)

    await engine(scope, receive, sized_send)


class Server(uvicorn.Server):
    def install_signal_handlers(self):
        pass  # ours below: exit at once, as node-server.js does


async def main():
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, loop="asyncio", http="h11", ws="wsproto", lifespan="off",
        workers=1, log_level="warning", access_log=False,
        # Like node-server.js's keepAliveTimeout = 0: an idle keep-alive
        # polling connection stays; engine.io's heartbeat times sessions out.
        timeout_keep_alive=3600,
        # socket.io's default perMessageDeflate is off too.
        ws_per_message_deflate=False)
    server = Server(config)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, os._exit, 0)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            return task.result()
        await asyncio.sleep(0.01)
    # Port 0: the one the kernel chose, from uvicorn's listening socket.
    bound = server.servers[0].sockets[0].getsockname()[1]
    print(f"LISTENING {bound}", flush=True)
    await task


asyncio.run(main())
