"""History over WebSocket: `history` with `before`/`limit` pages backwards through a room, oldest first in each
page, the limit capped at 100; and the same pages through REST `GET /api/rooms/{room}/messages`."""

import asyncio

import pytest

from tests.support import Client, fill_room, in_room, kinds, rest_events, unique

# The module's shared server has no message rate limit: the 130 messages below (more than the cap of 100) then
# go in within a second, where the default 20/s per user took over 13 s per store. Rate limits: tests/test_limits.py.
SHARED_SERVER_FLAGS = ("--rate", "0")

CAP = 100
MEMBER_EVENTS = 2  # seq 1: users[0] created the room; seq 2: users[1] joined it
LAST = MEMBER_EVENTS + 130  # the seq of m130, the room's last event


@pytest.fixture(scope="module")
def room_of_130(shared_server, users):
    """A room whose log is its creation (seq 1), users[1] joining (seq 2), then 130 messages m1..m130 (seqs 3..132,
    in sending order), shared by the read-only tests below."""
    room = unique("hist")

    async def make():
        for _, token in users[:2]:
            client = await Client.connect(shared_server, token)
            await client.join(room)
            await client.close()
        await fill_room(shared_server, room, 130, token=users[0][1])

    asyncio.run(make())
    assert [(e["seq"], e["type"], e.get("action")) for e in rest_events(shared_server, users[0][1], room, after=0,
                                                                         limit=MEMBER_EVENTS + 1)] == [
        (1, "member", "created"), (2, "member", "joined"), (3, "message", None)]
    return room


@pytest.fixture
async def reader(shared_server, users, room_of_130):
    client = await Client.connect(shared_server, users[1][1])
    await client.join(room_of_130)
    yield client
    await client.close()


async def history(client, room, **fields):
    await client.send({"type": "history", "room": room, **fields})
    page = await client.expect("history", room=room)
    return page["messages"]


def seqs(messages):
    return [m["seq"] for m in messages]


async def test_latest_page_oldest_first(reader, room_of_130):
    page = await history(reader, room_of_130, limit=10)
    assert seqs(page) == list(range(LAST - 9, LAST + 1))
    assert [m["text"] for m in page] == [f"m{i}" for i in range(121, 131)]
    assert all(m["type"] == "message" and m["room"] == room_of_130 for m in page)
    assert {"seq", "from", "text", "ts", "client_id"} <= set(page[0])


async def test_paging_backwards_with_before_visits_every_message_once(reader, room_of_130):
    seen: list[int] = []
    events: list[dict] = []
    before = None
    while True:
        fields = {"limit": 30} if before is None else {"limit": 30, "before": before}
        page = await history(reader, room_of_130, **fields)
        if not page:
            break
        assert seqs(page) == sorted(seqs(page))
        assert len(page) <= 30
        seen = seqs(page) + seen
        before = page[0]["seq"]
        events = page + events
    assert seen == list(range(1, LAST + 1))  # every event of the log once, its membership changes too
    assert sorted(m["text"] for m in events if m["type"] == "message") == sorted(f"m{i}" for i in range(1, 131))
    assert [(m["type"], m["action"]) for m in events if m["type"] != "message"] == [
        ("member", "created"), ("member", "joined")]


@pytest.mark.parametrize(("before", "limit", "expected"), [
    (50, 5, range(45, 50)),
    (6, 10, range(1, 6)),  # the two membership events and m1..m3
    (1, 10, range(0)),
    (0, 10, range(0)),
    (LAST + 1, 3, range(LAST - 2, LAST + 1)),
    (10_000, 2, range(LAST - 1, LAST + 1)),
    (2, 1, range(1, 2)),
    (2**63 - 1, 2, range(LAST - 1, LAST + 1)),  # the largest seq there can be
])
async def test_before_and_limit(reader, room_of_130, before, limit, expected):
    assert seqs(await history(reader, room_of_130, before=before, limit=limit)) == list(expected)


async def test_the_limit_is_capped(reader, room_of_130):
    page = await history(reader, room_of_130, limit=1000)
    assert seqs(page) == list(range(LAST + 1 - CAP, LAST + 1))
    default = await history(reader, room_of_130)
    assert len(default) <= CAP and seqs(default) == list(range(LAST + 1 - len(default), LAST + 1))


async def test_history_of_a_room_without_messages_is_its_creation(shared_server, users):
    room = unique("r")
    client, = await in_room(shared_server, room, users[0])
    page = await history(client, room, limit=10)
    assert kinds(page) == [(1, "member", "created")] and page[0]["user"] == users[0][0]
    await client.close()


async def test_history_needs_a_join(shared_server, users, room_of_130):
    client = await Client.connect(shared_server, users[2][1])
    await client.send({"type": "history", "room": room_of_130, "ref": "h"})
    error = await client.expect("error")
    assert error["code"] == "not_joined" and error["ref"] == "h"
    await client.close()


async def test_history_includes_new_messages(shared_server, users):
    room = unique("r")
    client, = await in_room(shared_server, room, users[0])
    await client.say(room, "one")
    await client.say(room, "two")
    assert kinds(await history(client, room)) == [(1, "member", "created"), (2, "message", "one"),
                                                  (3, "message", "two")]
    await client.close()


# the same pages over REST -------------------------------------------------------------------------


def test_rest_latest_page_defaults_to_50(shared_server, users, room_of_130):
    assert seqs(rest_events(shared_server, users[0][1], room_of_130)) == list(range(LAST - 49, LAST + 1))


def test_rest_before_and_limit(shared_server, users, room_of_130):
    token = users[0][1]
    assert seqs(rest_events(shared_server, token, room_of_130, before=50, limit=5)) == list(range(45, 50))
    assert seqs(rest_events(shared_server, token, room_of_130, limit=7)) == list(range(LAST - 6, LAST + 1))
    assert [e["type"] for e in rest_events(shared_server, token, room_of_130, before=4, limit=5)] == [
        "member", "member", "message"]
    assert rest_events(shared_server, token, room_of_130, before=1, limit=5) == []
    assert seqs(rest_events(shared_server, token, room_of_130, before=2**63 - 1, limit=2)) == [LAST - 1, LAST]


def test_rest_after_pages_forwards(shared_server, users, room_of_130):
    token = users[0][1]
    seen: list[int] = []
    texts: list[str] = []
    after = 0
    while page := rest_events(shared_server, token, room_of_130, after=after, limit=40):
        assert seqs(page) == list(range(after + 1, after + 1 + len(page)))
        seen += seqs(page)
        texts += [m["text"] for m in page if m["type"] == "message"]
        after = page[-1]["seq"]
    assert seen == list(range(1, LAST + 1))
    assert sorted(texts) == sorted(f"m{i}" for i in range(1, 131))  # each once (a retry may reorder them)
    assert seqs(rest_events(shared_server, token, room_of_130, after=LAST - 5)) == list(range(LAST - 4, LAST + 1))
    assert rest_events(shared_server, token, room_of_130, after=LAST) == []


def test_rest_limit_is_capped(shared_server, users, room_of_130):
    token = users[0][1]
    assert seqs(rest_events(shared_server, token, room_of_130, limit=1000)) == list(range(LAST + 1 - CAP, LAST + 1))
    assert seqs(rest_events(shared_server, token, room_of_130, after=0, limit=1000)) == list(range(1, CAP + 1))


@pytest.mark.parametrize("before", [100, 6])  # only messages; the room's first events, membership too
async def test_rest_and_websocket_history_agree(shared_server, users, reader, room_of_130, before):
    ws_page = await history(reader, room_of_130, before=before, limit=20)
    rest_page = rest_events(shared_server, users[0][1], room_of_130, before=before, limit=20)
    assert ws_page == rest_page and seqs(ws_page) == list(range(max(1, before - 20), before))
