"""Per-user rate limit: a burst over 40 messages gets `rate_limited` for the excess, which is neither
stored nor broadcast (and can be sent again later with the same client_id); the limit is per user, shared
by all their connections and REST posts, `--burst`/`--rate` tune it and `--rate 0` turns it off.
`--max-text` and `--max-frame` move the other limits."""

import asyncio
import json

from tests.support import Client, close_code, connect_all, http, in_room, register, rest_events, unique

BURST = 40


async def blast(client: Client, room: str, n: int) -> tuple[list[dict], list[dict], list[str]]:
    """Send n messages at once; (acks, rate_limited errors, client_ids in sending order)."""
    cids = [unique("c") for _ in range(n)]
    for i, cid in enumerate(cids):
        await client.send({"type": "send", "room": room, "text": f"b{i}", "client_id": cid, "ref": cid})
    acks, limited, others = [], [], []
    while len(acks) + len(limited) < n:
        frame = await client.recv()
        if frame["type"] == "ack":
            acks.append(frame)
        elif frame["type"] == "error":
            assert frame["code"] == "rate_limited", frame
            limited.append(frame)
        else:
            others.append(frame)
    client.pending[:0] = others  # the `message` frames, for later reads
    return acks, limited, cids


def fresh(server, n: int = 1) -> list[tuple[str, str]]:
    """Accounts of their own: each user's budget is shared by everything they do."""
    return [register(server) for _ in range(n)]


async def test_over_the_burst_is_rate_limited_and_not_stored(shared_server):
    (ua, ta), ub = fresh(shared_server, 2)
    room = unique("r")
    a, b = await connect_all(shared_server, (ua, ta), ub)
    await a.join(room)
    head = (await b.join(room))["last_seq"]  # the room's creation and b's joining
    acks, limited, cids = await blast(a, room, 100)
    assert len(acks) >= BURST
    assert limited, "a burst of 100 at once must hit the limit"
    assert all(e["message"] for e in limited)
    acked = {x["client_id"] for x in acks}
    refused = {e["ref"] for e in limited}
    assert acked | refused == set(cids) and not acked & refused
    assert set(cids[:BURST]) <= acked  # the first 40 always fit in the burst
    assert [e["type"] for e in rest_events(shared_server, ta, room, after=0, limit=head)] == ["member"] * head
    stored = rest_events(shared_server, ta, room, after=head, limit=100)
    assert {m["type"] for m in stored} == {"message"} and {m["client_id"] for m in stored} == acked
    assert [m["seq"] for m in stored] == list(range(head + 1, head + len(acked) + 1))  # no gaps from refused ones
    delivered = await b.messages(len(acked), room)
    assert {m["client_id"] for m in delivered} == acked
    assert await b.nothing(0.3, kind="message") == []
    await a.close()
    await b.close()


async def test_a_rate_limited_message_can_be_sent_again_later(shared_server):
    room = unique("r")
    a, = await connect_all(shared_server, *fresh(shared_server))
    head = (await a.join(room))["last_seq"]
    acks, limited, _ = await blast(a, room, BURST + 10)
    assert limited
    retry = limited[0]["ref"]
    for _ in range(50):  # the bucket refills at 20 messages/s
        await asyncio.sleep(0.1)
        await a.send({"type": "send", "room": room, "text": "retried", "client_id": retry})
        frame = await next_reply(a)
        if frame["type"] == "ack":
            break
    assert frame["type"] == "ack" and frame["client_id"] == retry and frame.get("duplicate", False) is False
    assert frame["seq"] == head + len(acks) + 1
    await a.close()


async def next_reply(client: Client) -> dict:
    """The next ack or error; other frames are kept for later reads."""
    others = []
    while True:
        frame = await client.recv()
        if frame["type"] in ("ack", "error"):
            client.pending[:0] = others
            return frame
        others.append(frame)


async def test_the_limit_is_per_user_over_every_way_in(shared_server):
    """A user's connections and REST posts draw from one budget; another user's is untouched."""
    me, other = fresh(shared_server, 2)
    room = unique("r")
    a1, a2, b = await in_room(shared_server, room, me, me, other)
    acks, limited, _ = await blast(a1, room, BURST + 20)
    assert len(acks) >= BURST and limited
    acks2, limited2, _ = await blast(a2, room, 10)  # the same user on another connection: still over
    assert limited2 and len(acks2) < 10
    status, body = http("POST", f"{shared_server.http}/api/rooms/{room}/messages", {"text": "rest", "client_id": "r1"},
                        token=me[1])
    assert status == 429 and body["error"] == "rate_limited", (status, body)
    acks3, limited3, _ = await blast(b, room, BURST)  # someone else is not slowed down
    assert len(acks3) == BURST and not limited3
    for c in (a1, a2, b):
        await c.close()


async def test_other_frames_are_not_rate_limited(shared_server, users):
    room = unique("r")
    a, = await in_room(shared_server, room, users[0])
    for i in range(100):
        await a.send({"type": "ping", "ref": i})
    assert [(await a.expect("pong"))["ref"] for _ in range(100)] == list(range(100))
    await a.close()


async def test_burst_rate_and_length_limits_are_configurable(make_server):
    srv = make_server("--burst", "5", "--max-text", "10", "--max-frame", "1024")
    _, token = register(srv)
    a = await Client.connect(srv, token)
    room = unique("r")
    head = (await a.join(room))["last_seq"]
    acks, limited, _ = await blast(a, room, 30)
    assert len(acks) >= 5 and len(limited) >= 1
    await asyncio.sleep(0.3)  # a few tokens back

    await a.send({"type": "send", "room": room, "text": "x" * 11, "client_id": unique("c")})
    assert (await next_reply(a))["code"] == "too_long"
    assert (await a.say(room, "x" * 10))["seq"] == head + len(acks) + 1
    ready = await Client.connect(srv)
    await ready.send({"type": "auth", "token": token})
    assert (await ready.expect("ready"))["max_text"] == 10
    await ready.close()

    await a.send(json.dumps({"type": "ping", "ref": "x" * 1100}))
    assert await close_code(a) == 1009


async def test_rate_zero_disables_the_limit(make_server):
    srv = make_server("--rate", "0")
    _, token = register(srv)
    a = await Client.connect(srv, token)
    room = unique("r")
    head = (await a.join(room))["last_seq"]
    acks, limited, _ = await blast(a, room, 150)
    assert len(acks) == 150 and not limited
    stored = rest_events(srv, token, room, after=head, limit=100)
    assert [(m["type"], m["seq"]) for m in stored] == [("message", s) for s in range(head + 1, head + 101)]
    await a.close()
