"""The engine: rooms, membership, fan-out and presence on this node. Knows no sockets and no SQL.

Fan-out encodes a frame once and queues the same bytes on every member. Stored messages arrive in seq
order from this node's store writes or from the broker; a seq that skips ahead (a lost broker message)
is filled from the store through `fill_gap` before delivery, so a member never silently misses one.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable

from parley.hub.member import Member
from parley.hub.room import KNOWN_ZERO, Room
from parley.protocol import encode
from parley.protocol.frames import Message, Presence, TypingEvent
from parley.protocol.wsframe import Outbound

log = logging.getLogger("parley.hub")

GapFiller = Callable[[str, int, int], Awaitable[list[Message]]]
PresenceHook = Callable[[str, str, bool], None]
HeadsLookup = Callable[[list[str]], Awaitable[dict[str, int]]]
ElsewhereCheck = Callable[[str, str], bool]

FILL_PAGE = 1000  # stored messages fetched per query while filling
FILL_RETRY = (0.2, 5.0)  # first and longest pause (seconds) between attempts while the store cannot answer


class Hub:
    def __init__(self) -> None:
        self.rooms: dict[str, Room] = {}
        self.fill_gap: GapFiller | None = None  # (room, after, upto) -> stored messages, set by the app
        self.on_presence: PresenceHook | None = None  # publishes presence changes to other nodes
        self.room_heads: HeadsLookup | None = None  # (rooms) -> last stored seq of each, set by the app
        self.online_elsewhere: ElsewhereCheck | None = None  # (room, user) -> online on another node (broker)
        self.delivered = 0
        self._filling: dict[str, list[Message]] = {}  # room -> live messages held back while a fill runs
        self._fill_to: dict[str, int] = {}  # room -> seq a running fill must reach even with nothing held back
        self._fills: dict[str, asyncio.Task[None]] = {}

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
        self._spawn_fill(room)

    def _spawn_fill(self, room: Room) -> None:
        name = room.name
        task = asyncio.get_running_loop().create_task(self._fill(room), name=f"parley-fill-{name}")
        self._fills[name] = task
        task.add_done_callback(lambda t: self._fills.pop(name) if self._fills.get(name) is t else None)

    def sync_room(self, name: str, upto: int) -> None:
        """Deliver a room's stored messages up to `upto` that this node has not delivered (a broker outage, a
        hint from another node, a joiner ahead of the live stream); live messages wait behind them."""
        room = self.rooms.get(name)
        if room is None or upto <= room.last_seq or self.fill_gap is None:
            return
        if upto > self._fill_to.get(name, 0):
            self._fill_to[name] = upto
        if name not in self._filling:
            self._filling[name] = []
            self._spawn_fill(room)

    async def _fill(self, room: Room) -> None:
        """Deliver in seq order what this node's members of `room` have not had: held-back live messages that
        continue the sequence, and from the store whatever is missing before them (or before `_fill_to`).

        While the store cannot answer, it retries and holds live messages back: late, never skipped. Live
        delivery resumes in the same step that finds nothing missing (no await in between).
        """
        assert self.fill_gap is not None
        name, pause = room.name, FILL_RETRY[0]
        try:
            while True:
                waiting = self._filling.get(name)
                if waiting is None or self.rooms.get(name) is not room:
                    return
                if waiting:
                    waiting.sort(key=_seq)
                    held = []
                    for m in waiting:
                        if m.seq == room.last_seq + 1:
                            self._fan_out(room, m, Outbound(encode(m)))
                        elif m.seq > room.last_seq:
                            held.append(m)
                    waiting[:] = held
                target = max(self._fill_to.get(name, 0), waiting[-1].seq if waiting else 0)
                if target <= room.last_seq:
                    return
                after = room.last_seq
                try:
                    stored = await self.fill_gap(name, after, min(target, after + FILL_PAGE))
                except Exception as exc:
                    log.warning("room %s: cannot fetch messages after seq %d from the store (%s); retrying in %.1fs",
                                name, after, exc, pause)
                    await asyncio.sleep(pause)
                    pause = min(pause * 2, FILL_RETRY[1])
                    continue
                pause = FILL_RETRY[0]
                if self.rooms.get(name) is not room:
                    return
                for m in stored:
                    if m.seq == room.last_seq + 1:
                        self._fan_out(room, m, Outbound(encode(m)))
                if room.last_seq == after:  # the store does not have what should follow: do not spin on it
                    log.error("room %s: the store has no message %d (last is %s); delivering from %s", name,
                              after + 1, stored[-1].seq if stored else "none", target)
                    self._fill_to.pop(name, None)
                    for m in self._filling.get(name, []):
                        if m.seq > room.last_seq:
                            self._fan_out(room, m, Outbound(encode(m)))
                    self._filling[name] = []
        except Exception:
            log.exception("filling room %s failed", name)
        finally:
            held = self._filling.pop(name, [])
            self._fill_to.pop(name, None)
            if self.rooms.get(name) is not room:  # the room was emptied (and maybe joined afresh) meanwhile
                for m in sorted(held, key=_seq):
                    self.deliver_message(m)

    async def align(self, name: str, seq: int) -> int:
        """A joiner has replayed the room's stored messages up to `seq`: line live delivery up with it.

        Returns the seq after which live delivery here continues (at least `seq`); the joiner replays what
        lies between before it activates. With no caught-up member here, live messages up to `seq` are not
        needed and will be dropped; with members, they first get everything up to `seq` (from the store if
        the live stream is behind), so no connection misses a message or gets one twice.
        """
        stuck = 0
        while True:
            room = self.rooms.get(name)
            if room is None:
                return seq
            if (not room.members or self.fill_gap is None or stuck >= 3) and room.last_seq <= seq:
                room.last_seq = seq or KNOWN_ZERO  # from now on every seq after `seq` is delivered in order
                return seq
            if room.last_seq >= seq:
                return room.last_seq
            before = room.last_seq
            self.sync_room(name, seq)
            task = self._fills.get(name)
            if task is not None:
                await asyncio.shield(task)
            stuck = stuck + 1 if room.last_seq == before else 0  # (only if the store lacks those messages)

    async def resync(self) -> int:
        """Compare the rooms with caught-up members here against the store and deliver what this node missed
        (e.g. while its broker connection was down). Returns how many rooms were behind."""
        if self.room_heads is None:
            return 0
        names = [name for name, room in self.rooms.items() if room.members]
        if not names:
            return 0
        behind = 0
        for name, head in (await self.room_heads(names)).items():
            room = self.rooms.get(name)
            if room is not None and room.members and head > room.last_seq:
                behind += 1
                self.sync_room(name, head)
        return behind

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
        # a user also connected through another node stays online for everyone: members here need no frame
        if self.online_elsewhere is None or not self.online_elsewhere(room.name, user):
            self.deliver_presence(room.name, user, online, exclude)
        if self.on_presence is not None:
            self.on_presence(room.name, user, online)

    def delivered_seq(self, name: str) -> int:
        """The highest seq of `name` delivered live on this node (0 if none yet)."""
        room = self.rooms.get(name)
        return room.last_seq if room is not None else 0


def _seq(message: Message) -> int:
    return message.seq
