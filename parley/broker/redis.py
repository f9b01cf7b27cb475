"""Redis between nodes: the I/O of carrying room events, typing and presence to every node.

`--broker redis://[:password@]host:6379/0[?prefix=parley&presence_interval=5]` (or `rediss://` for TLS;
options in broker/redis_url.py).

Events: a node delivers its own stored events at once, then publishes them (batched: everything queued
while the previous publish was in flight goes in one PUBLISH) on `<prefix>:events`, tagged with its node
id so it ignores its own (broker/envelope.py). Redis pub/sub may lose events (a dropped connection, a
restart); nothing is lost for members, because the node above repairs (hub/repair.py):
- a seq that skips ahead is filled from the store before delivery;
- after (re)subscribing (`on_connected`) and every `presence_interval` (`on_tick`), a node compares the
  rooms it serves with the store and fetches what it missed;
- a node whose publish failed sends, once Redis answers again, the highest seq of each room it could not
  publish (a `HeadItem`), so the others fetch those from the store even if no later event comes.

Presence I/O (merged by hub/presence.py): each node keeps `<prefix>:node:<id>` alive (expiry 3 x
presence_interval, refreshed every interval) and lists its users per room in the hash
`<prefix>:presence:<room>` (field `<node>|<user>`); changes are also published as events. Reading the
hashes drops entries of nodes whose key has expired, so the users of a crashed node go offline for
everyone within 4 x presence_interval (20 s by default).
"""

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Iterable
from typing import Any, TypeVar

import msgspec
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from parley.broker.base import Broker, BrokerEvents
from parley.broker.envelope import (
    AccessItem,
    DirectItem,
    Envelope,
    EventItem,
    EveryoneItem,
    HeadItem,
    Item,
    PresenceItem,
    TypingItem,
    UserItem,
    decode_envelope,
    encode_envelope,
)
from parley.broker.redis_url import parse_url
from parley.config import redact
from parley.protocol.events import RoomEvent

log = logging.getLogger("parley.broker")

ENVELOPE_EVENTS = 500  # events per PUBLISH at most
RECONNECT_PAUSE = (0.1, 2.0)  # first and longest pause between attempts to reach Redis
T = TypeVar("T")


class RedisBroker(Broker):
    spans_nodes = True

    def __init__(self, url: str) -> None:
        self.url = url
        self._redis_url, self.prefix, self.interval = parse_url(url)
        self.ttl = 3 * self.interval
        self.grace = self.interval + RECONNECT_PAUSE[1] + 1
        self.node = uuid.uuid4().hex[:16]
        self.channel = f"{self.prefix}:events"
        self.events: BrokerEvents | None = None
        self.redis: Redis | None = None
        self._sub: Redis | None = None
        self._outbox: list[Item] = []
        self._wake = asyncio.Event()
        self._missed: dict[str, int] = {}  # room -> highest seq whose publish failed
        self._written: dict[str, set[str]] = {}  # room -> this node's users as last written to Redis
        self._tasks: list[asyncio.Task[None]] = []
        self._down_since: float | None = None  # when publishing started failing (logged once per outage)

    # keys -----------------------------------------------------------------------------------------

    def _node_key(self, node: str) -> str:
        return f"{self.prefix}:node:{node}"

    def _room_key(self, room: str) -> str:
        return f"{self.prefix}:presence:{room}"

    # lifecycle ------------------------------------------------------------------------------------

    async def start(self, events: BrokerEvents) -> None:
        self.events = events
        common: dict[str, Any] = {"socket_connect_timeout": 2.0, "socket_keepalive": True}
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
                       loop.create_task(self._tick_loop(), name="parley-redis-tick")]
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
        self.events = None

    # publishing -----------------------------------------------------------------------------------

    def publish_event(self, event: RoomEvent, data: bytes) -> None:
        if self.events is not None:
            self.events.on_event(event.room, data, event)
        self._outbox.append(EventItem(event.room, event.seq, msgspec.Raw(data)))
        self._wake.set()

    def publish_typing(self, room: str, user: str) -> None:
        if self.events is not None:
            self.events.on_typing(room, user)
        self._outbox.append(TypingItem(room, user))
        self._wake.set()

    def publish_access(self, room: str, user: str, reason: str = "", by: str = "") -> None:
        if self.events is not None:
            self.events.on_access(room, user, reason, by)
        self._outbox.append(AccessItem(room, user, reason, by))
        self._wake.set()

    def publish_user(self, user: str) -> None:
        if self.events is not None:
            self.events.on_user(user)
        self._outbox.append(UserItem(user))
        self._wake.set()

    def publish_direct(self, user: str, data: bytes) -> None:
        if self.events is not None:
            self.events.on_direct(user, data)
        self._outbox.append(DirectItem(user, msgspec.Raw(data)))
        self._wake.set()

    def publish_everyone(self, data: bytes) -> None:
        if self.events is not None:
            self.events.on_everyone(data)
        self._outbox.append(EveryoneItem(msgspec.Raw(data)))
        self._wake.set()

    def publish_presence(self, room: str, user: str, online: bool) -> None:
        self._outbox.append(PresenceItem(room, user, online))
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
                    log.warning("cannot publish to Redis (%s); events are stored and acked, other nodes will "
                                "fetch them from the store when Redis is back", exc)
                await asyncio.sleep(pause)
                pause = min(pause * 2, RECONNECT_PAUSE[1])
                continue
            if self._down_since is not None:
                log.info("publishing to Redis again after %.1fs", time.monotonic() - self._down_since)
                self._down_since = None
            pause = RECONNECT_PAUSE[0]

    async def _send(self, batch: list[Item]) -> None:
        assert self.redis is not None
        hints: list[Item] = [HeadItem(room, seq) for room, seq in self._missed.items()]
        items = hints + batch
        if not items:
            return
        pipe = self.redis.pipeline(transaction=False)
        ttl_ms = int(self.ttl * 2000)
        for item in batch:
            if type(item) is PresenceItem:
                key, field = self._room_key(item.room), f"{self.node}|{item.user}"
                if item.online:
                    pipe.hset(key, field, "1")
                    pipe.pexpire(key, ttl_ms)
                else:
                    pipe.hdel(key, field)
        for start in range(0, len(items), ENVELOPE_EVENTS):
            pipe.publish(self.channel, encode_envelope(Envelope(self.node, items[start:start + ENVELOPE_EVENTS])))
        await pipe.execute()
        for hint in hints:
            assert type(hint) is HeadItem
            if self._missed.get(hint.room) == hint.seq:
                del self._missed[hint.room]
        for item in batch:
            if type(item) is PresenceItem:
                users = self._written.setdefault(item.room, set())
                users.add(item.user) if item.online else users.discard(item.user)

    def _failed(self, batch: Iterable[Item]) -> None:
        """Remember the highest seq per room that may not have reached the other nodes (typing is dropped;
        presence is rewritten by the next refresh)."""
        for item in batch:
            if isinstance(item, EventItem) and item.seq > self._missed.get(item.room, 0):
                self._missed[item.room] = item.seq

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
                            log.info("subscribed to Redis again; checking this node's rooms against the store")
                        connected_before = True
                        self._wake.set()  # send hints for events whose publish failed
                        if self.events is not None:
                            await self.events.on_connected()
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

    def _receive(self, payload: bytes) -> None:
        try:
            envelope = decode_envelope(payload)
        except ValueError:  # msgspec.DecodeError
            log.warning("ignoring a malformed event on %s", self.channel)
            return
        events = self.events
        if envelope.node == self.node or events is None:
            return
        for item in envelope.events:
            kind = type(item)
            if kind is EventItem:
                events.on_event(item.room, bytes(item.data))  # type: ignore[union-attr]
            elif kind is TypingItem:
                events.on_typing(item.room, item.user)  # type: ignore[union-attr]
            elif kind is PresenceItem:
                events.on_presence(envelope.node, item.room, item.user, item.online)  # type: ignore[union-attr]
            elif kind is HeadItem:
                events.on_head(item.room, item.seq)  # type: ignore[union-attr]
            elif kind is AccessItem:
                events.on_access(item.room, item.user, item.reason, item.by)  # type: ignore[union-attr]
            elif kind is UserItem:
                events.on_user(item.user)  # type: ignore[union-attr]
            elif kind is DirectItem:
                events.on_direct(item.user, bytes(item.data))  # type: ignore[union-attr]
            elif kind is EveryoneItem:
                events.on_everyone(bytes(item.data))  # type: ignore[union-attr]

    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            if self.events is not None:
                try:
                    await self.events.on_tick()
                except Exception:
                    log.exception("periodic broker upkeep failed")

    # presence I/O (hub.presence.PresenceBackend) ------------------------------------------------------

    async def write_presence(self, current: dict[str, set[str]]) -> None:
        if self.redis is None:
            return
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
        await _io(pipe.execute())
        self._written = current

    async def read_presence(self, rooms: list[str]) -> dict[str, dict[str, set[str]]]:
        if self.redis is None:
            return {}
        pipe = self.redis.pipeline(transaction=False)
        for room in rooms:
            pipe.hkeys(self._room_key(room))
        entries: dict[str, list[tuple[str, str]]] = {}
        nodes: set[str] = set()
        for room, fields in zip(rooms, await _io(pipe.execute()), strict=True):
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
        alive = {node for node, found in zip(ordered, await _io(pipe.execute()), strict=True) if found}
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
            await _io(pipe.execute())
        return out


async def _io(work: Awaitable[T]) -> T:
    """Await Redis I/O; its failures surface as ConnectionError (what hub/presence.py expects of a backend)."""
    try:
        return await work
    except RedisError as exc:
        raise ConnectionError(f"Redis: {exc}") from exc
