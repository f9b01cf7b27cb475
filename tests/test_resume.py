"""Resume: `join` with `since` replays exactly the stored messages after it (no loss, no duplicates), in
order, then live ones — after a clean close, after a dropped connection, and while others keep sending."""

import asyncio

from tests.support import Client, fill_room, in_room, register, room_head, send_all, unique


def seqs(frames):
    return [m["seq"] for m in frames]


async def events(client, n, room):
    """The next n room events (`message` and `member` frames) of `room`, in the order they arrive."""
    return [await client.next_where(lambda f: f.get("type") in ("message", "member") and f.get("room") == room)
            for _ in range(n)]


async def no_events(client, room, seconds=0.3):
    """No message and no membership event of `room` arrives within `seconds`."""
    assert await client.nothing(seconds, kind="message", room=room) == []
    assert await client.nothing(0.05, kind="member", room=room) == []


async def test_reconnect_with_since_replays_exactly_the_missed_messages(shared_server, users):
    _, tb = users[1]
    room = unique("r")
    a, b = await in_room(shared_server, room, *users[:2])
    await send_all(a, room, ["one", "two", "three"])
    seen = await b.messages(3, room)
    last = seen[-1]["seq"]
    await b.close()

    missed = await send_all(a, room, [f"while away {i}" for i in range(5)])
    assert seqs(missed) == list(range(last + 1, last + 6))
    b = await Client.connect(shared_server, tb)
    joined = await b.join(room, since=last)
    assert joined["last_seq"] == last + 5
    replay = await b.messages(5, room)
    assert seqs(replay) == seqs(missed)
    assert [m["text"] for m in replay] == [f"while away {i}" for i in range(5)]
    assert [m["client_id"] for m in replay] == [x["client_id"] for x in missed]
    await no_events(b, room)  # nothing twice, nothing old

    await a.say(room, "welcome back")
    (live,) = await b.messages(1, room)
    assert live["seq"] == last + 6 and live["text"] == "welcome back"
    await a.close()
    await b.close()


async def test_resume_after_a_dropped_connection(shared_server, users):
    _, tb = users[1]
    room = unique("r")
    a, b = await in_room(shared_server, room, *users[:2])
    await a.say(room, "before the drop")
    (m,) = await b.messages(1, room)
    b.ws.transport.abort()
    await send_all(a, room, ["gone 1", "gone 2"])
    b = await Client.connect(shared_server, tb)
    await b.join(room, since=m["seq"])
    assert [x["text"] for x in await b.messages(2, room)] == ["gone 1", "gone 2"]
    assert await b.nothing(0.3, kind="message") == []
    await a.close()
    await b.close()


async def test_since_zero_replays_everything_and_no_since_replays_nothing(shared_server, users):
    room = unique("r")
    acks = await fill_room(shared_server, room, 12, token=users[0][1])
    c = await Client.connect(shared_server, users[1][1])
    joined = await c.join(room, since=0)
    last = acks[-1]["seq"] + 1  # c's joining is stored before `joined` answers
    assert joined["last_seq"] == last
    replay = await events(c, last, room)
    assert seqs(replay) == list(range(1, last + 1))  # the room's creation, the 12 messages, c's own joining
    assert [m["seq"] for m in replay if m["type"] == "message"] == seqs(acks)
    assert [(m["action"], m["user"]) for m in replay if m["type"] == "member"] == [
        ("created", users[0][0]), ("joined", users[1][0])]
    await no_events(c, room, 0.1)
    d = await Client.connect(shared_server, users[2][1])
    joined = await d.join(room)
    assert joined["last_seq"] == last + 1  # d's joining
    await no_events(d, room)
    await c.close()
    await d.close()


async def test_since_at_or_past_the_end_replays_nothing(shared_server, users):
    room = unique("r")
    acks = await fill_room(shared_server, room, 3, token=users[0][1])
    end = acks[-1]["seq"] + 1  # after users[1]'s joining, which its first join stores
    for since in (1000, end):
        c = await Client.connect(shared_server, users[1][1])
        assert (await c.join(room, since=since))["last_seq"] == end
        await no_events(c, room, 0.2)
        await c.close()


async def test_a_long_replay_arrives_complete_and_in_order(shared_server, users):
    """More messages than the history cap (100), from three senders at once: all of them, once, in order."""
    room = unique("r")
    # each sender stays within its burst (40), so the server's rate limit does not pace the test
    filled = await asyncio.gather(*(fill_room(shared_server, room, 40, token=tok) for _, tok in users))
    text_of = {ack["seq"]: f"m{i}" for acks in filled for i, ack in enumerate(acks, 1)}
    c = await Client.connect(shared_server, users[1][1])
    last = (await c.join(room, since=5))["last_seq"]
    assert last == max(text_of)  # (c is one of the senders: a member already)
    got = await events(c, last - 5, room)
    assert seqs(got) == list(range(6, last + 1))
    assert [m["text"] for m in got if m["type"] == "message"] == [text_of[s] for s in sorted(text_of) if s >= 6]
    assert len(text_of) == 120
    await no_events(c, room)
    await c.close()


async def test_messages_sent_during_the_replay_are_neither_lost_nor_duplicated(shared_server, users):
    """While a joiner catches up from the store, others keep sending: it sees 1..N exactly once, in order (the
    room's creation, the joiner's own joining, and every message)."""
    room = unique("r")
    # accounts of its own, each sending within its burst (40), so the rate limit does not pace the test
    maker, maker_token = register(shared_server)
    await fill_room(shared_server, room, 40, token=maker_token)
    senders = [await Client.connect(shared_server, register(shared_server)[1]) for _ in range(3)]
    for s in senders:
        await s.join(room)

    joiner = await Client.connect(shared_server, users[1][1])
    sending = asyncio.gather(*(send_all(s, room, [f"live {i}.{k}" for k in range(30)])
                               for i, s in enumerate(senders)))
    await joiner.join(room, since=0)
    await sending
    total = room_head(shared_server, users[0][1], room)
    assert total == 1 + 40 + 3 + 3 * 30 + 1  # the creation, the messages, the senders' and the joiner's joining
    got = await events(joiner, total, room)
    assert seqs(got) == list(range(1, total + 1))
    assert len([m for m in got if m["type"] == "message"]) == 40 + 3 * 30
    members = [(m["action"], m["user"]) for m in got if m["type"] == "member"]
    assert members[0] == ("created", maker)
    assert sorted(members[1:]) == sorted([("joined", s.user) for s in senders] + [("joined", users[1][0])])
    await no_events(joiner, room)
    for s in (*senders, joiner):
        await s.close()


async def test_many_reconnects_while_messages_flow_lose_nothing(shared_server, users):
    """A client that keeps dropping and resuming from its last seen seq ends up with every event once."""
    room = unique("r")
    sender, = await in_room(shared_server, room, users[0])
    seen: list[int] = []  # the seq of every room event the reader got: messages and membership changes
    messages = 0
    for round_ in range(5):
        reader = await Client.connect(shared_server, users[1][1])
        await reader.join(room, since=seen[-1] if seen else 0)
        acks = await send_all(sender, room, [f"r{round_}-{k}" for k in range(6)])
        expected = max(seqs(acks))
        while not seen or seen[-1] < expected:
            (event,) = await events(reader, 1, room)
            seen.append(event["seq"])
            messages += event["type"] == "message"
        if round_ % 2:
            reader.ws.transport.abort()
        else:
            await reader.close()
    assert seen == list(range(1, expected + 1)) and messages == 30
    await sender.close()


async def test_rejoin_with_since_on_the_same_connection(shared_server, users):
    room = unique("r")
    a, = await in_room(shared_server, room, users[0])
    acks = await send_all(a, room, ["a", "b", "c"])
    await a.messages(3, room)
    await a.join(room, since=acks[0]["seq"])
    assert seqs(await a.messages(2, room)) == seqs(acks[1:])
    await no_events(a, room, 0.2)
    await a.close()
