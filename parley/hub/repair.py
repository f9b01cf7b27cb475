"""Ordering and repair: every member gets every event of its room exactly once, in seq order.

Events reach a hub from this node's commits and from other nodes through the broker, and either way one
may be lost (a broker outage) or arrive early (seq N+1 from this node before N from another). The hub
delivers a seq only right after the one before it; when one skips ahead, `Repair` holds the live events
back and fetches the gap from the store (`RoomLog.events_after`), retrying while the store is down:
late, never skipped. It also lines live delivery up with a joiner's replay (`align`) and, after a broker
outage or on a hint from another node, compares rooms with the store (`resync`, `sync_room`).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from parley.hub.member import RoomLog
from parley.hub.room import Room
from parley.protocol import Outbound, encode
from parley.protocol.events import RoomEvent

if TYPE_CHECKING:
    from parley.hub.hub import Hub

log = logging.getLogger("parley.hub")

FILL_PAGE = 1000  # stored events fetched per query while filling
FILL_RETRY = (0.2, 5.0)  # first and longest pause (seconds) between attempts while the store cannot answer


class Repair:
    def __init__(self, hub: Hub, store: RoomLog | None) -> None:
        self.hub = hub
        self.store = store
        self._filling: dict[str, list[RoomEvent]] = {}  # room -> live events held back while a fill runs
        self._fill_to: dict[str, int] = {}  # room -> seq a running fill must reach even with nothing held back
        self._fills: dict[str, asyncio.Task[None]] = {}

    def holding(self, name: str) -> list[RoomEvent] | None:
        """The live events held back for `name` while a fill runs (None when none runs)."""
        return self._filling.get(name)

    def gap(self, room: Room, event: RoomEvent) -> bool:
        """`event` skips ahead of what `room` delivered: hold it and fill the gap. False if nothing can fill it."""
        if self.store is None:
            return False
        self._filling[room.name] = [event]
        self._spawn_fill(room)
        return True

    def _spawn_fill(self, room: Room) -> None:
        name = room.name
        task = asyncio.get_running_loop().create_task(self._fill(room), name=f"parley-fill-{name}")
        self._fills[name] = task
        task.add_done_callback(lambda t: self._fills.pop(name) if self._fills.get(name) is t else None)

    def sync_room(self, name: str, upto: int) -> None:
        """Deliver a room's stored events up to `upto` that this node has not delivered (a broker outage, a
        hint from another node, a joiner ahead of the live stream); live events wait behind them."""
        room = self.hub.rooms.get(name)
        if room is None or upto <= room.last_seq or self.store is None:
            return
        if upto > self._fill_to.get(name, 0):
            self._fill_to[name] = upto
        if name not in self._filling:
            self._filling[name] = []
            self._spawn_fill(room)

    async def _fill(self, room: Room) -> None:
        """Deliver in seq order what this node's members of `room` have not had: held-back live events that
        continue the sequence, and from the store whatever is missing before them (or before `_fill_to`).

        While the store cannot answer, it retries and holds live events back. Live delivery resumes in the
        same step that finds nothing missing (no await in between).
        """
        assert self.store is not None
        hub, name, pause = self.hub, room.name, FILL_RETRY[0]
        try:
            while True:
                waiting = self._filling.get(name)
                if waiting is None or hub.rooms.get(name) is not room:
                    return
                if waiting:
                    waiting.sort(key=_seq)
                    held = []
                    for e in waiting:
                        if e.seq == room.last_seq + 1:
                            hub.fan_out(room, e, Outbound(encode(e)))
                        elif e.seq > room.last_seq:
                            held.append(e)
                    waiting[:] = held
                target = max(self._fill_to.get(name, 0), waiting[-1].seq if waiting else 0)
                if target <= room.last_seq:
                    return
                after = room.last_seq
                try:
                    stored = await self.store.events_after(name, after, min(target, after + FILL_PAGE) - after)
                except Exception as exc:
                    log.warning("room %s: cannot fetch events after seq %d from the store (%s); retrying in %.1fs",
                                name, after, exc, pause)
                    await asyncio.sleep(pause)
                    pause = min(pause * 2, FILL_RETRY[1])
                    continue
                pause = FILL_RETRY[0]
                if hub.rooms.get(name) is not room:
                    return
                for e in stored:
                    if e.seq == room.last_seq + 1:
                        hub.fan_out(room, e, Outbound(encode(e)))
                if room.last_seq == after:  # the store does not have what should follow: do not spin on it
                    log.error("room %s: the store has no event %d (last is %s); delivering from %s", name,
                              after + 1, stored[-1].seq if stored else "none", target)
                    self._fill_to.pop(name, None)
                    for e in sorted(self._filling.get(name, []), key=_seq):
                        if e.seq > room.last_seq:
                            hub.fan_out(room, e, Outbound(encode(e)))
                    self._filling[name] = []
        except Exception:
            log.exception("filling room %s failed", name)
        finally:
            held = self._filling.pop(name, [])
            self._fill_to.pop(name, None)
            if hub.rooms.get(name) is not room:  # the room was emptied (and maybe joined afresh) meanwhile
                for e in sorted(held, key=_seq):
                    hub.deliver_event(e)

    async def align(self, name: str, seq: int) -> int:
        """A joiner has replayed the room's stored events up to `seq`: line live delivery up with it.

        Returns the seq after which live delivery here continues (at least `seq`); the joiner replays what
        lies between before it activates. With no caught-up member here, live events up to `seq` are not
        needed and will be dropped; with members, they first get everything up to `seq` (from the store if
        the live stream is behind), so no connection misses an event or gets one twice.
        """
        stuck = 0
        while True:
            room = self.hub.rooms.get(name)
            if room is None:
                return seq
            if (not room.members or self.store is None or stuck >= 3) and room.last_seq <= seq:
                room.last_seq = seq  # from now on every seq after `seq` is delivered in order
                room.known = True
                return seq
            if room.last_seq >= seq:
                return room.last_seq
            before = room.last_seq
            self.sync_room(name, seq)
            task = self._fills.get(name)
            if task is not None:
                await asyncio.shield(task)
            stuck = stuck + 1 if room.last_seq == before else 0  # (only if the store lacks those events)

    async def resync(self) -> int:
        """Compare the rooms with caught-up members here against the store and deliver what this node missed
        (e.g. while its broker connection was down). Returns how many rooms were behind."""
        if self.store is None:
            return 0
        names = [name for name, room in self.hub.rooms.items() if room.members]
        if not names:
            return 0
        behind = 0
        for name, head in (await self.store.room_heads(names)).items():
            room = self.hub.rooms.get(name)
            if room is not None and room.members and head > room.last_seq:
                behind += 1
                self.sync_room(name, head)
        return behind


def _seq(event: RoomEvent) -> int:
    return event.seq
