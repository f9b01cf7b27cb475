"""The long-polling transport: the WebSocket conversation over plain HTTP requests, with no sticky sessions.

A poll names, per room, the last seq the client has (its cursor). The node that receives it keeps, for
that user and client id, a chat `Session` whose sink is a `PollSink`: the session follows the rooms
exactly as a WebSocket session does (join with `since`, catch-up, live fan-out, presence, typing,
removals), and the sink keeps its frames until the next poll takes them. That session is only a cache:
a poll reaching a node that has none (another node of a round-robin balancer answered the last one, or
this node restarted) makes a new one that starts from the poll's cursors, and a poll whose cursor is
behind what this node already handed out makes the node follow that room afresh from the cursor. So any
node can answer any poll, and a client gets every stored event after its cursor once, in order: events
at or below the cursor are dropped from what a node kept (the client got them elsewhere).

A waiting poll is one request awaiting one future: no task and no thread per room or per client. The
sessions are registered with transports/connections.py like WebSockets: a client that stops polling is
dropped after two missed heartbeats (its presence then goes offline), and shutdown answers every
waiting poll with a `closed` notice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import get_args

import msgspec

from parley.auth import Bearer
from parley.protocol import ErrorCode, Outbound, encode
from parley.protocol.frames import Join, RoomEvent
from parley.service import ChatService
from parley.service.policy import Action, Refused
from parley.session import Session
from parley.session.catchup import follow
from parley.transports.connections import Connections, Liveness, TransportMetrics
from parley.transports.sink import GOING_AWAY, SLOW_CONSUMER, Disconnect

log = logging.getLogger("parley.poll")

NAME = "poll"
MAX_EVENTS = 1000  # room events in one answer; a room further behind than this is answered from the store first
FOLLOW_WAIT = 5.0  # seconds a poll waits for newly followed rooms to catch up before it answers what it has
MAX_CLIENTS = 10  # polling clients (ids) one user may have on one node
EVENT_TYPES = frozenset(t.__struct_config__.tag for t in get_args(RoomEvent))  # frames with a seq in the room log
# Frames that answer a waiting poll at once; the others (presence, typing) wait GATHER seconds for company, so
# a burst of presence changes (many pollers connecting) costs one answer per poller, not one per change.
URGENT = EVENT_TYPES | {"joined", "removed", "membership", "error", "read", "signal"}
GATHER = 0.2
# frames that still matter when their room is not followed (a call rings wherever the callee is)
ANY_ROOM = frozenset({"removed", "membership", "read", "signal"})
LEFT = Disconnect(1000, "client left", reconnect=False)

Cursors = Mapping[str, int | None]  # room -> last seq the client has (None: from now on)


class RoomRefused(Exception):
    """A poll named a room its user may not read; nothing was done."""

    def __init__(self, room: str, refused: Refused) -> None:
        super().__init__(refused.message)
        self.room = room
        self.refused = refused


class _Head(msgspec.Struct):
    """The fields of a server frame a poll answer needs to place it."""

    type: str
    room: str | None = None
    seq: int | None = None
    last_seq: int | None = None


_head = msgspec.json.Decoder(_Head).decode


@dataclass
class Answer:
    frames: list[bytes]
    cursors: dict[str, int | None]
    closed: Disconnect | None = None

    def encode(self) -> bytes:
        body = b'{"frames":[' + b",".join(self.frames) + b'],"cursors":' + encode(self.cursors)
        if self.closed is not None:
            c = self.closed
            body += b',"closed":' + encode({"code": c.code, "reason": c.reason, "reconnect": c.reconnect})
        return body + b"}"


class PollSink:
    """Keeps what the session writes until a poll takes it; wakes the poll that waits."""

    __slots__ = ("client", "frames", "size")

    def __init__(self, client: PollClient) -> None:
        self.client = client
        self.frames: list[Outbound] = []
        self.size = 0

    def write(self, out: Outbound) -> None:
        self.frames.append(out)
        self.size += len(out.data)
        client = self.client
        if self.size > client.max_kept:  # not polled for a long time: forget; the next poll starts from its cursors
            client.metrics.slow_drops += 1
            client.end(SLOW_CONSUMER)
            return
        if client.waiter is None or client.waiter.done():
            return
        if _head(out.data).type in URGENT:
            client.wake()
        elif client.soon is None:  # presence and typing: gather what comes in the next moment into one answer
            client.soon = asyncio.get_running_loop().call_later(GATHER, client.wake)

    def close(self, disconnect: Disconnect) -> None:
        self.client.end(disconnect)

    def forget(self, rooms: set[str]) -> None:
        """Drop what is kept for `rooms`."""
        self.frames = [out for out in self.frames if _head(out.data).room not in rooms]
        self.size = sum(len(out.data) for out in self.frames)


@dataclass
class _Room:
    """What this node handed out of a followed room: events up to `handed` (None: nothing yet, from now on)."""

    handed: int | None


@dataclass(eq=False)
class PollClient:
    """One polling client (user + client id) on this node: its session, what it keeps, the poll waiting."""

    user: str
    key: str
    pollers: Pollers
    metrics: TransportMetrics
    max_kept: int
    peer: str = ""
    liveness: Liveness = field(default_factory=Liveness)
    rooms: dict[str, _Room] = field(default_factory=dict)
    waiter: asyncio.Future[None] | None = None
    current = 0  # the number of the latest poll: an earlier one still waiting answers empty
    soon: asyncio.TimerHandle | None = None  # a wake-up gathering presence and typing
    deferred = False  # this poll left rooms unfollowed (the join limit): answer without waiting
    closed: Disconnect | None = None
    session: Session = field(init=False)
    sink: PollSink = field(init=False)

    def wake(self) -> None:
        if self.soon is not None:
            self.soon.cancel()
            self.soon = None
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # Connection protocol (transports/connections.py) ------------------------------------------------

    def ping(self) -> None:
        if self.waiter is not None:  # a poll is waiting: the client is there
            self.liveness.heard()

    def pause(self) -> None:
        """Shutdown: nothing to stop reading (polls in flight are answered by close)."""

    def close(self, disconnect: Disconnect) -> None:
        self.end(disconnect)

    def abort(self, disconnect: Disconnect) -> None:
        self.end(disconnect)

    def end(self, disconnect: Disconnect) -> None:
        """The conversation ends (shutdown, a revoked token, silence, too much kept): the waiting poll answers
        with `closed`, the session leaves its rooms and a later poll starts afresh."""
        if self.closed is not None:
            return
        self.closed = disconnect
        self.pollers.forget(self)
        self.wake()
        asyncio.get_running_loop().call_soon(self.session.close)


class Pollers:
    """The polling clients of this node, by user and client id."""

    def __init__(self, service: ChatService, connections: Connections) -> None:
        self.service = service
        self.connections = connections
        self.metrics = connections.transport(NAME)
        self._clients: dict[tuple[str, str], PollClient] = {}
        self._per_user: dict[str, int] = {}
        self.closing = False

    def forget(self, client: PollClient) -> None:
        if self._clients.get((client.user, client.key)) is client:
            del self._clients[(client.user, client.key)]
            left = self._per_user.get(client.user, 1) - 1
            if left > 0:
                self._per_user[client.user] = left
            else:
                self._per_user.pop(client.user, None)
        self.connections.remove(client)

    def end(self, user: str, key: str) -> bool:
        """The client says it is gone (DELETE /api/poll): its presence goes offline now."""
        client = self._clients.get((user, key))
        if client is None:
            return False
        client.end(LEFT)
        return True

    def _client(self, bearer: Bearer, key: str, peer: str) -> PollClient:
        user, gen = bearer.user, bearer.gen
        client = self._clients.get((user, key))
        if client is not None and client.session.gen == gen:
            client.session.token_id = bearer.token_id  # the same device may have signed in again
            return client
        if client is not None:  # a newer token (the old one was revoked meanwhile): start afresh
            client.end(Disconnect(1000, "replaced", reconnect=True))
        if self._per_user.get(user, 0) >= MAX_CLIENTS:
            raise Refused(ErrorCode.RATE_LIMITED, f"at most {MAX_CLIENTS} polling clients per user; "
                                                  "reuse a client id")
        client = PollClient(user=user, key=key, pollers=self, metrics=self.metrics,
                            max_kept=self.service.settings.max_pending, peer=peer)
        client.sink = PollSink(client)
        client.session = Session(self.service, client.sink)
        client.session.authenticated(user, gen, bearer.token_id)
        self._clients[(user, key)] = client
        self._per_user[user] = self._per_user.get(user, 0) + 1
        self.connections.add(client, self.metrics)
        return client

    async def poll(self, bearer: Bearer, key: str, cursors: Cursors, timeout: float, peer: str = "") -> Answer:
        """Answer one poll: what is kept for the client past its cursors, at once if there is any, else
        when something comes or after `timeout` seconds. Refused (nothing changed) if the user may not read
        one of the rooms."""
        service = self.service
        user = bearer.user
        for room in cursors:  # every room first: a refusal must leave everything as it was
            try:
                if not service.allowed_now(user, room, Action.READ):
                    await service.authorize(user, room, Action.READ)
            except Refused as exc:
                raise RoomRefused(room, exc) from None
        if self.closing:
            return Answer([], dict(cursors), closed=GOING_AWAY)
        client = self._client(bearer, key, peer)
        client.liveness.heard()
        self.metrics.polls += 1
        client.current += 1
        mine = client.current
        client.wake()  # an earlier poll of this client still waiting answers now, empty
        client.deferred = False
        far, joins = await self._follow(client, cursors, mine)
        if joins and not far:  # answer new rooms with their catch-up, not with `joined` alone
            await asyncio.wait(joins, timeout=FOLLOW_WAIT)
        if client.current != mine:
            return Answer([], dict(cursors))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while client.closed is None and not far and not client.deferred and not self._ready(client, cursors):
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            waiter = client.waiter = loop.create_future()
            try:
                await asyncio.wait_for(waiter, remaining)
            except TimeoutError:
                pass
            finally:
                if client.waiter is waiter:
                    client.waiter = None
                client.liveness.heard()
            if client.current != mine:
                return Answer([], dict(cursors))
        return self._answer(client, cursors, far)

    async def _follow(self, client: PollClient, cursors: Cursors, mine: int) -> tuple[dict[str, list[bytes]],
                                                                                       list[asyncio.Task[None]]]:
        """Make the client's session follow exactly the polled rooms, each from its cursor. A room further
        behind than MAX_EVENTS is not followed yet: its next stored events are read here and answered (all
        such pages together at most MAX_EVENTS events; rooms past that wait for the next poll). Each newly
        followed room spends a join of the user's join limit (a room that finds none waits too)."""
        session = client.session
        dropped: set[str] = set()
        for room in [r for r in client.rooms if r not in cursors]:
            del client.rooms[room]
            session.drop_room(room)
            dropped.add(room)
        new: dict[str, int | None] = {}
        for room, cursor in cursors.items():
            known = client.rooms.get(room)
            if known is not None and room in session.rooms:
                if cursor is None or known.handed is None or cursor >= known.handed:
                    if cursor is not None:
                        known.handed = cursor if known.handed is None else max(known.handed, cursor)
                    continue
                session.drop_room(room)  # the client lacks what this node handed out: from its cursor again
            client.rooms.pop(room, None)
            dropped.add(room)
            new[room] = cursor
        if dropped:  # what was kept for those rooms belongs to a following that ended
            client.sink.forget(dropped)
        if not new:
            return {}, []
        heads = await self.service.heads([r for r, c in new.items() if c is not None])
        far: dict[str, list[bytes]] = {}
        budget = MAX_EVENTS
        joins: list[asyncio.Task[None]] = []
        for room, cursor in new.items():
            if client.current != mine or client.closed is not None:
                break  # a newer poll of this client decides what it follows
            if cursor is not None and heads.get(room, 0) - cursor > MAX_EVENTS:
                if budget > 0:
                    page = await self.service.events_after(client.user, room, cursor, budget)
                    if page:
                        far[room] = [encode(e) for e in page]
                        budget -= len(page)
                continue
            if client.current != mine or client.closed is not None:
                continue
            if not self.service.join_limits.take(client.user):
                client.deferred = True  # over the join limit: this room waits for the next poll, which comes at once
                continue
            client.rooms[room] = _Room(handed=cursor)
            joins.append(follow(session, Join(room=room, since=cursor)))
        return far, joins

    @staticmethod
    def _start(client: PollClient, cursors: Cursors) -> dict[str, int | None]:
        """Where the client stands in each room: its cursor, or for "from now on" what this node handed out."""
        out: dict[str, int | None] = {}
        for room, cursor in cursors.items():
            known = client.rooms.get(room)
            out[room] = known.handed if cursor is None and known is not None else cursor
        return out

    @staticmethod
    def _wanted(client: PollClient, h: _Head, at: dict[str, int | None]) -> bool:
        """Whether a kept frame goes to a client standing at `at`: not for a room it no longer follows, not
        an event it has (from another node, or an earlier answer)."""
        room = h.room
        if room is None or h.type in ANY_ROOM:
            return True
        if room not in client.rooms:
            return False
        if h.type in EVENT_TYPES and h.seq is not None:
            cursor = at.get(room)
            return cursor is None or h.seq > cursor
        return True

    def _ready(self, client: PollClient, cursors: Cursors) -> bool:
        """Whether something kept is worth answering now; if not, what is kept is dropped (none of it is)."""
        at = self._start(client, cursors)
        sink = client.sink
        if any(self._wanted(client, _head(out.data), at) for out in sink.frames):
            return True
        sink.frames.clear()
        sink.size = 0
        return False

    def _answer(self, client: PollClient, cursors: Cursors, far: dict[str, list[bytes]]) -> Answer:
        """Take what is kept for the client past its cursors (at most MAX_EVENTS events); the rest stays."""
        out = self._start(client, cursors)
        frames: list[bytes] = []
        for name, page in far.items():
            frames += page
            out[name] = _head(page[-1]).seq
        kept = client.sink.frames
        events = sum(len(page) for page in far.values())  # one budget of MAX_EVENTS for the whole answer
        stop = len(kept)
        for i, frame in enumerate(kept):
            h = _head(frame.data)
            if not self._wanted(client, h, out):
                continue
            room = h.room
            if h.type in EVENT_TYPES and room is not None and h.seq is not None:
                if events >= MAX_EVENTS:
                    stop = i
                    break
                events += 1
                out[room] = client.rooms[room].handed = h.seq
            elif h.type == "joined" and room is not None and out.get(room) is None and h.last_seq is not None:
                out[room] = client.rooms[room].handed = h.last_seq  # "from now on" starts here
            elif h.type == "removed" and room is not None:
                client.rooms.pop(room, None)
            frames.append(frame.data)
        del kept[:stop]
        client.sink.size = sum(len(f.data) for f in kept)
        return Answer(frames, out, closed=client.closed)

    def stop(self) -> None:
        """Shutdown: waiting polls answer with `closed` 1001 (poll again: another node or this one restarted)."""
        self.closing = True
        for client in list(self._clients.values()):
            client.end(GOING_AWAY)
