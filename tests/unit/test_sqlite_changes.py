"""The SQLite store's batched standing changes (joins, leaves) on a real database file: concurrent changes
share a transaction yet each keeps its own outcome — a conflict, a cancelled caller or a failing change
touches only itself."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from parley.protocol.events import EventKind, MemberAction, member_data
from parley.store.base import ChangeConflict, NewEvent, RoomChange, RoomRecord, Standing, StoreUnavailable
from parley.store.sqlite import SqliteStore

MEMBER = Standing(state="member")


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    s = SqliteStore(f"sqlite:///{tmp_path}/t.db")
    await s.open()
    await s.create_room(RoomRecord("lobby", "public", "", 0), {}, [])
    yield s
    await s.close()


def joining(user: str, expected: Standing | None = None, client_id: str | None = None) -> RoomChange:
    event = NewEvent(room="lobby", sender=user, text="", client_id=client_id or uuid.uuid4().hex,
                     kind=EventKind.MEMBER, data=member_data(user, MemberAction.JOINED))
    return RoomChange(room="lobby", event=event, user=user, expected=expected, standing=MEMBER)


async def test_concurrent_joins_are_all_stored_with_gap_free_seqs(store: SqliteStore) -> None:
    saved = await asyncio.gather(*(store.apply(joining(f"u{i}")) for i in range(50)))
    assert sorted(s.event.seq for s in saved if s) == list(range(1, 51))
    assert [await store.standing("lobby", f"u{i}") for i in range(50)] == [MEMBER] * 50
    assert await store.room_seq("lobby") == 50


async def test_a_change_decided_on_a_stale_standing_conflicts_alone(store: SqliteStore) -> None:
    first, second, other = await asyncio.gather(store.apply(joining("ann")), store.apply(joining("ann")),
                                                store.apply(joining("bob")), return_exceptions=True)
    assert first.event.seq == 1  # type: ignore[union-attr]
    assert isinstance(second, ChangeConflict)  # both expected no row; the first made one
    assert other.event.seq == 2  # type: ignore[union-attr]
    # Decided on the standing that is there now, it goes through: ann leaves.
    leave = RoomChange(room="lobby", event=joining("ann").event, user="ann", expected=MEMBER, standing=None)
    assert (await store.apply(leave)).event.seq == 3  # type: ignore[union-attr]
    assert await store.standing("lobby", "ann") is None


async def test_a_cancelled_callers_change_is_not_stored(store: SqliteStore) -> None:
    blocker = asyncio.ensure_future(store.apply(joining("first")))  # in flight: the next ones queue
    await asyncio.sleep(0)
    queued = asyncio.ensure_future(store.apply(joining("gone")))
    kept = asyncio.ensure_future(store.apply(joining("kept")))
    await asyncio.sleep(0)
    queued.cancel()
    await blocker
    await kept
    assert await store.standing("lobby", "gone") is None
    assert await store.standing("lobby", "kept") == MEMBER


async def test_a_change_that_fails_fails_only_itself(store: SqliteStore) -> None:
    await store.apply(joining("old", client_id="taken"))
    blocker = asyncio.ensure_future(store.apply(joining("first")))
    await asyncio.sleep(0)
    # The same (sender, client_id) as a stored event: the database refuses that row, in the same batch as two
    # good changes.
    results = await asyncio.gather(store.apply(joining("a")), store.apply(joining("old", expected=MEMBER,
                                                                                     client_id="taken")),
                                   store.apply(joining("b")), return_exceptions=True)
    await blocker
    assert isinstance(results[1], StoreUnavailable)
    assert await store.standing("lobby", "a") == MEMBER and await store.standing("lobby", "b") == MEMBER
    seqs = sorted([results[0].event.seq, results[2].event.seq])  # type: ignore[union-attr]
    assert seqs == [3, 4]  # nothing of the failed change was kept: no gap
