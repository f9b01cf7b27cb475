"""The engine: rooms, membership, fan-out and presence on this node. Knows no sockets and no SQL.

Fan-out encodes a frame once and queues the same bytes on every member. Stored events arrive in seq order
from this node's commits or from the broker; ordering and gap repair live in hub/repair.py, cross-node
presence in hub/presence.py. The hub is what the broker calls back (broker.base.BrokerEvents).
"""

import asyncio
import logging
from typing import Protocol

from parley.hub.member import Member, RoomLog
from parley.hub.presence import ClusterPresence
from parley.hub.repair import Repair
from parley.hub.room import Room
from parley.protocol import Outbound, encode
from parley.protocol.events import RoomEvent, decode_event
from parley.protocol.frames import Presence, PresenceBatch, TypingEvent

log = logging.getLogger("parley.hub")


class Control(Protocol):
    """Where the hub passes on what the broker says about access and accounts (the chat service)."""

    def access_changed(self, room: str, user: str, reason: str, by: str) -> None: ...

    def user_changed(self, user: str) -> None: ...

    def direct(self, user: str, data: bytes) -> None: ...

    def everyone(self, data: bytes) -> None: ...

    def reconnected(self) -> None: ...


# In a room with more users online than this, presence changes go out in batches: when a thousand people
# connect within a second, each member would otherwise get a thousand frames (a million writes for the room);
# batched, each gets a few `presence_batch` frames. Smaller rooms keep one `presence` frame per change at once.
PRESENCE_BATCH_ABOVE = 50
PRESENCE_BATCH_EVERY = 0.25  # seconds: at most one batch per room this often (the first goes out at once)


class Hub:
    def __init__(self, store: RoomLog | None = None) -> None:
        self.rooms: dict[str, Room] = {}
        self.repair = Repair(self, store)
        self.cluster: ClusterPresence | None = None  # users on other nodes (set when the broker spans nodes)
        self.control: Control | None = None
        self.delivered = 0

    # membership -----------------------------------------------------------------------------------

    def join(self, member: Member, name: str) -> Room:
        """Add `member` to a room as catching up: live events go to member.backlog until activate()."""
        room = self.rooms.get(name)
        if room is None:
            room = self.rooms[name] = Room(name)
        if member in room.syncing:
            return room
        if member in room.members:  # joining again: catch up afresh, presence unchanged
            del room.members[member]
            room.syncing[member] = None
            return room
        room.syncing[member] = None
        count = room.users.get(member.user, 0)
        room.users[member.user] = count + 1
        if count == 0:
            self._presence(room, member.user, True, exclude=member)
        return room

    def activate(self, member: Member, name: str) -> None:
        room = self.rooms.get(name)
        if room is not None and room.syncing.pop(member, 0) is None:
            room.members[member] = None

    def leave(self, member: Member, name: str) -> None:
        room = self.rooms.get(name)
        if room is None:
            return
        if member in room.members:
            del room.members[member]
        elif member in room.syncing:
            del room.syncing[member]
        else:
            return
        count = room.users.get(member.user, 0) - 1
        if count <= 0:
            room.users.pop(member.user, None)
            self._presence(room, member.user, False, exclude=None)
        else:
            room.users[member.user] = count
        if room.empty():
            del self.rooms[name]

    def online(self, name: str) -> list[str]:
        """Users connected to `name` through this node."""
        room = self.rooms.get(name)
        return room.online() if room else []

    async def online_anywhere(self, name: str) -> list[str]:
        """Users connected to `name` through any node."""
        local = self.online(name)
        return await self.cluster.online(name, local) if self.cluster is not None else local

    def delivered_seq(self, name: str) -> int:
        """The highest seq of `name` delivered live on this node (0 if none yet)."""
        room = self.rooms.get(name)
        return room.last_seq if room is not None else 0

    async def align(self, name: str, seq: int) -> int:
        return await self.repair.align(name, seq)

    # delivery -------------------------------------------------------------------------------------

    def deliver_event(self, event: RoomEvent, data: bytes | None = None) -> None:
        """A stored event, to every member of its room on this node, exactly once and in seq order."""
        room = self.rooms.get(event.room)
        if room is None:
            return
        if room.known:
            if event.seq <= room.last_seq:
                return  # already delivered (e.g. our own write echoed back by the broker)
            held = self.repair.holding(event.room)
            if held is not None:
                held.append(event)
                return
            if event.seq != room.last_seq + 1 and self.repair.gap(room, event):
                return
        else:
            held = self.repair.holding(event.room)
            if held is not None:
                held.append(event)
                return
        self.fan_out(room, event, Outbound(data if data is not None else encode(event)))

    def fan_out(self, room: Room, event: RoomEvent, out: Outbound) -> None:
        room.last_seq = event.seq
        room.known = True
        for member in room.members:
            member.push(out)
        if room.syncing:
            for member in tuple(room.syncing):  # a joiner may finish catching up (leave syncing) here
                member.backlog(room.name, event, out)
        self.delivered += len(room.members)

    def deliver_typing(self, name: str, user: str) -> None:
        room = self.rooms.get(name)
        if room is None:
            return
        out = Outbound(encode(TypingEvent(room=name, user=user)))
        for member in (*room.members, *room.syncing):
            if member.user != user:
                member.push(out)

    def deliver_presence(self, name: str, user: str, online: bool, exclude: Member | None = None) -> None:
        room = self.rooms.get(name)
        if room is None:
            return
        if len(room.users) > PRESENCE_BATCH_ABOVE or room.presence_due:
            self._batch_presence(room, user, online)
            return
        out = Outbound(encode(Presence(room=name, user=user, online=online)))
        for member in (*room.members, *room.syncing):
            if member is not exclude and member.user != user:
                member.push(out)

    def _batch_presence(self, room: Room, user: str, online: bool) -> None:
        room.presence_due[user] = online  # the latest state of each user wins
        if room.presence_timer is None:
            loop = asyncio.get_running_loop()
            delay = max(0.0, room.presence_sent + PRESENCE_BATCH_EVERY - loop.time())
            room.presence_timer = loop.call_later(delay, self._send_presence_batch, room)

    def _send_presence_batch(self, room: Room) -> None:
        due, room.presence_due = room.presence_due, {}
        room.presence_timer = None
        if self.rooms.get(room.name) is not room or not due:
            return
        room.presence_sent = asyncio.get_running_loop().time()
        online = sorted(u for u, on in due.items() if on)
        offline = sorted(u for u, on in due.items() if not on)
        out = Outbound(encode(PresenceBatch(room=room.name, online=online, offline=offline)))
        for member in (*room.members, *room.syncing):
            member.push(out)

    def _presence(self, room: Room, user: str, online: bool, exclude: Member | None) -> None:
        cluster = self.cluster
        # a user also connected through another node stays online for everyone: members here need no frame
        if cluster is None or not cluster.elsewhere(room.name, user):
            self.deliver_presence(room.name, user, online, exclude)
        if cluster is not None:
            cluster.local_changed(room.name, user, online)

    # broker callbacks (broker.base.BrokerEvents) ----------------------------------------------------

    def on_event(self, room: str, data: bytes, event: RoomEvent | None = None) -> None:
        if room in self.rooms:  # decode only what has members here
            self.deliver_event(event if event is not None else decode_event(data), data)

    def on_typing(self, room: str, user: str) -> None:
        self.deliver_typing(room, user)

    def on_presence(self, node: str, room: str, user: str, online: bool) -> None:
        if self.cluster is not None:
            self.cluster.remote_changed(node, room, user, online)

    def on_head(self, room: str, seq: int) -> None:
        self.repair.sync_room(room, seq)

    def on_access(self, room: str, user: str, reason: str, by: str) -> None:
        if self.control is not None:
            self.control.access_changed(room, user, reason, by)

    def on_user(self, user: str) -> None:
        if self.control is not None:
            self.control.user_changed(user)

    def on_direct(self, user: str, data: bytes) -> None:
        if self.control is not None:
            self.control.direct(user, data)

    def on_everyone(self, data: bytes) -> None:
        if self.control is not None:
            self.control.everyone(data)

    async def on_connected(self) -> None:
        """The broker (re)subscribed: events published meanwhile may be lost. Make this node's presence
        visible again (the broker may have restarted empty), then catch up from the store."""
        if self.control is not None:
            self.control.reconnected()  # access changes published meanwhile may be lost
        if self.cluster is not None:
            await self.cluster.refresh_quietly()
        await self.resync(logging.INFO)

    async def on_tick(self) -> None:
        """Periodic upkeep: cross-node presence, and rooms whose last events may never have been published."""
        if self.cluster is not None:
            await self.cluster.maintain()
        await self.resync(logging.DEBUG)

    async def resync(self, level: int = logging.DEBUG) -> int:
        try:
            behind = await self.repair.resync()
        except Exception as exc:
            log.warning("cannot compare rooms with the store now (%s); trying again later", exc)
            return 0
        if behind:
            log.log(level, "fetching missed events of %d room(s) from the store", behind)
        return behind
