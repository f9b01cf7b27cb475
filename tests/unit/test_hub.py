"""The hub in-process: fan-out order, duplicates, gap repair from the store, joiners, leave, align, resync.

Every assertion is about what a member is handed (pushed frames, backlog events); the store is
tests/unit/fakes.FakeStore, races are staged with its gates.
"""

from __future__ import annotations

import pytest

import parley.hub.repair
from parley.hub import Hub
from parley.protocol import Outbound, encode
from parley.protocol.events import RoomEvent
from tests.unit.fakes import FakeMember, FakeStore, eventually, message, settle

pytestmark = pytest.mark.timeout(5)

ROOM = "lobby"


def members(hub: Hub, *users: str, room: str = ROOM) -> list[FakeMember]:
    """Caught-up members (joined and activated) of `room`, one per user."""
    out = []
    for user in users:
        m = FakeMember(user)
        hub.join(m, room)
        hub.activate(m, room)
        out.append(m)
    return out


def stored(store: FakeStore, n: int, room: str = ROOM) -> list[RoomEvent]:
    return [store.add(room) for _ in range(n)]


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parley.hub.repair, "FILL_RETRY", (0.001, 0.004))


# fan-out ----------------------------------------------------------------------------------------


async def test_fan_out_in_order_to_every_member_once() -> None:
    store = FakeStore()
    hub = Hub(store)
    a, b, c = members(hub, "a", "b", "c")
    events = stored(store, 3)
    for e in events:
        hub.deliver_event(e)
    await settle()
    for m in (a, b, c):
        assert m.seqs() == [1, 2, 3]
        assert m.backlogged == []
    # encoded once: every member is handed the same bytes object
    msgs = [[o for o in m.pushed if b'"message"' in o.data] for m in (a, b, c)]
    assert all(x is y is z for x, y, z in zip(*msgs, strict=True))
    assert store.calls["events_after"] == 0  # nothing needed the store


async def test_broker_bytes_are_passed_through_and_decoded_when_needed() -> None:
    hub = Hub(FakeStore())
    (a,) = members(hub, "a")
    e1, e2 = message(ROOM, 1), message(ROOM, 2)
    data = encode(e1)
    hub.on_event(ROOM, data, e1)
    hub.on_event(ROOM, encode(e2))  # from another node: decoded here
    hub.on_event("elsewhere", b"not json")  # no members here: not even decoded
    assert a.pushed[-2].data is data
    assert a.seqs() == [1, 2]
    assert a.frames("message")[1] == {"type": "message", "room": ROOM, "seq": 2, "from": "bob", "text": "m2",
                                      "ts": 1002, "client_id": "c2"}


async def test_duplicates_are_dropped() -> None:
    store = FakeStore()
    hub = Hub(store)
    a, b = members(hub, "a", "b")
    e1, e2, e3 = stored(store, 3)
    for e in (e1, e2, e2, e1, e3, e3, e2):
        hub.deliver_event(e)
    await settle()
    assert a.seqs() == b.seqs() == [1, 2, 3]
    assert store.calls["events_after"] == 0


async def test_early_event_is_held_and_the_gap_filled_from_the_store() -> None:
    store = FakeStore()
    hub = Hub(store)
    a, b = members(hub, "a", "b")
    e1, e2, e3 = stored(store, 3)
    hub.deliver_event(e1)
    gate = store.block("events_after")
    hub.deliver_event(e3)  # 2 is missing: 3 is held, 2 is fetched
    await gate.reached()
    assert a.seqs() == b.seqs() == [1]
    hub.deliver_event(e2)  # the live copy of 2 arrives while the store is being read: held too
    assert a.seqs() == [1]
    gate.release()
    await eventually(lambda: a.seqs() == [1, 2, 3], "the gap filled")
    hub.deliver_event(e2)  # late copies of what was filled: dropped
    hub.deliver_event(e3)
    e4 = store.add(ROOM)
    hub.deliver_event(e4)  # and live delivery goes on directly
    await settle()
    assert a.seqs() == b.seqs() == [1, 2, 3, 4]


async def test_fill_retries_while_the_store_is_down_and_holds_live_events() -> None:
    store = FakeStore()
    hub = Hub(store)
    a, b = members(hub, "a", "b")
    e1, _, e3, e4 = stored(store, 4)
    hub.deliver_event(e1)
    store.down = True
    hub.deliver_event(e3)
    await eventually(lambda: store.calls["events_after"] >= 3, "the fill to retry")
    hub.deliver_event(e4)  # live, but behind the fill: held
    await settle()
    assert a.seqs() == b.seqs() == [1]
    store.down = False
    await eventually(lambda: a.seqs() == [1, 2, 3, 4], "the fill to succeed once the store is back")
    e5 = store.add(ROOM)
    hub.deliver_event(e5)  # the fill is over: live delivery resumes at once
    assert a.seqs() == b.seqs() == [1, 2, 3, 4, 5]


async def test_without_a_store_a_gap_is_delivered_as_is() -> None:
    hub = Hub(None)
    (a,) = members(hub, "a")
    hub.deliver_event(message(ROOM, 1))
    hub.deliver_event(message(ROOM, 3))
    hub.deliver_event(message(ROOM, 2))  # behind what was delivered: dropped
    assert a.seqs() == [1, 3]


# joiners ----------------------------------------------------------------------------------------


async def test_syncing_joiner_gets_backlog_not_push_until_activated() -> None:
    hub = Hub(FakeStore())
    (a,) = members(hub, "a")
    j = FakeMember("j")
    hub.join(j, ROOM)
    e1, e2 = message(ROOM, 1), message(ROOM, 2)
    hub.deliver_event(e1)
    assert j.seqs() == []
    assert j.backlogged[0][0] == ROOM and j.backlogged[0][1] is e1
    assert j.backlogged[0][2] is a.pushed[-1]  # the same encoded frame
    hub.activate(j, ROOM)
    hub.deliver_event(e2)
    assert j.seqs() == [2] and j.backlog_seqs() == [1]
    assert a.seqs() == [1, 2]


class ActivatesInBacklog(FakeMember):
    """A joiner that finishes catching up when handed a live event (as a session could)."""

    def __init__(self, user: str, hub: Hub) -> None:
        super().__init__(user)
        self.hub = hub

    def backlog(self, room: str, event: RoomEvent, out: Outbound) -> None:
        super().backlog(room, event, out)
        self.hub.activate(self, room)


async def test_joiner_activating_during_fan_out_does_not_break_it() -> None:
    hub = Hub(FakeStore())
    (a,) = members(hub, "a")
    j1, j2 = ActivatesInBacklog("j1", hub), ActivatesInBacklog("j2", hub)
    plain = FakeMember("j3")
    for j in (j1, j2, plain):
        hub.join(j, ROOM)
    hub.deliver_event(message(ROOM, 1))
    for j in (j1, j2, plain):  # each got 1 exactly once, through its backlog
        assert j.backlog_seqs() == [1] and j.seqs() == []
    hub.deliver_event(message(ROOM, 2))
    assert j1.seqs() == j2.seqs() == [2]
    assert plain.seqs() == [] and plain.backlog_seqs() == [1, 2]
    assert a.seqs() == [1, 2]


async def test_presence_on_join_and_leave_and_last_leave_removes_the_room() -> None:
    hub = Hub(FakeStore())
    a = FakeMember("a")
    hub.join(a, ROOM)
    b1, b2 = FakeMember("b"), FakeMember("b")
    hub.join(b1, ROOM)
    hub.join(b2, ROOM)  # the same user again: no second "online"
    assert a.presence() == [("b", True)]
    assert b1.presence() == [] and b2.presence() == []  # no frame about yourself
    assert hub.online(ROOM) == ["a", "b"]
    hub.leave(b1, ROOM)  # b is still there through b2
    assert a.presence() == [("b", True)]
    hub.leave(b2, ROOM)
    assert a.presence() == [("b", True), ("b", False)]
    assert hub.online(ROOM) == ["a"]
    hub.leave(a, ROOM)
    assert ROOM not in hub.rooms
    assert hub.online(ROOM) == [] and hub.delivered_seq(ROOM) == 0
    hub.leave(a, ROOM)  # leaving again is harmless
    hub.deliver_event(message(ROOM, 1))  # nobody here: nothing to do
    assert a.seqs() == []


async def test_leave_stops_delivery_and_rejoin_starts_afresh() -> None:
    hub = Hub(FakeStore())
    a, b = members(hub, "a", "b")
    hub.deliver_event(message(ROOM, 1))
    hub.leave(b, ROOM)
    hub.deliver_event(message(ROOM, 2))
    assert b.seqs() == [1] and a.seqs() == [1, 2]
    hub.join(a, ROOM)  # joining again while a member: catching up afresh, no presence change
    hub.deliver_event(message(ROOM, 3))
    assert a.seqs() == [1, 2] and a.backlog_seqs() == [3]
    assert b.presence() == [] and a.presence() == [("b", True), ("b", False)]  # nothing about the rejoin


async def test_a_fill_outliving_its_room_hands_held_events_to_the_next_one() -> None:
    store = FakeStore()
    events = stored(store, 4)
    hub = Hub(store)
    (a,) = members(hub, "a")
    hub.deliver_event(events[0])
    gate = store.block("events_after")
    hub.deliver_event(events[2])  # gap: 3 held, 2 asked of the store
    await gate.reached()
    hub.leave(a, ROOM)  # the room empties while the fill waits
    j = FakeMember("j")
    hub.join(j, ROOM)  # and is joined afresh
    hub.deliver_event(events[3])
    gate.release()
    await eventually(lambda: j.backlog_seqs() == [3, 4], "the held events, in order, for the new joiner")
    await settle()
    assert a.seqs() == [1] and j.seqs() == []


# align ------------------------------------------------------------------------------------------


async def test_align_without_members_continues_from_the_replay() -> None:
    store = FakeStore()
    events = stored(store, 7)
    hub = Hub(store)
    assert await hub.align(ROOM, 5) == 5  # no such room here: nothing to line up
    j = FakeMember("j")
    hub.join(j, ROOM)
    assert await hub.align(ROOM, 5) == 5
    assert hub.delivered_seq(ROOM) == 5
    assert store.calls["events_after"] == 0
    hub.deliver_event(events[4])  # seq 5: the replay had it
    assert j.backlog_seqs() == []
    gate = store.block("events_after")
    hub.deliver_event(events[6])  # seq 7 skips 6: held while 6 is fetched
    await gate.reached()
    assert j.backlog_seqs() == []
    gate.release()
    await eventually(lambda: j.backlog_seqs() == [6, 7], "6 fetched, then 7")


async def test_align_with_members_brings_them_up_to_the_replay() -> None:
    store = FakeStore()
    events = stored(store, 5)
    hub = Hub(store)
    (a,) = members(hub, "a")
    hub.deliver_event(events[0])
    hub.deliver_event(events[1])
    j = FakeMember("j")
    hub.join(j, ROOM)
    # the joiner replayed up to 5 while live delivery here is at 2 (3..5 stored, not yet published)
    assert await hub.align(ROOM, 5) == 5
    assert a.seqs() == [1, 2, 3, 4, 5]
    assert j.backlog_seqs() == [3, 4, 5]
    for e in events[2:]:  # published late: already delivered
        hub.deliver_event(e)
    assert a.seqs() == [1, 2, 3, 4, 5]


async def test_align_when_live_delivery_is_ahead_returns_where_it_stands() -> None:
    hub = Hub(FakeStore())
    members(hub, "a")
    for seq in (1, 2, 3):
        hub.deliver_event(message(ROOM, seq))
    j = FakeMember("j")
    hub.join(j, ROOM)
    assert await hub.align(ROOM, 2) == 3


# on_head / resync --------------------------------------------------------------------------------


async def test_on_head_delivers_what_the_store_has_beyond_what_was_delivered() -> None:
    store = FakeStore()
    events = stored(store, 4)
    hub = Hub(store)
    a, b = members(hub, "a", "b")
    hub.deliver_event(events[0])
    hub.deliver_event(events[1])  # 3 and 4 never published
    hub.on_head(ROOM, 4)
    await eventually(lambda: a.seqs() == [1, 2, 3, 4], "3 and 4 from the store")
    assert b.seqs() == [1, 2, 3, 4]
    hub.on_head(ROOM, 3)  # behind: nothing to do
    hub.on_head("unknown", 9)
    await settle()
    assert a.seqs() == [1, 2, 3, 4]


async def test_live_events_wait_behind_a_sync() -> None:
    store = FakeStore()
    events = stored(store, 4)
    hub = Hub(store)
    (a,) = members(hub, "a")
    hub.deliver_event(events[0])
    gate = store.block("events_after")
    hub.on_head(ROOM, 3)
    await gate.reached()
    hub.deliver_event(events[3])  # 4 arrives live while 2..3 are being read
    assert a.seqs() == [1]
    gate.release()
    await eventually(lambda: a.seqs() == [1, 2, 3, 4], "2, 3 from the store, then 4")


async def test_resync_fetches_missed_events_of_rooms_with_members() -> None:
    store = FakeStore()
    hub = Hub(store)
    (a,) = members(hub, "a")
    (c,) = members(hub, "c", room="quiet")
    j = FakeMember("j")
    hub.join(j, "syncing-only")
    e1 = store.add(ROOM)
    hub.deliver_event(e1)
    stored(store, 2)  # 2, 3 lost on the way (e.g. the broker was down)
    stored(store, 1, room="syncing-only")
    assert await hub.resync() == 1
    await eventually(lambda: a.seqs() == [1, 2, 3], "2, 3 from the store")
    assert c.seqs() == [] and j.backlog_seqs() == []  # nothing to fetch; not a caught-up member
    assert await hub.resync() == 0
    store.down = True
    assert await hub.resync() == 0  # logged, tried again later; no exception


async def test_on_connected_and_on_tick_resync() -> None:
    store = FakeStore()
    hub = Hub(store)
    (a,) = members(hub, "a")
    hub.deliver_event(store.add(ROOM))
    store.add(ROOM)
    await hub.on_connected()
    await eventually(lambda: a.seqs() == [1, 2])
    store.add(ROOM)
    await hub.on_tick()
    await eventually(lambda: a.seqs() == [1, 2, 3])


# found while writing these ------------------------------------------------------------------------


async def test_fill_with_store_lagging_delivers_held_events_in_order() -> None:
    store = FakeStore()
    hub = Hub(store)
    (a,) = members(hub, "a")
    hub.deliver_event(message(ROOM, 1))  # the store has nothing (a lagging replica, a lost write, ...)
    gate = store.block("events_after")
    hub.deliver_event(message(ROOM, 4))  # gap: held, 2..3 asked of the store
    await gate.reached()
    hub.deliver_event(message(ROOM, 6))  # two nodes' events cross on the way
    hub.deliver_event(message(ROOM, 5))
    gate.release()
    await eventually(lambda: a.seqs()[-1:] == [6], "the held events to be delivered")
    await settle()
    assert a.seqs() == [1, 4, 5, 6]


async def test_presence_in_a_large_room_goes_out_in_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past PRESENCE_BATCH_ABOVE users, a burst of joins and leaves reaches each member as a few batches, each
    user's latest state once; a small room keeps one `presence` frame per change."""
    import parley.hub.hub as hub_module

    monkeypatch.setattr(hub_module, "PRESENCE_BATCH_EVERY", 0.05)
    hub = Hub(FakeStore())
    crowd = members(hub, *[f"u{i:03d}" for i in range(hub_module.PRESENCE_BATCH_ABOVE + 1)])
    first = crowd[0]
    room = hub.rooms[ROOM]
    await eventually(lambda: room.presence_timer is None)  # the last joins of the crowd already went out
    first.pushed.clear()

    late = members(hub, *[f"late{i}" for i in range(30)])
    hub.leave(late[0], ROOM)  # online then offline within the burst: its latest state is what is sent
    assert first.frames("presence") == []  # nothing one by one
    await eventually(lambda: len(first.frames("presence_batch")) == 1)
    (batch,) = first.frames("presence_batch")
    assert batch["online"] == sorted(f"late{i}" for i in range(1, 30)) and batch["offline"] == ["late0"]

    # Changes soon after wait for the next batch (one every PRESENCE_BATCH_EVERY), still never one by one.
    members(hub, "later")
    hub.leave(late[1], ROOM)
    await settle()
    assert len(first.frames("presence_batch")) == 1 and first.frames("presence") == []
    await eventually(lambda: len(first.frames("presence_batch")) == 2)
    assert first.frames("presence_batch")[1] == {"type": "presence_batch", "room": ROOM, "online": ["later"],
                                                 "offline": ["late1"]}

    # A small room: one frame per change, at once.
    small = members(hub, "ann", "bob", room="small")
    assert small[0].presence() == [("bob", True)]
