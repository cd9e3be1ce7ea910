"""Publish Socket.IO events from Python through Redis.

A small emitter speaking the socket.io Redis adapter protocol, as
@socket.io/redis-emitter 5 does: every server of the cluster (sio-server
instances, Node socket.io servers with @socket.io/redis-adapter 8) delivers
the event to its own clients in the target rooms. Needs python3-redis and
python3-msgpack (Debian packages; /usr/bin/python3 has them).

    from sio_emitter import Emitter

    emitter = Emitter("redis://127.0.0.1:6379")
    emitter.to("project:1").emit("project.updated", envelope)
    emitter.in_("user:42").except_("muted").emit("ai.suggestion", envelope)
    emitter.of("/admin").emit("stats", {"n": 3})
    emitter.to("project:1").sockets_join("watchers")
    emitter.server_side_emit("reload", {"what": "config"})

Arguments are JSON-like values; bytes become binary attachments. Each
operator returns a new object, so a base emitter can be shared.
"""

import json

import msgpack
import redis

__all__ = ["Emitter", "BroadcastOperator", "RESERVED_EVENTS"]

UID = "emitter"
RESERVED_EVENTS = frozenset(["connect", "connect_error", "disconnect",
                             "disconnecting", "newListener",
                             "removeListener"])

# RequestType of the adapter protocol
_REMOTE_JOIN = 2
_REMOTE_LEAVE = 3
_REMOTE_DISCONNECT = 4
_SERVER_SIDE_EMIT = 6
_EVENT = 2  # socket.io-parser's PacketType.EVENT


def _js_number(value):
    """What JavaScript would hold: an integral float is an integer (so it
    packs as notepack.io packs it)."""
    if isinstance(value, float) and value.is_integer() and \
            abs(value) < 2 ** 63:
        return int(value)
    return value


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, bytearray):
        return bytes(value)
    return _js_number(value)


def _json(body):
    """JSON.stringify's compact form."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


def _rooms(room):
    if isinstance(room, (list, tuple, set, frozenset)):
        return [str(r) for r in room]
    return [str(room)]


class BroadcastOperator(object):
    """A target: rooms, excluded rooms and flags, in one namespace."""

    def __init__(self, client, key, nsp, rooms=(), except_rooms=(),
                 flags=None):
        self._client = client
        self._key = key
        self._nsp = nsp
        self._rooms = list(rooms)
        self._except = list(except_rooms)
        self._flags = dict(flags or {})

    def _with(self, rooms=None, except_rooms=None, flags=None):
        return BroadcastOperator(
            self._client, self._key, self._nsp,
            self._rooms if rooms is None else rooms,
            self._except if except_rooms is None else except_rooms,
            self._flags if flags is None else flags)

    @staticmethod
    def _add(current, room):
        out = list(current)
        for r in _rooms(room):
            if r not in out:
                out.append(r)
        return out

    def to(self, room):
        """Targets a room (or a list of rooms) more."""
        return self._with(rooms=self._add(self._rooms, room))

    def in_(self, room):
        return self.to(room)

    def except_(self, room):
        """Excludes the sockets in a room (or rooms)."""
        return self._with(except_rooms=self._add(self._except, room))

    @property
    def volatile(self):
        """The event may be dropped for clients that cannot take it now."""
        flags = dict(self._flags)
        flags["volatile"] = True
        return self._with(flags=flags)

    def compress(self, compress=True):
        flags = dict(self._flags)
        flags["compress"] = bool(compress)
        return self._with(flags=flags)

    @property
    def _broadcast_channel(self):
        return "%s#%s#" % (self._key, self._nsp)

    @property
    def _request_channel(self):
        return "%s-request#%s#" % (self._key, self._nsp)

    def emit(self, event, *args):
        """Sends event with args to every targeted client of the cluster.
        Returns True, like the Node emitter."""
        if event in RESERVED_EVENTS:
            raise ValueError('"%s" is a reserved event name' % event)
        packet = {"type": _EVENT, "data": [event] + _jsonable(list(args)),
                  "nsp": self._nsp}
        opts = {"rooms": list(self._rooms), "flags": dict(self._flags),
                "except": list(self._except)}
        msg = msgpack.packb([UID, packet, opts], use_bin_type=True)
        channel = self._broadcast_channel
        if len(self._rooms) == 1:
            channel += self._rooms[0] + "#"
        self._client.publish(channel, msg)
        return True

    def _request(self, body):
        self._client.publish(self._request_channel, _json(body))

    def _opts(self):
        return {"rooms": list(self._rooms), "except": list(self._except)}

    def sockets_join(self, rooms):
        """Makes the targeted sockets join rooms."""
        self._request({"type": _REMOTE_JOIN, "opts": self._opts(),
                       "rooms": _rooms(rooms)})

    def sockets_leave(self, rooms):
        """Makes the targeted sockets leave rooms."""
        self._request({"type": _REMOTE_LEAVE, "opts": self._opts(),
                       "rooms": _rooms(rooms)})

    def disconnect_sockets(self, close=False):
        """Disconnects the targeted sockets (close: the whole connection)."""
        self._request({"type": _REMOTE_DISCONNECT, "opts": self._opts(),
                       "close": bool(close)})


class Emitter(object):
    """Emitter(url, key="socket.io", nsp="/"), or Emitter(redis_client)."""

    def __init__(self, url_or_client="redis://127.0.0.1:6379",
                 key="socket.io", nsp="/"):
        if isinstance(url_or_client, str):
            self._client = redis.Redis.from_url(url_or_client)
        else:
            self._client = url_or_client
        self._key = key
        self._nsp = nsp

    def _op(self):
        return BroadcastOperator(self._client, self._key, self._nsp)

    def of(self, nsp):
        """The same emitter for namespace nsp ("admin" means "/admin")."""
        if not nsp.startswith("/"):
            nsp = "/" + nsp
        return Emitter(self._client, self._key, nsp)

    def to(self, room):
        return self._op().to(room)

    def in_(self, room):
        return self._op().to(room)

    def except_(self, room):
        return self._op().except_(room)

    @property
    def volatile(self):
        return self._op().volatile

    def compress(self, compress=True):
        return self._op().compress(compress)

    def emit(self, event, *args):
        return self._op().emit(event, *args)

    def sockets_join(self, rooms):
        self._op().sockets_join(rooms)

    def sockets_leave(self, rooms):
        self._op().sockets_leave(rooms)

    def disconnect_sockets(self, close=False):
        self._op().disconnect_sockets(close)

    def server_side_emit(self, event, *args):
        """An event for the servers themselves (no acknowledgements, as
        with the Node emitter)."""
        if args and callable(args[-1]):
            raise ValueError("Acknowledgements are not supported")
        body = {"uid": UID, "type": _SERVER_SIDE_EMIT,
                "data": [event] + _jsonable(list(args))}
        self._client.publish("%s-request#%s#" % (self._key, self._nsp),
                             _json(body))

    def close(self):
        try:
            self._client.close()
        except Exception:  # pragma: no cover
            pass
