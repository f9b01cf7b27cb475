"""History over WebSocket: `history` with `before`/`limit` pages backwards through a room, oldest first in each
page, the limit capped at 100; and the same pages through REST `GET /api/rooms/{room}/messages`."""

import asyncio

import pytest

from tests.support import Client, fill_room, in_room, rest_messages, unique

CAP = 100


@pytest.fixture(scope="module")
def room_of_130(shared_server, users):
    """A room holding 130 messages m1..m130 (seq i holds "m{i}"), shared by the read-only tests below."""
    room = unique("hist")
    asyncio.run(fill_room(shared_server, room, 130, token=users[0][1]))
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
    assert seqs(page) == list(range(121, 131))
    assert [m["text"] for m in page] == [f"m{i}" for i in range(121, 131)]
    assert all(m["type"] == "message" and m["room"] == room_of_130 for m in page)
    assert {"seq", "from", "text", "ts", "client_id"} <= set(page[0])


async def test_paging_backwards_with_before_visits_every_message_once(reader, room_of_130):
    seen: list[int] = []
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
    assert seen == list(range(1, 131))


@pytest.mark.parametrize(("before", "limit", "expected"), [
    (50, 5, range(45, 50)),
    (6, 10, range(1, 6)),
    (1, 10, range(0)),
    (0, 10, range(0)),
    (131, 3, range(128, 131)),
    (10_000, 2, range(129, 131)),
    (2, 1, range(1, 2)),
    (2**63 - 1, 2, range(129, 131)),  # the largest seq there can be
])
async def test_before_and_limit(reader, room_of_130, before, limit, expected):
    assert seqs(await history(reader, room_of_130, before=before, limit=limit)) == list(expected)


async def test_the_limit_is_capped(reader, room_of_130):
    page = await history(reader, room_of_130, limit=1000)
    assert seqs(page) == list(range(131 - CAP, 131))
    default = await history(reader, room_of_130)
    assert len(default) <= CAP and seqs(default) == list(range(131 - len(default), 131))


async def test_history_of_an_empty_room_is_empty(shared_server, users):
    room = unique("r")
    client, = await in_room(shared_server, room, users[0])
    assert await history(client, room, limit=10) == []
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
    assert [m["text"] for m in await history(client, room)] == ["one", "two"]
    await client.close()


# the same pages over REST -------------------------------------------------------------------------


def test_rest_latest_page_defaults_to_50(shared_server, users, room_of_130):
    assert seqs(rest_messages(shared_server, users[0][1], room_of_130)) == list(range(81, 131))


def test_rest_before_and_limit(shared_server, users, room_of_130):
    token = users[0][1]
    assert seqs(rest_messages(shared_server, token, room_of_130, before=50, limit=5)) == list(range(45, 50))
    assert seqs(rest_messages(shared_server, token, room_of_130, limit=7)) == list(range(124, 131))
    assert rest_messages(shared_server, token, room_of_130, before=1, limit=5) == []
    assert seqs(rest_messages(shared_server, token, room_of_130, before=2**63 - 1, limit=2)) == [129, 130]


def test_rest_after_pages_forwards(shared_server, users, room_of_130):
    token = users[0][1]
    seen: list[int] = []
    after = 0
    while page := rest_messages(shared_server, token, room_of_130, after=after, limit=40):
        assert seqs(page) == list(range(after + 1, after + 1 + len(page)))
        seen += seqs(page)
        after = page[-1]["seq"]
    assert seen == list(range(1, 131))
    assert seqs(rest_messages(shared_server, token, room_of_130, after=125)) == list(range(126, 131))
    assert rest_messages(shared_server, token, room_of_130, after=130) == []


def test_rest_limit_is_capped(shared_server, users, room_of_130):
    token = users[0][1]
    assert seqs(rest_messages(shared_server, token, room_of_130, limit=1000)) == list(range(131 - CAP, 131))
    assert seqs(rest_messages(shared_server, token, room_of_130, after=0, limit=1000)) == list(range(1, CAP + 1))


async def test_rest_and_websocket_history_agree(shared_server, users, reader, room_of_130):
    ws_page = await history(reader, room_of_130, before=100, limit=20)
    rest_page = rest_messages(shared_server, users[0][1], room_of_130, before=100, limit=20)
    assert ws_page == rest_page
