"""Long-polling `GET /api/poll` and `POST /api/poll` as a client sees them (docs/protocol.md, section 4).

A poller (plain HTTP requests, no WebSocket) and WebSocket clients share rooms: each gets the other's
messages once and in seq order, the poller's cursors advancing; resuming from an old cursor (messages and
membership events, at most 1000 events an answer, live events arriving while far behind), polling again
after a lost answer, `room` without a seq ("from now on"), adding and dropping rooms; waiting, waking and
timeout=0; presence (online while polling, offline two to three heartbeats after the last poll, or at once
with DELETE) and typing both ways; `membership` for an invitation; a second poll of the same client
answering the first; every kind of bad input (400, and the server answers good polls afterwards), 401,
404 for rooms the user may not read (answered like a name never used), 403 for invited or banned, naming a
public room joining it, `removed` and then 404 for a kicked user, 429 for an 11th polling client; a
revoked token (`closed` 4401) and a server shutdown (SIGTERM) under a waiting poll, resuming after the
restart with nothing lost; CORS for --allowed-origin.

Every server is a real `parley serve` (tests/support.py), on SQLite and on PostgreSQL (tests/conftest.py).
The poller's helper checks every 200 answer against the contract: `frames` and `cursors` (one per room
polled), at most 1000 room events, and for each room the events are exactly the seqs after the cursor up
to the new cursor, in order.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import AsyncIterator, Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from yarl import URL

from tests.access_support import (
    Connections,
    api,
    create_room,
    join_ok,
    manage_ok,
    masked,
    post_ok,
)
from tests.support import PASSWORD, ServerProcess, http, register, send_all, unique

SHARED_SERVER_FLAGS = ("--max-rooms", "100")  # the room limit of a poll (1000 by default), small enough to reach

ROOM_EVENTS = ("message", "member", "topic")  # frames that take a seq in the room log
MAX_EVENTS = 1000  # per answer
SEQ_MAX = 2**63 - 1
_TOKEN = object()  # "the poller's own token"


# --- a polling client ----------------------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    body: Any  # decoded JSON, or the text when it is not JSON
    headers: Any  # the response's headers (case-insensitive)

    @property
    def error(self) -> Any:
        return self.body.get("error") if isinstance(self.body, dict) else self.body


def rooms_param(cursors: dict[str, int | None]) -> str:
    """`general:42,dev:17,news` (a room without a seq: from now on)."""
    return ",".join(room if seq is None else f"{room}:{seq}" for room, seq in cursors.items())


def room_events(frames: list[dict[str, Any]], room: str | None = None) -> list[dict[str, Any]]:
    return [f for f in frames if f.get("type") in ROOM_EVENTS and (room is None or f.get("room") == room)]


def check_answer(before: dict[str, int | None], body: Any) -> None:
    """What every 200 answer to a poll with cursors `before` must be (docs/protocol.md, section 4)."""
    assert isinstance(body, dict) and isinstance(body.get("frames"), list) and isinstance(body.get("cursors"), dict), \
        body
    assert set(body["cursors"]) == set(before), f"cursors {body['cursors']} for a poll of {before}"
    events = room_events(body["frames"])
    assert len(events) <= MAX_EVENTS, f"{len(events)} events in one answer"
    for room, old in before.items():
        new = body["cursors"][room]
        assert isinstance(new, int) and not isinstance(new, bool), body["cursors"]
        seqs = [f["seq"] for f in events if f["room"] == room]
        if old is None:  # from now on: whatever came is contiguous up to the cursor
            assert not seqs or seqs == list(range(seqs[0], new + 1)), (room, seqs, new)
        else:
            assert new >= old, f"cursor of {room} went back from {old} to {new}"
            assert seqs == list(range(old + 1, new + 1)), f"{room}: after {old}, cursor {new}, events {seqs}"


class Poller:
    """One polling client (one `client` id) of one user: it keeps its cursors and every frame it received.

    `poll()` polls with the current cursors, checks the answer (check_answer) and moves the cursors on.
    """

    def __init__(self, session: aiohttp.ClientSession, base: str, token: str, client: str | None = None) -> None:
        self.session, self.base, self.token = session, base, token
        self.client = client or unique("tab-")
        self.cursors: dict[str, int | None] = {}
        self.frames: list[dict[str, Any]] = []
        self.answers: list[dict[str, Any]] = []

    def follow(self, room: str, seq: int | None = None) -> Poller:
        self.cursors[room] = seq
        return self

    async def request(self, method: str, path: str, query: str = "", body: Any = None, raw: bytes | None = None,
                      token: Any = _TOKEN, headers: dict[str, str] | None = None, wait: float = 60) -> Answer:
        """One HTTP request; `query` is sent exactly as given (already encoded)."""
        url = URL(self.base + path + (f"?{query}" if query else ""), encoded=True)
        h: dict[str, str] = {}
        token = self.token if token is _TOKEN else token
        if token:
            h["Authorization"] = f"Bearer {token}"
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        if data is not None:
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        async with self.session.request(method, url, data=data, headers=h,
                                        timeout=aiohttp.ClientTimeout(total=wait)) as r:
            text = await r.text(errors="replace")
            try:
                payload: Any = json.loads(text)
            except ValueError:
                payload = text
            return Answer(r.status, payload, r.headers)

    async def get(self, rooms: dict[str, int | None] | str, timeout: int | None = 0, client: str | None = None,
                  wait: float | None = None, **kwargs: Any) -> Answer:
        """GET /api/poll (timeout None: the default, left out of the query)."""
        query = "rooms=" + (rooms if isinstance(rooms, str) else rooms_param(rooms))
        if timeout is not None:
            query += f"&timeout={timeout}"
        query += f"&client={client or self.client}"
        return await self.request("GET", "/api/poll", query, wait=wait or (timeout or 25) + 20, **kwargs)

    async def post_poll(self, body: Any, wait: float = 60, **kwargs: Any) -> Answer:
        return await self.request("POST", "/api/poll", body=body, wait=wait, **kwargs)

    def _took(self, before: dict[str, int | None], answer: Answer) -> dict[str, Any]:
        assert answer.status == 200, (answer.status, answer.body)
        check_answer(before, answer.body)
        self.cursors.update(answer.body["cursors"])
        self.frames += answer.body["frames"]
        self.answers.append(answer.body)
        return answer.body

    async def poll(self, timeout: int = 0, wait: float | None = None) -> dict[str, Any]:
        """Poll with the current cursors; the checked answer's body."""
        before = dict(self.cursors)
        return self._took(before, await self.get(before, timeout, wait=wait))

    async def poll_until(self, wanted: Callable[[list[dict[str, Any]]], bool], within: float = 30,
                         timeout: int = 25) -> list[dict[str, Any]]:
        """Poll again and again (as a client does: at once, with the new cursors) until `wanted` accepts the
        frames received by these polls; those frames."""
        got: list[dict[str, Any]] = []
        deadline = time.monotonic() + within
        while not wanted(got):
            assert time.monotonic() < deadline, f"not there after {within} s; got {got}"
            got += (await self.poll(timeout))["frames"]
        return got

    async def messages_until(self, room: str, n: int, within: float = 30) -> list[dict[str, Any]]:
        """Poll until `n` messages of `room` came in (counting from now); those messages."""
        got = await self.poll_until(lambda fs: len([f for f in fs if f.get("type") == "message"
                                                    and f.get("room") == room]) >= n, within)
        return [f for f in got if f.get("type") == "message" and f.get("room") == room]

    async def delete(self, client: str | None = None) -> Answer:
        return await self.request("DELETE", "/api/poll", f"client={client or self.client}")

    async def rest(self, method: str, path: str, body: Any = None) -> Answer:
        """A REST call with this user's token (429s retried a little later, like a real client)."""
        for _ in range(100):
            answer = await self.request(method, path, body=body)
            if answer.status != 429:
                return answer
            await asyncio.sleep(0.1)
        raise AssertionError(f"{method} {path} still rate limited after 10 s")

    async def say(self, room: str, text: str) -> dict[str, Any]:
        """POST /api/rooms/{room}/messages: the stored message (the ack)."""
        answer = await self.rest("POST", f"/api/rooms/{room}/messages", {"text": text, "client_id": unique("c")})
        assert answer.status == 201, (answer.status, answer.body)
        return answer.body


PollerFactory = Callable[..., Poller]


@pytest.fixture
async def polls() -> AsyncIterator[PollerFactory]:
    """polls(server, token, client=None) -> a Poller; every poller's client is ended (DELETE) afterwards."""
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    made: list[Poller] = []

    def make(server: ServerProcess, token: str, client: str | None = None) -> Poller:
        poller = Poller(session, server.http, token, client)
        made.append(poller)
        return poller

    yield make
    for poller in made:
        with suppress(Exception):
            await poller.delete()
    await session.close()


@pytest.fixture
async def connect() -> AsyncIterator[Connections]:
    """connect(server, token, rooms) -> a WebSocket Client joined to `rooms`; all closed afterwards."""
    connections = Connections()
    yield connections
    await connections.close()


def room_with(server: ServerProcess, *tokens: str) -> tuple[str, int]:
    """A new public room every token's user is a member of (REST joins, the first creates it); (name, last_seq)."""
    room = unique("p")
    head = 0
    for token in tokens:
        head = join_ok(server, token, room)["last_seq"]
    return room, head


def stored(server: ServerProcess, token: str, room: str, after: int = 0) -> list[dict[str, Any]]:
    """Every stored event of `room` after seq `after` (paging through GET /api/rooms/{room}/messages)."""
    out: list[dict[str, Any]] = []
    while True:
        status, answer = api(server, "GET", f"/api/rooms/{room}/messages?after={after}&limit=100", token)
        assert status == 200, answer
        if not answer["messages"]:
            return out
        out += answer["messages"]
        after = out[-1]["seq"]


def presence_of(frames: list[dict[str, Any]], user: str) -> list[bool]:
    return [f["online"] for f in frames if f.get("type") == "presence" and f.get("user") == user]


async def started(coro: Any) -> asyncio.Task[Any]:
    """Run `coro` as a task and give it a second to reach the server (a poll that is then waiting there)."""
    task = asyncio.ensure_future(coro)
    await asyncio.sleep(1)
    assert not task.done(), task.result()
    return task


# --- a poller and WebSocket clients in one room ----------------------------------------------------


async def test_a_poller_and_a_websocket_client_exchange_messages(shared_server, users, polls, connect):
    (ua, ta), (ub, tb) = users[:2]
    room, _ = room_with(shared_server, ta)
    alice = await connect(shared_server, ta, [room])
    head = join_ok(shared_server, tb, room)["last_seq"]
    bob = polls(shared_server, tb).follow(room, head)

    first = await bob.poll()
    assert first["frames"][0]["type"] == "joined", first
    joined = first["frames"][0]
    assert (joined["room"], joined["last_seq"]) == (room, head) and sorted(joined["online"]) == sorted([ua, ub])
    assert first["cursors"] == {room: head}

    # bob polls all along (each answer at once with the new cursors) while both talk, turn by turn
    listening = asyncio.ensure_future(bob.messages_until(room, 10, within=60))
    sent = []
    for i in range(5):
        ack = await alice.say(room, f"ws {i}")
        sent.append((ack["seq"], ua, f"ws {i}"))
        posted = await bob.say(room, f"poll {i}")  # the REST answer is the ack: the stored message with its seq
        assert posted["room"] == room and posted["from"] == ub and posted["text"] == f"poll {i}"
        sent.append((posted["seq"], ub, f"poll {i}"))
    got = await listening

    assert [s for s, _, _ in sent] == list(range(head + 1, head + 11))
    assert [(m["seq"], m["from"], m["text"]) for m in got] == sent  # each once, in order, his own included
    at_alice = await alice.messages(10, room)
    assert got == at_alice  # the very frames a WebSocket client receives
    assert bob.cursors == {room: head + 10}
    moves = [a["cursors"][room] for a in bob.answers]
    assert moves == sorted(moves) and moves[-1] == head + 10


async def test_the_poll_frames_of_rest_posts_equal_the_stored_messages(shared_server, users, polls):
    _, ta = users[0]
    _, tb = users[1]
    room, head = room_with(shared_server, ta, tb)
    bob = polls(shared_server, tb).follow(room, head)
    await bob.poll()
    alice = polls(shared_server, ta)
    acks = [await alice.say(room, f"m{i}") for i in range(3)]
    assert await bob.messages_until(room, 3) == acks


# --- resume: cursors ----------------------------------------------------------------------------------


async def test_an_old_cursor_gets_exactly_the_events_after_it(shared_server, users, polls):
    (_, ta), (_, tb), (uc, tc) = users[:3]
    room = unique("p")
    create_room(shared_server, ta, room)  # seq 1: created
    join_ok(shared_server, tb, room)
    alice = polls(shared_server, ta)
    await alice.say(room, "before 1")
    mark = (await alice.say(room, "before 2"))["seq"]
    join_ok(shared_server, tc, room)  # a member event
    await alice.say(room, "after 1")
    manage_ok(shared_server, ta, room, "topic", topic="polling")  # a topic event
    manage_ok(shared_server, ta, room, "kick", user=uc, reason="test")  # a member event
    await alice.say(room, "after 2")
    expected = stored(shared_server, ta, room, after=mark)
    assert [(e["type"], e.get("action")) for e in expected] == [
        ("member", "joined"), ("message", None), ("topic", None), ("member", "kicked"), ("message", None)]

    bob = polls(shared_server, tb).follow(room, mark)
    answer = await bob.poll()
    assert [f["type"] for f in answer["frames"]][:1] == ["joined"]
    assert room_events(answer["frames"]) == expected
    assert answer["cursors"] == {room: expected[-1]["seq"]}

    # the same poll as POST, by another client of bob's: the same events
    other = polls(shared_server, tb)
    posted = await other.post_poll({"rooms": {room: mark}, "timeout": 0, "client": other.client})
    assert posted.status == 200, posted.body
    check_answer({room: mark}, posted.body)
    assert room_events(posted.body["frames"]) == expected

    # from the very start
    start = polls(shared_server, tb).follow(room, 0)
    assert room_events((await start.poll())["frames"]) == stored(shared_server, ta, room)


async def test_polling_again_with_the_old_cursors_after_a_lost_answer_gets_the_same_events(shared_server, users,
                                                                                           polls):
    _, ta = users[0]
    _, tb = users[1]
    room, head = room_with(shared_server, ta, tb)
    bob = polls(shared_server, tb).follow(room, head)
    await bob.poll()
    alice = polls(shared_server, ta)
    acks = [await alice.say(room, f"m{i}") for i in range(4)]
    assert await bob.messages_until(room, 4) == acks
    # the answer never reached the client (a proxy dropped it): it polls with the cursors it had, and again
    # with an older one
    for cursor in (head, acks[1]["seq"]):
        answer = await bob.get({room: cursor})
        assert answer.status == 200, answer.body
        check_answer({room: cursor}, answer.body)
        assert room_events(answer.body["frames"]) == [a for a in acks if a["seq"] > cursor]
    # and carries on from the last one
    bob.cursors[room] = acks[-1]["seq"]
    late = await alice.say(room, "late")
    assert await bob.messages_until(room, 1) == [late]


async def test_a_room_without_seq_gets_nothing_stored_before(shared_server, users, polls):
    _, ta = users[0]
    _, tb = users[1]
    room, _ = room_with(shared_server, ta, tb)
    alice = polls(shared_server, ta)
    for i in range(3):
        await alice.say(room, f"old {i}")
    head = stored(shared_server, ta, room)[-1]["seq"]

    bob = polls(shared_server, tb).follow(room)  # from now on
    answer = await bob.poll()
    assert room_events(answer["frames"]) == []
    assert [f["type"] for f in answer["frames"]] == ["joined"] and answer["frames"][0]["last_seq"] == head
    assert answer["cursors"] == {room: head}
    new = await alice.say(room, "new")
    assert await bob.messages_until(room, 1) == [new]

    # POST with null is the same
    other = polls(shared_server, tb)
    posted = await other.post_poll({"rooms": {room: None}, "timeout": 0, "client": other.client})
    assert posted.status == 200, posted.body
    check_answer({room: None}, posted.body)
    assert room_events(posted.body["frames"]) == [] and posted.body["cursors"] == {room: new["seq"]}


async def test_a_long_backlog_comes_at_most_1000_events_an_answer(make_server, polls, connect):
    srv = make_server("--rate", "0")
    (_, ta), (_, tb) = register(srv), register(srv)
    big, small = unique("big"), unique("small")
    alice = await connect(srv, ta, [big, small])
    await send_all(alice, big, [f"b{i}" for i in range(1100)])
    await send_all(alice, small, [f"s{i}" for i in range(300)])
    join_ok(srv, tb, big)
    join_ok(srv, tb, small)
    expected = {room: stored(srv, ta, room) for room in (big, small)}
    assert len(expected[big]) > MAX_EVENTS

    bob = polls(srv, tb).follow(big, 0).follow(small, 0)
    counts = []
    while bob.cursors != {room: events[-1]["seq"] for room, events in expected.items()}:
        assert len(counts) < 20, counts
        # more is stored than the cursors say: each of these answers at once, not after 30 s
        answer = await bob.poll(timeout=30, wait=20)
        counts.append(len(room_events(answer["frames"])))
        if len(counts) == 1:  # live messages while the poller is still far behind in both rooms
            await send_all(alice, big, ["live b1", "live b2"])
            await send_all(alice, small, ["live s1"])
            expected = {room: stored(srv, ta, room) for room in (big, small)}
    assert counts[0] <= MAX_EVENTS and sum(counts) == len(expected[big]) + len(expected[small]) and len(counts) >= 2
    for room, events in expected.items():
        assert room_events(bob.frames, room) == events  # every one once, in order
    assert room_events((await bob.poll())["frames"]) == []
    late = await send_all(alice, big, ["later"])
    assert [m["seq"] for m in await bob.messages_until(big, 1)] == [late[0]["seq"]]


# --- waiting ----------------------------------------------------------------------------------------------


async def test_a_poll_waits_for_its_timeout_then_answers_empty(shared_server, users, polls):
    _, ta = users[0]
    room, head = room_with(shared_server, ta)
    poller = polls(shared_server, ta).follow(room, head)
    await poller.poll()  # joined
    t0 = time.monotonic()
    answer = await poller.get({room: head}, timeout=2, wait=20)
    took = time.monotonic() - t0
    assert answer.status == 200, answer.body
    assert answer.body["frames"] == [] and answer.body["cursors"] == {room: head}
    assert took >= 1.5, f"answered after {took:.2f} s, not after its 2 s timeout"


async def test_a_message_wakes_a_waiting_poll(shared_server, users, polls):
    _, ta = users[0]
    _, tb = users[1]
    room, head = room_with(shared_server, ta, tb)
    bob = polls(shared_server, tb).follow(room, head)
    await bob.poll()
    waiting = await started(bob.poll(timeout=30, wait=20))  # answered by the message, long before 30 s
    message = await polls(shared_server, ta).say(room, "wake up")
    answer = await waiting
    assert answer["frames"] == [message] and answer["cursors"] == {room: message["seq"]}


async def test_timeout_0_answers_at_once(shared_server, users, polls):
    _, ta = users[0]
    room, head = room_with(shared_server, ta)
    poller = polls(shared_server, ta).follow(room, head)
    await poller.poll()
    for _ in range(3):  # nothing to answer: an empty answer at once (`wait`: well before the default 25 s)
        answer = await poller.get({room: head}, timeout=0, wait=10)
        assert (answer.status, answer.body) == (200, {"frames": [], "cursors": {room: head}})
    # the default timeout (25 s) waits: something arriving wakes it
    waiting = await started(poller.get({room: head}, timeout=None, wait=20))
    message = await polls(shared_server, ta).say(room, "here")
    answer = await waiting
    assert answer.status == 200 and room_events(answer.body["frames"]) == [message]


async def test_a_second_poll_of_the_same_client_answers_the_first(shared_server, users, polls):
    _, ta = users[0]
    _, tb = users[1]
    room, head = room_with(shared_server, ta, tb)
    bob = polls(shared_server, tb).follow(room, head)
    await bob.poll()
    other = polls(shared_server, tb).follow(room, head)  # another tab of bob's
    await other.poll()
    first = await started(bob.get({room: head}, timeout=30))
    tab = await started(other.get({room: head}, timeout=30))
    second = await started(bob.get({room: head}, timeout=30))
    answer = await asyncio.wait_for(first, 15)  # at once, not after its 30 s
    assert answer.status == 200, answer.body
    check_answer({room: head}, answer.body)
    assert not tab.done() and not second.done()  # another client's poll is left alone
    message = await polls(shared_server, ta).say(room, "for both")
    for task in (second, tab):
        got = await asyncio.wait_for(task, 15)
        assert got.status == 200 and room_events(got.body["frames"]) == [message], got.body


# --- presence and typing ---------------------------------------------------------------------------------


async def test_a_poller_is_online_until_its_client_is_deleted(shared_server, users, polls, connect):
    (ua, ta), (ub, tb), (uc, tc) = users[:3]
    room, _ = room_with(shared_server, ta)
    alice = await connect(shared_server, ta, [room])
    head = join_ok(shared_server, tb, room)["last_seq"]
    join_ok(shared_server, tc, room)
    bob = polls(shared_server, tb).follow(room, head)
    await bob.poll()
    assert await alice.expect("presence", user=ub) == {"type": "presence", "room": room, "user": ub, "online": True}
    carol = await connect(shared_server, tc)
    assert sorted((await carol.join(room))["online"]) == sorted([ua, ub, uc])
    assert presence_of(await bob.poll_until(lambda fs: presence_of(fs, uc) == [True]), uc) == [True]

    deleted = await bob.delete()
    assert 200 <= deleted.status < 300, (deleted.status, deleted.body)
    for client in (alice, carol):
        offline = await client.expect("presence", user=ub, timeout=10)  # at once, not 30 s later
        assert offline == {"type": "presence", "room": room, "user": ub, "online": False}
    late = await connect(shared_server, ta)  # the room's online list agrees
    assert sorted((await late.join(room))["online"]) == sorted([ua, uc])


async def test_typing_reaches_a_waiting_poll_and_a_pollers_typing_reaches_websockets(shared_server, users, polls,
                                                                                    connect):
    (ua, ta), (ub, tb) = users[:2]
    room, _ = room_with(shared_server, ta)
    alice = await connect(shared_server, ta, [room])
    head = join_ok(shared_server, tb, room)["last_seq"]
    bob = polls(shared_server, tb).follow(room, head)
    await bob.poll()
    await alice.expect("presence", user=ub)

    waiting = await started(bob.poll_until(lambda fs: any(f.get("type") == "typing" for f in fs), within=20))
    await alice.send({"type": "typing", "room": room})
    got = await waiting
    assert [f for f in got if f.get("type") == "typing"] == [{"type": "typing", "room": room, "user": ua}]

    typed = await bob.rest("POST", f"/api/rooms/{room}/typing", {})
    assert typed.status == 204, (typed.status, typed.body)
    assert await alice.expect("typing") == {"type": "typing", "room": room, "user": ub}


async def test_a_poller_stays_online_while_it_polls_and_goes_offline_after_two_to_three_heartbeats(tmp_path, polls,
                                                                                                   connect):
    """With --heartbeat 1: one poll waiting 6 s (six intervals) keeps the poller online; after its last
    poll it goes offline two to three intervals later (2-3 s). One store: this is about time. (The interval is
    short so the test takes ~9 s; the bounds below scale with it.)"""
    srv = ServerProcess(f"sqlite:///{tmp_path}/parley.db", "--heartbeat", "1", log=tmp_path / "server.log").start()
    try:
        (_, ta), (ub, tb) = register(srv), register(srv)
        room, _ = room_with(srv, ta)
        alice = await connect(srv, ta, [room])
        head = join_ok(srv, tb, room)["last_seq"]
        bob = polls(srv, tb).follow(room, head)
        await bob.poll()
        assert await alice.expect("presence", user=ub) == {"type": "presence", "room": room, "user": ub,
                                                           "online": True}
        answer = await bob.poll(timeout=6)  # one poll waiting its whole 6 s: online all along
        last = time.monotonic()
        assert answer["frames"] == []
        assert await alice.nothing(0.1, kind="presence") == []
        offline = await alice.expect("presence", user=ub, timeout=60)
        after = time.monotonic() - last
        assert offline["online"] is False
        assert 1.75 <= after <= 5, f"offline {after:.1f} s after the last poll (2-3 s with --heartbeat 1)"
        await alice.close()
    finally:
        srv.stop()


async def test_a_poll_adding_a_room_gets_joined_for_it_alone(shared_server, users, polls):
    _, ta = users[0]
    first, head = room_with(shared_server, ta)
    second, head2 = room_with(shared_server, ta)
    poller = polls(shared_server, ta).follow(first, head)
    assert [f["type"] for f in (await poller.poll())["frames"]] == ["joined"]
    poller.follow(second, head2)
    answer = await poller.poll()
    assert [(f["type"], f["room"]) for f in answer["frames"]] == [("joined", second)]
    assert answer["cursors"] == {first: head, second: head2}
    # leaving a room out of the poll: its events stop coming, the other room's still come
    del poller.cursors[first]
    await poller.poll()
    post_ok(shared_server, ta, first, "not for the poller")
    message = post_ok(shared_server, ta, second, "for the poller")
    assert await poller.messages_until(second, 1) == [message]
    assert [f for f in poller.frames if f.get("room") == first and f.get("type") == "message"] == []


async def test_an_invitation_reaches_a_waiting_poll_as_membership(shared_server, users, polls):
    (_, ta), (ub, tb) = users[:2]
    room, head = room_with(shared_server, tb)
    bob = polls(shared_server, tb).follow(room, head)
    await bob.poll()
    private = unique("priv")
    create_room(shared_server, ta, private, "private")
    waiting = await started(bob.poll_until(lambda fs: any(f.get("type") == "membership" for f in fs), within=20))
    manage_ok(shared_server, ta, private, "invite", user=ub)
    got = await waiting
    assert [f for f in got if f.get("type") == "membership"] == [{"type": "membership", "room": private}]


# --- bad input ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def prober(shared_server: ServerProcess) -> tuple[str, str, list[str]]:
    """An account of its own for the bad-input tests, member of 101 public rooms: (name, token, rooms)."""
    name, token = register(shared_server)
    prefix = unique("q")
    rooms = [f"{prefix}-{i:03d}" for i in range(101)]
    for room in rooms:
        join_ok(shared_server, token, room)
    return name, token, rooms


GOOD = "{R}"  # stands for a room the prober may read, in the cases below
BAD_QUERIES = {
    "no-parameters": "",
    "no-rooms": "timeout=0",
    "empty-rooms": "rooms=&timeout=0",
    "only-a-comma": "rooms=,&timeout=0",
    "empty-entry": "rooms={R}:0,&timeout=0",
    "seq-abc": "rooms={R}:abc&timeout=0",
    "seq-negative": "rooms={R}:-1&timeout=0",
    "seq-fraction": "rooms={R}:1.5&timeout=0",
    "seq-empty": "rooms={R}:&timeout=0",
    "seq-2^63": f"rooms={{R}}:{2**63}&timeout=0",
    "seq-5000-digits": f"rooms={{R}}:{'9' * 5000}&timeout=0",
    "two-colons": "rooms={R}:1:2&timeout=0",
    "no-name": "rooms=:5&timeout=0",
    "name-with-space": "rooms=a%20b:1&timeout=0",
    "name-too-long": f"rooms={'x' * 65}:1&timeout=0",
    "name-not-ascii": "rooms=caf%C3%A9:1&timeout=0",
    "name-with-slash": "rooms=a%2Fb:1&timeout=0",
    "room-twice": "rooms={R}:1,{R}:2&timeout=0",
    "room-twice-one-without-seq": "rooms={R},{R}:2&timeout=0",
    "timeout-negative": "rooms={R}:0&timeout=-1",
    "timeout-31": "rooms={R}:0&timeout=31",
    "timeout-abc": "rooms={R}:0&timeout=abc",
    "client-empty": "rooms={R}:0&timeout=0&client=",
    "client-too-long": f"rooms={{R}}:0&timeout=0&client={'c' * 65}",
    "client-with-space": "rooms={R}:0&timeout=0&client=a%20b",
    "client-with-dot": "rooms={R}:0&timeout=0&client=a.b",
    "client-with-colon": "rooms={R}:0&timeout=0&client=a:b",
    "client-not-ascii": "rooms={R}:0&timeout=0&client=caf%C3%A9",
}
BAD_BODIES: dict[str, Any] = {
    "not-json": b"{not json",
    "empty": b"",
    "array": [],
    "string": "rooms",
    "null": None,
    "no-rooms": {"timeout": 0},
    "rooms-empty": {"rooms": {}, "timeout": 0},
    "rooms-list": {"rooms": [GOOD], "timeout": 0},
    "rooms-string": {"rooms": GOOD + ":0", "timeout": 0},
    "seq-string": {"rooms": {GOOD: "1"}, "timeout": 0},
    "seq-negative": {"rooms": {GOOD: -1}, "timeout": 0},
    "seq-fraction": {"rooms": {GOOD: 1.5}, "timeout": 0},
    "seq-true": {"rooms": {GOOD: True}, "timeout": 0},
    "seq-2^63": {"rooms": {GOOD: 2**63}, "timeout": 0},
    "name-with-space": {"rooms": {"a b": 1}, "timeout": 0},
    "name-empty": {"rooms": {"": 1}, "timeout": 0},
    "timeout-string": {"rooms": {GOOD: 0}, "timeout": "5"},
    "timeout-negative": {"rooms": {GOOD: 0}, "timeout": -1},
    "timeout-31": {"rooms": {GOOD: 0}, "timeout": 31},
    "timeout-true": {"rooms": {GOOD: 0}, "timeout": True},
    "client-int": {"rooms": {GOOD: 0}, "timeout": 0, "client": 5},
    "client-empty": {"rooms": {GOOD: 0}, "timeout": 0, "client": ""},
    "client-with-space": {"rooms": {GOOD: 0}, "timeout": 0, "client": "a b"},
    "client-too-long": {"rooms": {GOOD: 0}, "timeout": 0, "client": "c" * 65},
}


def with_room(value: Any, room: str) -> Any:
    """`value` with every "{R}" (in keys and strings) replaced by `room`."""
    if isinstance(value, bytes):
        return value.replace(b"{R}", room.encode())
    if isinstance(value, str):
        return value.replace(GOOD, room)
    if isinstance(value, dict):
        return {with_room(k, room): with_room(v, room) for k, v in value.items()}
    if isinstance(value, list):
        return [with_room(v, room) for v in value]
    return value


async def still_answers(poller: Poller, room: str) -> None:
    """A good poll right after: 200 (the bad one broke nothing)."""
    answer = await poller.get({room: 0}, timeout=0)
    assert answer.status == 200, answer.body
    check_answer({room: 0}, answer.body)


@pytest.mark.parametrize("case", list(BAD_QUERIES))
async def test_a_bad_poll_query_is_400(shared_server, prober, polls, case):
    _, token, rooms = prober
    poller = polls(shared_server, token, "after-bad-input")
    answer = await poller.request("GET", "/api/poll", with_room(BAD_QUERIES[case], rooms[0]))
    assert (answer.status, answer.error) == (400, "bad_request"), answer.body
    await still_answers(poller, rooms[0])


@pytest.mark.parametrize("case", list(BAD_BODIES))
async def test_a_bad_poll_body_is_400(shared_server, prober, polls, case):
    _, token, rooms = prober
    poller = polls(shared_server, token, "after-bad-input")
    body = with_room(BAD_BODIES[case], rooms[0])
    if isinstance(body, bytes):
        answer = await poller.post_poll(None, raw=body, headers={"Content-Type": "application/json"})
    else:
        answer = await poller.post_poll(None, raw=json.dumps(body).encode())
    assert (answer.status, answer.error) == (400, "bad_request"), answer.body
    await still_answers(poller, rooms[0])


async def test_101_rooms_are_400_and_100_are_fine(shared_server, prober, polls):
    """With --max-rooms 100."""
    _, token, rooms = prober
    poller = polls(shared_server, token)
    too_many = await poller.get(dict.fromkeys(rooms, 0))
    assert (too_many.status, too_many.error) == (400, "bad_request"), too_many.body
    posted = await poller.post_poll({"rooms": dict.fromkeys(rooms, 0), "timeout": 0, "client": poller.client})
    assert (posted.status, posted.error) == (400, "bad_request"), posted.body
    hundred = dict.fromkeys(rooms[:100], 0)
    joined: list[str] = []
    for _ in range(60):  # following spends the user's join limit: rooms past it come with the next polls
        answer = await poller.get(hundred)
        assert answer.status == 200, answer.body
        check_answer(hundred, answer.body)
        joined += [f["room"] for f in answer.body["frames"] if f["type"] == "joined"]
        hundred = answer.body["cursors"]  # as a client does: from where this answer left it
        if len(joined) >= 100:
            break
        await asyncio.sleep(0.2)
    assert sorted(joined) == sorted(rooms[:100])  # each once


async def test_the_largest_seq_is_accepted(shared_server, prober, polls):
    _, token, rooms = prober
    answer = await polls(shared_server, token).get({rooms[0]: SEQ_MAX})
    assert answer.status == 200, answer.body


async def test_a_poll_body_that_does_not_say_json_is_415(shared_server, prober, polls):
    _, token, rooms = prober
    poller = polls(shared_server, token)
    answer = await poller.post_poll(None, raw=json.dumps({"rooms": {rooms[0]: 0}, "timeout": 0}).encode(),
                                    headers={"Content-Type": "text/plain"})
    assert (answer.status, answer.error) == (415, "unsupported"), answer.body


async def test_a_bad_poll_follows_no_room(shared_server, users, polls, connect):
    (_, ta), (_, tb) = users[:2]
    room, _ = room_with(shared_server, ta)
    alice = await connect(shared_server, ta, [room])
    head = join_ok(shared_server, tb, room)["last_seq"]
    bob = polls(shared_server, tb)
    for query in (f"rooms={room}:{head},{room}:abc&timeout=0", f"rooms={room}:{head}&timeout=31",
                  f"rooms={room}:{head}&timeout=0&client=a.b"):
        answer = await bob.request("GET", "/api/poll", query)
        assert (answer.status, answer.error) == (400, "bad_request"), answer.body
    assert await alice.nothing(1.5, kind="presence") == []  # bob never came online


@pytest.mark.parametrize("auth", [None, "Bearer", "Bearer not-a-token", "Basic dXNlcjpwYXNz"])
@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
async def test_a_poll_without_a_valid_token_is_401(shared_server, prober, polls, method, auth):
    _, token, rooms = prober
    poller = polls(shared_server, token)
    headers = {"Authorization": auth} if auth else {}
    if method == "GET":
        answer = await poller.request("GET", "/api/poll", f"rooms={rooms[0]}:0&timeout=0", token=None, headers=headers)
    elif method == "POST":
        answer = await poller.post_poll({"rooms": {rooms[0]: 0}, "timeout": 0}, token=None, headers=headers)
    else:
        answer = await poller.request("DELETE", "/api/poll", "client=x", token=None, headers=headers)
    assert (answer.status, answer.error) == (401, "unauthorized"), answer.body


# --- rooms the user may not read --------------------------------------------------------------------------


async def test_an_outsider_gets_404_for_a_private_room_or_dm_like_a_name_never_used(shared_server, users, polls,
                                                                                    connect):
    (_, ta), (_, tb), (uc, tc) = users[:3]
    private = unique("priv")
    create_room(shared_server, ta, private, "private")
    post_ok(shared_server, ta, private, "secret")
    status, dm = api(shared_server, "POST", "/api/dms", ta, {"users": [uc]})
    assert status in (200, 201), dm
    post_ok(shared_server, ta, dm["name"], "between us")
    public, _ = room_with(shared_server, ta)
    alice = await connect(shared_server, ta, [public])
    head = join_ok(shared_server, tb, public)["last_seq"]
    bob = polls(shared_server, tb)

    for hidden in (private, dm["name"]):
        never = unique("never")
        for rooms in ({hidden: 0}, {hidden: None}, {public: head, hidden: 0}):
            answer = await bob.get(rooms)
            unused = await bob.get({(never if r == hidden else r): s for r, s in rooms.items()})
            assert answer.status == 404 and answer.body["error"] == "not_found" and answer.body["room"] == hidden, \
                answer.body
            assert set(answer.body) <= {"error", "message", "room"}, answer.body  # nothing of the room
            assert masked(answer.body, hidden) == masked(unused.body, never) and unused.status == 404
        posted = await bob.post_poll({"rooms": {public: head, hidden: 0}, "timeout": 0, "client": bob.client})
        assert (posted.status, posted.body["room"]) == (404, hidden), posted.body
    assert await alice.nothing(1.5, kind="presence") == []  # no room was followed: bob never came online
    # the first room the user may not read is named
    first, second = unique("never"), unique("never")
    answer = await bob.get({public: head, first: 0, private: 0, second: 0})
    assert (answer.status, answer.body["room"]) == (404, first), answer.body
    # polling a name never used creates no room
    assert api(shared_server, "GET", f"/api/rooms/{first}", ta)[0] == 404
    # the DM's members may poll it
    carol = polls(shared_server, tc).follow(dm["name"], 0)
    assert [m["text"] for m in room_events((await carol.poll())["frames"]) if m["type"] == "message"] == [
        "between us"]


async def test_naming_a_public_room_makes_the_poller_a_member(shared_server, users, polls, connect):
    (ua, ta), (ub, tb) = users[:2]
    room, head = room_with(shared_server, ta)
    alice = await connect(shared_server, ta, [room])
    bob = polls(shared_server, tb).follow(room, head)  # not a member yet
    answer = await bob.poll()
    assert [f for f in answer["frames"] if f["type"] == "joined"][:1] == [
        {"type": "joined", "room": room, "last_seq": head + 1, "online": sorted([ua, ub])}], answer
    got = room_events(answer["frames"]) or await bob.poll_until(lambda fs: bool(room_events(fs)), within=10)
    event = room_events(got)[0]
    assert (event["type"], event["action"], event["user"], event["seq"]) == ("member", "joined", ub, head + 1)
    assert await alice.expect("member", room=room) == event
    status, mine = api(shared_server, "GET", "/api/me/rooms", tb)
    assert status == 200 and room in [r["name"] for r in mine["rooms"]], mine


async def test_an_invited_or_banned_user_gets_403_naming_the_room(shared_server, users, polls):
    (_, ta), (ub, tb) = users[:2]
    invited = unique("priv")
    create_room(shared_server, ta, invited, "private")
    manage_ok(shared_server, ta, invited, "invite", user=ub)
    banned_public, _ = room_with(shared_server, ta, tb)
    manage_ok(shared_server, ta, banned_public, "ban", user=ub)
    bob = polls(shared_server, tb)
    for room in (invited, banned_public):
        for cursors in ({room: 0}, {room: None}):
            answer = await bob.get(cursors)
            assert (answer.status, answer.error, answer.body.get("room")) == (403, "forbidden", room), answer.body
    # accepting the invitation opens the room to polls
    join_ok(shared_server, tb, invited)
    answer = await bob.get({invited: 0})
    assert answer.status == 200, answer.body
    # a private room one is banned from does not exist to them (section 2, who gets which answer): 404
    banned_private = unique("priv")
    create_room(shared_server, ta, banned_private, "private")
    manage_ok(shared_server, ta, banned_private, "invite", user=ub)
    join_ok(shared_server, tb, banned_private)
    manage_ok(shared_server, ta, banned_private, "ban", user=ub)
    answer = await bob.get({banned_private: 0})
    never = unique("never")
    unused = await bob.get({never: 0})
    assert (answer.status, answer.body.get("room")) == (404, banned_private), answer.body
    assert masked(answer.body, banned_private) == masked(unused.body, never)


async def test_a_kicked_poller_gets_removed_then_404(shared_server, users, polls):
    (ua, ta), (ub, tb) = users[:2]
    room = unique("priv")
    create_room(shared_server, ta, room, "private")
    manage_ok(shared_server, ta, room, "invite", user=ub)
    head = join_ok(shared_server, tb, room)["last_seq"]
    bob = polls(shared_server, tb).follow(room, head)
    await bob.poll()

    async def until_removed() -> list[dict[str, Any]]:
        got: list[dict[str, Any]] = []
        while not any(f.get("type") == "removed" for f in got):
            before = dict(bob.cursors)
            answer = await bob.get(before, timeout=25)
            assert answer.status == 200, f"{answer.status} {answer.body} before `removed`; got {got}"
            bob._took(before, answer)
            got += answer.body["frames"]
        return got

    waiting = await started(until_removed())
    kicked = manage_ok(shared_server, ta, room, "kick", user=ub, reason="bye")
    got = await asyncio.wait_for(waiting, 20)
    event = next(f for f in got if f.get("type") == "member")
    assert (event["seq"], event["action"], event["user"], event["from"]) == (kicked, "kicked", ub, ua)
    removed = [f for f in got if f.get("type") == "removed"]
    assert removed == [{"type": "removed", "room": room, "reason": "kicked", "by": ua}]
    assert got.index(removed[0]) > got.index(event)  # after the event itself
    assert not room_events(got[got.index(removed[0]):])  # nothing more of the room

    post_ok(shared_server, ta, room, "after the kick")
    for cursors in ({room: bob.cursors[room]}, {room: 0}, {room: None}):
        answer = await bob.get(cursors)
        assert (answer.status, answer.error, answer.body.get("room")) == (404, "not_found", room), answer.body


# --- limits, revocation ------------------------------------------------------------------------------------


async def test_an_11th_polling_client_of_a_user_is_429(shared_server, polls):
    _, token = register(shared_server)
    room, head = room_with(shared_server, token)
    tabs = [polls(shared_server, token, f"tab-{i}").follow(room, head) for i in range(11)]
    for tab in tabs[:10]:
        await tab.poll()  # joined: from now on each of them has nothing to answer
    held = [asyncio.ensure_future(tab.get({room: head}, timeout=30)) for tab in tabs[:10]]
    await asyncio.sleep(1.5)
    assert not any(task.done() for task in held), [t.result().body for t in held if t.done()]
    refused = await tabs[10].get({room: head})
    assert (refused.status, refused.error) == (429, "rate_limited"), refused.body
    # one of the ten polls again (the same client): still one of the ten
    again = asyncio.ensure_future(tabs[0].get({room: head}, timeout=30))
    first = await asyncio.wait_for(held[0], 15)
    assert first.status == 200, first.body
    # a message answers every waiting poll
    message = await tabs[10].say(room, "to all tabs")
    for task in [again, *held[1:]]:
        got = await asyncio.wait_for(task, 15)
        assert got.status == 200 and room_events(got.body["frames"]) == [message], got.body
    # a client that ends makes room for another
    deleted = await tabs[1].delete()
    assert 200 <= deleted.status < 300, deleted.body
    answer = await tabs[10].get({room: head})
    assert answer.status == 200, answer.body


async def test_signing_out_everywhere_closes_a_waiting_poll_with_4401(shared_server, polls):
    _, token = register(shared_server)
    room, head = room_with(shared_server, token)
    poller = polls(shared_server, token).follow(room, head)
    await poller.poll()
    waiting = await started(poller.get({room: head}, timeout=30))
    signed_out = await poller.rest("POST", "/api/me/signout", {"everywhere": True})
    assert signed_out.status == 204, signed_out.body
    answer = await asyncio.wait_for(waiting, 20)  # at once, not after its 30 s
    assert answer.status == 200, answer.body
    closed = answer.body.get("closed")
    assert isinstance(closed, dict) and closed.get("code") == 4401 and closed.get("reconnect") is False, answer.body
    assert isinstance(closed.get("reason"), str)
    again = await poller.get({room: head})
    assert (again.status, again.error) == (401, "unauthorized"), again.body


async def test_signing_out_one_token_closes_its_poll_and_not_the_other_devices(shared_server, polls):
    name, token = register(shared_server)
    status, other = http("POST", shared_server.http + "/api/login", {"username": name, "password": PASSWORD})
    assert status == 200, other
    room, head = room_with(shared_server, token)
    leaving, staying = polls(shared_server, token).follow(room, head), polls(shared_server, other["token"])
    staying.follow(room, head)
    await leaving.poll()
    await staying.poll()
    waiting = await started(leaving.get({room: head}, timeout=30))
    signed_out = await leaving.rest("POST", "/api/me/signout", {})
    assert signed_out.status == 204, signed_out.body
    answer = await asyncio.wait_for(waiting, 20)
    closed = answer.body.get("closed")
    assert isinstance(closed, dict) and closed.get("code") == 4401 and closed.get("reconnect") is False, answer.body
    again = await leaving.get({room: head})
    assert (again.status, again.error) == (401, "unauthorized"), again.body
    message = await staying.say(room, "still here")
    got = await staying.get({room: head})
    assert got.status == 200 and message in room_events(got.body["frames"]), got.body


# --- shutdown and restart ------------------------------------------------------------------------------------


async def test_a_poll_held_at_shutdown_is_answered_and_polling_resumes_after_restart(make_server, polls, connect):
    srv = make_server()
    (ua, ta), (_, tb) = register(srv), register(srv)
    room, _ = room_with(srv, ta)
    head = join_ok(srv, tb, room)["last_seq"]
    quiet, quiet_head = room_with(srv, ta, tb)
    bob = polls(srv, tb).follow(room, head)  # keeps polling throughout, and falls behind at the end
    watcher = polls(srv, tb).follow(quiet, quiet_head)  # holds one poll of a quiet room when the server stops
    await bob.poll()
    await watcher.poll()
    broken: list[str] = []  # polls that ended without an answer
    stop = asyncio.Event()

    async def keep_polling() -> None:
        """As a client does: poll again at once with the new cursors; on a broken connection, a bit later."""
        while not stop.is_set():
            before = dict(bob.cursors)
            try:
                answer = await bob.get(before, timeout=25)
            except (aiohttp.ClientError, TimeoutError) as exc:
                broken.append(type(exc).__name__)
                await asyncio.sleep(0.2)
                continue
            body = bob._took(before, answer)
            if "closed" in body:
                assert body["closed"]["code"] == 1001 and body["closed"]["reconnect"] is True, body

    loop = asyncio.ensure_future(keep_polling())
    alice = await connect(srv, ta, [room])
    texts = [f"before {i}" for i in range(5)]
    acks = [await alice.say(room, text) for text in texts]
    held = await started(watcher.get({quiet: quiet_head}, timeout=30))
    texts += [f"last {i}" for i in range(5)]
    acks += [await alice.say(room, text) for text in texts[5:]]  # bob may or may not have these yet
    assert srv.proc is not None
    srv.proc.send_signal(signal.SIGTERM)
    # the held poll ends (answered, or its connection closed), and the server exits by itself: not a hang
    try:
        answer = await asyncio.wait_for(held, 20)
    except aiohttp.ClientError as exc:
        print("the poll held at SIGTERM: connection closed,", repr(exc))
    else:
        print("the poll held at SIGTERM:", answer.status, answer.body)
        assert answer.status == 200, (answer.status, answer.body)
        body = watcher._took({quiet: quiet_head}, answer)
        assert room_events(body["frames"]) == []
        if "closed" in body:
            assert body["closed"]["code"] == 1001 and body["closed"]["reconnect"] is True, body
    await asyncio.to_thread(srv.proc.wait, 20)

    srv.start()
    alice = await connect(srv, ta, [room])
    texts += [f"after {i}" for i in range(5)]
    acks += [await alice.say(room, text) for text in texts[10:]]
    deadline = time.monotonic() + 60
    while bob.cursors[room] < acks[-1]["seq"]:
        assert not loop.done(), loop.exception()
        assert time.monotonic() < deadline, (bob.cursors, acks[-1]["seq"], broken)
        await asyncio.sleep(0.1)
    stop.set()
    print("polls that ended without an answer:", broken)
    got = [m for m in room_events(bob.frames, room) if m["type"] == "message"]
    assert [(m["seq"], m["from"], m["text"]) for m in got] == [(a["seq"], ua, t) for a, t in zip(acks, texts,
                                                                                                 strict=True)]
    assert room_events(bob.frames, room) == stored(srv, ta, room, after=head)  # every event once, in order
    # the watcher resumes from its cursors too
    message = post_ok(srv, ta, quiet, "after the restart")
    assert await watcher.messages_until(quiet, 1) == [message]
    loop.cancel()
    with suppress(asyncio.CancelledError):
        await loop


# --- CORS ------------------------------------------------------------------------------------------------


APP = "https://app.example"


def allows(header: str | None, wanted: str) -> bool:
    """Whether an Access-Control-Allow-Headers/-Methods value covers `wanted` (case-insensitive)."""
    items = {h.strip().lower() for h in (header or "").split(",")}
    return wanted.lower() in items or "*" in items


@pytest.fixture
def cors_server(make_server) -> ServerProcess:
    return make_server("--allowed-origin", APP)


@pytest.mark.parametrize(("method", "headers"), [("GET", "authorization"), ("POST", "authorization, content-type"),
                                                 ("DELETE", "authorization")])
async def test_a_listed_origin_gets_its_preflight_answered(cors_server, polls, method, headers):
    _, token = register(cors_server)
    answer = await polls(cors_server, token).request(
        "OPTIONS", "/api/poll", "rooms=general:0", token=None,
        headers={"Origin": APP, "Access-Control-Request-Method": method, "Access-Control-Request-Headers": headers})
    assert 200 <= answer.status < 300, (answer.status, answer.body)
    assert answer.headers.get("Access-Control-Allow-Origin") == APP, dict(answer.headers)
    assert allows(answer.headers.get("Access-Control-Allow-Methods"), method), dict(answer.headers)
    for header in headers.split(", "):
        assert allows(answer.headers.get("Access-Control-Allow-Headers"), header), dict(answer.headers)


async def test_a_listed_origin_can_read_poll_and_rest_answers(cors_server, polls):
    _, token = register(cors_server)
    room, head = room_with(cors_server, token)
    poller = polls(cors_server, token)
    answer = await poller.get({room: head}, headers={"Origin": APP})
    assert (answer.status, answer.headers.get("Access-Control-Allow-Origin")) == (200, APP), answer.body
    posted = await poller.request("POST", "/api/poll", body={"rooms": {room: head}, "timeout": 0,
                                                             "client": poller.client}, headers={"Origin": APP})
    assert (posted.status, posted.headers.get("Access-Control-Allow-Origin")) == (200, APP), posted.body
    sent = await poller.request("POST", f"/api/rooms/{room}/messages", body={"text": "cors", "client_id": unique()},
                                headers={"Origin": APP})
    assert (sent.status, sent.headers.get("Access-Control-Allow-Origin")) == (201, APP), sent.body
    deleted = await poller.request("DELETE", "/api/poll", f"client={poller.client}", headers={"Origin": APP})
    assert deleted.headers.get("Access-Control-Allow-Origin") == APP, (deleted.status, dict(deleted.headers))


async def test_a_listed_origin_can_read_poll_errors(cors_server, polls):
    _, token = register(cors_server)
    poller = polls(cors_server, token)
    for answer in (await poller.get({unique("never"): 0}, headers={"Origin": APP}),  # 404
                   await poller.get({"a%20b": 0}, headers={"Origin": APP}),  # 400
                   await poller.get({"general": 0}, token="forged", headers={"Origin": APP})):  # 401
        assert answer.status in (400, 401, 404), answer.body
        assert answer.headers.get("Access-Control-Allow-Origin") == APP, (answer.status, dict(answer.headers))


@pytest.mark.parametrize("origin", ["https://evil.example", "http://app.example", "https://app.example:8443",
                                    "https://app.example.evil.example", "null"])
async def test_an_origin_not_listed_gets_no_cors_headers(cors_server, polls, origin):
    _, token = register(cors_server)
    room, head = room_with(cors_server, token)
    poller = polls(cors_server, token)
    preflight = await poller.request("OPTIONS", "/api/poll", f"rooms={room}:0", token=None, headers={
        "Origin": origin, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"})
    assert "Access-Control-Allow-Origin" not in preflight.headers, (preflight.status, dict(preflight.headers))
    answer = await poller.get({room: head}, headers={"Origin": origin})
    assert "Access-Control-Allow-Origin" not in answer.headers, (answer.status, dict(answer.headers))
