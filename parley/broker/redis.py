"""Redis between nodes: every stored message, typing and presence event reaches the members on every node.

`--broker redis://[:password@]host:6379/0[?prefix=parley&presence_interval=5]` (or `rediss://` for TLS).
`prefix` names the channel and keys, so several Parley clusters can share one Redis; `presence_interval`
is the presence refresh period in seconds.

Messages: a node delivers its own stored messages at once, then publishes them (batched: everything queued
while the previous publish was in flight goes in one PUBLISH) on `<prefix>:events`, tagged with its node
id so it ignores its own. Redis pub/sub may lose events (a dropped connection, a restart); nothing is
lost for members, because:
- a seq that skips ahead is filled from the store by the hub before delivery (Hub.fill_gap);
- after (re)subscribing, a node compares the rooms it serves with the store and fetches what it missed
  (Hub.resync), and it does the same every `presence_interval` in case the last messages of a quiet room
  were lost (e.g. their node crashed between storing and publishing);
- a node whose publish failed sends, once Redis answers again, the highest seq of each room it could not
  publish, so the others fetch those from the store even if no later message comes.

Presence: each node keeps `<prefix>:node:<id>` alive (expiry 3 x presence_interval, refreshed every
interval) and lists its users per room in the hash `<prefix>:presence:<room>` (field `<node>|<user>`).
Changes are published as events; every interval each node also re-reads the hashes of its rooms and
drops entries of nodes whose key has expired. So the users of a node that crashed go offline for
everyone within 4 x presence_interval (20 s by default), and the remaining nodes send the `presence`
frames. A user connected through several nodes stays online until the last connection goes.
"""

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import msgspec
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from parley.broker.base import Broker
from parley.config import redact
from parley.hub import Hub
from parley.hub.room import Room
from parley.protocol.frames import Message

log = logging.getLogger("parley.broker")

DEFAULT_PREFIX = "parley"
DEFAULT_INTERVAL = 5.0  # seconds between presence refreshes (and store re-checks)
ENVELOPE_EVENTS = 500  # events per PUBLISH at most
RECONNECT_PAUSE = (0.1, 2.0)  # first and longest pause between attempts to reach Redis
ONLINE_TIMEOUT = 1.0  # seconds a join waits for Redis's presence list before answering with what it knows


class _Msg(msgspec.Struct, tag="m", array_like=True):
    room: str
    seq: int
    data: msgspec.Raw  # the encoded `message` frame, passed on as is


class _Typing(msgspec.Struct, tag="t", array_like=True):
    room: str
    user: str


class _Presence(msgspec.Struct, tag="p", array_like=True):
    room: str
    user: str
    online: bool


class _Head(msgspec.Struct, tag="h", array_like=True):
    """`room` has stored messages up to `seq` that may never have been published: fetch them."""

    room: str
    seq: int


Event = _Msg | _Typing | _Presence | _Head


class _Envelope(msgspec.Struct, array_like=True):
    node: str
    events: list[Event]


_encode = msgspec.json.Encoder().encode
_decode_envelope = msgspec.json.Decoder(_Envelope).decode
_decode_message = msgspec.json.Decoder(Message).decode


def parse_url(url: str) -> tuple[str, str, float]:
    """`redis://host/0?prefix=p&presence_interval=2` -> (URL for redis-py, prefix, interval)."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    prefix = query.pop("prefix", DEFAULT_PREFIX) or DEFAULT_PREFIX
    try:
        interval = float(query.pop("presence_interval", DEFAULT_INTERVAL))
    except ValueError:
        raise ValueError(f"presence_interval must be a number of seconds in {url!r}") from None
    if interval <= 0:
        raise ValueError(f"presence_interval must be positive in {url!r}")
    return urlunsplit(parts._replace(query=urlencode(query))), prefix, interval


class _View:
    """What this node knows of a room's users on other nodes: user -> nodes."""

    __slots__ = ("loaded", "room", "touched", "users")

    def __init__(self, room: Room) -> None:
        self.room = room  # the hub's Room object; a room emptied and joined again gets a fresh view
        self.users: dict[str, set[str]] = {}
        self.loaded = False
        self.touched: set[str] = set()  # users changed by events while a periodic check was reading


class RedisBroker(Broker):
    def __init__(self, url: str) -> None:
        self.url = url
        self._redis_url, self.prefix, self.interval = parse_url(url)
        self.ttl = 3 * self.interval
        self.node = uuid.uuid4().hex[:16]
        self.channel = f"{self.prefix}:events"
        self.hub: Hub | None = None
        self.redis: Redis | None = None
        self._sub: Redis | None = None
        self._outbox: list[Event] = []
        self._wake = asyncio.Event()
        self._missed: dict[str, int] = {}  # room -> highest seq whose publish failed
        self._written: dict[str, set[str]] = {}  # room -> this node's users as last written to Redis
        self._views: dict[str, _View] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._subscribed_at = 0.0
        self._down_since: float | None = None  # when publishing started failing (logged once per outage)
        self.reconnects = 0

    # keys -----------------------------------------------------------------------------------------

    def _node_key(self, node: str) -> str:
        return f"{self.prefix}:node:{node}"

    def _room_key(self, room: str) -> str:
        return f"{self.prefix}:presence:{room}"

    # lifecycle ------------------------------------------------------------------------------------

    async def start(self, hub: Hub) -> None:
        self.hub = hub
        hub.online_elsewhere = self._online_elsewhere
        common = {"socket_connect_timeout": 2.0, "socket_keepalive": True}
        self.redis = Redis.from_url(self._redis_url, socket_timeout=5.0, retry=Retry(NoBackoff(), 1), **common)
        self._sub = Redis.from_url(self._redis_url, socket_timeout=None, retry=Retry(NoBackoff(), 0), **common)
        try:
            await asyncio.wait_for(self.redis.ping(), 3)
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning("Redis at %s does not answer (%s); serving this node's members and retrying",
                        redact(self._redis_url), exc)
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._publish_loop(), name="parley-redis-publish"),
                       loop.create_task(self._subscribe_loop(), name="parley-redis-subscribe"),
                       loop.create_task(self._maintain_loop(), name="parley-redis-presence")]
        log.info("Redis broker: node %s, channel %s, presence every %.1fs (offline within %.0fs of a crash)",
                 self.node, self.channel, self.interval, 4 * self.interval)

    async def close(self) -> None:
        for task in self._tasks[1:]:
            task.cancel()
        deadline = time.monotonic() + 2.0
        while (self._outbox or self._missed) and self._down_since is None and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        if self._tasks:
            self._tasks[0].cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self.redis is not None:
            try:
                pipe = self.redis.pipeline(transaction=False)
                for room, users in self._written.items():
                    if users:
                        pipe.hdel(self._room_key(room), *(f"{self.node}|{u}" for u in users))
                pipe.delete(self._node_key(self.node))
                await asyncio.wait_for(pipe.execute(), 1.0)
            except (RedisError, OSError, TimeoutError):
                pass
        for client in (self.redis, self._sub):
            if client is not None:
                await client.aclose()
        self.redis = self._sub = None
        self.hub = None

    # publishing -----------------------------------------------------------------------------------

    def publish_message(self, message: Message, data: bytes) -> None:
        if self.hub is not None:
            self.hub.deliver_message(message, data)
        self._outbox.append(_Msg(message.room, message.seq, msgspec.Raw(data)))
        self._wake.set()

    def publish_typing(self, room: str, user: str) -> None:
        if self.hub is not None:
            self.hub.deliver_typing(room, user)
        self._outbox.append(_Typing(room, user))
        self._wake.set()

    def publish_presence(self, room: str, user: str, online: bool) -> None:
        self._outbox.append(_Presence(room, user, online))
        self._wake.set()

    async def _publish_loop(self) -> None:
        pause = RECONNECT_PAUSE[0]
        while True:
            if not self._outbox and not self._missed:
                self._wake.clear()
                await self._wake.wait()
            batch, self._outbox = self._outbox, []
            try:
                await self._send(batch)
            except (RedisError, OSError, TimeoutError) as exc:
                self._failed(batch)
                if self._down_since is None:
                    self._down_since = time.monotonic()
                    log.warning("cannot publish to Redis (%s); messages are stored and acked, other nodes will "
                                "fetch them from the store when Redis is back", exc)
                await asyncio.sleep(pause)
                pause = min(pause * 2, RECONNECT_PAUSE[1])
                continue
            if self._down_since is not None:
                log.info("publishing to Redis again after %.1fs", time.monotonic() - self._down_since)
                self._down_since = None
            pause = RECONNECT_PAUSE[0]

    async def _send(self, batch: list[Event]) -> None:
        assert self.redis is not None
        hints: list[Event] = [_Head(room, seq) for room, seq in self._missed.items()]
        events = hints + batch
        if not events:
            return
        pipe = self.redis.pipeline(transaction=False)
        ttl_ms = int(self.ttl * 2000)
        for ev in batch:
            if type(ev) is _Presence:
                key, field = self._room_key(ev.room), f"{self.node}|{ev.user}"
                if ev.online:
                    pipe.hset(key, field, "1")
                    pipe.pexpire(key, ttl_ms)
                else:
                    pipe.hdel(key, field)
        for start in range(0, len(events), ENVELOPE_EVENTS):
            pipe.publish(self.channel, _encode(_Envelope(self.node, events[start:start + ENVELOPE_EVENTS])))
        await pipe.execute()
        for room, seq in [(h.room, h.seq) for h in hints if type(h) is _Head]:
            if self._missed.get(room) == seq:
                del self._missed[room]
        for ev in batch:
            if type(ev) is _Presence:
                users = self._written.setdefault(ev.room, set())
                users.add(ev.user) if ev.online else users.discard(ev.user)

    def _failed(self, batch: Iterable[Event]) -> None:
        """Remember the highest seq per room that may not have reached the other nodes (typing is dropped;
        presence is rewritten by the next refresh)."""
        for ev in batch:
            if type(ev) is _Msg and ev.seq > self._missed.get(ev.room, 0):
                self._missed[ev.room] = ev.seq

    # receiving ------------------------------------------------------------------------------------

    async def _subscribe_loop(self) -> None:
        assert self._sub is not None
        loop = asyncio.get_running_loop()
        pause = RECONNECT_PAUSE[0]
        connected_before = False
        failures = 0  # in a row: the first is a warning, the rest of an outage only debug
        while True:
            pubsub = self._sub.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                heard = pinged = loop.time()
                while True:
                    item = await pubsub.get_message(ignore_subscribe_messages=False, timeout=1.0)
                    now = loop.time()
                    if item is None:
                        if now - heard > 3 * self.interval + 2:
                            raise ConnectionError(f"no answer from Redis for {now - heard:.0f}s")
                        if now - heard > self.interval and now - pinged > self.interval:
                            pinged = now
                            await pubsub.ping()
                        continue
                    heard = now
                    kind = item.get("type")
                    if kind == "message":
                        self._receive(item["data"])
                    elif kind == "subscribe":
                        pause, failures = RECONNECT_PAUSE[0], 0
                        if connected_before:
                            self.reconnects += 1
                            log.info("subscribed to Redis again; checking this node's rooms against the store")
                        connected_before = True
                        await self._connected()
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError, TimeoutError, ConnectionError) as exc:
                failures += 1
                log.log(logging.WARNING if failures == 1 else logging.DEBUG,
                        "Redis subscription lost (%s); reconnecting (every %.1fs at most)", exc, RECONNECT_PAUSE[1])
            except Exception:
                log.exception("Redis subscriber failed; reconnecting in %.1fs", pause)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
            await asyncio.sleep(pause)
            pause = min(pause * 2, RECONNECT_PAUSE[1])

    async def _connected(self) -> None:
        """Just (re)subscribed: events published meanwhile may be lost, so catch up from the store, and
        make this node's presence visible again (Redis may have restarted empty)."""
        self._subscribed_at = time.monotonic()
        self._wake.set()  # send hints for messages whose publish failed
        try:
            await self._refresh_presence()
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning("cannot write presence to Redis: %s", exc)
        await self._resync(logging.INFO)

    async def _resync(self, level: int = logging.DEBUG) -> None:
        if self.hub is None:
            return
        try:
            behind = await self.hub.resync()
        except Exception as exc:
            log.warning("cannot compare rooms with the store now (%s); trying again in %gs", exc, self.interval)
            return
        if behind:
            log.log(level, "fetching missed messages of %d room(s) from the store", behind)

    def _receive(self, payload: bytes) -> None:
        try:
            envelope = _decode_envelope(payload)
        except msgspec.DecodeError:
            log.warning("ignoring a malformed event on %s", self.channel)
            return
        hub = self.hub
        if envelope.node == self.node or hub is None:
            return
        for ev in envelope.events:
            kind = type(ev)
            if kind is _Msg:
                if ev.room in hub.rooms:  # type: ignore[union-attr]
                    hub.deliver_message(_decode_message(ev.data), bytes(ev.data))  # type: ignore[union-attr]
            elif kind is _Typing:
                hub.deliver_typing(ev.room, ev.user)  # type: ignore[union-attr]
            elif kind is _Presence:
                self._remote_presence(envelope.node, ev)  # type: ignore[arg-type]
            elif kind is _Head:
                hub.sync_room(ev.room, ev.seq)  # type: ignore[union-attr]

    # presence -------------------------------------------------------------------------------------

    def _view(self, name: str) -> _View | None:
        """This node's view of `name`'s remote users, if the room has members here."""
        room = self.hub.rooms.get(name) if self.hub is not None else None
        if room is None:
            self._views.pop(name, None)
            return None
        view = self._views.get(name)
        if view is None or view.room is not room:
            view = self._views[name] = _View(room)
        return view

    def _online_elsewhere(self, room: str, user: str) -> bool:
        view = self._views.get(room)
        return view is not None and bool(view.users.get(user))

    def _remote_presence(self, node: str, ev: _Presence) -> None:
        view = self._view(ev.room)
        if view is None:
            return
        local = ev.user in view.room.users
        nodes = view.users.get(ev.user)
        was = bool(nodes) or local
        if ev.online:
            view.users.setdefault(ev.user, set()).add(node)
        elif nodes is not None:
            nodes.discard(node)
            if not nodes:
                del view.users[ev.user]
        view.touched.add(ev.user)
        now = bool(view.users.get(ev.user)) or local
        if now != was and self.hub is not None:
            self.hub.deliver_presence(ev.room, ev.user, now)

    async def online(self, room: str, local: list[str]) -> list[str]:
        view = self._view(room)
        if view is not None and not view.loaded:
            try:
                found = await asyncio.wait_for(self._read_rooms([room]), ONLINE_TIMEOUT)
            except (RedisError, OSError, TimeoutError) as exc:
                log.debug("presence of %s not read from Redis: %s", room, exc)
                found = None
            view = self._view(room)
            if view is not None and found is not None:
                for user, nodes in found.get(room, {}).items():
                    if user not in view.touched:
                        view.users.setdefault(user, set()).update(nodes)
                view.loaded = True
        remote = {u for u, nodes in view.users.items() if nodes} if view is not None else set()
        return sorted(set(local) | remote)

    async def _read_rooms(self, rooms: list[str]) -> dict[str, dict[str, set[str]]]:
        """Users of other nodes that are alive, per room, from Redis; entries of dead nodes are removed."""
        assert self.redis is not None
        pipe = self.redis.pipeline(transaction=False)
        for room in rooms:
            pipe.hkeys(self._room_key(room))
        entries: dict[str, list[tuple[str, str]]] = {}
        nodes: set[str] = set()
        for room, fields in zip(rooms, await pipe.execute(), strict=True):
            for raw in fields:
                node, _, user = (raw.decode() if isinstance(raw, bytes) else raw).partition("|")
                if node != self.node and user:
                    entries.setdefault(room, []).append((node, user))
                    nodes.add(node)
        if not nodes:
            return {}
        ordered = sorted(nodes)
        pipe = self.redis.pipeline(transaction=False)
        for node in ordered:
            pipe.exists(self._node_key(node))
        alive = {node for node, found in zip(ordered, await pipe.execute(), strict=True) if found}
        out: dict[str, dict[str, set[str]]] = {}
        dead: dict[str, list[str]] = {}
        for room, pairs in entries.items():
            for node, user in pairs:
                if node in alive:
                    out.setdefault(room, {}).setdefault(user, set()).add(node)
                else:
                    dead.setdefault(room, []).append(f"{node}|{user}")
        if dead:
            pipe = self.redis.pipeline(transaction=False)
            for room, fields in dead.items():
                pipe.hdel(self._room_key(room), *fields)
            await pipe.execute()
        return out

    async def _refresh_presence(self) -> None:
        """Keep this node's key alive and its users listed (rewritten in full: Redis may have restarted)."""
        if self.redis is None or self.hub is None:
            return
        rooms = self.hub.rooms
        current = {name: set(room.users) for name, room in rooms.items() if room.users}
        ttl_ms = int(self.ttl * 1000)
        pipe = self.redis.pipeline(transaction=False)
        pipe.set(self._node_key(self.node), f"{socket.gethostname()}:{os.getpid()}", px=ttl_ms)
        for name in set(current) | set(self._written):
            key, users = self._room_key(name), current.get(name, set())
            stale = self._written.get(name, set()) - users
            if users:
                pipe.hset(key, mapping={f"{self.node}|{u}": "1" for u in users})
                pipe.pexpire(key, ttl_ms * 2)
            if stale:
                pipe.hdel(key, *(f"{self.node}|{u}" for u in stale))
        await pipe.execute()
        self._written = current

    async def _check_presence(self) -> None:
        """Re-read the presence of this node's rooms; users whose nodes stopped refreshing go offline."""
        hub = self.hub
        if hub is None:
            return
        for name in [n for n in self._views if n not in hub.rooms]:
            del self._views[name]
        names = list(hub.rooms)
        if not names:
            return
        for name in names:
            view = self._view(name)
            if view is not None:
                view.touched.clear()
        found = await self._read_rooms(names)
        grace = time.monotonic() - self._subscribed_at < self.interval + RECONNECT_PAUSE[1] + 1
        for name in names:
            view = self._view(name)
            if view is None:
                continue
            fresh = found.get(name, {})
            users = set(view.users) | set(fresh)
            new: dict[str, set[str]] = {}
            for user in users:
                if user in view.touched:  # an event arrived while reading: it is newer
                    nodes = view.users.get(user, set())
                elif grace:  # other nodes may not have rewritten their presence since Redis came back
                    nodes = view.users.get(user, set()) | fresh.get(user, set())
                else:
                    nodes = fresh.get(user, set())
                if nodes:
                    new[user] = set(nodes)
                local = user in view.room.users
                was, now = bool(view.users.get(user)) or local, bool(nodes) or local
                if was != now:
                    hub.deliver_presence(name, user, now)
            view.users = new
            view.loaded = True

    async def _maintain_loop(self) -> None:
        """Every interval: refresh this node's presence, expire other nodes' that stopped, re-check the store."""
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self._refresh_presence()
                await self._check_presence()
            except (RedisError, OSError, TimeoutError) as exc:
                log.debug("presence refresh failed: %s", exc)
            except Exception:
                log.exception("presence refresh failed")
            await self._resync()
