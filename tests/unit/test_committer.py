"""Group commit (store/committer.py) against the fake store: batching, failures, callbacks, stop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from parley.store import NewEvent, Saved, StoreRejected, StoreUnavailable
from parley.store.committer import Done, GroupCommitter
from tests.unit.fakes import FakeStore, eventually, settle

pytestmark = pytest.mark.timeout(5)

ROOM = "lobby"

Outcome = tuple[str, Saved | None, Exception | None]


def new(n: int, room: str = ROOM, sender: str = "alice") -> NewEvent:
    return NewEvent(room=room, sender=sender, text=f"t{n}", client_id=f"c{n}")


class Results:
    """done callbacks that record (name, saved, error) in call order."""

    def __init__(self) -> None:
        self.calls: list[Outcome] = []

    def done(self, name: str) -> Done:
        def done(saved: Saved | None, error: Exception | None) -> None:
            self.calls.append((name, saved, error))

        return done

    def seqs(self) -> list[tuple[str, int | None]]:
        return [(name, saved.event.seq if saved else None) for name, saved, _ in self.calls]


@pytest.fixture
async def store() -> FakeStore:
    return FakeStore()


@pytest.fixture
async def committer(store: FakeStore) -> AsyncIterator[GroupCommitter]:
    c = GroupCommitter(store)
    c.start()
    yield c
    for gate in store.gates.values():
        gate.release()
    await c.stop()


def batch_ids(store: FakeStore) -> list[list[str]]:
    return [[e.client_id for e in batch] for batch in store.batches]


async def test_items_submitted_during_a_save_go_in_the_next_single_batch(store: FakeStore,
                                                                        committer: GroupCommitter) -> None:
    r = Results()
    gate = store.block("save_events")
    committer.submit(new(1), r.done("1"))
    await gate.reached()  # the first transaction is in flight
    for n in (2, 3, 4):
        committer.submit(new(n), r.done(str(n)))
    committer.submit(new(5, room="other"), r.done("5"))
    await settle()
    assert r.calls == []
    gate.release()
    await eventually(lambda: len(r.calls) == 5)
    assert batch_ids(store) == [["c1"], ["c2", "c3", "c4", "c5"]]
    assert r.seqs() == [("1", 1), ("2", 2), ("3", 3), ("4", 4), ("5", 1)]
    assert all(saved is not None and not saved.duplicate and err is None for _, saved, err in r.calls)
    assert committer.batches == 2 and committer.stored == 5


async def test_max_batch_splits_what_is_queued(store: FakeStore) -> None:
    committer = GroupCommitter(store, max_batch=2)
    committer.start()
    r = Results()
    for n in range(1, 6):
        committer.submit(new(n), r.done(str(n)))
    await eventually(lambda: len(r.calls) == 5)
    await committer.stop()
    assert batch_ids(store) == [["c1", "c2"], ["c3", "c4"], ["c5"]]
    assert [seq for _, seq in r.seqs()] == [1, 2, 3, 4, 5]


async def test_duplicates_in_and_across_batches(store: FakeStore, committer: GroupCommitter) -> None:
    r = Results()
    committer.submit(new(1), r.done("a"))
    committer.submit(new(1), r.done("b"))  # the same (sender, client_id) in the same batch
    await eventually(lambda: len(r.calls) == 2)
    committer.submit(new(1), r.done("c"))  # and in a later one
    await eventually(lambda: len(r.calls) == 3)
    assert [(name, s.event.seq, s.duplicate) for name, s, _ in r.calls if s] == [("a", 1, False), ("b", 1, True),
                                                                              ("c", 1, True)]
    assert store.seqs(ROOM) == [1]


async def test_store_unavailable_fails_every_item_and_the_next_batch_works(store: FakeStore,
                                                                          committer: GroupCommitter) -> None:
    r = Results()
    store.down = True
    for n in (1, 2, 3):
        committer.submit(new(n), r.done(str(n)))
    await eventually(lambda: len(r.calls) == 3)
    assert [name for name, _, _ in r.calls] == ["1", "2", "3"]
    assert all(saved is None and isinstance(err, StoreUnavailable) for _, saved, err in r.calls)
    assert store.seqs(ROOM) == [] and committer.stored == 0
    store.down = False
    committer.submit(new(4), r.done("4"))
    await eventually(lambda: len(r.calls) == 4)
    assert r.seqs()[-1] == ("4", 1)
    assert committer.stored == 1


async def test_other_store_errors_fail_the_batch_too(store: FakeStore, committer: GroupCommitter) -> None:
    r = Results()

    async def broken(batch: list[NewEvent]) -> list[Saved]:
        raise RuntimeError("bug in the store")

    real = store.save_events
    store.save_events = broken  # type: ignore[method-assign]
    committer.submit(new(1), r.done("1"))
    await eventually(lambda: len(r.calls) == 1)
    assert isinstance(r.calls[0][2], RuntimeError)
    store.save_events = real  # type: ignore[method-assign]
    committer.submit(new(2), r.done("2"))
    await eventually(lambda: len(r.calls) == 2)
    assert r.seqs()[-1] == ("2", 1)


async def test_a_row_the_store_refuses_fails_alone_and_the_rest_of_its_batch_is_stored(
        store: FakeStore, committer: GroupCommitter) -> None:
    r = Results()
    real = store.save_events

    async def picky(batch: list[NewEvent]) -> list[Saved]:
        if any("\x00" in e.text for e in batch):
            raise StoreRejected("DataError: invalid byte sequence for encoding UTF8: 0x00")
        return await real(batch)

    store.save_events = picky  # type: ignore[method-assign]
    gate = store.block("save_events")
    committer.submit(new(0), r.done("0"))  # holds the writer, so the next five are one batch
    await gate.reached()
    for n in (1, 2, 3, 4, 5):
        committer.submit(NewEvent(room=ROOM, sender="alice", text="bad\x00" if n == 3 else f"t{n}",
                                  client_id=f"c{n}"), r.done(str(n)))
    gate.release()
    await eventually(lambda: len(r.calls) == 6)
    assert r.seqs() == [("0", 1), ("1", 2), ("2", 3), ("3", None), ("4", 4), ("5", 5)]
    assert isinstance(r.calls[3][2], StoreRejected)
    assert store.seqs(ROOM) == [1, 2, 3, 4, 5]


async def test_a_raising_done_does_not_stop_the_others(store: FakeStore, committer: GroupCommitter) -> None:
    r = Results()

    def bad(saved: Saved | None, error: Exception | None) -> None:
        raise ValueError("callback bug")

    committer.submit(new(1), r.done("1"))
    committer.submit(new(2), bad)
    committer.submit(new(3), r.done("3"))
    await eventually(lambda: len(r.calls) == 2)
    assert r.seqs() == [("1", 1), ("3", 3)]
    committer.submit(new(4), r.done("4"))  # the writer is still running
    await eventually(lambda: len(r.calls) == 3)
    assert r.seqs()[-1] == ("4", 4)


async def test_a_raising_done_on_a_failed_batch_does_not_stop_the_others(store: FakeStore) -> None:
    committer = GroupCommitter(store)
    committer.start()
    r = Results()

    def bad(saved: Saved | None, error: Exception | None) -> None:
        raise ValueError("callback bug")

    store.down = True
    committer.submit(new(1), bad)
    committer.submit(new(2), r.done("2"))
    await settle()
    store.down = False
    committer.submit(new(3), r.done("3"))
    try:
        await eventually(lambda: len(r.calls) == 2, "both answers", timeout=0.2)
        assert r.calls[0][0] == "2" and isinstance(r.calls[0][2], StoreUnavailable)
        assert r.seqs()[1] == ("3", 1)
    finally:
        task = committer._task
        if task is not None and task.done() and not task.cancelled():
            task.exception()  # the writer died: retrieve its error (no "never retrieved" warning)
        elif task is not None:
            await committer.stop()


async def test_stop_stores_what_is_queued(store: FakeStore) -> None:
    committer = GroupCommitter(store)
    committer.start()
    r = Results()
    for n in (1, 2, 3):
        committer.submit(new(n), r.done(str(n)))
    await committer.stop()  # the writer has not even run yet
    assert r.seqs() == [("1", 1), ("2", 2), ("3", 3)]
    assert store.seqs(ROOM) == [1, 2, 3]


async def test_stop_during_a_save_stores_the_rest_too(store: FakeStore) -> None:
    committer = GroupCommitter(store)
    committer.start()
    r = Results()
    gate = store.block("save_events")
    committer.submit(new(1), r.done("1"))
    await gate.reached()
    committer.submit(new(2), r.done("2"))
    stopping = asyncio.ensure_future(committer.stop())
    await settle()
    assert not stopping.done()
    committer.submit(new(3), r.done("3"))  # queued before the writer finished: stored as well
    gate.release()
    await stopping
    assert r.seqs() == [("1", 1), ("2", 2), ("3", 3)]
    assert batch_ids(store) == [["c1"], ["c2", "c3"]]


async def test_stop_with_nothing_queued_and_restart(store: FakeStore) -> None:
    committer = GroupCommitter(store)
    committer.start()
    await settle()
    await committer.stop()
    assert store.batches == []
    committer.start()
    r = Results()
    committer.submit(new(1), r.done("1"))
    await committer.stop()
    assert r.seqs() == [("1", 1)]


async def test_a_hung_store_refuses_what_waits_behind_the_batch_in_flight(
        store: FakeStore, committer: GroupCommitter, monkeypatch: pytest.MonkeyPatch) -> None:
    """A link that neither answers nor resets: the batch in flight waits for the store's own timeout, but
    what queues behind it is answered `unavailable` after STALL_AFTER instead of waiting too."""
    import parley.store.committer as committer_module

    monkeypatch.setattr(committer_module, "STALL_AFTER", 0.05)
    r = Results()
    gate = store.block("save_events")
    committer.submit(new(1), r.done("1"))
    await gate.reached()
    committer.submit(new(2), r.done("2"))  # queued behind the hung batch
    await eventually(lambda: len(r.calls) == 1)
    assert r.calls[0][0] == "2" and isinstance(r.calls[0][2], StoreUnavailable)
    committer.submit(new(3), r.done("3"))  # refused at once while it still hangs
    assert r.calls[-1][0] == "3" and isinstance(r.calls[-1][2], StoreUnavailable)
    gate.release()
    await eventually(lambda: len(r.calls) == 3)
    assert r.seqs()[-1] == ("1", 1)
    committer.submit(new(4), r.done("4"))  # the store answers again: back to normal
    await eventually(lambda: len(r.calls) == 4)
    assert r.seqs()[-1] == ("4", 2) and store.seqs(ROOM) == [1, 2]
