#!/usr/bin/python3
"""Publishes an event to the clients of every sio-server instance sharing a
Redis, with compat/python/sio_emitter.py (python3-redis, python3-msgpack).
See docs/cluster.md.

    REDIS_URL=redis://127.0.0.1:6379 examples/emitter-python.py project:1
"""
import datetime
import os
import sys
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "compat", "python"))
sys.dont_write_bytecode = True
from sio_emitter import Emitter  # noqa: E402

room = sys.argv[1] if len(sys.argv) > 1 else "project:1"
emitter = Emitter(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379"))
now = datetime.datetime.now(datetime.timezone.utc)
envelope = {
    "event_id": str(uuid.uuid4()),
    "type": "project.updated",
    "timestamp": now.strftime("%Y-%m-%dT%H:%M:%S.") +
    "%03dZ" % (now.microsecond // 1000),
    "data": {"id": room.split(":")[-1], "name": "renamed"},
}
emitter.to(room).emit("project.updated", envelope)
print("published project.updated to %s" % room)
emitter.close()
