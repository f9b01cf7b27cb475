"""The long-polling engine (transports/poll.py) on a real ChatService (fake store, in-process broker).

Each test plays one polling client against `Pollers` directly, with WebSocket-like sessions beside it, and
checks what the polls answer: every event after the cursor once, in order, whatever this node kept.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest

import parley.transports.poll as poll_module
from parley.auth import Bearer
from parley.broker.memory import MemoryBroker
from parley.config import Settings
from parley.service import ChatService
from parley.service.policy import Refused
from parley.store import RoomRecord, Standing, User
from parley.transports.connections import Connections
from parley.transports.poll import Answer, Pollers, RoomRefused
from tests.unit.fakes import FakeStore, eventually, settle
from tests.unit.test_session import Chat

pytestmark = pytest.mark.timeout(10)

ROOM = "lobby"
ALICE = Bearer("alice", 0, "", 0)  # what her token says


class Poller:
    """One polling client: its cursors, and every frame its polls were answered with."""

    def __init__(self, pollers: Pollers, user: str, key: str = "tab") -> None:
        self.pollers = pollers
        self.user = user
        self.key = key
        self.cursors: dict[str, int | None] = {}
        self.frames: list[dict[str, Any]] = []
        self.last: Answer | None = None

    async def poll(self, timeout: float = 0, **cursors: int | None) -> list[dict[str, Any]]:
        if cursors:
            self.cursors = dict(cursors)
        answer = await self.pollers.poll(Bearer(self.user, 0, "", 0), self.key, self.cursors, timeout)
        self.last = answer
        body = msgspec.json.decode(answer.encode())
        self.cursors = body["cursors"]
        self.frames += body["frames"]
        return body["frames"]

    def seqs(self, room: str = ROOM) -> list[int]:
        return [f["seq"] for f in self.frames if f.get("room") == room and "seq" in f and f["type"] != "ack"]


class PollChat(Chat):
    def __init__(self, service: ChatService, store: FakeStore, pollers: Pollers) -> None:
        super().__init__(service, store)
        self.pollers = pollers

    def poller(self, user: str, key: str = "tab") -> Poller:
        self.store.users.setdefault(user.lower(), User(id=len(self.store.users) + 1, name=user, password_hash="-"))
        self.service.accounts.remember(self.store.users[user.lower()])
        return Poller(self.pollers, user, key)


@pytest.fixture
async def chat() -> AsyncIterator[PollChat]:
    store = FakeStore()
    service = ChatService(Settings(rate=0, files="memory://"), store=store, broker=MemoryBroker())
    await service.start()
    pollers = Pollers(service, Connections(heartbeat=20))
    chat = PollChat(service, store, pollers)
    yield chat
    pollers.stop()
    for c in chat.clients:
        c.session.close()
    await settle()
    await service.stop()


def preload(store: FakeStore, n: int, room: str = ROOM) -> None:
    for _ in range(n):
        store.add(room, "carol")


async def test_first_poll_answers_joined_and_everything_after_the_cursor(chat: PollChat) -> None:
    preload(chat.store, 5)
    p = chat.poller("alice")
    frames = await p.poll(**{ROOM: 2})
    assert frames[0]["type"] == "joined" and frames[0]["last_seq"] == 5
    assert p.seqs() == [3, 4, 5] and p.cursors == {ROOM: 5}
    assert await p.poll() == [] and p.cursors == {ROOM: 5}  # nothing new: an empty answer, same cursors


async def test_from_now_on_answers_nothing_stored_before(chat: PollChat) -> None:
    preload(chat.store, 3)
    p = chat.poller("alice")
    frames = await p.poll(**{ROOM: None})
    assert [f["type"] for f in frames] == ["joined"] and p.cursors == {ROOM: 3}
    chat.store.add(ROOM, "bob")
    await chat.service.post_wait("bob", ROOM, "live", "c1")
    await p.poll(timeout=5)
    assert p.seqs() == [4, 5]  # seq 4 was never published: the hub's gap repair read it from the store


async def test_a_waiting_poll_wakes_on_a_live_message(chat: PollChat) -> None:
    p = chat.poller("alice")
    await p.poll(**{ROOM: 0})
    ws = chat.client("bob")
    await ws.join()
    await p.poll(timeout=5)  # bob's presence
    waiting = asyncio.ensure_future(p.poll(timeout=10))
    await settle()
    assert not waiting.done()
    ws.send(type="send", room=ROOM, text="hello", client_id="b1")
    frames = await asyncio.wait_for(waiting, 5)
    assert [(f["type"], f.get("text")) for f in frames if f["type"] == "message"] == [("message", "hello")]
    assert p.cursors == {ROOM: frames[-1]["seq"]}


async def test_typing_and_presence_reach_a_poller(chat: PollChat) -> None:
    p = chat.poller("alice")
    await p.poll(**{ROOM: 0})
    ws = chat.client("bob")
    await ws.join()
    await p.poll(timeout=5)
    assert ("presence", "bob", True) in [(f["type"], f.get("user"), f.get("online")) for f in p.frames]
    waiting = asyncio.ensure_future(p.poll(timeout=10))
    await settle()
    ws.send(type="typing", room=ROOM)
    assert [f["user"] for f in await asyncio.wait_for(waiting, 5) if f["type"] == "typing"] == ["bob"]
    assert "alice" in (await ws.next("joined"))["online"] or ("alice", True) in [
        (f["user"], f["online"]) for f in ws.sink.of("presence")]


async def test_events_the_client_got_elsewhere_are_not_answered_again(chat: PollChat) -> None:
    """Round robin: another node answered the last poll, so the cursor is ahead of what this node handed."""
    p = chat.poller("alice")
    await p.poll(**{ROOM: 0})
    for i in range(4):
        await chat.service.post_wait("bob", ROOM, f"m{i}", f"c{i}")
    await settle()
    frames = await p.poll(**{ROOM: 3})  # seqs 1-3 came from "another node"
    assert [f["seq"] for f in frames if f["type"] == "message"] == [4] and p.cursors == {ROOM: 4}


async def test_a_cursor_behind_what_was_handed_out_gets_the_events_again(chat: PollChat) -> None:
    """An answer lost on the way (a proxy dropped it): the client polls again with its old cursor."""
    p = chat.poller("alice")
    await p.poll(**{ROOM: 0})
    for i in range(3):
        await chat.service.post_wait("bob", ROOM, f"m{i}", f"c{i}")
    await p.poll(timeout=5)
    assert p.cursors == {ROOM: 3}
    again = await p.poll(timeout=5, **{ROOM: 1})
    assert [f["seq"] for f in again if f["type"] == "message"] == [2, 3] and p.cursors == {ROOM: 3}


async def test_a_room_far_behind_is_answered_in_pages_then_followed(chat: PollChat,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(poll_module, "MAX_EVENTS", 10)
    preload(chat.store, 35)
    p = chat.poller("alice")
    await p.poll(**{ROOM: 0})
    assert p.seqs() == list(range(1, 11)) and ROOM not in chat.service.sessions.of("alice")[0].rooms
    while p.cursors[ROOM] != 35:
        await p.poll(timeout=5)
    await p.poll()
    assert p.seqs() == list(range(1, 36))
    await chat.service.post_wait("bob", ROOM, "live", "c")
    await p.poll(timeout=5)
    assert p.seqs() == list(range(1, 37))


async def test_more_than_max_events_kept_are_answered_over_several_polls(chat: PollChat,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(poll_module, "MAX_EVENTS", 5)
    p = chat.poller("alice")
    await p.poll(**{ROOM: 0})
    for i in range(12):
        await chat.service.post_wait("bob", ROOM, f"m{i}", f"c{i}")
    await settle()
    counts = []
    while p.cursors[ROOM] != 12:
        counts.append(len([f for f in await p.poll(timeout=5) if f["type"] == "message"]))
    assert counts == [5, 5, 2] and p.seqs() == list(range(1, 13))


async def test_a_newer_poll_of_the_same_client_answers_the_older_one_empty(chat: PollChat) -> None:
    p = chat.poller("alice")
    await p.poll(**{ROOM: 0})
    older = asyncio.ensure_future(chat.pollers.poll(ALICE, "tab", {ROOM: 0}, 10))
    await settle()
    newer = asyncio.ensure_future(chat.pollers.poll(ALICE, "tab", {ROOM: 0}, 10))
    first = await asyncio.wait_for(older, 5)
    assert first.frames == [] and first.cursors == {ROOM: 0} and not newer.done()
    await chat.service.post_wait("bob", ROOM, "hi", "c")
    assert len((await asyncio.wait_for(newer, 5)).frames) == 1


async def test_a_room_the_user_may_not_read_refuses_the_whole_poll(chat: PollChat) -> None:
    chat.store.records["secret"] = RoomRecord(name="secret", visibility="private", topic="", last_seq=0)
    chat.store.standings[("secret", "alice")] = None
    p = chat.poller("alice")
    with pytest.raises(RoomRefused) as refused:
        await p.poll(**{ROOM: 0, "secret": 0})
    assert refused.value.room == "secret" and refused.value.refused.code.value == "not_found"
    assert chat.service.rooms_active == 0 and chat.service.sessions.of("alice") == []


async def test_a_removed_member_gets_removed_and_the_room_is_refused_after(chat: PollChat) -> None:
    chat.store.records["club"] = RoomRecord(name="club", visibility="private", topic="", last_seq=0)
    chat.store.standings[("club", "alice")] = Standing(state="member", role="member", muted=False)
    chat.store.standings[("club", "owner")] = Standing(state="member", role="owner", muted=False)
    p = chat.poller("alice")
    await p.poll(club=0)
    waiting = asyncio.ensure_future(p.poll(timeout=10))
    await settle()
    await chat.service.rooms.manage("owner", "club", "kick", "alice")
    frames = await asyncio.wait_for(waiting, 5)
    assert ("removed", "kicked") in [(f["type"], f.get("reason")) for f in frames]
    with pytest.raises(RoomRefused):
        await p.poll(club=p.cursors["club"])


async def test_leaving_a_room_out_of_the_poll_stops_following_it(chat: PollChat) -> None:
    ws = chat.client("bob")
    await ws.join()
    p = chat.poller("alice")
    await p.poll(**{ROOM: 0, "other": 0})
    await ws.next("presence")
    await p.poll(other=0)
    await eventually(lambda: ("alice", False) in [(f["user"], f["online"]) for f in ws.sink.of("presence")],
                     "alice offline in lobby")


async def test_ending_a_client_takes_its_presence_offline(chat: PollChat) -> None:
    ws = chat.client("bob")
    await ws.join()
    p = chat.poller("alice")
    await p.poll(**{ROOM: 0})
    assert chat.pollers.end("alice", "tab") and not chat.pollers.end("alice", "tab")
    await eventually(lambda: ("alice", False) in [(f["user"], f["online"]) for f in ws.sink.of("presence")],
                     "alice offline")


async def test_shutdown_answers_a_waiting_poll_with_closed(chat: PollChat) -> None:
    p = chat.poller("alice")
    await p.poll(**{ROOM: 0})
    waiting = asyncio.ensure_future(p.poll(timeout=10))
    await settle()
    chat.pollers.stop()
    await asyncio.wait_for(waiting, 5)
    assert p.last is not None
    answer = msgspec.json.decode(p.last.encode())
    assert answer["closed"] == {"code": 1001, "reason": "server shutting down", "reconnect": True}
    again = await chat.pollers.poll(ALICE, "tab", {ROOM: 0}, 10)  # polls during shutdown answer at once
    assert again.closed is not None and again.frames == []


async def test_too_much_kept_ends_the_client_and_the_next_poll_starts_from_its_cursor(chat: PollChat) -> None:
    chat.service.settings.max_pending = 2000
    p = chat.poller("alice")
    await p.poll(**{ROOM: 0})
    for i in range(30):
        await chat.service.post_wait("bob", ROOM, f"message number {i} " + "x" * 50, f"c{i}")
    await settle()
    answer = await chat.pollers.poll(ALICE, "tab", dict(p.cursors), 0)
    assert answer.closed is not None and answer.closed.code == 4408  # a slow consumer, asked to reconnect
    while p.cursors[ROOM] != 30:
        await p.poll(timeout=5)
    assert p.seqs() == list(range(1, 31))


async def test_a_user_holds_a_bounded_number_of_clients(chat: PollChat) -> None:
    for i in range(poll_module.MAX_CLIENTS):
        await chat.poller("alice", f"tab{i}").poll(**{ROOM: 0})
    with pytest.raises(Refused) as refused:
        await chat.poller("alice", "one-more").poll(**{ROOM: 0})
    assert refused.value.code.value == "rate_limited"
    await chat.poller("bob", "tab0").poll(**{ROOM: 0})  # others are not affected


async def test_a_retried_poll_gets_what_a_lost_answer_held_even_with_newer_events_kept(chat: PollChat) -> None:
    """The answer with seqs 1-3 was lost; 4-5 arrived and were kept; the retry with the old cursor gets 1-5
    once, in order (what was kept for the old following is dropped, the new one replays from the cursor)."""
    p = chat.poller("alice")
    await p.poll(**{ROOM: 0})
    for i in range(3):
        await chat.service.post_wait("bob", ROOM, f"m{i}", f"a{i}")
    await p.poll(timeout=5)
    assert p.cursors == {ROOM: 3}
    for i in range(2):
        await chat.service.post_wait("bob", ROOM, f"n{i}", f"b{i}")
    await settle()
    retry = await p.poll(timeout=5, **{ROOM: 0})
    assert [f["seq"] for f in retry if f["type"] == "message"] == [1, 2, 3, 4, 5] and p.cursors == {ROOM: 5}


async def test_far_behind_rooms_share_one_budget_per_answer(chat: PollChat, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(poll_module, "MAX_EVENTS", 10)
    preload(chat.store, 15, "a")
    preload(chat.store, 15, "b")
    p = chat.poller("alice")
    frames = await p.poll(a=0, b=0)
    assert len([f for f in frames if f["type"] == "message"]) == 10  # not 10 per room
    while p.cursors != {"a": 15, "b": 15}:
        await p.poll(timeout=5)
    assert p.seqs("a") == list(range(1, 16)) and p.seqs("b") == list(range(1, 16))
