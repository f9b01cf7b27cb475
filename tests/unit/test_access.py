"""The access cache in-process: a change forgotten while a read of the store is under way is not undone by
that read (a room created, or a standing changed, just after someone else started reading it)."""

from __future__ import annotations

import asyncio

from parley.service.access import AccessCache
from parley.store import RoomRecord, Standing


class SlowReads:
    """A store whose reads see the state at the moment they start and answer only when let go."""

    def __init__(self) -> None:
        self.rooms: dict[str, RoomRecord] = {}
        self.standings: dict[tuple[str, str], Standing] = {}
        self.held = asyncio.Event()
        self.reads = 0

    async def room(self, name: str) -> RoomRecord | None:
        seen = self.rooms.get(name)
        self.reads += 1
        await self.held.wait()
        return seen

    async def standing(self, room: str, user: str) -> Standing | None:
        seen = self.standings.get((room, user))
        self.reads += 1
        await self.held.wait()
        return seen


async def reads_started(store: SlowReads, n: int) -> None:
    for _ in range(1000):
        if store.reads >= n:
            return
        await asyncio.sleep(0)
    raise AssertionError(f"{store.reads} reads of the store started, not {n}")


def public(name: str) -> RoomRecord:
    return RoomRecord(name=name, visibility="public", topic="", last_seq=0)


async def test_a_room_created_while_an_older_read_is_under_way_is_found_after_forget():
    store = SlowReads()
    cache = AccessCache(store)  # type: ignore[arg-type]
    early = asyncio.create_task(cache.room("design"))  # started before the room exists
    await reads_started(store, 1)
    store.rooms["design"] = public("design")
    cache.forget("design")  # what the node that created it does
    late = asyncio.create_task(cache.room("design"))
    await reads_started(store, 2)
    store.held.set()
    assert await early is None
    assert await late == public("design")
    assert store.reads == 2


async def test_a_standing_read_before_a_change_is_not_cached_after_it():
    store = SlowReads()
    store.rooms["design"] = public("design")
    store.held.set()
    cache = AccessCache(store)  # type: ignore[arg-type]
    await cache.room("design")
    store.held.clear()
    store.standings[("design", "bob")] = Standing(state="member", role="member", muted=False)
    early = asyncio.create_task(cache.load("design", "bob"))
    await reads_started(store, 2)
    del store.standings[("design", "bob")]  # bob is kicked while that read is under way
    cache.forget("design", "bob")
    store.held.set()
    assert (await early)[1] is not None  # that caller saw the old state, as it asked before the change
    assert (await cache.load("design", "bob"))[1] is None  # but nobody after the forget does
