"""What the room policy decides from, kept at hand: rooms' records and users' standings, read from the store
and cached briefly, so a send is checked without a round trip to the database.

Entries live for `TTL` seconds. A change made on any node is published through the broker (an access
item), and each node forgets the entries it names at once (`forget`); the TTL bounds staleness if such
an item is lost with a broker outage. Rooms that do not exist are not cached, so a room created on
another node is seen at once.
"""

import asyncio
import time
from collections.abc import Callable, Coroutine, Hashable
from typing import Any, TypeVar

from parley.store import RoomRecord, Standing, Store

T = TypeVar("T")

TTL = 30.0  # seconds a cached record or standing is trusted
MAX_ENTRIES = 200_000  # past this the cache starts over (bounded memory whatever the traffic)

Known = tuple[RoomRecord, Standing | None]


class SingleFlight:
    """Callers asking for the same key at the same time share one call (a reconnect storm joining one room
    costs one query, not one per connection). The call runs as its own task, so a caller that is cancelled
    (its connection closed) does not cancel it for the others."""

    def __init__(self) -> None:
        self._flying: dict[Hashable, asyncio.Task[Any]] = {}

    async def run(self, key: Hashable, work: Callable[[], Coroutine[Any, Any, T]]) -> T:
        task = self._flying.get(key)
        if task is None:
            task = self._flying[key] = asyncio.get_running_loop().create_task(work())
            task.add_done_callback(lambda done: self._forget(key, done))
        result: T = await asyncio.shield(task)
        return result

    def drop(self, key: Hashable) -> None:
        """Later callers for `key` start a new call instead of joining the one under way (whose answer may
        predate a change just made); callers already waiting still get that one."""
        self._flying.pop(key, None)

    def _forget(self, key: Hashable, task: asyncio.Task[Any]) -> None:
        if self._flying.get(key) is task:
            del self._flying[key]
        if not task.cancelled():
            task.exception()  # retrieved: no "never retrieved" warning when every caller has gone


class AccessCache:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._rooms: dict[str, tuple[RoomRecord, float]] = {}
        self._standings: dict[tuple[str, str], tuple[Standing | None, float]] = {}
        self._loading = SingleFlight()
        self._forgets = 0  # counts `forget` calls: an answer read before one is not cached

    def cached(self, room: str, user: str) -> Known | None:
        """The room and `user`'s standing in it if both are cached and fresh; None means: ask `load`."""
        now = time.monotonic()
        record = self._rooms.get(room)
        standing = self._standings.get((room, user))
        if record is None or standing is None or record[1] < now or standing[1] < now:
            return None
        return record[0], standing[0]

    async def room(self, room: str) -> RoomRecord | None:
        hit = self._rooms.get(room)
        if hit is not None and hit[1] >= time.monotonic():
            return hit[0]
        forgets = self._forgets
        record = await self._loading.run(room, lambda: self._store.room(room))
        if record is not None and forgets == self._forgets:
            self._trim()
            self._rooms[room] = (record, time.monotonic() + TTL)
        return record

    async def load(self, room: str, user: str) -> tuple[RoomRecord | None, Standing | None]:
        """The room's record (None if it does not exist) and `user`'s standing in it, from the cache or the store."""
        record = await self.room(room)
        if record is None:
            return None, None
        hit = self._standings.get((room, user))
        if hit is not None and hit[1] >= time.monotonic():
            return record, hit[0]
        forgets = self._forgets
        standing = await self._loading.run((room, user), lambda: self._store.standing(room, user))
        if forgets == self._forgets:
            self._trim()
            self._standings[(room, user)] = (standing, time.monotonic() + TTL)
        return record, standing

    def forget(self, room: str, user: str = "") -> None:
        """Drop `user`'s cached standing in `room`, or (user empty) the room's record: a deleted room's record
        alone answers for everyone, whatever standings are still cached. A query for it already under way
        (which may have read the store before the change) is neither joined by later callers nor cached."""
        self._forgets += 1
        if user:
            self._loading.drop((room, user))
            self._standings.pop((room, user), None)
        else:
            self._loading.drop(room)
            self._rooms.pop(room, None)

    def clear(self) -> None:
        self._rooms.clear()
        self._standings.clear()

    def _trim(self) -> None:
        if len(self._standings) + len(self._rooms) > MAX_ENTRIES:
            self.clear()
