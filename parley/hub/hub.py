"""The engine: rooms, membership, fan-out and presence on this node. Knows no sockets and no SQL.

Fan-out encodes a frame once and queues the same bytes on every member. Stored messages arrive in seq
order from this node's store writes or from the broker; a seq that skips ahead (a lost broker message)
is filled from the store through `fill_gap` before delivery, so a member never silently misses one.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable

from parley.hub.member import Member
from parley.hub.room import Room
from parley.protocol import encode
from parley.protocol.frames import Message, Presence, TypingEvent
from parley.protocol.wsframe import Outbound

log = logging.getLogger("parley.hub")

GapFiller = Callable[[str, int, int], Awaitable[list[Message]]]
PresenceHook = Callable[[str, str, bool], None]


class Hub:
    def __init__(self) -> None:
        self.rooms: dict[str, Room] = {}
        self.fill_gap: GapFiller | None = None  # (room, after, upto) -> stored messages, set by the app
        self.on_presence: PresenceHook | None = None  # publishes presence changes to other nodes
        self.delivered = 0
        self._filling: dict[str, list[Message]] = {}

    # membership -----------------------------------------------------------------------------------

    def join(self, member: Member, name: str) -> Room:
        """Add `member` to a room as catching up: live messages go to member.backlog until activate()."""
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
        room = self.rooms.get(name)
        return room.online() if room else []

    # delivery -------------------------------------------------------------------------------------

    def deliver_message(self, message: Message, data: bytes | None = None) -> None:
        """A stored message, to every member of its room on this node, exactly once and in seq order."""
        room = self.rooms.get(message.room)
        if room is None:
            return
        if message.seq <= room.last_seq and room.last_seq:
            return  # already delivered (e.g. our own write echoed back by the broker)
        if message.room in self._filling:
            self._filling[message.room].append(message)
            return
        if room.last_seq and message.seq != room.last_seq + 1 and self.fill_gap is not None:
            self._start_fill(room, message)
            return
        self._fan_out(room, message, Outbound(data if data is not None else encode(message)))

    def _fan_out(self, room: Room, message: Message, out: Outbound) -> None:
        room.last_seq = message.seq
        for member in room.members:
            member.push(out)
        if room.syncing:
            for member in tuple(room.syncing):  # a joiner may finish catching up (leave syncing) here
                member.backlog(room.name, message, out)
        self.delivered += len(room.members)

    def _start_fill(self, room: Room, message: Message) -> None:
        self._filling[room.name] = [message]
        asyncio.get_running_loop().create_task(self._fill(room.name, room.last_seq))

    async def _fill(self, name: str, after: int) -> None:
        assert self.fill_gap is not None
        try:
            waiting = self._filling[name]
            upto = max(m.seq for m in waiting)
            stored = await self.fill_gap(name, after, upto)
        except Exception:
            log.exception("filling a gap in room %s after seq %d failed", name, after)
            stored = []
        pending = {m.seq: m for m in self._filling.pop(name, [])}
        pending.update({m.seq: m for m in stored})
        room = self.rooms.get(name)
        if room is None:
            return
        for seq in sorted(pending):
            if seq > room.last_seq:
                self._fan_out(room, pending[seq], Outbound(encode(pending[seq])))

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
        out = Outbound(encode(Presence(room=name, user=user, online=online)))
        for member in (*room.members, *room.syncing):
            if member is not exclude and member.user != user:
                member.push(out)

    def _presence(self, room: Room, user: str, online: bool, exclude: Member | None) -> None:
        self.deliver_presence(room.name, user, online, exclude)
        if self.on_presence is not None:
            self.on_presence(room.name, user, online)

    def delivered_seq(self, name: str) -> int:
        """The highest seq of `name` delivered live on this node (0 if none yet)."""
        room = self.rooms.get(name)
        return room.last_seq if room is not None else 0
